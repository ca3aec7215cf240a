"""The Shopware sandbox answers like Shopware 6.6: auth, Criteria search, errors, JSON:API, faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from mahnwerk.sandbox import ShopwareSandbox, ShopwareServer, generate_sw_orders
from tests.sandbox.shopware_client import AdminClient

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)
INVOICE = "payment_invoicepayment"
OPEN = ["open", "reminded", "paid_partially"]


class Clock:
    """A settable sandbox clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW + timedelta(days=1))


@pytest.fixture
def shop(clock: Clock) -> ShopwareSandbox:
    shop = ShopwareSandbox(orders=generate_sw_orders(60, seed=7, now=NOW))
    shop.clock = clock
    return shop


@pytest.fixture
def server(shop: ShopwareSandbox) -> Iterator[ShopwareServer]:
    with ShopwareServer(shop) as server:
        yield server


@pytest.fixture
def api(shop: ShopwareSandbox, server: ShopwareServer) -> Iterator[AdminClient]:
    client = AdminClient(server.url, shop.client_id, shop.client_secret).login()
    yield client
    client.session.close()


def ids_of(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["data"]]


def first_error(response: requests.Response) -> dict:
    return response.json()["errors"][0]


# -- authentication --------------------------------------------------------------------------------------------------

def test_token_has_shopware_shape_and_client_id_is_an_access_key(shop: ShopwareSandbox,
                                                                  server: ShopwareServer) -> None:
    """client_credentials returns a bearer JWT for 600 s and no refresh token."""
    body = AdminClient(server.url, shop.client_id, shop.client_secret).token().json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600 and "refresh_token" not in body
    assert body["access_token"].count(".") == 2
    assert shop.client_id.startswith("SWIA") and len(shop.client_id) == 26 and shop.client_id.isupper()
    assert shop.tokens_issued == 1


def test_wrong_secret_and_missing_or_expired_token_are_401_oauth_errors(shop: ShopwareSandbox,
                                                                         server: ShopwareServer,
                                                                         api: AdminClient, clock: Clock) -> None:
    """OAuth errors carry the league code, the message as title and the hint as detail."""
    bad = AdminClient(server.url, shop.client_id, "wrong").token()
    assert bad.status_code == 401
    assert first_error(bad) == {"code": "4", "status": "401", "title": "Client authentication failed", "detail": None}
    anonymous = requests.post(server.url + "/api/search/order", json={}, timeout=10)
    assert anonymous.status_code == 401 and first_error(anonymous)["detail"] == 'Missing "Authorization" header'
    assert api.search({"limit": 1}).status_code == 200
    clock.now += timedelta(seconds=601)             # the token's 600 s are over on the sandbox clock
    expired = api.search({"limit": 1})
    assert expired.status_code == 401 and first_error(expired)["code"] == "9"
    assert first_error(expired)["detail"] == "Access token could not be verified"


def test_expire_tokens_forces_a_new_token_mid_sync(shop: ShopwareSandbox, api: AdminClient) -> None:
    """expire_tokens() invalidates every issued token; a new one works."""
    assert api.search({"limit": 1}).status_code == 200
    shop.expire_tokens()
    assert api.search({"limit": 1}).status_code == 401
    assert api.login().search({"limit": 1}).status_code == 200
    assert shop.tokens_issued == 2


def test_failed_token_requests_are_throttled_with_retry_after(shop: ShopwareSandbox, server: ShopwareServer,
                                                              clock: Clock) -> None:
    """After 10 failed attempts the token endpoint answers 429 for 10 s; a later success resets the limiter."""
    bad = AdminClient(server.url, shop.client_id, "wrong")
    assert [bad.token().status_code for _ in range(10)] == [401] * 10
    throttled = bad.token()
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "10"
    assert first_error(throttled)["code"] == "FRAMEWORK__AUTH_THROTTLED"
    good = AdminClient(server.url, shop.client_id, shop.client_secret)
    assert good.token().status_code == 429          # keyed by IP: the right secret waits too
    clock.now += timedelta(seconds=11)
    assert good.token().status_code == 200
    assert bad.token().status_code == 401


