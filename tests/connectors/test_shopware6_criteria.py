"""The Criteria bodies of the order search: what docs/shopware6.md fixes, built by pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mahnwerk.connectors.shopware6 import criteria

METHODS = ("payment_invoicepayment", "klarna_invoice")
OPEN = ("open", "reminded", "paid_partially")


def test_first_read_takes_open_invoice_transactions_at_top_level() -> None:
    """Both conditions top-level, so Shopware demands them of the same transaction."""
    body = criteria.changed_orders(None, page=1, limit=100, invoice_methods=METHODS, open_statuses=OPEN)
    assert body["filter"] == [
        {"type": "equalsAny", "field": "transactions.paymentMethod.technicalName", "value": list(METHODS)},
        {"type": "equalsAny", "field": "transactions.stateMachineState.technicalName", "value": list(OPEN)}]
    assert (body["page"], body["limit"], body["total-count-mode"]) == (1, 100, "none")


def test_incremental_read_is_one_or_of_four_branches() -> None:
    """Order stamps for invoice orders (createdAt when never updated), transaction stamps for any method."""
    cursor = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    [only] = criteria.changed_orders(cursor, page=2, limit=50, invoice_methods=METHODS, open_statuses=OPEN)["filter"]
    at = {"gte": "2026-03-01T09:00:00.123+00:00"}
    method = {"type": "equalsAny", "field": "transactions.paymentMethod.technicalName", "value": list(METHODS)}
    assert only == {"type": "multi", "operator": "OR", "queries": [
        {"type": "multi", "operator": "AND", "queries": [method, {"type": "range", "field": "updatedAt",
                                                                  "parameters": at}]},
        {"type": "multi", "operator": "AND", "queries": [method, {"type": "equals", "field": "updatedAt",
                                                                  "value": None},
                                                         {"type": "range", "field": "createdAt", "parameters": at}]},
        {"type": "range", "field": "transactions.updatedAt", "parameters": at},
        {"type": "range", "field": "transactions.createdAt", "parameters": at}]}


def test_sort_is_immutable_and_ends_with_id() -> None:
    """createdAt then id, for the orders and their transactions: pages stay stable while orders change."""
    body = criteria.changed_orders(None, page=1, limit=10, invoice_methods=METHODS, open_statuses=OPEN)
    by_creation = [{"field": "createdAt", "order": "ASC"}, {"field": "id", "order": "ASC"}]
    assert body["sort"] == by_creation
    assert body["associations"]["transactions"]["sort"] == by_creation


def test_associations_load_states_and_invoice_documents_only() -> None:
    """States are null unless listed (6.6); documents are filtered to invoices, newest first."""
    associations = criteria.changed_orders(None, page=1, limit=10, invoice_methods=METHODS,
                                           open_statuses=OPEN)["associations"]
    assert associations["transactions"]["associations"] == {"stateMachineState": {}, "paymentMethod": {}}
    assert associations["documents"]["filter"] == [
        {"type": "equals", "field": "documentType.technicalName", "value": "invoice"}]
    assert associations["language"] == {"associations": {"locale": {}}}


def test_includes_name_every_field_parse_reads() -> None:
    """The order's includes list the associations too: an association left out of includes is dropped."""
    includes = criteria.INCLUDES
    assert {"transactions", "documents", "orderCustomer", "billingAddress", "currency", "language",
            "customFields", "salesChannelId"} <= set(includes["order"])
    assert includes["order_transaction"] == ["id", "createdAt", "updatedAt", "amount", "stateMachineState",
                                             "paymentMethod"]


@pytest.mark.parametrize(("page", "limit"), [(1, 0), (1, 501), (0, 10)])
def test_out_of_range_paging_is_refused_before_the_shop_sees_it(page: int, limit: int) -> None:
    """limit > 500 is a 400 in Shopware; page counts from 1."""
    with pytest.raises(ValueError):
        criteria.changed_orders(None, page=page, limit=limit, invoice_methods=METHODS, open_statuses=OPEN)


def test_orders_by_id_has_no_paging_and_the_same_loading() -> None:
    """With `ids` Shopware ignores limit; the associations and includes match the changed-orders read."""
    body = criteria.orders_by_id(["a", "b"])
    assert body["ids"] == ["a", "b"] and "limit" not in body and "page" not in body
    assert body["associations"] == criteria.ASSOCIATIONS and body["includes"] == criteria.INCLUDES


def test_order_for_sending_adds_the_sales_channel_name_only() -> None:
    """The send's read is the same plus the sales channel's name; the shared constants stay unchanged."""
    body = criteria.order_for_sending("a")
    assert body["associations"]["salesChannel"] == {} and body["includes"]["sales_channel"] == ["name"]
    assert "salesChannel" in body["includes"]["order"] and "salesChannel" not in criteria.INCLUDES["order"]
    assert "salesChannel" not in criteria.ASSOCIATIONS


def test_integration_lookup_by_access_key() -> None:
    """`check` finds its own integration by the client id and reads its roles' privileges."""
    body = criteria.integration("SWIAXYZ")
    assert body["filter"] == [{"type": "equals", "field": "accessKey", "value": "SWIAXYZ"}]
    assert body["associations"] == {"aclRoles": {}}
    assert body["includes"] == {"integration": ["id", "admin", "aclRoles"], "acl_role": ["privileges"]}


def test_instant_is_utc_with_milliseconds() -> None:
    """The DAL's own format; naive input is not accepted silently (astimezone assumes local time)."""
    assert criteria.instant(datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)) == "2026-01-02T03:04:05.999+00:00"
