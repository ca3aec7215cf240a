"""Single requests of the Shopware 6 kind with `responses`: tokens, redaction, the notice's request order,
find_message's answers, set_paid's choice of transition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
import requests
import responses
from structlog.testing import capture_logs

from mahnwerk.connectors.http import ShopHttp
from mahnwerk.connectors.kinds import ShopSettings
from mahnwerk.connectors.records import Attachment, CustomerMessage, PaidState, Progress
from mahnwerk.connectors.shop import UNKNOWN
from mahnwerk.connectors.shopware6 import KIND, ShopwareShop, connect
from mahnwerk.connectors.shopware6.auth import Tokens, forget_tokens
from mahnwerk.connectors.shopware6.orders import PRIVILEGES
from mahnwerk.errors import OrderChanged, ShopAuthFailed, ShopRejected, ShopUnavailable

URL = "https://shop.example.com"
API = URL + "/api/"
SECRET = "s3cr3t-client-secret"
ORDER, TX = "a" * 32, "b" * 32
STATUSES = {s: PaidState(meaning) for meaning in ("open", "paid", "cancelled", "refunded")
            for s in KIND.defaults(meaning)}


@pytest.fixture(autouse=True)
def fresh_tokens() -> Iterator[None]:
    forget_tokens()
    yield
    forget_tokens()


def a_shop() -> ShopwareShop:
    return connect(ShopSettings(shop_id="berlin", url=URL, credentials={"client_id": "SWIATEST",
                                                                         "client_secret": SECRET},
                                statuses=STATUSES, invoice_methods=("payment_invoicepayment",), page_size=100,
                                max_attempts=2, max_backoff=0.0))


def token_answers(*tokens: str, ttl: int = 600) -> None:
    for token in tokens:
        responses.post(API + "oauth/token", json={"token_type": "Bearer", "expires_in": ttl, "access_token": token})


def an_order(state: str = "open", custom: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": ORDER, "orderNumber": "10042", "createdAt": "2026-03-01T09:15:00.000+00:00", "updatedAt": None,
            "orderDateTime": "2026-03-01T09:15:00.000+00:00", "amountTotal": 119.0, "salesChannelId": "c" * 32,
            "salesChannel": {"name": "Muster Shop"}, "customFields": custom, "currency": {"isoCode": "EUR"},
            "orderCustomer": {"email": "erika@example.org", "firstName": "Erika", "lastName": "Musterfrau"},
            "transactions": [{"id": TX, "createdAt": "2026-03-01T09:15:01.000+00:00", "updatedAt": None,
                              "stateMachineState": {"technicalName": state},
                              "paymentMethod": {"technicalName": "payment_invoicepayment"}}], "documents": []}


def search_answers(*orders: dict[str, Any]) -> None:
    for order in orders:
        responses.post(API + "search/order", json={"total": 1, "data": [order], "aggregations": {}})


def allowed(*actions: str) -> None:
    responses.get(API + f"_action/state-machine/order_transaction/{TX}/state",
                  json={"transitions": [{"actionName": a, "technicalName": a, "name": a} for a in actions]})


def a_message(key: str = "berlin:10042:dunning_1") -> CustomerMessage:
    return CustomerMessage(key=key, to="erika@example.org", to_name="{{ app.request }} Musterfrau",
                           subject="Mahnung {% if 1 %}x{% endif %}", text="Bitte zahlen Sie {{ 7*7 }}.",
                           html="<p>Bitte zahlen Sie {{ 7*7 }}.</p>", language="de",
                           attachments=(Attachment("mahnung.pdf", b"%PDF-1.4 test"),))


def calls() -> list[str]:
    """Method and path of each request sent, in order (token requests left out)."""
    return [f"{c.request.method} {c.request.url.split('/api/', 1)[1].split('?')[0]}" for c in responses.calls
            if not c.request.url.endswith("oauth/token")]


def bodies(path: str) -> list[Any]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.url.split("?")[0] == API + path]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@responses.activate
def test_token_is_cached_and_renewed_30_s_before_expiry() -> None:
    """A 600 s token is used until 570 s have passed, then a new one is fetched; the body carries the secret."""
    token_answers("t1", "t2")
    clock = Clock()
    tokens = Tokens(ShopHttp(shop="berlin", base_url=API), client_id="SWIATEST", client_secret=SECRET, clock=clock)
    assert tokens.current() == "t1"
    clock.now += 569.9
    assert tokens.current() == "t1" and len(responses.calls) == 1
    clock.now += 0.2
    assert tokens.current() == "t2" and len(responses.calls) == 2
    assert json.loads(responses.calls[0].request.body) == {"grant_type": "client_credentials",
                                                           "client_id": "SWIATEST", "client_secret": SECRET}


@responses.activate
def test_tokens_are_shared_per_url_and_client_id() -> None:
    """Two connections to the same integration in one process fetch one token."""
    token_answers("t1")
    search_answers(an_order(), an_order())
    a_shop().current(ORDER)
    a_shop().current(ORDER)
    assert [c.request.url for c in responses.calls].count(API + "oauth/token") == 1


@responses.activate
def test_a_401_renews_the_token_once_and_repeats_the_request() -> None:
    """A token revoked early: one renewal, the same search again with the new token."""
    token_answers("t1", "t2")
    responses.post(API + "search/order", status=401, json={"errors": [
        {"code": "9", "status": "401", "title": "The resource owner or authorization server denied the request.",
         "detail": "Access token could not be verified."}]})
    search_answers(an_order())
    page = a_shop().current(ORDER)
    assert [r.order_id for r in page.records] == [ORDER]
    searches = [c for c in responses.calls if c.request.url == API + "search/order"]
    assert [c.request.headers["Authorization"] for c in searches] == ["Bearer t1", "Bearer t2"]
    assert searches[0].request.body == searches[1].request.body


@responses.activate
def test_a_second_401_is_an_auth_failure_without_token_or_secret() -> None:
    """Refused again after renewing: ShopAuthFailed, whose message, attributes and logs hold no token or secret."""
    token_answers("tok-AAAA", "tok-BBBB")
    for _ in range(2):
        responses.post(API + "search/order", status=401, json={"errors": [
            {"code": "9", "status": "401", "title": "denied", "detail": "Access token could not be verified."}]})
    with capture_logs() as logs, pytest.raises(ShopAuthFailed) as err:
        a_shop().current(ORDER)
    evidence = f"{err.value!s} {err.value!r} {vars(err.value)} {logs}"
    assert "Access token could not be verified" in str(err.value) and err.value.shop_code == "9"
    assert "tok-AAAA" not in evidence and "tok-BBBB" not in evidence and SECRET not in evidence
    assert len(responses.calls) == 4


@responses.activate
def test_bad_credentials_say_so_in_the_probe_with_the_hint() -> None:
    """The token endpoint refuses: not authenticated, the OAuth message and the kind's hint; no secret shown."""
    responses.post(API + "oauth/token", status=401, json={"errors": [
        {"code": "4", "status": "401", "title": "Client authentication failed", "detail": None}]})
    probe = a_shop().probe()
    assert probe.reachable and not probe.authenticated
    assert "Client authentication failed" in probe.detail and "client_secret in [shop.auth]" in probe.detail
    assert SECRET not in probe.detail