def test_date_header_comes_from_the_sandbox_clock(api: AdminClient) -> None:
    assert api.search({"limit": 1}).headers["Date"] == "Mon, 16 Mar 2026 12:00:00 GMT"


# -- criteria ----------------------------------------------------------------------------------------------------------

def test_limit_above_500_is_refused_and_no_limit_means_500(api: AdminClient) -> None:
    """RequestCriteriaBuilder: limit > max_limit is a 400 mapping error; without a limit max_limit applies."""
    refused = api.search({"limit": 501})
    assert refused.status_code == 400
    assert first_error(refused)["code"] == "FRAMEWORK__QUERY_LIMIT_EXCEEDED"
    assert first_error(refused)["source"] == {"pointer": "/limit"}
    assert first_error(refused)["meta"]["parameters"] == {"maxLimit": 500, "limit": 501}
    assert len(ids_of(api.search({"total-count-mode": "exact"}))) == 60


def test_unknown_field_in_filter_or_sort_is_unmapped_field(api: AdminClient) -> None:
    """A field the entity does not have is 400 FRAMEWORK__UNMAPPED_FIELD naming the field and its entity."""
    response = api.search({"filter": [{"type": "equals", "field": "transactions.status", "value": "open"}]})
    assert response.status_code == 400
    assert first_error(response)["code"] == "FRAMEWORK__UNMAPPED_FIELD"
    assert first_error(response)["meta"]["parameters"] == {"field": "status", "entity": "order_transaction"}
    sort = api.search({"sort": [{"field": "modified", "order": "ASC"}]})
    assert sort.status_code == 400 and first_error(sort)["meta"]["parameters"]["entity"] == "order"


def test_total_count_modes(api: AdminClient) -> None:
    assert api.search({"limit": 7}).json()["total"] == 7
    assert api.search({"limit": 7, "total-count-mode": "exact"}).json()["total"] == 60
    assert api.search({"limit": 7, "page": 9, "total-count-mode": 1}).json()["total"] == 60


def test_includes_keep_only_listed_fields_and_associations_are_null_unless_requested(api: AdminClient) -> None:
    """includes whitelist per API alias (apiAlias always stays); transactions.stateMachineState needs listing."""
    plain = api.search({"limit": 1, "associations": {"transactions": {}}}).json()["data"][0]
    assert plain["orderCustomer"] is None and plain["documents"] is None
    assert plain["transactions"][0]["stateMachineState"] is None
    included = api.search({"limit": 1, "associations": {"transactions": {"associations": {"stateMachineState": {}}}},
                           "includes": {"order": ["id", "transactions"], "order_transaction": ["stateMachineState"],
                                        "state_machine_state": ["technicalName"]}}).json()["data"][0]
    assert set(included) == {"id", "transactions", "apiAlias"}
    assert included["transactions"][0] == {"stateMachineState": {"technicalName": included["transactions"][0][
        "stateMachineState"]["technicalName"], "apiAlias": "state_machine_state"}, "apiAlias": "order_transaction"}


def test_nested_association_filter_sort_and_line_items(api: AdminClient, shop: ShopwareSandbox) -> None:
    """documents filtered to invoices by their own criteria; lineItems carry label, quantity and prices."""
    response = api.search({"associations": {
        "documents": {"associations": {"documentType": {}},
                      "filter": [{"type": "equals", "field": "documentType.technicalName", "value": "invoice"}]},
        "lineItems": {"sort": [{"field": "position", "order": "DESC"}]}}})
    rows = response.json()["data"]
    kinds = {d["documentType"]["technicalName"] for row in rows for d in row["documents"]}
    assert kinds == {"invoice"}
    stored = sum(1 for o in shop.orders.values() for d in o["documents"] if d["documentType"]["technicalName"]
                 == "delivery_note")
    assert stored > 0                               # there were delivery notes to filter out
    items = next(row["lineItems"] for row in rows if len(row["lineItems"]) > 1)
    assert [i["position"] for i in items] == sorted((i["position"] for i in items), reverse=True)
    assert {"label", "quantity", "totalPrice", "type"} <= set(items[0]) and items[0]["price"]["totalPrice"] > 0


