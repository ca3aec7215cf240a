"""Plain, typed records that connectors hand to sync/: no raw JSON leaves connectors/."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")


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
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One API page: parsed records, rejected ones, and ids asked for but not found."""

    records: list[T] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    newest: datetime | None = None  # the highest modification time on the page, rejected records included
    total: int | None = None  # how many records the query matches in all, when the shop says


@dataclass(frozen=True, slots=True)
class ShopProbe:
    """What `mahnwerk check` learns from a shop: who it is and which payment methods it offers."""

    reachable: bool
    authenticated: bool
    payment_methods: dict[str, bool]  # gateway id -> enabled
    detail: str = ""
