"""GET /orders as a real WooCommerce answers it: paging headers, limits, filters and WP_Error bodies."""

from __future__ import annotations

import time

import pytest
import requests

from mahnwerk.sandbox import SandboxServer, WooSandbox
from mahnwerk.sandbox.params import not_in_enum, wp_list


def test_pagination_headers_count_all_matches_and_pages(api):
    """X-WP-Total counts every match, X-WP-TotalPages is its ceiling division by per_page."""
    r = api.get("/orders", per_page=25)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert (r.headers["X-WP-Total"], r.headers["X-WP-TotalPages"]) == ("60", "3")
    assert len(r.json()) == 25


def test_link_header_repeats_the_query_with_next_and_prev_pages(api):
    """The Link header carries the request's own params with page replaced, prev before next."""
    r = api.get("/orders", per_page=10, page=2, status="on-hold")
    prev, nxt = r.headers["Link"].split(", <")
    assert prev.startswith(f"<{api.base}/orders?") and prev.endswith('>; rel="prev"')
    assert "per_page=10" in prev and "status=on-hold" in prev and "page=1" in prev
    assert nxt.endswith('>; rel="next"') and "page=3" in nxt and "page=2" not in nxt


def test_first_page_has_only_next_and_last_page_only_prev(api):
    """rel="prev" appears only after page 1 and rel="next" only before the last page."""
    assert 'rel="prev"' not in api.get("/orders", per_page=30).headers["Link"]
    last = api.get("/orders", per_page=30, page=2).headers["Link"]
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert "Link" not in api.get("/orders", per_page=100).headers


def test_pages_cover_every_order_exactly_once(api):
    """Walking all pages yields each order once, newest first by date_created."""
    seen = [o for page in (1, 2, 3) for o in api.get("/orders", per_page=20, page=page).json()]
    assert len({o["id"] for o in seen}) == 60
    keys = [(o["date_created_gmt"], o["id"]) for o in seen]
    assert keys == sorted(keys, reverse=True)


def test_past_the_last_page_is_an_empty_list(api):
    """A page after the last one answers 200 [] with the real totals."""
    r = api.get("/orders", per_page=50, page=7)
    assert r.status_code == 200 and r.json() == []
    assert r.headers["X-WP-Total"] == "60"
    assert 'rel="prev"' in r.headers["Link"] and "page=2" in r.headers["Link"]


@pytest.mark.parametrize("per_page", ["101", "0", "-1", "ten"])
def test_per_page_outside_1_to_100_is_rest_invalid_param(api, per_page):
    """per_page above 100, 0, -1 or not an integer is a 400 naming the parameter."""
    r = api.get("/orders", per_page=per_page)
    body = r.json()
    assert r.status_code == 400
    assert body["code"] == "rest_invalid_param" and body["data"]["status"] == 400
    assert "per_page" in body["data"]["params"]


def test_fields_limits_the_response_to_named_and_nested_fields(api):
    """_fields keeps only the listed top-level fields, and 'billing.email' keeps one nested key."""
    orders = api.get("/orders", per_page=5, _fields="id,status,date_modified_gmt,billing.email").json()
    assert all(set(o) == {"id", "status", "date_modified_gmt", "billing"} for o in orders)
    assert all(set(o["billing"]) == {"email"} for o in orders)


def test_full_orders_carry_links_and_php_style_escaping(api):
    """Without _fields an order has _links, and the raw JSON escapes slashes like wp_json_encode()."""
    r = api.get("/orders", per_page=1)
    order = r.json()[0]
    assert order["_links"]["self"][0]["href"] == f"{api.base}/orders/{order['id']}"
    assert "\\/wp-json\\/wc\\/v3\\/orders" in r.text


def test_include_and_exclude_pick_orders_by_id(api, orders):
    """include limits to the listed ids (comma list or include[]), exclude removes ids."""
    ids = [orders[3]["id"], orders[10]["id"], orders[20]["id"]]
    got = api.get("/orders", include=",".join(map(str, ids)), _fields="id").json()
    assert sorted(o["id"] for o in got) == sorted(ids)
    got = api.get("/orders", **{"include[]": ids}, exclude=ids[0], _fields="id").json()
    assert sorted(o["id"] for o in got) == sorted(ids[1:])


def test_repeated_plain_params_keep_only_the_last_like_php(api, orders):
    """include=a&include=b is PHP's $_GET: only b counts (send include[] or a comma list for several)."""
    ids = [orders[3]["id"], orders[10]["id"]]
    assert [o["id"] for o in api.get("/orders", include=ids, _fields="id").json()] == [ids[-1]]