def _tied_shop(n: int) -> ShopwareSandbox:
    orders = generate_sw_orders(n, seed=3, now=NOW)
    for order in orders:                            # a bulk import: every order created in the same millisecond
        order["createdAt"] = orders[0]["createdAt"]
    shop = ShopwareSandbox(orders)
    shop.clock = lambda: NOW
    return shop


def test_ties_page_unstably_without_an_id_tie_breaker() -> None:
    """Sorting on createdAt alone pages rows in a new order each request: some rows are skipped, some repeated."""
    shop = _tied_shop(30)
    with ShopwareServer(shop) as server:
        api = AdminClient(server.url, shop.client_id, shop.client_secret).login()
        sort = [{"field": "createdAt", "order": "ASC"}]
        unstable = []
        for _ in range(5):
            seen = [i for page in (1, 2, 3) for i in ids_of(api.search({"limit": 10, "page": page, "sort": sort}))]
            unstable.append(len(set(seen)) < 30)
        assert any(unstable)
        stable = sort + [{"field": "id", "order": "ASC"}]
        for _ in range(3):
            seen = [i for page in (1, 2, 3) for i in ids_of(api.search({"limit": 10, "page": page, "sort": stable}))]
            assert seen == sorted(shop.orders)


def test_top_level_transaction_filters_hold_for_the_same_transaction(api: AdminClient, shop: ShopwareSandbox) -> None:
    """An old open invoice transaction behind a newer paid prepayment: invoice AND paid matches no single one."""
    order_id = next(o["id"] for o in shop.orders.values() if len(o["transactions"]) == 2)
    same = [{"type": "equals", "field": "id", "value": order_id},
            {"type": "equals", "field": "transactions.paymentMethod.technicalName", "value": INVOICE}]
    paid = {"type": "equals", "field": "transactions.stateMachineState.technicalName", "value": "paid"}
    opened = {"type": "equals", "field": "transactions.stateMachineState.technicalName", "value": "open"}
    assert ids_of(api.search({"filter": [*same, paid]})) == []
    assert ids_of(api.search({"filter": [*same, opened]})) == [order_id]
    any_join = [same[0], {"type": "multi", "operator": "OR", "queries": [same[1]]},
                {"type": "multi", "operator": "OR", "queries": [paid]}]
    assert ids_of(api.search({"filter": any_join})) == [order_id]    # separate multis: separate joins


def incremental(cursor: str) -> list[dict]:
    """The incremental filter of docs/shopware6.md."""
    method = {"type": "equalsAny", "field": "transactions.paymentMethod.technicalName", "value": [INVOICE]}
    since = {"gte": cursor}
    return [{"type": "multi", "operator": "OR", "queries": [
        {"type": "multi", "operator": "AND", "queries": [method, {"type": "range", "field": "updatedAt",
                                                                  "parameters": since}]},
        {"type": "multi", "operator": "AND", "queries": [
            method, {"type": "equals", "field": "updatedAt", "value": None},
            {"type": "range", "field": "createdAt", "parameters": since}]},
        {"type": "range", "field": "transactions.updatedAt", "parameters": since},
        {"type": "range", "field": "transactions.createdAt", "parameters": since}]}]


def test_incremental_filter_finds_payments_that_leave_order_updated_at_alone(api: AdminClient,
                                                                            shop: ShopwareSandbox,
                                                                            clock: Clock) -> None:
    """pay() moves only the transaction's updatedAt; the transactions.updatedAt branch still finds the order."""
    cursor = "2026-03-16T13:00:00+01:00"            # = 12:00 UTC, the clock's now: nothing changed since
    assert ids_of(api.search({"filter": incremental(cursor)})) == []
    order_id = next(o["id"] for o in shop.orders.values()
                    if o["updatedAt"] is not None and len(o["transactions"]) == 1
                    and o["transactions"][0]["stateMachineState"]["technicalName"] == "open")
    before = shop.order(order_id)["updatedAt"]
    clock.now += timedelta(minutes=5)
    shop.pay(order_id)
    assert shop.order(order_id)["updatedAt"] == before and shop.transaction_state(order_id) == "paid"
    assert ids_of(api.search({"filter": incremental(cursor)})) == [order_id]
    order_only = [{"type": "range", "field": "updatedAt", "parameters": {"gte": cursor}}]
    assert ids_of(api.search({"filter": order_only})) == []     # the trap the reference warns about


