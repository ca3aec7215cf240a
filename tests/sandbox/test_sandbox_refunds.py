"""Refunds over REST (/orders/{id}/refunds) and the _links of single orders, as WooCommerce 10.0.2 answers them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from mahnwerk.sandbox.refunds import FULLY_REFUNDED_NOTE

SHOP_NOW = ("2026-03-16T13:00:00", "2026-03-16T12:00:00")       # the shop clock of conftest.py, local and GMT
REFUND_KEYS = {"_links", "amount", "date_created", "date_created_gmt", "fee_lines", "id", "line_items", "meta_data",
               "reason", "refunded_by", "refunded_payment", "shipping_lines", "tax_lines"}


def _unpaid(orders: list[dict], *, refunded: bool = False) -> dict:
    """A bacs on-hold order, with or without an earlier partial refund."""
    return next(o for o in orders if o["status"] == "on-hold" and o["payment_method"] == "bacs"
                and bool(o["refunds"]) == refunded)


def _left(order: dict) -> str:
    return str(Decimal(order["total"]) + sum(Decimal(r["total"]) for r in order["refunds"]))


def test_a_partial_refund_answers_201_and_shows_first_in_the_order(api, shop, orders):
    """What the real WooCommerce 10.0.2 does: POST refunds {amount, reason, api_refund: false} answers 201 with the
    refund (amount "10.00", refunded_by the API user 1, refunded_payment false) and a Location built from the
    unexpanded route; the order lists it first as {id, reason, total}, keeps on-hold, date_modified is now, and
    the customer gets the partially-refunded mail."""
    order = _unpaid(orders, refunded=True)
    r = api.post(f"/orders/{order['id']}/refunds", {"amount": "10.00", "reason": "Teilgutschrift", "api_refund": False})
    refund = r.json()
    assert r.status_code == 201 and set(refund) == REFUND_KEYS
    assert (refund["amount"], refund["reason"], refund["refunded_by"], refund["refunded_payment"]) == \
           ("10.00", "Teilgutschrift", 1, False)
    assert (refund["date_created"], refund["date_created_gmt"]) == SHOP_NOW
    assert refund["line_items"] == refund["meta_data"] == refund["fee_lines"] == []
    assert r.headers["Location"] == f"{api.base}/orders/(?P<order_id>[\\d]+)/refunds/{refund['id']}"
    assert refund["_links"] == {
        "self": [{"href": f"{api.base}/orders/{order['id']}/refunds/{refund['id']}",
                  "targetHints": {"allow": ["GET", "DELETE"]}}],
        "collection": [{"href": f"{api.base}/orders/{order['id']}/refunds"}],
        "up": [{"href": f"{api.base}/orders/{order['id']}"}]}
    after = api.get(f"/orders/{order['id']}").json()
    assert after["refunds"] == [{"id": refund["id"], "reason": "Teilgutschrift", "total": "-10.00"}, *order["refunds"]]
    assert (after["status"], after["date_modified_gmt"]) == ("on-hold", SHOP_NOW[1])
    assert shop.mails[-1]["subject"] == f"Your Mahnwerk Sandbox order #{order['number']} has been partially refunded"


def test_refunding_what_is_left_makes_the_order_refunded(api, shop, orders):
    """What the real WooCommerce 10.0.2 does: a refund of the whole remaining amount fires
    woocommerce_order_fully_refunded: the order becomes refunded and the customer gets the refunded mail."""
    order = _unpaid(orders, refunded=True)
    r = api.post(f"/orders/{order['id']}/refunds", {"amount": _left(order), "api_refund": False})
    assert r.status_code == 201 and r.json()["reason"] == ""
    after = api.get(f"/orders/{order['id']}").json()
    assert after["status"] == "refunded" and after["refunds"][0] == {"id": r.json()["id"], "reason": "",
                                                                      "total": "-" + _left(order)}
    assert shop.mails[-1]["subject"] == f"Your Mahnwerk Sandbox order #{order['number']} has been refunded"


def test_an_amount_above_what_is_left_is_a_500_and_changes_nothing(api, shop, orders):
    """What the real WooCommerce 10.0.2 does: wc_create_refund() says "Invalid refund amount.", the controller wraps
    it as woocommerce_rest_cannot_create_order_refund with data 500 (a bare number, so HTTP 500 too)."""
    order = _unpaid(orders, refunded=True)
    too_much = str(Decimal(_left(order)) + Decimal("0.01"))
    r = api.post(f"/orders/{order['id']}/refunds", {"amount": too_much, "api_refund": False})
    assert (r.status_code, r.json()) == (500, {"code": "woocommerce_rest_cannot_create_order_refund",
                                               "message": "Invalid refund amount.", "data": 500})
    assert shop.order(order["id"]) == order and shop.mails == []


def test_api_refund_defaults_to_true_and_bacs_cannot_refund(api, shop, orders):
    """What the real WooCommerce 10.0.2 does: without api_refund wc_refund_payment() asks the bacs gateway, which
    does not support refunds: 500 with that message, no refund left behind, order untouched, yet the refund's id
    is used up (it was saved before the gateway was asked)."""
    order = _unpaid(orders)
    probe = shop.add_order({"status": "on-hold", "payment_method": "bacs", "total": "5.00"})["id"]
    shop.delete(probe)
    r = api.post(f"/orders/{order['id']}/refunds", {"amount": "1.00"})
    assert (r.status_code, r.json()) == (500, {
        "code": "woocommerce_rest_cannot_create_order_refund",
        "message": "The payment gateway for this order does not support automatic refunds.", "data": 500})
    assert shop.order(order["id"]) == order and api.get(f"/orders/{order['id']}/refunds").json() == []
    taken = api.post(f"/orders/{order['id']}/refunds", {"amount": "1.00", "api_refund": "false"}).json()["id"]
    assert taken == probe + 2


def test_gateways_that_can_refund_mark_the_refund_paid(api, shop):
    """What the real WooCommerce 10.0.2 does: an unknown gateway "does not exist"; PayPal Standard supports
    refunds but fails without API credentials ("Refund failed."); a gateway that refunds sets refunded_payment."""
    shop.gateways.append({**shop.gateways[0], "id": "fakepay", "method_supports": ["products", "refunds"]})
    paypal = next(g for g in api.get("/payment_gateways").json() if g["id"] == "paypal")
    assert paypal["method_supports"] == ["products", "refunds"]
    answers = {}
    for method in ("stripe", "paypal", "fakepay"):
        oid = shop.add_order({"status": "processing", "payment_method": method, "total": "20.00"})["id"]
        answers[method] = api.post(f"/orders/{oid}/refunds", {"amount": "5.00"}).json()
    assert answers["stripe"]["message"] == "The payment gateway for this order does not exist."
    assert answers["paypal"]["message"] == "Refund failed."
    assert answers["fakepay"]["refunded_payment"] is True


def test_bad_requests_fail_in_wordpress_order(api, anonymous, orders):
    """What the real WooCommerce 10.0.2 does: a non-string amount is 400 rest_invalid_param; anonymous is 401;
    an unknown order and a negative amount are WP_Errors with a bare 404 / 400 as data, so HTTP 500."""
    oid = _unpaid(orders)["id"]
    r = api.post(f"/orders/{oid}/refunds", {"amount": 10, "api_refund": "maybe"})
    assert r.status_code == 400 and set(r.json()["data"]["params"]) == {"amount", "api_refund"}
    assert anonymous.post(f"/orders/{oid}/refunds", {"amount": "1"}).status_code == 401
    r = api.post("/orders/999999/refunds", {"amount": "1.00", "api_refund": False})
    assert (r.status_code, r.json()) == (500, {"code": "woocommerce_rest_invalid_order_id",
                                               "message": "Invalid order ID.", "data": 404})
    r = api.post(f"/orders/{oid}/refunds", {"amount": "-1.00", "api_refund": False})
    assert (r.status_code, r.json()) == (500, {"code": "woocommerce_rest_invalid_order_refund",
                                               "message": "Refund amount must be greater than zero.", "data": 400})


def test_refunds_are_listed_newest_first_and_read_one_by_one(api, shop, orders):
    """What the real WooCommerce 10.0.2 does: GET refunds lists newest first with X-WP-Total; a refund the order was
    loaded with is listed too; one refund reads by id; another order's refund or an order is 'Invalid order refund
    ID.' (data 404, HTTP 500), an unknown id 404 'Invalid ID.', and an unknown order simply has no refunds."""
    order = _unpaid(orders, refunded=True)
    shop.clock = lambda: datetime(2026, 3, 17, 12, tzinfo=UTC)
    new = api.post(f"/orders/{order['id']}/refunds", {"amount": "1.00", "api_refund": False}).json()
    r = api.get(f"/orders/{order['id']}/refunds")
    assert [x["id"] for x in r.json()] == [new["id"], order["refunds"][0]["id"]] and r.headers["X-WP-Total"] == "2"
    old = r.json()[1]
    assert (old["amount"], old["reason"]) == (order["refunds"][0]["total"][1:], order["refunds"][0]["reason"])
    assert old["date_created_gmt"] == order["date_modified_gmt"]     # loaded refunds date from the order's last change
    assert [x["id"] for x in api.get(f"/orders/{order['id']}/refunds", order="asc").json()] == [old["id"], new["id"]]
    assert api.get(f"/orders/{order['id']}/refunds/{new['id']}").json() == new
    other = _unpaid(orders)["id"]
    for wrong in (f"/orders/{other}/refunds/{new['id']}", f"/orders/{order['id']}/refunds/{other}"):
        r = api.get(wrong)
        assert (r.status_code, r.json()["code"], r.json()["data"]) == (500, "woocommerce_rest_invalid_order_refund_id",
                                                                      404)
    r = api.get(f"/orders/{order['id']}/refunds/424242")
    assert (r.status_code, r.json()["code"]) == (404, "woocommerce_rest_shop_order_refund_invalid_id")
    r = api.get("/orders/999999/refunds")
    assert (r.status_code, r.json(), r.headers["X-WP-Total"]) == (200, [], "0")


