"""Plain, typed records that connectors hand to sync/ and take from it: no raw JSON leaves connectors/, and no
kind's own words (a status, a meta key, a path) reach sync/ except as data the merchant configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PaidState(StrEnum):
    """What an order's status means for the money, as the merchant's `[statuses]` mapping says."""

    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class BillingAddress:
    """The customer's billing address as the shop holds it (entities unescaped, otherwise verbatim)."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    postcode: str = ""
    city: str = ""
    state: str = ""
    country: str = ""
    email: str = ""
    phone: str = ""

    @property
    def name(self) -> str:
        """The person's full name, or the company when no person is named."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.company


@dataclass(frozen=True, slots=True)
class ShopOrder:
    """One order as a shop reports it; amounts in `currency`, datetimes aware (UTC)."""

    order_id: str
    number: str
    status: str
    payment_method: str
    currency: str
    total: Decimal
    refunded: Decimal  # sum of refunds, positive
    created_at: datetime
    modified_at: datetime
    paid_at: datetime | None
    billing: BillingAddress
    vat_id: str = ""
    invoice_number: str | None = None  # from the configured meta key, when the shop has one
    invoice_date: date | None = None
    due_date: date | None = None
    marker: str = ""  # the idempotency key of the last action Mahnwerk completed on this order (shop-side)
    deleted: bool = False  # in the shop's bin (still readable, no longer an order anyone collects on)
    paid_state: PaidState | None = None  # what `status` means; None: a status the mapping does not name
    language: str = ""  # the order's own language ("de", "en") where the shop keeps one; else the country decides
    part_paid: bool = False  # the shop says part was paid but not how much: a person confirms the amount
    customer_group: str = ""  # the customer's group in the shop (ShopKind.customer_groups), "" where not known
    customer_id: str = ""  # the customer's account as the merchant looks it up in the shop, "" for a guest order

    @property
    def open_amount(self) -> Decimal:
        """Total less refunds, never below zero."""
        return max(self.total - self.refunded, Decimal("0"))


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that could not be parsed: quarantined by sync/, never silently dropped."""

    record_id: str
    field: str
    message: str
    raw: dict[str, Any]  # kept for the quarantine table, for people; sync/ never reads it
    payment_method: str = ""  # as far as it could be read: whether the record matters (an invoice order)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One API page: parsed records, rejected ones, and ids asked for but not found."""

    records: list[T] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    newest: datetime | None = None  # how far the cursor may move once this page is stored (None: not yet)
    total: int | None = None  # how many records the query matches in all, when the shop says


@dataclass(frozen=True, slots=True)
class ShopProbe:
    """What `mahnwerk check` learns from a shop: who it is and which payment methods it offers."""

    reachable: bool
    authenticated: bool
    payment_methods: dict[str, bool]  # gateway id -> enabled
    detail: str = ""  # why not, with the kind's hint; when authenticated: what the credentials may not do


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (the notice as a PDF letter)."""

    filename: str
    content: bytes
    mime_type: str = "application/pdf"


@dataclass(frozen=True, slots=True)
class CustomerMessage:
    """A notice for the customer, ready to go through the shop's own customer channel.

    `key` is the outbox row's idempotency key: a kind that can store it with the message finds the message again by
    it; the others compare the text. `text` is plain text, `html` the same message laid out (already escaped).
    """

    key: str
    to: str
    to_name: str
    subject: str
    text: str
    html: str
    language: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Progress:
    """Where dunning stands, recorded on the order for the merchant's admin view; `marker` is the key of the last
    action completed (read back as `ShopOrder.marker` after a crash)."""

    stage: str
    next_action: str
    next_on: date | None
    marker: str


@dataclass(frozen=True, slots=True)
class LineItem:
    """One line of what the order consists of (a product, shipping, a fee), gross."""

    name: str
    quantity: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class LineItems:
    """An order's lines, and the lines that could not be read (each with its reason)."""

    items: list[LineItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