@responses.activate
def test_probe_names_missing_privileges() -> None:
    """An integration with a role lacking api_send_email and order:update: named, with what they are for."""
    token_answers("t1")
    responses.post(API + "search/payment-method", json={"data": [
        {"technicalName": "payment_invoicepayment", "active": True}, {"technicalName": "payment_paypal",
                                                                       "active": False}]})
    privileges = [p for use, needed in PRIVILEGES.items() for p in needed
                  if use not in ("record progress on orders", "send mails")]
    responses.post(API + "search/integration", json={"data": [{"id": "i", "admin": False,
                                                                "aclRoles": [{"privileges": privileges}]}]})
    probe = a_shop().probe()
    assert probe.authenticated and probe.payment_methods == {"payment_invoicepayment": True, "payment_paypal": False}
    assert "order:update, api_send_email" in probe.detail and "send mails" in probe.detail


@responses.activate
def test_customer_groups_are_loaded_and_their_privileges_checked_only_when_business_when_names_one() -> None:
    """Shopware checks a read privilege for every association: customer:read and customer_group:read are needed
    only by a shop that classifies by customer group."""
    privileges = [p for use, needed in PRIVILEGES.items() for p in needed if use != "read customer groups"]
    for groups in (False, True):
        token_answers("t1")
        responses.post(API + "search/payment-method", json={"data": []})
        responses.post(API + "search/integration", json={"data": [{"id": "i", "admin": False,
                                                                    "aclRoles": [{"privileges": privileges}]}]})
        search_answers(an_order())
        shop = connect(ShopSettings(shop_id="berlin", url=URL, credentials={"client_id": "SWIATEST",
                                                                             "client_secret": SECRET},
                                    statuses=STATUSES, invoice_methods=("payment_invoicepayment",), page_size=100,
                                    max_attempts=2, max_backoff=0.0, customer_groups=groups))
        detail = shop.probe().detail
        assert detail == ("the integration lacks customer:read, customer_group:read (needed to read customer "
                          "groups); grant them to its role in Settings > System > Integrations, or make it an "
                          "administrator" if groups else "")
        list(shop.orders_by_id([ORDER]))
        body = json.loads(responses.calls[-1].request.body)
        assert ("customer" in body["associations"]["orderCustomer"].get("associations", {})) is groups
        assert ("customer_group" in body["includes"]) is groups
        responses.reset()
        forget_tokens()


