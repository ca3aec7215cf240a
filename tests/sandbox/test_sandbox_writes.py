"""Writes through the API and behind its back: notes, status changes, set_paid, refunds, silent touches."""

from __future__ import annotations

from decimal import Decimal

from mahnwerk.sandbox import WooSandbox

SHOP_NOW_GMT = "2026-03-16T12:00:00"       # the shop clock of conftest.py


def _unpaid(orders: list[dict]) -> dict:
    return next(o for o in orders if o["status"] == "on-hold" and o["payment_method"] == "bacs")


def test_customer_note_is_201_with_location_and_mails_the_customer(api, shop, orders):
    """POST notes answers 201 + Location, mails the billing address and leaves date_modified alone."""
    order = _unpaid(orders)
    r = api.post(f"/orders/{order['id']}/notes", {"note": "Zahlungserinnerung: bitte überweisen & danke",
                                                  "customer_note": True})
    note = r.json()
    assert r.status_code == 201
    assert r.headers["Location"] == f"{api.base}/orders/{order['id']}/notes/{note['id']}"
    assert (note["author"], note["customer_note"], note["date_created_gmt"]) == ("WooCommerce", True, SHOP_NOW_GMT)
    assert shop.mails[-1]["to"] == order["billing"]["email"]
    assert shop.mails[-1]["subject"] == "A note has been added to your order from Mahnwerk Sandbox"
    assert "überweisen &amp; danke" in shop.mails[-1]["body"]
    after = api.get(f"/orders/{order['id']}").json()
    assert after["date_modified_gmt"] == order["date_modified_gmt"]
    listed = api.get(f"/orders/{order['id']}/notes", type="customer").json()
    assert [n["id"] for n in listed] == [note["id"]]


def test_private_note_by_user_sends_no_mail(api, shop, orders):
    """An internal note with added_by_user is attributed to the API user and mails nobody."""
    r = api.post(f"/orders/{orders[0]['id']}/notes", {"note": "intern", "added_by_user": True})
    assert r.status_code == 201 and r.json()["author"] == "admin" and shop.mails == []


def test_note_without_text_is_rejected(api, orders):
    """A missing note is 400 rest_missing_callback_param; a note on an unknown order is 404."""
    assert api.post(f"/orders/{orders[0]['id']}/notes", {}).json()["code"] == "rest_missing_callback_param"
    assert api.post("/orders/999999/notes", {"note": "x"}).json()["code"] == "woocommerce_rest_order_invalid_id"


def test_an_empty_note_is_created(api, orders):
    """What the real WooCommerce 10.0.2 does: note "" answers 201 and stores a note with empty text."""
    r = api.post(f"/orders/{orders[0]['id']}/notes", {"note": ""})
    assert r.status_code == 201 and r.json()["note"] == ""
    assert api.get(f"/orders/{orders[0]['id']}/notes/{r.json()['id']}").json()["note"] == ""


def test_note_text_loses_its_backslashes_like_php_stripslashes(api, orders):
    """What the real WooCommerce 10.0.2 does: wp_insert_comment() unslashes the note, so `\\x` becomes `x`,
    `\\\\` one backslash, a trailing backslash goes and `\\0` is a NUL byte; the stored note says so too."""
    oid = orders[0]["id"]
    for sent, stored in [("x \\ y \\\\ z", "x  y \\ z"), ("C:\\new\\", "C:new"), ("a\\0b", "a\0b"),
                         ("\\\"quoted\\\"", '"quoted"')]:
        note = api.post(f"/orders/{oid}/notes", {"note": sent}).json()
        assert note["note"] == stored, sent
        assert api.get(f"/orders/{oid}/notes/{note['id']}").json()["note"] == stored


def test_order_meta_keeps_its_backslashes(api, orders):
    """What the real WooCommerce 10.0.2 does: meta_data values sent with PUT are stored without unslashing."""
    body = api.put(f"/orders/{orders[0]['id']}", {"meta_data": [{"key": "_path", "value": "a\\b"}]}).json()
    assert [m["value"] for m in body["meta_data"] if m["key"] == "_path"] == ["a\\b"]


def test_put_processing_marks_paid_and_bumps_modified(api, shop, orders):
    """PUT status=processing sets date_paid and date_modified to now and mails the customer."""
    order = _unpaid(orders)
    r = api.put(f"/orders/{order['id']}", {"status": "processing"})
    body = r.json()
    assert r.status_code == 200 and body["status"] == "processing"
    assert body["date_paid_gmt"] == body["date_modified_gmt"] == SHOP_NOW_GMT
    assert body["date_completed"] is None
    assert shop.mails[-1]["order_id"] == order["id"]


