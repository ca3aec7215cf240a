"""The Shopware sandbox's actions: payment transitions, flow mails, mail-template/send with real Twig, media."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from mahnwerk.sandbox import ShopwareSandbox, ShopwareServer, generate_sw_orders
from tests.sandbox.shopware_client import AdminClient

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def shop() -> ShopwareSandbox:
    shop = ShopwareSandbox(orders=generate_sw_orders(40, seed=11, now=NOW))
    shop.clock = lambda: NOW
    return shop


@pytest.fixture
def api(shop: ShopwareSandbox) -> Iterator[AdminClient]:
    with ShopwareServer(shop) as server:
        client = AdminClient(server.url, shop.client_id, shop.client_secret).login()
        yield client
        client.session.close()


def latest(shop: ShopwareSandbox, state: str) -> tuple[str, str]:
    """(order id, latest transaction id) of an order whose only transaction is in `state`."""
    order = next(o for o in shop.orders.values() if len(o["transactions"]) == 1
                 and o["transactions"][0]["stateMachineState"]["technicalName"] == state)
    return order["id"], order["transactions"][0]["id"]


def test_allowed_transitions_list_what_the_current_state_offers(api: AdminClient, shop: ShopwareSandbox) -> None:
    _, tx = latest(shop, "reminded")
    body = api.get(f"/api/_action/state-machine/order_transaction/{tx}/state").json()
    actions = {t["actionName"]: t["toStateName"] for t in body["transitions"]}
    assert actions["pay"] == "paid" and "paid" not in actions and actions["reopen"] == "open"
    assert {t["fromStateName"] for t in body["transitions"]} == {"reminded"}
    assert body["transitions"][0]["url"].startswith(f"/api/_action/state-machine/order_transaction/{tx}/state/")


def test_transition_returns_the_new_state_and_moves_only_the_transaction(api: AdminClient,
                                                                         shop: ShopwareSandbox) -> None:
    order_id, tx = latest(shop, "open")
    before = shop.order(order_id)["updatedAt"]
    response = api.post(f"/api/_action/order_transaction/{tx}/state/remind", {"sendMail": False})
    assert response.status_code == 200
    assert response.json()["data"]["technicalName"] == "reminded"
    assert response.json()["data"]["apiAlias"] == "state_machine_state"
    assert shop.transaction_state(order_id) == "reminded"
    assert shop.order(order_id)["updatedAt"] == before
    assert shop.order(order_id)["transactions"][0]["updatedAt"] == "2026-03-15T12:00:00.000+00:00"


def test_illegal_transition_names_the_state_by_id(api: AdminClient, shop: ShopwareSandbox) -> None:
    """`paid` from reminded is illegal (only `pay` exists there); detail and meta carry the state's id."""
    order_id, tx = latest(shop, "reminded")
    response = api.post(f"/api/_action/order_transaction/{tx}/state/paid", {"sendMail": False})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    state_id = shop.order(order_id)["transactions"][0]["stateId"]
    assert error["code"] == "SYSTEM__ILLEGAL_STATE_TRANSITION"
    assert error["meta"]["parameters"]["currentState"] == state_id and "reminded" not in error["detail"]
    assert f'from state "{state_id}"' in error["detail"] and "pay" in error["meta"]["parameters"]["possibleTransitions"]
    assert shop.transaction_state(order_id) == "reminded"


def test_transition_to_the_current_state_is_a_silent_200(api: AdminClient, shop: ShopwareSandbox) -> None:
    order_id, tx = latest(shop, "reminded")
    before = shop.order(order_id)["transactions"][0]["updatedAt"]
    response = api.post(f"/api/_action/order_transaction/{tx}/state/remind", {"sendMail": True})
    assert response.status_code == 200 and response.json()["data"]["technicalName"] == "reminded"
    assert shop.order(order_id)["transactions"][0]["updatedAt"] == before and shop.mails == []


def test_remind_sends_the_flow_mail_unless_suppressed(api: AdminClient, shop: ShopwareSandbox) -> None:
    """The shop's flow mails on `remind` by default; sendMail false or sw-skip-trigger-flow: 1 suppress it."""
    open_orders = [o for o in shop.orders.values() if len(o["transactions"]) == 1
                   and o["transactions"][0]["stateMachineState"]["technicalName"] == "open"][:3]
    default, no_mail, skip = (o["transactions"][0]["id"] for o in open_orders)
    api.post(f"/api/_action/order_transaction/{default}/state/remind")
    api.post(f"/api/_action/order_transaction/{no_mail}/state/remind", {"sendMail": False})
    api.post(f"/api/_action/order_transaction/{skip}/state/remind", {}, headers={"sw-skip-trigger-flow": "1"})
    assert [m["kind"] for m in shop.mails] == ["flow"]
    flow = shop.mails[0]
    customer = open_orders[0]["orderCustomer"]
    assert flow["order_id"] == open_orders[0]["id"] and list(flow["recipients"]) == [customer["email"]]
    assert open_orders[0]["orderNumber"] in flow["subject"]
    assert all(shop.transaction_state(o["id"]) == "reminded" for o in open_orders)


def test_unknown_transaction_is_a_400(api: AdminClient) -> None:
    response = api.post(f"/api/_action/order_transaction/{'a' * 32}/state/remind")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "SYSTEM__STATE_MACHINE_INVALID_ENTITY_ID"