@responses.activate
def test_probe_cannot_tell_permissions_without_reading_integrations() -> None:
    """A 403 on the integration search means 'cannot tell', not a problem."""
    token_answers("t1")
    responses.post(API + "search/payment-method", json={"data": []})
    responses.post(API + "search/integration", status=403, json={"errors": [
        {"code": "FRAMEWORK__MISSING_PRIVILEGE_ERROR", "status": "403", "title": "Forbidden",
         "detail": '{"message":"Missing privilege","missingPrivileges":["integration:read"]}'}]})
    assert a_shop().probe().detail == ""


@responses.activate
def test_notice_request_order_and_twig_safe_mail() -> None:
    """sending marker, order, allowed transitions, remind, media, upload, mail, sent list: in that order; the
    templates are fixed and every text travels as data; writes skip the shop's flows."""
    token_answers("t1")
    responses.patch(API + f"order/{ORDER}", status=204)
    search_answers(an_order(), an_order(custom={"merchant": 1, "mahnwerk_sent": ["older"]}))
    allowed("remind", "pay", "cancel")
    responses.post(API + f"_action/order_transaction/{TX}/state/remind", json={"technicalName": "reminded"})
    responses.post(API + "media", json={"data": {"id": "m" * 32}})
    responses.post(API + f"_action/media/{'m' * 32}/upload", status=204)
    responses.post(API + "_action/mail-template/send", json={"size": 1234})
    message = a_message()
    assert a_shop().send_message(ORDER, message) == f"mail:{message.key}"
    assert calls() == [f"PATCH order/{ORDER}", "POST search/order",
                       f"GET _action/state-machine/order_transaction/{TX}/state",
                       f"POST _action/order_transaction/{TX}/state/remind", "POST media",
                       f"POST _action/media/{'m' * 32}/upload", "POST _action/mail-template/send",
                       "POST search/order", f"PATCH order/{ORDER}"]
    [mail] = bodies("_action/mail-template/send")
    assert (mail["subject"], mail["senderName"], mail["contentHtml"], mail["contentPlain"]) == (
        "{{ mahnwerk.subject|raw }}", "{{ mahnwerk.sender|raw }}", "{{ mahnwerk.html|raw }}",
        "{{ mahnwerk.text|raw }}")
    assert mail["recipients"] == {"erika@example.org": "{{ app.request }} Musterfrau"}
    assert mail["mailTemplateData"] == {"mahnwerk": {"subject": message.subject, "sender": "Muster Shop",
                                                     "html": message.html, "text": message.text},
                                        "order": {"id": ORDER}}
    assert mail["salesChannelId"] == "c" * 32 and mail["mediaIds"] == ["m" * 32]
    assert bodies(f"order/{ORDER}") == [{"customFields": {"mahnwerk_sending": message.key}},
                                        {"customFields": {"mahnwerk_sent": ["older", message.key]}}]
    assert bodies(f"_action/order_transaction/{TX}/state/remind") == [{"sendMail": False}]
    upload = next(c.request for c in responses.calls if "/upload" in c.request.url)
    assert "fileName=mahnwerk-berlin-10042-dunning_1" in upload.url and "extension=pdf" in upload.url
    assert upload.headers["Content-Type"] == "application/pdf" and upload.body == b"%PDF-1.4 test"
    writes = [c.request for c in responses.calls if c.request.method != "GET" and "search/" not in c.request.url
              and not c.request.url.endswith("oauth/token")]
    assert writes and all(r.headers.get("sw-skip-trigger-flow") == "1" for r in writes)


