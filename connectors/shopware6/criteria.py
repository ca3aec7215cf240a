"""Pure builders of the Criteria bodies the connector POSTs to /api/search/… (docs/shopware6.md, "Criteria").

Associations are loaded only when listed (since 6.6 even a transaction's state), and `includes` trims every entity
to what parse.py reads. The order sort is on immutable fields ending in `id`, and each page starts where the one
before ended (createdAt at or after its last row's), so an order leaving or joining the result set during a read
moves no other order across a page boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

MAX_LIMIT = 500  # shopware.api.max_limit: a larger `limit` is a 400
BY_CREATION = [{"field": "createdAt", "order": "ASC"}, {"field": "id", "order": "ASC"}]
INVOICE_DOCUMENTS = [{"type": "equals", "field": "documentType.technicalName", "value": "invoice"}]

ASSOCIATIONS: dict[str, Any] = {
    "orderCustomer": {},
    "currency": {},
    "language": {"associations": {"locale": {}}},
    "billingAddress": {"associations": {"country": {}}},
    "transactions": {"associations": {"stateMachineState": {}, "paymentMethod": {}}, "sort": BY_CREATION},
    "documents": {"associations": {"documentType": {}}, "filter": INVOICE_DOCUMENTS,
                  "sort": [{"field": "createdAt", "order": "DESC"}]},
}

INCLUDES: dict[str, list[str]] = {
    "order": ["id", "orderNumber", "orderDateTime", "createdAt", "updatedAt", "amountTotal", "salesChannelId",
              "customFields", "currency", "language", "orderCustomer", "billingAddress", "transactions", "documents"],
    "currency": ["isoCode"],
    "language": ["locale"],
    "locale": ["code"],
    "order_customer": ["email", "firstName", "lastName", "company", "vatIds", "customerNumber"],
    "order_address": ["firstName", "lastName", "company", "street", "additionalAddressLine1", "zipcode", "city",
                      "phoneNumber", "vatId", "country"],
    "country": ["iso"],
    "order_transaction": ["id", "createdAt", "updatedAt", "amount", "stateMachineState", "paymentMethod"],
    "state_machine_state": ["technicalName"],
    "payment_method": ["technicalName"],
    "document": ["id", "createdAt", "documentNumber", "config", "documentType", "deepLinkCode"],
    "document_type": ["technicalName"],
}
# With `business_when = ["customer_group:…"]`: the customer account's group too (needs customer:read and
# customer_group:read, which Shopware checks for every association of a search).
GROUP_ASSOCIATIONS: dict[str, Any] = {**ASSOCIATIONS,
                                      "orderCustomer": {"associations": {"customer": {"associations": {"group": {}}}}}}
GROUP_INCLUDES: dict[str, list[str]] = {**INCLUDES, "order_customer": [*INCLUDES["order_customer"], "customer"],
                                        "customer": ["group"], "customer_group": ["name", "translated"]}


def loading(groups: bool) -> dict[str, Any]:
    """The associations and includes of an order search, with the customer's group or without."""
    return {"associations": GROUP_ASSOCIATIONS if groups else ASSOCIATIONS,
            "includes": GROUP_INCLUDES if groups else INCLUDES}


