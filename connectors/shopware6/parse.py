"""Pure parsing of Shopware 6 order JSON (an `/api/search/order` answer) into `ShopOrder` records.

Quirks handled here (shared/reference/shopware6.md, docs/shopware6.md "Reading an order"): money is a JSON float;
the latest transaction, not any, decides the payment state; the invoice number is top-level on newer documents and
in `config` on older ones; `updatedAt` is null on an order never updated; customer text is stored as typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision, list_currencies

from mahnwerk.connectors.records import BillingAddress, Page, PaidState, Rejected, ShopOrder
from mahnwerk.errors import BadRecord

MARKER_FIELD = "mahnwerk_last_action"  # custom field written last by actions.py's record_progress
PART_PAID = "paid_partially"  # Shopware keeps no paid amount with it: a person confirms how much came in
# ISO 4217 codes that are not money anyone invoices in: precious metals, IMF units, "test" and "no currency".
NOT_MONEY = frozenset({"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"})
CURRENCIES = frozenset(list_currencies()) - NOT_MONEY


@dataclass(frozen=True, slots=True)
class CustomFieldNames:
    """Which order custom fields hold the invoice number and dates, where the merchant keeps them there."""

    invoice_number: str | None = None
    invoice_date: str | None = None
    due_date: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """How to read one shop's orders: its custom fields, and what each transaction state means."""

    fields: CustomFieldNames = CustomFieldNames()
    statuses: Mapping[str, PaidState] = field(default_factory=dict)
    customer_groups: bool = False  # load orderCustomer.customer.group with the orders (business_when names one)


def obj(value: Any) -> dict[str, Any]:
    """A JSON object, or {} for null and anything else (an association not loaded)."""
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str:
    """A text field as stored (Shopware does not escape customer input); null is empty."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def stamp(value: Any, *, record_id: str, field: str, required: bool = True) -> datetime | None:
    """A DAL datetime ('2026-03-01T09:15:00.000+00:00') as aware UTC; naive values are UTC."""
    if value in (None, ""):
        if required:
            raise BadRecord("is missing", record_id=record_id, field=field)
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadRecord(f"must be a date-time like 2026-03-01T09:15:00.000+00:00 (got {value!r})",
                        record_id=record_id, field=field) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def required_stamp(value: Any, *, record_id: str, field: str) -> datetime:
    found = stamp(value, record_id=record_id, field=field)
    assert found is not None
    return found


def calendar_date(value: Any, *, record_id: str, field: str) -> date | None:
    """A date as written ('2026-03-20' or a date-time, whose date part is the one printed on the invoice)."""
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise BadRecord(f"must be a date like 2026-03-20 (got {value!r})", record_id=record_id, field=field) from None


def money(value: Any, currency: str, *, record_id: str, field: str) -> Decimal:
    """A JSON number as Decimal through its shortest text (119.0 -> 119.00, never 118.9999…), in the currency's
    minor units."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRecord(f"must be a number (got {value!r})", record_id=record_id, field=field)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadRecord(f"must be a number (got {value!r})", record_id=record_id, field=field) from None
    try:
        if not amount.is_finite():
            raise InvalidOperation
        return amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)))
    except InvalidOperation:  # infinite, NaN, or too many digits for the currency's cents
        raise BadRecord(f"must be a finite amount (got {value!r})", record_id=record_id, field=field) from None


def latest(items: list[dict[str, Any]], *, record_id: str, name: str) -> dict[str, Any]:
    """The item with the highest (createdAt, id): the latest transaction or document."""
    def key(item: dict[str, Any]) -> tuple[datetime, str]:
        created = required_stamp(item.get("createdAt"), record_id=record_id, field=f"{name}.createdAt")
        return created, text(item.get("id"))
    return max(items, key=key)