@responses.activate
def test_paid_meanwhile_is_order_changed_and_nothing_is_sent() -> None:
    """The latest transaction is paid: OrderChanged before any transition, upload or mail."""
    token_answers("t1")
    responses.patch(API + f"order/{ORDER}", status=204)
    search_answers(an_order("paid"))
    with pytest.raises(OrderChanged):
        a_shop().send_message(ORDER, a_message())
    assert calls() == [f"PATCH order/{ORDER}", "POST search/order"]


@pytest.mark.parametrize(("state_after", "sent"), [("reminded", True), ("cancelled", False)])
@responses.activate
def test_refused_remind_reads_the_state_again(state_after: str, sent: bool) -> None:
    """400 SYSTEM__ILLEGAL_STATE_TRANSITION: still open goes on; moved on is OrderChanged with nothing sent."""
    token_answers("t1")
    responses.patch(API + f"order/{ORDER}", status=204)
    search_answers(an_order(), an_order(state_after), an_order())
    allowed("remind")
    responses.post(API + f"_action/order_transaction/{TX}/state/remind", status=400, json={"errors": [
        {"status": "400", "code": "SYSTEM__ILLEGAL_STATE_TRANSITION", "title": "Bad Request",
         "detail": 'Illegal transition "remind" from state "0190…". Possible transitions are: ',
         "meta": {"parameters": {"transition": "remind"}}}]})
    responses.post(API + "_action/mail-template/send", json={"size": 1})
    shop, message = a_shop(), replace(a_message(), attachments=())
    if sent:
        shop.send_message(ORDER, message)
    else:
        with pytest.raises(OrderChanged):
            shop.send_message(ORDER, message)
    assert ("POST _action/mail-template/send" in calls()) is sent


@responses.activate
def test_timed_out_mail_is_not_retried_and_then_unknown() -> None:
    """A mail POST that timed out may have gone out: ShopUnavailable, one attempt only; find_message: UNKNOWN."""
    token_answers("t1")
    responses.patch(API + f"order/{ORDER}", status=204)
    search_answers(an_order())
    allowed("pay")  # already reminded: no remind
    responses.post(API + "_action/mail-template/send", body=requests.exceptions.ReadTimeout("read timed out"))
    message = replace(a_message(), attachments=())
    shop = a_shop()
    with pytest.raises(ShopUnavailable):
        shop.send_message(ORDER, message)
    assert calls().count("POST _action/mail-template/send") == 1
    search_answers(an_order(custom={"mahnwerk_sending": message.key, "mahnwerk_sent": ["other"]}))
    assert shop.find_message(ORDER, message) == UNKNOWN


@pytest.mark.parametrize(("custom", "answer"), [
    ({"mahnwerk_sending": "k1", "mahnwerk_sent": ["k0", "k1"]}, "mail:k1"),
    ({"mahnwerk_sending": "k1", "mahnwerk_sent": ["k0"]}, UNKNOWN),
    ({"mahnwerk_sending": "k0", "mahnwerk_sent": ["k0"]}, None),
    (None, None),
])
@responses.activate
def test_find_message_answers_from_custom_fields(custom: dict[str, Any] | None, answer: str | None) -> None:
    """Sent when recorded in mahnwerk_sent; UNKNOWN when only begun; None when never begun."""
    token_answers("t1")
    search_answers(an_order(custom=custom))
    message = CustomerMessage("k1", "e@example.org", "E", "s", "t", "<p>t</p>", "de")
    assert a_shop().find_message(ORDER, message) == answer