def test_never_updated_orders_have_null_updated_at_and_match_equals_null(api: AdminClient,
                                                                          shop: ShopwareSandbox) -> None:
    never = sorted(o["id"] for o in shop.orders.values() if o["updatedAt"] is None)
    assert never
    found = api.search({"filter": [{"type": "equals", "field": "updatedAt", "value": None}],
                        "sort": [{"field": "id"}]})
    assert ids_of(found) == never


def test_range_compares_datetimes_as_instants(api: AdminClient, shop: ShopwareSandbox) -> None:
    """An offset in the filter value means the same instant as its UTC spelling."""
    moment = sorted(o["createdAt"] for o in shop.orders.values())[30]
    utc = datetime.fromisoformat(moment)
    berlin = utc.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+01:00").tzinfo).isoformat()
    by_utc = ids_of(api.search({"filter": [{"type": "range", "field": "createdAt", "parameters": {"gte": moment}}]}))
    by_offset = ids_of(api.search({"filter": [{"type": "range", "field": "createdAt",
                                               "parameters": {"gte": berlin}}]}))
    assert by_utc == by_offset and 0 < len(by_utc) < 60


def test_json_api_shape_without_accept_json(api: AdminClient) -> None:
    """Without Accept: application/json the answer is JSON:API: attributes, relationships, included."""
    response = api.session.post(api.url + "/api/search/order", json={"limit": 2, "associations": {"currency": {}}},
                                headers={"Accept": "application/vnd.api+json"}, timeout=10)
    assert response.headers["Content-Type"].startswith("application/vnd.api+json")
    body = response.json()
    resource = body["data"][0]
    assert resource["type"] == "order" and "orderNumber" in resource["attributes"]
    assert resource["relationships"]["currency"]["data"]["type"] == "currency"
    currency_id = resource["relationships"]["currency"]["data"]["id"]
    included = {(i["type"], i["id"]): i for i in body["included"]}
    assert included[("currency", currency_id)]["attributes"]["isoCode"] in ("EUR", "CHF")
    assert body["meta"]["totalCountMode"] == 0


def test_search_by_ids_and_other_entities(api: AdminClient, shop: ShopwareSandbox) -> None:
    wanted = list(shop.orders)[:3]
    assert sorted(ids_of(api.search({"ids": wanted}))) == sorted(wanted)
    methods = api.search({"includes": {"payment_method": ["technicalName", "active", "handlerIdentifier"]}},
                         entity="payment-method").json()["data"]
    by_name = {m["technicalName"]: m["active"] for m in methods}
    assert by_name["payment_invoicepayment"] is True and False in by_name.values()
    assert "swag_paypal_pay_upon_invoice" in by_name
    integration = api.search({"filter": [{"type": "equals", "field": "accessKey", "value": shop.client_id}],
                              "associations": {"aclRoles": {}}}, entity="integration").json()["data"]
    assert integration[0]["admin"] is True and integration[0]["aclRoles"] == []


def test_privileges_of_a_non_admin_integration(shop: ShopwareSandbox) -> None:
    """Without `order:update` a PATCH is 403 FRAMEWORK__MISSING_PRIVILEGE_ERROR; reads still work."""
    limited = ShopwareSandbox(list(shop.orders.values()), admin=False, privileges=["order:read"])
    with ShopwareServer(limited) as server:
        api = AdminClient(server.url, limited.client_id, limited.client_secret).login()
        order_id = next(iter(limited.orders))
        assert api.search({"limit": 1}).status_code == 200
        refused = api.patch(f"/api/order/{order_id}", {"customFields": {"x": 1}})
        assert refused.status_code == 403 and first_error(refused)["code"] == "FRAMEWORK__MISSING_PRIVILEGE_ERROR"
        assert api.search({}, entity="integration").status_code == 403