def test_status_filter_takes_comma_lists_and_bracket_lists(api, orders):
    """status=a,b and status[]=a&status[]=b both filter on several statuses."""
    want = {"on-hold", "processing"}
    expected = sum(o["status"] in want for o in orders)
    for params in ({"status": "on-hold,processing"}, {"status[]": ["on-hold", "processing"]}):
        r = api.get("/orders", per_page=100, _fields="status", **params)
        assert r.headers["X-WP-Total"] == str(expected)
        assert {o["status"] for o in r.json()} == want


def test_unknown_status_is_a_400(api):
    """A status WooCommerce does not know is rest_invalid_param, not an empty list."""
    r = api.get("/orders", status="unpaid")
    assert r.status_code == 400 and r.json()["data"]["params"]["status"].startswith("status[0] is not one of")


def test_trashed_orders_show_only_under_status_trash(api, shop, orders):
    """A trashed order leaves status=any and appears with status=trash; GET by id still works."""
    victim = orders[0]["id"]
    assert api.delete(f"/orders/{victim}").status_code == 200
    any_ids = {o["id"] for o in api.get("/orders", per_page=100, _fields="id").json()}
    trash = api.get("/orders", status="trash", _fields="id,status").json()
    assert victim not in any_ids and trash == [{"id": victim, "status": "trash"}]
    assert api.get(f"/orders/{victim}").json()["status"] == "trash"
    assert api.delete(f"/orders/{victim}").json()["code"] == "woocommerce_rest_already_trashed"


def test_deleted_orders_are_gone(api, orders):
    """DELETE with force=true removes the order: GET answers 404 Invalid ID."""
    victim = orders[1]["id"]
    assert api.delete(f"/orders/{victim}", force="true").status_code == 200
    r = api.get(f"/orders/{victim}")
    assert r.status_code == 404
    assert r.json() == {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                        "data": {"status": 404}}


def test_unknown_params_are_ignored(api):
    """There is no payment_method filter: the parameter changes nothing."""
    assert api.get("/orders", payment_method="cod").headers["X-WP-Total"] == "60"


@pytest.mark.parametrize("path", ["/nope", "/orders/abc", "/customers/whatever"])
def test_unknown_routes_are_rest_no_route(api, path):
    """Any other path answers 404 rest_no_route in WP_Error shape."""
    r = api.get(path)
    assert r.status_code == 404
    assert r.json() == {"code": "rest_no_route", "message": "No route was found matching the URL and request method.",
                        "data": {"status": 404}}


def test_rest_route_fallback_serves_the_same_api(api, server):
    """/?rest_route=/wc/v3/orders works like /wp-json/wc/v3/orders, and its links use that form."""
    r = api.session.get(server.url + "/", params={"rest_route": "/wc/v3/orders", "per_page": 20}, timeout=10)
    assert r.status_code == 200 and len(r.json()) == 20
    assert r.headers["Link"].startswith(f"<{server.url}/?rest_route=/wc/v3/orders&")


def test_payment_gateways_list_core_offline_gateways(api):
    """bacs, cheque and cod are enabled, paypal is not."""
    gateways = {g["id"]: g for g in api.get("/payment_gateways").json()}
    assert {k: g["enabled"] for k, g in gateways.items()} == {"bacs": True, "cheque": True, "cod": True,
                                                              "paypal": False}
    assert gateways["bacs"]["settings"]["title"]["value"] == "Direct bank transfer"


def test_a_page_of_a_100k_order_shop_is_served_in_milliseconds():
    """With _fields, a 100-order page deep into 100,000 lazily built orders takes milliseconds, not a scan."""
    shop = WooSandbox.generated(100_000, seed=1)
    with SandboxServer(shop) as server, requests.Session() as session:
        session.auth = (shop.consumer_key, shop.consumer_secret)
        url = server.url + "/wp-json/wc/v3/orders"
        params = {"per_page": 100, "page": 400, "orderby": "modified", "order": "asc", "status": "on-hold",
                  "modified_after": "2000-01-01T00:00:00Z", "_fields": "id,status,total,date_modified_gmt"}
        session.get(url, params=params, timeout=10)         # warm: builds the on-hold view once
        started = time.perf_counter()
        for _ in range(5):
            r = session.get(url, params=params, timeout=10)
        assert (time.perf_counter() - started) / 5 < 0.05
        assert r.headers["X-WP-Total"] == "55000" and len(r.json()) == 100


def test_include_meta_and_exclude_meta_narrow_meta_data(api):
    """include_meta keeps only the named meta keys, exclude_meta drops them."""
    orders = api.get("/orders", per_page=20, include_meta="_wcpdf_invoice_number", _fields="id,meta_data").json()
    assert {m["key"] for o in orders for m in o["meta_data"]} == {"_wcpdf_invoice_number"}
    orders = api.get("/orders", per_page=20, exclude_meta="_wcpdf_invoice_number_data,is_vat_exempt").json()
    keys = {m["key"] for o in orders for m in o["meta_data"]}
    assert "_wcpdf_invoice_number" in keys and not keys & {"_wcpdf_invoice_number_data", "is_vat_exempt"}