@pytest.mark.parametrize(("state", "actions", "in_full", "moved"), [
    ("open", ("paid", "pay", "remind"), True, "paid"),
    ("reminded", ("pay", "pay_partially", "reopen"), True, "pay"),  # reminded has no `paid` action
    ("open", ("paid_partially", "pay_partially"), False, "paid_partially"),
    ("reminded", ("pay", "pay_partially"), False, "pay_partially"),
    ("paid", ("refund",), True, None),  # already there
    ("paid_partially", ("pay", "remind"), False, None),
    ("cancelled", ("paid", "reopen"), True, None),  # no longer waits for its money
])
@responses.activate
def test_set_paid_chooses_the_allowed_action(state: str, actions: tuple[str, ...], in_full: bool,
                                             moved: str | None) -> None:
    """The first allowed of paid/pay (paid_partially/pay_partially), without the shop's mail; nothing when there."""
    token_answers("t1")
    search_answers(an_order(state))
    allowed(*actions)
    for action in actions:
        responses.post(API + f"_action/order_transaction/{TX}/state/{action}", json={"technicalName": action})
    a_shop().set_paid(ORDER, in_full=in_full)
    posted = [c.split("/")[-1] for c in calls() if c.startswith("POST _action/order_transaction/")]
    assert posted == ([moved] if moved else [])
    if moved:
        assert bodies(f"_action/order_transaction/{TX}/state/{moved}") == [{"sendMail": False}]


@responses.activate
def test_set_paid_without_an_allowed_transition_is_rejected_naming_the_state() -> None:
    """A shop whose state machine was changed: ShopRejected naming the state and what is allowed."""
    token_answers("t1")
    search_answers(an_order("reminded"))
    allowed("reopen")
    with pytest.raises(ShopRejected, match="'reminded' allows no transition to 'paid'.*reopen"):
        a_shop().set_paid(ORDER, in_full=True)


@responses.activate
def test_private_notes_and_progress_are_merged_custom_fields() -> None:
    """Notes append to mahnwerk_notes; progress is one PATCH of our keys only, the marker among them."""
    token_answers("t1")
    search_answers(an_order(custom={"mahnwerk_notes": [{"at": "x", "text": "first"}], "merchant": "keep"}))
    responses.patch(API + f"order/{ORDER}", status=204)
    shop = a_shop()
    shop.add_private_note(ORDER, "Mahnwerk: dunning_1 sent, key k1")
    shop.record_progress(ORDER, Progress("dunning_1", "dunning_2", date(2026, 4, 1), "k1"))
    notes, progress = bodies(f"order/{ORDER}")
    assert [n["text"] for n in notes["customFields"]["mahnwerk_notes"]] == ["first", "Mahnwerk: dunning_1 sent, key k1"]
    assert progress == {"customFields": {"mahnwerk_stage": "dunning_1", "mahnwerk_next_action": "dunning_2",
                                         "mahnwerk_next_date": "2026-04-01", "mahnwerk_last_action": "k1"}}


@responses.activate
def test_changed_pages_page_until_short_and_newest_only_on_the_last() -> None:
    """Full pages carry newest=None; the short last page carries min(highest change, the shop's Date)."""
    token_answers("t1")
    late = {**an_order(), "id": "d" * 32, "updatedAt": "2026-03-05T00:00:00.000+00:00"}
    responses.post(API + "search/order", json={"data": [an_order(), late]},
                   headers={"Date": "Wed, 04 Mar 2026 12:00:00 GMT"})
    responses.post(API + "search/order", json={"data": [{**an_order(), "id": "e" * 32}]})
    shop = connect(ShopSettings(shop_id="berlin", url=URL, credentials={"client_id": "SWIATEST",
                                                                         "client_secret": SECRET},
                                statuses=STATUSES, invoice_methods=("payment_invoicepayment",), page_size=2))
    pages = list(shop.changed_pages(None))
    assert [len(p.records) for p in pages] == [2, 1] and pages[0].newest is None
    assert pages[1].newest is not None and pages[1].newest.isoformat() == "2026-03-04T12:00:00+00:00"
    first, second = bodies("search/order")
    assert (first["page"], second["page"]) == (1, 1)  # keyset: the second page starts where the first ended
    assert second["filter"][-1] == {"type": "range", "field": "createdAt",
                                    "parameters": {"gte": an_order()["createdAt"].replace("Z", "+00:00")}}