def test_fields_filter_refunds_but_a_single_refund_keeps_its_links(api, orders):
    """What the real WooCommerce 10.0.2 does: `_fields` filters each listed refund's links away, while a single
    refund (like a single order) gets its links after the filter."""
    order = _unpaid(orders, refunded=True)
    rid = order["refunds"][0]["id"]
    assert api.get(f"/orders/{order['id']}/refunds", _fields="id,amount").json() == [
        {"id": rid, "amount": order["refunds"][0]["total"][1:]}]
    assert set(api.get(f"/orders/{order['id']}/refunds/{rid}", _fields="id").json()) == {"id", "_links"}


def test_setting_status_refunded_refunds_the_rest(api, shop, orders):
    """What the real WooCommerce 10.0.2 does: an order put to refunded gets a refund of what was left
    ("Order fully refunded.", wc_order_fully_refunded()) and a note telling the merchant to pay it back."""
    order = _unpaid(orders, refunded=True)
    body = api.put(f"/orders/{order['id']}", {"status": "refunded"}).json()
    assert body["status"] == "refunded" and body["refunds"][1:] == order["refunds"]
    assert body["refunds"][0]["reason"] == "Order fully refunded." and body["refunds"][0]["total"] == "-" + _left(order)
    notes = api.get(f"/orders/{order['id']}/notes").json()
    assert (notes[0]["note"], notes[0]["author"]) == (FULLY_REFUNDED_NOTE, "WooCommerce")
    refund = api.get(f"/orders/{order['id']}/refunds").json()[0]
    assert (refund["amount"], refund["refunded_by"], refund["date_created_gmt"]) == (_left(order), 1, SHOP_NOW[1])


def test_a_single_order_always_carries_links_a_listed_one_only_without_fields(api, orders):
    """What the real WooCommerce 10.0.2 does: GET /orders/28?_fields=id,meta_data answers id, meta_data and _links
    (self, collection, email_templates, customer); GET /orders?_fields=id,status has no _links unless asked."""
    order = next(o for o in orders if o["customer_id"])
    single = api.get(f"/orders/{order['id']}", _fields="id,meta_data").json()
    assert list(single) == ["id", "meta_data", "_links"]
    assert single["_links"]["email_templates"] == [
        {"embeddable": True, "href": f"{api.base}/orders/{order['id']}/actions/email_templates"}]
    assert single["_links"]["customer"] == [{"href": f"{api.base}/customers/{order['customer_id']}"}]
    assert list(single["_links"]) == ["self", "collection", "email_templates", "customer"]
    assert all(set(o) == {"id", "status"} for o in api.get("/orders", _fields="id,status").json())
    assert all(set(o) == {"id", "_links"} for o in api.get("/orders", _fields="id,_links").json())