def instant(moment: datetime) -> str:
    """A datetime as the DAL compares it: UTC with milliseconds ('2026-03-01T09:15:00.000+00:00')."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def equals_any(field: str, values: Iterable[str]) -> dict[str, Any]:
    return {"type": "equalsAny", "field": field, "value": list(values)}


def since(field: str, moment: datetime) -> dict[str, Any]:
    """`field` >= moment (inclusive: a change at the cursor's instant is read again, never missed)."""
    return {"type": "range", "field": field, "parameters": {"gte": instant(moment)}}


def every(*queries: dict[str, Any]) -> dict[str, Any]:
    return {"type": "multi", "operator": "AND", "queries": list(queries)}


def any_of(*queries: dict[str, Any]) -> dict[str, Any]:
    return {"type": "multi", "operator": "OR", "queries": list(queries)}


def order_filters(cursor: datetime | None, *, invoice_methods: Sequence[str],
                  open_statuses: Sequence[str]) -> list[dict[str, Any]]:
    """The order search's filters: the first read takes open invoice transactions (both on the same transaction,
    which top-level filters on a to-many association guarantee); an incremental read takes every order whose own
    stamp or any transaction's stamp reached the cursor. A payment does not touch the order's `updatedAt`, and a
    newer transaction of another method decides a known claim, so the transaction branches take any method."""
    method = equals_any("transactions.paymentMethod.technicalName", invoice_methods)
    if cursor is None:
        return [method, equals_any("transactions.stateMachineState.technicalName", open_statuses)]
    never_updated = {"type": "equals", "field": "updatedAt", "value": None}
    return [any_of(every(method, since("updatedAt", cursor)),
                   every(method, never_updated, since("createdAt", cursor)),
                   since("transactions.updatedAt", cursor),
                   since("transactions.createdAt", cursor))]


def changed_orders(cursor: datetime | None, *, page: int, limit: int, invoice_methods: Sequence[str],
                   open_statuses: Sequence[str], created_from: datetime | None = None,
                   groups: bool = False) -> dict[str, Any]:
    """One page of the changed-orders search in creation order: page numbers from 1 among the orders created at or
    after `created_from` (the keyset: where the page before ended)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT} (got {limit})")
    if page < 1:
        raise ValueError(f"page must be 1 or more (got {page})")
    filters = order_filters(cursor, invoice_methods=invoice_methods, open_statuses=open_statuses)
    if created_from is not None:
        filters.append(since("createdAt", created_from))
    return {"page": page, "limit": limit, "total-count-mode": "none", "filter": filters,
            "sort": BY_CREATION, **loading(groups)}


def orders_by_id(ids: Sequence[str], *, groups: bool = False) -> dict[str, Any]:
    """These orders (no paging: with `ids` Shopware returns all of them), with the same associations."""
    return {"ids": list(ids), "sort": BY_CREATION, **loading(groups)}


def order_for_sending(order_id: str) -> dict[str, Any]:
    """One order as for `orders_by_id`, with its sales channel's name (the mail's sender name)."""
    body = orders_by_id([order_id])
    body["associations"] = {**ASSOCIATIONS, "salesChannel": {}}
    body["includes"] = {**INCLUDES, "order": [*INCLUDES["order"], "salesChannel"], "sales_channel": ["name"]}
    return body


def order_custom_fields(order_id: str) -> dict[str, Any]:
    """One order's custom fields only (the mahnwerk_* keys live there)."""
    return {"ids": [order_id], "includes": {"order": ["id", "customFields"]}}


def order_line_items(order_id: str) -> dict[str, Any]:
    """One order's line items and currency, for an agency export."""
    return {"ids": [order_id],
            "associations": {"lineItems": {"sort": [{"field": "position", "order": "ASC"}]}, "currency": {}},
            "includes": {"order": ["id", "currency", "lineItems", "shippingTotal"], "currency": ["isoCode"],
                         "order_line_item": ["id", "label", "quantity", "totalPrice", "type"]}}


def payment_methods() -> dict[str, Any]:
    """Every payment method, for `check`."""
    return {"includes": {"payment_method": ["technicalName", "name", "active", "handlerIdentifier"]}}


def integration(access_key: str) -> dict[str, Any]:
    """The integration these credentials belong to, with its roles' privileges."""
    return {"filter": [{"type": "equals", "field": "accessKey", "value": access_key}],
            "associations": {"aclRoles": {}},
            "includes": {"integration": ["id", "admin", "aclRoles"], "acl_role": ["privileges"]}}


def media_by_file_name(file_name: str) -> dict[str, Any]:
    """Media uploaded under this file name (an earlier attempt's attachment)."""
    return {"filter": [{"type": "equals", "field": "fileName", "value": file_name}],
            "includes": {"media": ["id", "fileName", "hasFile"]}}