def test_put_completed_sets_date_completed(api, orders):
    """PUT status=completed sets date_paid and date_completed."""
    body = api.put(f"/orders/{_unpaid(orders)['id']}", {"status": "completed"}).json()
    assert body["date_paid_gmt"] == body["date_completed_gmt"] == SHOP_NOW_GMT


def test_set_paid_on_an_on_hold_order_changes_nothing(api, orders):
    """set_paid=true on on-hold keeps status, date_paid and date_modified (needs_payment() is false)."""
    order = _unpaid(orders)
    body = api.put(f"/orders/{order['id']}", {"set_paid": True}).json()
    assert (body["status"], body["date_paid"], body["date_modified_gmt"]) == \
           ("on-hold", None, order["date_modified_gmt"])


def test_set_paid_on_a_pending_order_completes_payment(api, orders):
    """set_paid=true on a pending order runs payment_complete(): processing, date_paid now."""
    pending = next(o for o in orders if o["status"] == "pending")
    body = api.put(f"/orders/{pending['id']}", {"set_paid": True, "transaction_id": "TX-1"}).json()
    assert (body["status"], body["date_paid_gmt"], body["transaction_id"]) == ("processing", SHOP_NOW_GMT, "TX-1")


def test_put_meta_data_upserts_by_key(api, orders):
    """meta_data entries replace the value of an existing key and append new keys."""
    order = _unpaid(orders)
    body = api.put(f"/orders/{order['id']}", {"meta_data": [{"key": "_mahnwerk_stage", "value": "reminder"}]}).json()
    body = api.put(f"/orders/{order['id']}", {"meta_data": [{"key": "_mahnwerk_stage", "value": "dunning_1"}]}).json()
    assert [m["value"] for m in body["meta_data"] if m["key"] == "_mahnwerk_stage"] == ["dunning_1"]
    assert body["date_modified_gmt"] == SHOP_NOW_GMT


def test_put_with_an_unknown_status_or_on_a_missing_order_fails(api, orders):
    """An invalid status is 400 rest_invalid_param; an unknown id is 400 Invalid ID (update_item's code)."""
    assert api.put(f"/orders/{orders[0]['id']}", {"status": "paid"}).json()["code"] == "rest_invalid_param"
    r = api.put("/orders/999999", {"status": "completed"})
    assert (r.status_code, r.json()["code"]) == (400, "woocommerce_rest_shop_order_invalid_id")
    assert api.session.put(api.base + f"/orders/{orders[0]['id']}", data=b"{oops", timeout=10,
                           headers={"Content-Type": "application/json"}).json()["code"] == "rest_invalid_json"


def test_update_order_bumps_modified_and_touch_does_not(shop, orders):
    """update_order sets date_modified from the clock; touch_without_modifying keeps it."""
    order = _unpaid(orders)
    touched = shop.touch_without_modifying(order["id"], status="processing")
    assert touched["status"] == "processing" and touched["date_modified_gmt"] == order["date_modified_gmt"]
    updated = shop.update_order(order["id"], customer_note="neu")
    assert (updated["date_modified_gmt"], updated["date_modified"]) == (SHOP_NOW_GMT, "2026-03-16T13:00:00")


def test_refunds_come_first_and_a_full_refund_makes_the_order_refunded(shop, orders):
    """What the real WooCommerce 10.0.2 does: refund() lists each refund first in `refunds` (get_refunds() is
    newest first) with a fresh id and a negative total; refunding the rest flips the status to refunded."""
    order = _unpaid(orders)
    first = shop.refund(order["id"], "1.00", reason="Kulanz")
    assert first["total"] == "-1.00" and shop.order(order["id"])["status"] == "on-hold"
    rest = str(Decimal(order["total"]) - 1 - sum(-Decimal(r["total"]) for r in order["refunds"]))
    second = shop.refund(order["id"], rest)
    after = shop.order(order["id"])
    assert after["status"] == "refunded" and [r["id"] for r in after["refunds"][:2]] == [second["id"], first["id"]]
    assert after["refunds"][2:] == order["refunds"] and second["id"] == first["id"] + 1
    assert after["date_modified_gmt"] == SHOP_NOW_GMT


def test_add_order_fills_id_number_and_dates(shop):
    """add_order completes a minimal order with the next id, its number and the clock's dates."""
    added = shop.add_order({"status": "on-hold", "payment_method": "bacs", "total": "9.99"})
    assert added["number"] == str(added["id"]) and added["id"] > max(shop.store.rows) - 1
    assert added["date_created_gmt"] == added["date_modified_gmt"] == SHOP_NOW_GMT
    assert shop.order(added["id"])["total"] == "9.99"


def test_the_shop_never_changes_the_dicts_it_was_given(orders):
    """Mutations store new dicts; the caller's orders stay as generated."""
    before = dict(orders[0])
    shop = WooSandbox(orders=orders)
    shop.update_order(orders[0]["id"], status="completed")
    assert orders[0] == before