def objects(value: Any, *, record_id: str, field: str) -> list[dict[str, Any]]:
    """A to-many association: a list of objects (null: none loaded)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BadRecord(f"must be a list of objects (got {value!r})", record_id=record_id, field=field)
    return value


def latest_transaction(raw: dict[str, Any], record_id: str) -> dict[str, Any]:
    """The transaction that decides the order's payment state: an older open invoice transaction behind a newer
    one (the customer switched to PayPal and paid) is history, not a claim."""
    transactions = objects(raw.get("transactions"), record_id=record_id, field="transactions")
    if not transactions:
        raise BadRecord("has no transaction (is the association loaded?)", record_id=record_id, field="transactions")
    return latest(transactions, record_id=record_id, name="transactions")


def invoice_document(raw: dict[str, Any], record_id: str) -> dict[str, Any]:
    """The newest invoice document, or {} when the order has none yet."""
    documents = [d for d in objects(raw.get("documents"), record_id=record_id, field="documents")
                 if obj(d.get("documentType")).get("technicalName", "invoice") == "invoice"]
    return latest(documents, record_id=record_id, name="documents") if documents else {}


def parse_billing(raw: dict[str, Any]) -> BillingAddress:
    """The billing address, with the customer's e-mail; the order customer's name when no address is loaded."""
    address, customer = obj(raw.get("billingAddress")), obj(raw.get("orderCustomer"))
    person = address or customer
    return BillingAddress(
        first_name=text(person.get("firstName")), last_name=text(person.get("lastName")),
        company=text(address.get("company")) or text(customer.get("company")),
        address_1=text(address.get("street")), address_2=text(address.get("additionalAddressLine1")),
        postcode=text(address.get("zipcode")), city=text(address.get("city")),
        country=text(obj(address.get("country")).get("iso")).upper(),
        email=text(customer.get("email")), phone=text(address.get("phoneNumber")))


def vat_id(raw: dict[str, Any]) -> str:
    """The billing address's VAT id, else the customer's first."""
    ids = obj(raw.get("orderCustomer")).get("vatIds")
    first = next((text(v) for v in ids if text(v).strip()), "") if isinstance(ids, list) else ""
    return text(obj(raw.get("billingAddress")).get("vatId")).strip() or first.strip()


def customer_group(raw: dict[str, Any]) -> str:
    """The name of the customer account's group ("" for a deleted account): translated, else as stored."""
    group = obj(obj(obj(raw.get("orderCustomer")).get("customer")).get("group"))
    return (text(obj(group.get("translated")).get("name")) or text(group.get("name"))).strip()


def language(raw: dict[str, Any]) -> str:
    """The order's language from its locale ("de-DE" -> "de"); "" when not loaded."""
    code = text(obj(obj(raw.get("language")).get("locale")).get("code"))
    return code.replace("_", "-").split("-")[0].lower()


def change_time(raw: Any) -> datetime | None:
    """The latest readable change of an order: its own stamps and its transactions' (a payment does not touch the
    order's `updatedAt`). Tolerant: a record rejected elsewhere still moves the cursor."""
    if not isinstance(raw, dict):
        return None
    rows = [raw, *(t for t in raw.get("transactions") or () if isinstance(t, dict))] \
        if isinstance(raw.get("transactions"), list) else [raw]
    found = []
    for row in rows:
        for name in ("createdAt", "updatedAt"):
            try:
                moment = stamp(row.get(name), record_id="", field=name, required=False)
            except BadRecord:
                continue
            if moment is not None:
                found.append(moment)
    return max(found, default=None)


def custom(values: dict[str, Any], name: str | None) -> Any:
    return values.get(name) if name else None