def mail_body(shop: ShopwareSandbox, **overrides: object) -> dict:
    order = next(iter(shop.orders.values()))
    body = {"recipients": {"erika@example.org": "Erika"}, "salesChannelId": order["salesChannelId"],
            "senderName": "{{ mahnwerk.sender|raw }}", "subject": "{{ mahnwerk.subject|raw }}",
            "contentHtml": "{{ mahnwerk.html|raw }}", "contentPlain": "{{ mahnwerk.text|raw }}",
            "mailTemplateData": {"order": {"id": order["id"]},
                                 "mahnwerk": {"sender": "Shop", "subject": "Erinnerung", "html": "<p>Hallo</p>",
                                              "text": "Hallo {{ 7*7 }} {% include 'x' %}"}}}
    return body | overrides


def test_mail_data_is_printed_not_executed(api: AdminClient, shop: ShopwareSandbox) -> None:
    """Customer text inside mailTemplateData reaches the mail verbatim; the response reports a size."""
    response = api.post("/api/_action/mail-template/send", mail_body(shop))
    assert response.status_code == 200 and response.json()["size"] > 0
    mail = shop.mails[-1]
    assert mail["kind"] == "api" and mail["text"] == "Hallo {{ 7*7 }} {% include 'x' %}"
    assert mail["html"] == "<p>Hallo</p>" and mail["subject"] == "Erinnerung"
    assert mail["order_id"] == next(iter(shop.orders)) and mail["recipients"] == {"erika@example.org": "Erika"}


def test_text_sent_as_template_code_is_rendered_as_twig(api: AdminClient, shop: ShopwareSandbox) -> None:
    """The sandbox is not lenient: {{ 7*7 }} in a template prints 49, HTML is autoescaped, verbatim stays."""
    body = mail_body(shop, contentPlain="Hallo {{ 7*7 }} {% verbatim %}{{ x }}{% endverbatim %}",
                     contentHtml="<p>{{ mahnwerk.html }}</p>{{ mahnwerk.html|e }}")
    assert api.post("/api/_action/mail-template/send", body).status_code == 200
    assert shop.mails[-1]["text"] == "Hallo 49 {{ x }}"
    assert shop.mails[-1]["html"] == "<p>&lt;p&gt;Hallo&lt;/p&gt;</p>&lt;p&gt;Hallo&lt;/p&gt;"


def test_other_twig_tags_fail_to_render_like_shopware(api: AdminClient, shop: ShopwareSandbox) -> None:
    """MailService swallows a Twig error: 200 with size 0 and no mail."""
    response = api.post("/api/_action/mail-template/send",
                        mail_body(shop, contentPlain="{% include 'evil.twig' %}"))
    assert response.status_code == 200 and response.json() == {"size": 0}
    assert shop.mails == [] and shop.mail_failures


def test_mail_validation_errors_are_constraint_violations(api: AdminClient, shop: ShopwareSandbox) -> None:
    body = mail_body(shop, salesChannelId="b" * 32)
    del body["recipients"], body["contentPlain"]
    response = api.post("/api/_action/mail-template/send", body)
    assert response.status_code == 400
    errors = {e["source"]["pointer"]: e for e in response.json()["errors"]}
    assert set(errors) == {"/recipients", "/contentPlain", "/salesChannelId"}
    assert errors["/recipients"]["code"] == "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
    assert errors["/recipients"]["title"] == "Constraint violation error"
    assert errors["/salesChannelId"]["code"] == "f1e5c873-5baf-4d5b-8ab7-e422bfce91f1"
    assert shop.mails == []


def test_media_upload_duplicate_name_and_attachment(api: AdminClient, shop: ShopwareSandbox) -> None:
    """Private media + upload; the same file name again is CONTENT__MEDIA_DUPLICATED_FILE_NAME; mails name files."""
    def upload(name: str) -> tuple[str, int]:
        media_id = api.post("/api/media?_response=true", {"private": True}).json()["data"]["id"]
        status = api.session.post(f"{api.url}/api/_action/media/{media_id}/upload",
                                  params={"extension": "pdf", "fileName": name}, data=b"%PDF-1.4 sandbox",
                                  headers={"Content-Type": "application/pdf"}, timeout=10).status_code
        return media_id, status

    media_id, status = upload("mahnwerk-k1")
    assert status == 204
    _, again = upload("mahnwerk-k1")
    assert again == 400
    found = api.search({"filter": [{"type": "equals", "field": "fileName", "value": "mahnwerk-k1"}]}, entity="media")
    assert [m["id"] for m in found.json()["data"]] == [media_id]
    api.post("/api/_action/mail-template/send", mail_body(shop, mediaIds=[media_id]))
    assert shop.mails[-1]["media"] == ["mahnwerk-k1.pdf"]


def test_generator_is_deterministic_and_mixed() -> None:
    """Same seed, same orders; the mix the connector must handle is there."""
    first, again = generate_sw_orders(400, seed=5, now=NOW), generate_sw_orders(400, seed=5, now=NOW)
    assert first == again and first[0]["orderNumber"] == "10001"
    assert all(len(o["id"]) == 32 and int(o["id"], 16) >= 0 for o in first)
    latest_states = {o["transactions"][-1]["stateMachineState"]["technicalName"] for o in first}
    assert {"open", "reminded", "paid", "paid_partially", "cancelled", "refunded", "failed"} <= latest_states
    assert any(o["updatedAt"] is None for o in first) and any(o["customFields"] for o in first)
    assert any(o["orderCustomer"]["vatIds"] for o in first)
    assert {o["language"]["locale"]["code"] for o in first} == {"de-DE", "en-GB"}
    invoices = [d for o in first for d in o["documents"] if d["documentType"]["technicalName"] == "invoice"]
    assert any(d["documentNumber"] is None and d["config"]["documentNumber"] for d in invoices)
    assert any(o["transactions"][-1]["paymentMethod"]["technicalName"] == "swag_paypal_pay_upon_invoice"
               for o in first)
