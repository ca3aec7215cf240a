"""How a shop order becomes a claim: the pure mapping from a `ShopOrder` and the shop's settings to claim fields."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mahnwerk.connectors.records import BillingAddress, PaidState, ShopOrder
from mahnwerk.policy.customers import Classification, Customer, classify
from mahnwerk.policy.languages import LANGUAGES, language_for
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.store.models import ClaimState

ADDRESS_FIELDS = tuple(f.name for f in fields(BillingAddress))
# Fields whose change is worth a ledger entry; timestamps of our own are not.
TRACKED = ("order_number", "invoice_number", "invoice_date", "due_date", "customer_name", "email", "company",
           "vat_id", "is_b2b", "billing_address", "language", "currency", "gross_amount", "open_amount", "state",
           "shop_status", "payment_method", "customer_group", "customer_id")


STATE_OF = {PaidState.OPEN: ClaimState.OPEN, PaidState.PAID: ClaimState.PAID,
            PaidState.CANCELLED: ClaimState.CANCELLED, PaidState.REFUNDED: ClaimState.REFUNDED}


def claim_state(order: ShopOrder) -> str | None:
    """The claim state of an order as the shop reports it, None for a status the mapping does not name."""
    if order.deleted:
        return ClaimState.TRASHED
    if order.refunded > 0 and order.open_amount == 0:
        return ClaimState.REFUNDED
    return STATE_OF.get(order.paid_state) if order.paid_state is not None else None


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar day `moment` falls on in the shop's timezone."""
    return moment.astimezone(tz).date()


def is_new_claim(order: ShopOrder, shop: ShopConfig) -> bool:
    """Does this order, not seen before, owe money on invoice? (open, invoice method, in the mirrored period)"""
    return (order.payment_method in shop.invoice.payment_methods
            and claim_state(order) == ClaimState.OPEN
            and order.open_amount > 0
            and (shop.sync.since is None or local_date(order.created_at, shop.timezone) >= shop.sync.since))


def claim_fields(order: ShopOrder, shop: ShopConfig, *, state: str) -> dict[str, Any]:
    """The claim columns for `order`; due date = invoice date + payment term unless the shop gives one."""
    invoice_date = order.invoice_date or local_date(order.created_at, shop.timezone)
    billing = order.billing
    return {
        "order_id": order.order_id,
        "order_number": order.number,
        "invoice_number": order.invoice_number or order.number,
        "invoice_date": invoice_date,
        "due_date": order.due_date or invoice_date + timedelta(days=shop.invoice.payment_term_days),
        "customer_name": billing.name,
        "email": billing.email,
        "company": billing.company,
        "vat_id": order.vat_id,
        "is_b2b": classify(Customer(billing.company, order.vat_id, order.customer_group),
                           shop.policy.business_when).is_business,
        "billing_address": {name: getattr(billing, name) for name in ADDRESS_FIELDS},
        "language": order.language if order.language in LANGUAGES else language_for(billing.country,
                                                                                      shop.delivery.language),
        "currency": order.currency,
        "gross_amount": order.total,
        "open_amount": order.open_amount,
        "state": state,
        "shop_status": order.status,
        "payment_method": order.payment_method,
        "customer_group": order.customer_group[:100],
        "customer_id": order.customer_id[:64],
        "ordered_at": order.created_at,
        "shop_modified_at": order.modified_at,
    }


def classification(row: Any, shop: ShopConfig) -> Classification:
    """Business or consumer, and why, for a claims row (its company, vat_id and customer_group)."""
    return classify(Customer(row.company, row.vat_id, row.customer_group), shop.policy.business_when)


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """The tracked fields that differ, as {field: [old, new]}, JSON-ready."""
    return {name: [jsonable(old[name]), jsonable(new[name])] for name in TRACKED if old[name] != new[name]}


def jsonable(value: Any) -> Any:
    """Decimal and dates as strings, so the ledger's JSON keeps them exact."""
    return value if isinstance(value, (str, int, bool, float, dict, list, type(None))) else str(value)