# -- writes ------------------------------------------------------------------------------------------------------------

def test_custom_fields_merge_keeps_the_merchants_keys(api: AdminClient, shop: ShopwareSandbox) -> None:
    """PATCH customFields merges top-level keys, answers 204 and moves the order's updatedAt."""
    order_id = next(o["id"] for o in shop.orders.values() if o["customFields"])
    merchant = shop.custom_fields(order_id)
    first = api.patch(f"/api/order/{order_id}", {"customFields": {"mahnwerk_stage": "reminder"}})
    assert first.status_code == 204 and first.content == b""
    api.patch(f"/api/order/{order_id}", {"customFields": {"mahnwerk_sent": ["k1"]}})
    assert shop.custom_fields(order_id) == {**merchant, "mahnwerk_stage": "reminder", "mahnwerk_sent": ["k1"]}
    assert shop.order(order_id)["updatedAt"] == "2026-03-16T12:00:00.000+00:00"


def test_patch_of_an_unknown_order_is_404(api: AdminClient) -> None:
    missing = "f" * 32
    response = api.patch(f"/api/order/{missing}", {"customFields": {"a": 1}})
    assert response.status_code == 404
    assert first_error(response)["code"] == "FRAMEWORK__RESOURCE_NOT_FOUND"
    assert first_error(response)["detail"] == f"The order resource with the following primary key was not found: " \
                                              f"id({missing})"


def test_deleted_order_is_gone_from_id_searches(api: AdminClient, shop: ShopwareSandbox) -> None:
    order_id = next(iter(shop.orders))
    shop.delete(order_id)
    assert ids_of(api.search({"ids": [order_id]})) == []


def test_faults_answer_in_shopware_format_and_on_request_drops_connections(api: AdminClient,
                                                                            shop: ShopwareSandbox) -> None:
    """fail_next answers Shopware's error body with Retry-After; on_request 'before' True drops the request."""
    shop.fail_next(503, retry_after=2, path_contains="/api/search/order")
    failed = api.search({"limit": 1})
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert first_error(failed)["status"] == "503"
    assert api.search({"limit": 1}).status_code == 200
    seen: list[tuple[str, str, str]] = []

    def hook(method: str, path: str, phase: str) -> bool:
        seen.append((method, path, phase))
        return phase == "before" and path.startswith("/api/order/")

    shop.on_request = hook
    order_id = next(iter(shop.orders))
    with pytest.raises(requests.ConnectionError):
        api.patch(f"/api/order/{order_id}", {"customFields": {"a": 1}})
    assert shop.custom_fields(order_id).get("a") is None        # the shop never saw it
    assert ("PATCH", f"/api/order/{order_id}", "before") in seen
    assert [r.status for r in shop.requests[-2:]] == [503, 200]


def test_a_created_at_keyset_filter_answers_exactly_like_a_plain_range_filter(shop: ShopwareSandbox,
                                                                                api: AdminClient) -> None:
    """`createdAt >= X` under a createdAt-first sort is answered by cutting a cached result set: the rows must be
    the ones the same filter selects under another sort."""
    every = api.search({"sort": [{"field": "createdAt", "order": "ASC"}, {"field": "id", "order": "ASC"}],
                        "includes": {"order": ["id", "createdAt"]}}).json()["data"]
    bound = every[len(every) // 2]["createdAt"]
    since = {"type": "range", "field": "createdAt", "parameters": {"gte": bound}}
    keyset = api.search({"filter": [since], "includes": {"order": ["id"]},
                         "sort": [{"field": "createdAt", "order": "ASC"}, {"field": "id", "order": "ASC"}]})
    plain = api.search({"filter": [since], "includes": {"order": ["id"]}, "sort": [{"field": "id", "order": "ASC"}]})
    assert sorted(r["id"] for r in keyset.json()["data"]) == sorted(r["id"] for r in plain.json()["data"])
    assert [r["id"] for r in keyset.json()["data"]] == [r["id"] for r in every if r["createdAt"] >= bound]