def test_offset_and_orderby_id_page_in_id_order(api, orders):
    """orderby=id&order=asc lists by id; offset skips that many matches regardless of page."""
    ids = sorted(o["id"] for o in orders)
    assert [o["id"] for o in api.get("/orders", orderby="id", order="asc", per_page=5, _fields="id").json()] == ids[:5]
    got = api.get("/orders", orderby="id", order="asc", per_page=5, offset=7, _fields="id").json()
    assert [o["id"] for o in got] == ids[7:12]


def test_enum_messages_list_the_values_like_wp_sprintf_l(api, orders):
    """What the real WooCommerce 10.0.2 does: rest_not_in_enum lists the values with a final ", and" (two values:
    "a and b"), in data.params and data.details alike; auto-draft is a status filter and an order status."""
    statuses = "auto-draft, pending, processing, on-hold, completed, cancelled, refunded, failed, and checkout-draft."
    cases = [
        (api.get("/orders", status="bogus"), "status", f"status[0] is not one of any, trash, {statuses}"),
        (api.put(f"/orders/{orders[0]['id']}", {"status": "bogus"}), "status", f"status is not one of {statuses}"),
        (api.get(f"/orders/{orders[0]['id']}/notes", type="bogus"), "type",
         "type is not one of any, customer, and internal."),
        (api.get("/orders", orderby="bogus"), "orderby",
         "orderby is not one of date, id, include, title, slug, and modified."),
        (api.get("/orders", order="bogus"), "order", "order is not one of asc and desc."),
    ]
    for r, param, message in cases:
        data = r.json()["data"]
        assert (r.status_code, r.json()["code"]) == (400, "rest_invalid_param")
        assert data["params"][param] == message
        assert data["details"][param] == {"code": "rest_not_in_enum", "message": message, "data": None}


def test_enum_lists_of_one_two_and_more_values():
    """What the real WooCommerce 10.0.2 (WordPress 6.8.3) does: "x is not a." for one allowed value, "a and b" for
    two, "a, b, and c" for more."""
    assert not_in_enum("x", ("a",)) == "x is not a."
    assert [wp_list(v) for v in (("a", "b"), ("a", "b", "c"))] == ["a and b", "a, b, and c"]


def test_auto_draft_is_a_status_filter_that_any_leaves_out(api, orders):
    """What the real WooCommerce 10.0.2 does: status=auto-draft is valid and matches no order of a normal shop;
    status=any counts every order but trashed and auto-draft ones."""
    r = api.get("/orders", status="auto-draft")
    assert (r.status_code, r.json(), r.headers["X-WP-Total"]) == (200, [], "0")
    assert api.put(f"/orders/{orders[0]['id']}", {"status": "auto-draft"}).json()["status"] == "auto-draft"
    assert api.get("/orders", status="any").headers["X-WP-Total"] == str(len(orders) - 1)
    assert [o["id"] for o in api.get("/orders", status="auto-draft").json()] == [orders[0]["id"]]


def test_system_status_honours_fields(api):
    """What the real WooCommerce 10.0.2 does: GET system_status?_fields=environment answers only the environment,
    and 'environment.version' keeps one key of it."""
    body = api.get("/system_status", _fields="environment").json()
    assert set(body) == {"environment"}
    assert {"version", "wp_version", "php_version", "mysql_version", "curl_version"} <= set(body["environment"])
    assert api.get("/system_status", _fields="environment.version").json() == {"environment": {"version": "10.0.2"}}
    assert {"environment", "settings", "active_plugins"} <= set(api.get("/system_status").json())


def test_payment_gateways_carry_links_and_an_empty_order(api):
    """What the real WooCommerce 10.0.2 does: each gateway has self and collection links and order "" as long as
    the merchant never sorted the gateways; _fields filters a listed gateway's links but not a single one's."""
    gateways = api.get("/payment_gateways").json()
    for gateway in gateways:
        assert gateway["order"] == ""
        assert gateway["_links"] == {"self": [{"href": f"{api.base}/payment_gateways/{gateway['id']}"}],
                                     "collection": [{"href": f"{api.base}/payment_gateways"}]}
    assert [g["id"] for g in gateways][:3] == ["bacs", "cheque", "cod"]
    assert api.get("/payment_gateways", _fields="id,enabled").json()[0] == {"id": "bacs", "enabled": True}
    single = api.get("/payment_gateways/cod", _fields="id").json()
    assert set(single) == {"id", "_links"} and single["_links"]["self"][0]["href"].endswith("/payment_gateways/cod")
