"""Pure parsing of WooCommerce REST v3 order JSON into `ShopOrder` records.

Quirks handled here (see shared/reference/woocommerce.md): `*_gmt` dates carry no suffix but are UTC; money is a
decimal string; refunds are negative strings; text entered at checkout may come back HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal, overload

from babel.numbers import list_currencies

from mahnwerk.connectors.records import BillingAddress, Page, PaidState, Rejected, ShopOrder
from mahnwerk.errors import BadRecord

BILLING_FIELDS = tuple(f.name for f in fields(BillingAddress))
MARKER_KEY = "_mahnwerk_last_action"  # order meta written by connectors/woocommerce/actions.py
TRASH = "trash"  # the bin: an order there is still readable by id, with this status
VAT_META_KEYS = ("_billing_vat_id", "billing_vat_id", "vat_id", "_vat_id", "_billing_vat", "billing_eu_vat_number")


@dataclass(frozen=True, slots=True)
class MetaKeys:
    """Which order meta keys hold the invoice number and dates (plugins differ; the merchant configures them)."""

    invoice_number: str | None = None
    invoice_date: str | None = None
    due_date: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """How to read one shop's orders: its meta keys, and what each of its statuses means."""

    meta_keys: MetaKeys = MetaKeys()
    statuses: Mapping[str, PaidState] = field(default_factory=dict)
    customer_roles: bool = False  # read the role of each order's customer (GET customers, once per page)


# ISO 4217 codes that are not money anyone invoices in: precious metals, IMF units, "test" and "no currency".
NOT_MONEY = frozenset({"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"})


@lru_cache(maxsize=1)
def known_currencies() -> frozenset[str]:
    """ISO 4217 currency codes Babel knows, without the codes that are not money."""
    return frozenset(list_currencies()) - NOT_MONEY


@overload
def parse_gmt(value: Any, *, record_id: str, field: str, required: Literal[True] = True) -> datetime: ...
@overload
def parse_gmt(value: Any, *, record_id: str, field: str, required: bool) -> datetime | None: ...
def parse_gmt(value: Any, *, record_id: str, field: str, required: bool = True) -> datetime | None:
    """A WooCommerce `*_gmt` timestamp (no suffix, UTC) as an aware datetime."""
    if value in (None, ""):
        if required:
            raise BadRecord("is missing", record_id=record_id, field=field)
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadRecord(f"must be a date-time like 2026-03-01T09:15:00 (got {value!r})",
                        record_id=record_id, field=field) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_money(value: Any, *, record_id: str, field: str) -> Decimal:
    """A decimal string such as "119.00"; floats, blanks and "12,50" are refused."""
    if not isinstance(value, str):
        raise BadRecord(f"must be a decimal string (got {value!r})", record_id=record_id, field=field)
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise BadRecord(f"must be a decimal string (got {value!r})", record_id=record_id, field=field) from None
    if not amount.is_finite():
        raise BadRecord(f"must be a finite amount (got {value!r})", record_id=record_id, field=field)
    return amount