def parse_order(raw: dict[str, Any], reading: Reading = Reading()) -> ShopOrder:
    """One order of a search answer; raises BadRecord naming the first bad field."""
    record_id = text(raw.get("id")) or "?"
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        raise BadRecord(f"must be a non-empty id string (got {raw.get('id')!r})", record_id=record_id, field="id")
    currency = obj(raw.get("currency")).get("isoCode")
    if currency not in CURRENCIES:
        raise BadRecord(f"must be an ISO 4217 currency code (got {currency!r})", record_id=record_id,
                        field="currency.isoCode")
    transaction = latest_transaction(raw, record_id)
    status = obj(transaction.get("stateMachineState")).get("technicalName")
    if not isinstance(status, str) or not status:
        raise BadRecord(f"must be a state's technical name (got {status!r})", record_id=record_id,
                        field="transactions.stateMachineState.technicalName")
    paid_state = reading.statuses.get(status)
    created = required_stamp(raw.get("createdAt"), record_id=record_id, field="createdAt")
    custom_fields = obj(raw.get("customFields"))
    document = invoice_document(raw, record_id)
    config = obj(document.get("config"))
    names = reading.fields
    invoice_number = (text(custom(custom_fields, names.invoice_number)).strip()
                      or text(document.get("documentNumber")).strip() or text(config.get("documentNumber")).strip())
    date_field = f"customFields.{names.invoice_date}" if custom(custom_fields, names.invoice_date) else \
        "documents.config.documentDate"
    due_field = f"customFields.{names.due_date}" if custom(custom_fields, names.due_date) else \
        "documents.config.dueDate"
    changed = change_time(raw)
    return ShopOrder(
        order_id=record_id,
        number=text(raw.get("orderNumber")) or record_id,
        status=status,
        payment_method=text(obj(transaction.get("paymentMethod")).get("technicalName")),
        currency=currency,
        total=money(raw.get("amountTotal"), currency, record_id=record_id, field="amountTotal"),
        refunded=Decimal("0"),  # Shopware's refund states carry no amount; the mapping says what they mean
        # when the customer ordered; the invoice date falls back to its calendar day in the shop's timezone
        created_at=stamp(raw.get("orderDateTime"), record_id=record_id, field="orderDateTime",
                         required=False) or created,
        modified_at=changed or created,
        paid_at=(stamp(transaction.get("updatedAt"), record_id=record_id, field="transactions.updatedAt",
                       required=False) or required_stamp(transaction.get("createdAt"), record_id=record_id,
                                                         field="transactions.createdAt"))
        if paid_state == PaidState.PAID else None,
        billing=parse_billing(raw),
        vat_id=vat_id(raw),
        customer_group=customer_group(raw),
        customer_id=text(obj(raw.get("orderCustomer")).get("customerNumber")),  # the "Kundennummer" in the admin
        invoice_number=invoice_number or None,
        invoice_date=calendar_date(custom(custom_fields, names.invoice_date) or config.get("documentDate"),
                                   record_id=record_id, field=date_field),
        due_date=calendar_date(custom(custom_fields, names.due_date) or config.get("dueDate"),
                               record_id=record_id, field=due_field),
        marker=text(custom_fields.get(MARKER_FIELD)),
        paid_state=paid_state,
        language=language(raw),
        part_paid=status == PART_PAID,
    )


def payment_method_of(raw: dict[str, Any]) -> str:
    """The latest transaction's method as far as it can be read (whether a rejected record matters)."""
    try:
        return text(obj(latest_transaction(raw, "?").get("paymentMethod")).get("technicalName"))
    except BadRecord:
        methods = [text(obj(t.get("paymentMethod")).get("technicalName"))
                   for t in raw.get("transactions") or () if isinstance(t, dict)] \
            if isinstance(raw.get("transactions"), list) else []
        return methods[-1] if methods else ""


def orders_of(data: Any) -> list[Any]:
    """The `data` list of a search answer."""
    rows = data.get("data") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise BadRecord(f"expected a search answer with a 'data' list (got {type(data).__name__})",
                        record_id="page", field="data")
    return rows


def parse_page(rows: list[Any], reading: Reading = Reading()) -> Page[ShopOrder]:
    """A page of orders: good ones parsed, bad ones rejected with their reason; the rest goes on."""
    records, rejected = [], []
    for raw in rows:
        if not isinstance(raw, dict):
            rejected.append(Rejected("?", "order", f"expected an object (got {type(raw).__name__})", {"value": raw}))
            continue
        try:
            records.append(parse_order(raw, reading))
        except BadRecord as exc:
            rejected.append(Rejected(exc.record_id, exc.field, str(exc), raw, payment_method_of(raw)))
    return Page(records=records, rejected=rejected)