def parse_meta_date(value: Any, *, record_id: str, field: str) -> date | None:
    """An invoice date from order meta: a Unix timestamp (as PDF-invoice plugins store it) or an ISO date."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC).date()
        return date.fromisoformat(text[:10])
    except (ValueError, OverflowError):
        raise BadRecord(f"must be a date or Unix timestamp (got {value!r})", record_id=record_id, field=field) from None


def text(value: Any) -> str:
    """A text field: entities unescaped once (checkout input comes back escaped), otherwise verbatim."""
    if isinstance(value, str):
        return html.unescape(value) if "&" in value else value
    return "" if value is None else str(value)


def parse_billing(raw: Any) -> BillingAddress:
    """The billing block; unknown or missing fields become empty strings."""
    if not isinstance(raw, dict):
        return BillingAddress()
    values = [raw.get(name) for name in BILLING_FIELDS]
    # The common case, plain text without entities, skips the call (a backfill parses 100,000 addresses).
    return BillingAddress(*[v if type(v) is str and "&" not in v else text(v) for v in values])


def parse_order(raw: dict[str, Any], reading: Reading = Reading()) -> ShopOrder:
    """One order object of `GET /orders`; raises BadRecord naming the first bad field."""
    meta_keys = reading.meta_keys
    record_id = str(raw.get("id", "?"))
    if not isinstance(raw.get("id"), int):
        raise BadRecord(f"must be an integer (got {raw.get('id')!r})", record_id=record_id, field="id")
    currency = raw.get("currency")
    if currency not in known_currencies():
        raise BadRecord(f"must be an ISO 4217 currency code (got {currency!r})", record_id=record_id, field="currency")
    meta = {m.get("key"): m.get("value") for m in raw.get("meta_data") or () if isinstance(m, dict)}
    refunded = sum((-parse_money(r.get("total"), record_id=record_id, field="refunds.total")
                    for r in raw.get("refunds") or ()), Decimal("0"))
    invoice_number = meta.get(meta_keys.invoice_number) if meta_keys.invoice_number else None
    status = str(raw.get("status") or "")
    return ShopOrder(
        order_id=record_id,
        number=text(raw.get("number")) or record_id,
        status=status,
        payment_method=str(raw.get("payment_method") or ""),
        currency=currency,
        total=parse_money(raw.get("total"), record_id=record_id, field="total"),
        refunded=abs(refunded),
        created_at=parse_gmt(raw.get("date_created_gmt"), record_id=record_id, field="date_created_gmt"),
        modified_at=parse_gmt(raw.get("date_modified_gmt"), record_id=record_id, field="date_modified_gmt"),
        paid_at=parse_gmt(raw.get("date_paid_gmt"), record_id=record_id, field="date_paid_gmt", required=False),
        billing=parse_billing(raw.get("billing")),
        vat_id=next((text(meta[k]) for k in VAT_META_KEYS if meta.get(k)), ""),
        # the WordPress user id shown in wp-admin; 0 (or missing) for a guest order
        customer_id=str(raw["customer_id"]) if type(raw.get("customer_id")) is int and raw["customer_id"] > 0 else "",
        invoice_number=text(invoice_number) if invoice_number not in (None, "") else None,
        invoice_date=parse_meta_date(meta.get(meta_keys.invoice_date), record_id=record_id,
                                     field=f"meta_data.{meta_keys.invoice_date}") if meta_keys.invoice_date else None,
        due_date=parse_meta_date(meta.get(meta_keys.due_date), record_id=record_id,
                                 field=f"meta_data.{meta_keys.due_date}") if meta_keys.due_date else None,
        marker=text(meta.get(MARKER_KEY)),
        deleted=status == TRASH,
        paid_state=reading.statuses.get(status),
    )


def newest_modified(raws: Any) -> datetime | None:
    """The highest readable `date_modified_gmt` of a raw page, bad records included: where the next request of a
    keyset walk starts, and how far a page moves the cursor (a page of bad records still moves it)."""
    newest = None
    for raw in raws if isinstance(raws, list) else ():
        try:
            stamp = datetime.fromisoformat(raw["date_modified_gmt"])
        except (KeyError, TypeError, ValueError):
            continue
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        newest = stamp if newest is None or stamp > newest else newest
    return newest


def parse_page(data: Any, reading: Reading = Reading()) -> Page[ShopOrder]:
    """A whole page: good records parsed, bad ones rejected with their reason; the rest goes on."""
    if not isinstance(data, list):
        raise BadRecord(f"expected a JSON array of orders (got {type(data).__name__})", record_id="page", field="body")
    records, rejected = [], []
    for raw in data:
        if not isinstance(raw, dict):
            rejected.append(Rejected("?", "order", f"expected an object (got {type(raw).__name__})", {"value": raw}))
            continue
        try:
            records.append(parse_order(raw, reading))
        except BadRecord as exc:
            rejected.append(Rejected(exc.record_id, exc.field, str(exc), raw, str(raw.get("payment_method") or "")))
    return Page(records=records, rejected=rejected, newest=newest_modified(data))
