"""The Stripe and Mollie sandboxes speak the providers' wire formats: envelopes, paging, limits, errors, auth."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
import requests

from mahnwerk.sandbox.mollie_server import MollieSandbox, MollieServer, iso11649
from mahnwerk.sandbox.provider_common import ProviderSandbox
from mahnwerk.sandbox.stripe_server import StripeSandbox, StripeServer

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)
Sandbox = TypeVar("Sandbox", bound=ProviderSandbox)


class Api:
    """requests.Session against one provider sandbox, with its key as Bearer token; closes as a context manager."""

    def __init__(self, url: str, key: str | None) -> None:
        self.url = url
        self.session = requests.Session()
        if key is not None:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str, params: object = None, **headers: str) -> requests.Response:
        return self.session.get(self.url + path, params=params, headers=headers, timeout=10)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()


def at_now(sandbox: Sandbox) -> Sandbox:
    """The sandbox with its clock stopped at NOW."""
    sandbox.clock = lambda: NOW
    return sandbox


@pytest.fixture
def stripe() -> StripeSandbox:
    return at_now(StripeSandbox())


@pytest.fixture
def stripe_api(stripe: StripeSandbox, start_server: Callable[[StripeServer], StripeServer]) -> Iterator[Api]:
    with Api(start_server(StripeServer(stripe)).url, stripe.api_key) as api:
        yield api


@pytest.fixture
def mollie() -> MollieSandbox:
    return at_now(MollieSandbox())


@pytest.fixture
def mollie_api(mollie: MollieSandbox, start_server: Callable[[MollieServer], MollieServer]) -> Iterator[Api]:
    with Api(start_server(MollieServer(mollie)).url, mollie.api_key) as api:
        yield api


def paid_invoices(stripe: StripeSandbox, n: int) -> list[dict]:
    """n paid invoices, one an hour, the newest last."""
    return [stripe.add_paid_invoice(1000 + i, paid_at=NOW - timedelta(hours=n - i)) for i in range(n)]


# --- Stripe: list objects and paging ----------------------------------------------------------------------------


def test_stripe_list_object_is_newest_first_with_default_limit_10(stripe: StripeSandbox, stripe_api: Api) -> None:
    """`{"object": "list", "data", "has_more", "url"}`, newest first, 10 unless `limit` says otherwise."""
    invoices = paid_invoices(stripe, 12)
    body = stripe_api.get("/v1/invoices").json()
    assert set(body) == {"object", "data", "has_more", "url"}
    assert body["object"] == "list" and body["url"] == "/v1/invoices" and body["has_more"] is True
    assert [i["id"] for i in body["data"]] == [i["id"] for i in reversed(invoices)][:10]
    assert all(i["object"] == "invoice" and i["id"].startswith("in_") and len(i["id"]) == 27 for i in body["data"])


def test_stripe_starting_after_and_ending_before_walk_the_list(stripe: StripeSandbox, stripe_api: Api) -> None:
    """starting_after gives the next older page; ending_before the page just newer than the cursor."""
    expected = [i["id"] for i in reversed(paid_invoices(stripe, 7))]
    seen, after = [], None
    while True:
        body = stripe_api.get("/v1/invoices", {"limit": 3, **({"starting_after": after} if after else {})}).json()
        seen += [i["id"] for i in body["data"]]
        if not body["has_more"]:
            break
        after = body["data"][-1]["id"]
    assert seen == expected
    back = stripe_api.get("/v1/invoices", {"limit": 2, "ending_before": expected[5]}).json()
    assert [i["id"] for i in back["data"]] == expected[3:5] and back["has_more"] is True
    first = stripe_api.get("/v1/invoices", {"limit": 2, "ending_before": expected[2]}).json()
    assert [i["id"] for i in first["data"]] == expected[0:2] and first["has_more"] is False


@pytest.mark.parametrize(("limit", "message"), [("0", "greater than or equal to 1"),
                                                ("101", "less than or equal to 100"),
                                                ("ten", "Invalid integer: ten")])
def test_stripe_limit_out_of_range_is_a_400_naming_the_param(stripe_api: Api, limit: str, message: str) -> None:
    """`limit` must be 1..100: anything else is invalid_request_error with param=limit."""
    answer = stripe_api.get("/v1/invoices", {"limit": limit})
    error = answer.json()["error"]
    assert answer.status_code == 400 and error["type"] == "invalid_request_error"
    assert error["param"] == "limit" and message in error["message"]


def test_stripe_unknown_cursor_is_resource_missing(stripe_api: Api) -> None:
    """A starting_after id the account does not have: 400 resource_missing, with the param and a doc_url."""
    answer = stripe_api.get("/v1/invoices", {"starting_after": "in_doesnotexist"})
    error = answer.json()["error"]
    assert answer.status_code == 400
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "resource_missing",
                                                              "starting_after")
    assert error["message"] == "No such invoice: 'in_doesnotexist'" and error["doc_url"].startswith("https://")


def test_stripe_rejects_both_cursors_and_unknown_parameters(stripe: StripeSandbox, stripe_api: Api) -> None:
    """Both cursors at once, a typo'd parameter and an unknown status value are 400s, not silently ignored."""
    first = paid_invoices(stripe, 1)[0]["id"]
    both = stripe_api.get("/v1/invoices", {"starting_after": first, "ending_before": first})
    assert both.status_code == 400 and "only specify one" in both.json()["error"]["message"]
    typo = stripe_api.get("/v1/invoices", {"stauts": "paid"}).json()["error"]
    assert (typo["code"], typo["param"]) == ("parameter_unknown", "stauts")
    bad = stripe_api.get("/v1/invoices", {"status": "settled"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "status"


def test_stripe_invoice_filters(stripe: StripeSandbox, stripe_api: Api) -> None:
    """status, collection_method and created[gte] filter like Stripe's."""
    old = stripe.add_paid_invoice(100, paid_at=NOW - timedelta(days=5))
    new = stripe.add_paid_invoice(200, paid_at=NOW - timedelta(hours=1))
    stripe.add_paid_invoice(300, collection_method="charge_automatically", paid_at=NOW - timedelta(hours=1))
    still_open = stripe.create_invoice(400)
    params = {"status": "paid", "collection_method": "send_invoice"}
    assert [i["id"] for i in stripe_api.get("/v1/invoices", params).json()["data"]] == [new["id"], old["id"]]
    recent = {**params, "created[gte]": int((NOW - timedelta(days=2)).timestamp())}
    assert [i["id"] for i in stripe_api.get("/v1/invoices", recent).json()["data"]] == [new["id"]]
    assert [i["id"] for i in stripe_api.get("/v1/invoices", {"status": "open"}).json()["data"]] == [still_open["id"]]


# --- Stripe: events and versions ----------------------------------------------------------------------------------


def test_stripe_paying_later_emits_invoice_paid(stripe: StripeSandbox, stripe_api: Api) -> None:
    """An open invoice paid later gets an invoice.paid event whose data.object is the paid invoice."""
    invoice = stripe.create_invoice(11900, metadata={"shop_order_id": "4711"})
    assert stripe_api.get("/v1/events", {"type": "invoice.paid"}).json()["data"] == []
    stripe.pay_invoice(invoice["id"], at=NOW - timedelta(minutes=5))
    events = stripe_api.get("/v1/events", {"type": "invoice.paid"}).json()
    assert events["url"] == "/v1/events" and len(events["data"]) == 1
    event = events["data"][0]
    assert event["id"].startswith("evt_") and event["object"] == "event" and event["api_version"] == "2024-06-20"
    paid = event["data"]["object"]
    assert (paid["id"], paid["status"], paid["amount_paid"]) == (invoice["id"], "paid", 11900)
    assert paid["status_transitions"]["paid_at"] == int((NOW - timedelta(minutes=5)).timestamp())
    with pytest.raises(ValueError, match="not open"):
        stripe.pay_invoice(invoice["id"])


def test_stripe_event_filters_types_wildcards_and_retention(stripe: StripeSandbox, stripe_api: Api) -> None:
    """type, types[], `invoice.*` and created[gte] filter; events older than 30 days are gone."""
    stripe.add_paid_invoice(100, paid_at=NOW - timedelta(days=40))
    recent = stripe.add_paid_invoice(200, paid_at=NOW - timedelta(days=1))
    paid = stripe_api.get("/v1/events", {"type": "invoice.paid"}).json()["data"]
    assert [e["data"]["object"]["id"] for e in paid] == [recent["id"]]  # the 40-day-old one expired
    several = stripe_api.get("/v1/events", [("types[]", "invoice.paid"), ("types[]", "invoice.finalized")]).json()
    assert sorted(e["type"] for e in several["data"]) == ["invoice.finalized", "invoice.paid"]  # recent only
    assert {e["type"] for e in stripe_api.get("/v1/events", {"type": "invoice.*"}).json()["data"]} == {
        "invoice.created", "invoice.finalized", "invoice.updated", "invoice.payment_succeeded", "invoice.paid"}
    since = {"type": "invoice.paid", "created[gte]": int(NOW.timestamp())}
    assert stripe_api.get("/v1/events", since).json()["data"] == []
    both = stripe_api.get("/v1/events", [("type", "invoice.paid"), ("types[]", "invoice.paid")])
    assert both.status_code == 400


def test_stripe_renders_invoices_in_the_requested_version(stripe_api: Api) -> None:
    """basil (2025-03-31) dropped paid_out_of_band and payment_intent; the pinned 2024-06-20 still has them."""
    sandbox = StripeSandbox(account_version="2025-03-31.basil")
    sandbox.clock = lambda: NOW
    invoice = sandbox.add_paid_invoice(5000, out_of_band=True)
    with StripeServer(sandbox) as server:
        api = Api(server.url, sandbox.api_key)
        event = api.get("/v1/events", {"type": "invoice.paid"}).json()["data"][0]
        assert event["api_version"] == "2025-03-31.basil" and "paid_out_of_band" not in event["data"]["object"]
        plain = api.get(f"/v1/invoices/{invoice['id']}")
        assert "paid_out_of_band" not in plain.json() and plain.headers["Stripe-Version"] == "2025-03-31.basil"
        pinned = api.get(f"/v1/invoices/{invoice['id']}", **{"Stripe-Version": "2024-06-20"})
        assert pinned.json()["paid_out_of_band"] is True and "payment_intent" in pinned.json()
        gone = api.get("/v1/invoices/in_nothere")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "resource_missing"


# --- Stripe: auth and faults ---------------------------------------------------------------------------------------


def test_stripe_auth_errors(stripe: StripeSandbox, stripe_api: Api) -> None:
    """No key and a wrong key are 401s with Stripe's texts; a wrong key is echoed masked; Basic auth works too."""
    anonymous = Api(stripe_api.url, None).get("/v1/invoices")
    assert anonymous.status_code == 401 and "You did not provide an API key" in anonymous.json()["error"]["message"]
    wrong_key = "sk_test_51Wrong" + "x" * 80 + "9876"
    wrong = Api(stripe_api.url, wrong_key).get("/v1/invoices")
    error = wrong.json()["error"]
    assert wrong.status_code == 401 and error["type"] == "invalid_request_error"
    assert error["message"] == "Invalid API Key provided: sk_test_****9876" and wrong_key not in wrong.text
    basic = base64.b64encode(f"{stripe.api_key}:".encode()).decode()
    assert Api(stripe_api.url, None).get("/v1/invoices", Authorization=f"Basic {basic}").status_code == 200


def test_stripe_rate_limit_then_success(stripe: StripeSandbox, stripe_api: Api) -> None:
    """fail_next(429) answers Stripe's rate_limit error once, then the API answers again."""
    stripe.fail_next(429)
    limited = stripe_api.get("/v1/invoices")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limit"
    assert stripe_api.get("/v1/invoices").status_code == 200
    assert [r.status for r in stripe.requests] == [429, 200]
    assert all("Authorization" not in r.headers for r in stripe.requests)


def test_stripe_unknown_route_is_a_404_in_the_envelope(stripe_api: Api) -> None:
    answer = stripe_api.get("/v1/charges_typo")
    assert answer.status_code == 404 and "Unrecognized request URL" in answer.json()["error"]["message"]


# --- Mollie -----------------------------------------------------------------------------------------------------


def mollie_payments(mollie: MollieSandbox, n: int) -> list[dict]:
    """n paid bank transfers, one a day, the newest last."""
    return [mollie.add_paid_banktransfer("119.00", order_id=str(i), created=NOW - timedelta(days=n - i))
            for i in range(n)]


def test_mollie_hal_list_with_absolute_next_links(mollie: MollieSandbox, mollie_api: Api) -> None:
    """`count`, `_embedded.payments`, `_links.next.href` (absolute, with from and limit) until null."""
    expected = [p["id"] for p in reversed(mollie_payments(mollie, 7))]
    answer = mollie_api.get("/v2/payments", {"limit": 3})
    assert answer.headers["Content-Type"] == "application/hal+json"
    body = answer.json()
    assert body["count"] == 3 and body["_links"]["previous"] is None
    assert body["_links"]["self"]["href"] == f"{mollie_api.url}/v2/payments?limit=3"
    assert body["_links"]["next"] == {"href": f"{mollie_api.url}/v2/payments?from={expected[3]}&limit=3",
                                      "type": "application/hal+json"}
    seen = [p["id"] for p in body["_embedded"]["payments"]]
    while body["_links"]["next"] is not None:
        body = mollie_api.session.get(body["_links"]["next"]["href"], timeout=10).json()
        assert body["_links"]["previous"] is not None
        seen += [p["id"] for p in body["_embedded"]["payments"]]
    assert seen == expected and body["count"] == 1


def test_mollie_default_limit_is_50(mollie: MollieSandbox, mollie_api: Api) -> None:
    mollie_payments(mollie, 55)
    body = mollie_api.get("/v2/payments").json()
    assert body["count"] == 50 and body["_links"]["next"]["href"].endswith("&limit=50")


@pytest.mark.parametrize("limit", ["0", "251", "many"])
def test_mollie_limit_out_of_range_is_a_400(mollie_api: Api, limit: str) -> None:
    """limit 1..250; errors are RFC 7807-ish HAL bodies naming the field."""
    answer = mollie_api.get("/v2/payments", {"limit": limit})
    body = answer.json()
    assert answer.status_code == 400 and answer.headers["Content-Type"] == "application/hal+json"
    assert (body["status"], body["title"], body["field"]) == (400, "Bad Request", "limit")
    assert body["_links"]["documentation"]["type"] == "text/html"


def test_mollie_from_is_inclusive_and_must_exist(mollie: MollieSandbox, mollie_api: Api) -> None:
    expected = [p["id"] for p in reversed(mollie_payments(mollie, 4))]
    page = mollie_api.get("/v2/payments", {"from": expected[1], "limit": 2}).json()
    assert [p["id"] for p in page["_embedded"]["payments"]] == expected[1:3]
    assert mollie_api.get("/v2/payments", {"from": "tr_nothere00"}).status_code == 400


def test_mollie_auth_errors(mollie_api: Api) -> None:
    """No key or a wrong key: 401 "Missing authentication, or failed to authenticate", the key not echoed."""
    for key in (None, "test_wrongwrongwrongwrongwrongwr"):
        answer = Api(mollie_api.url, key).get("/v2/payments")
        body = answer.json()
        assert answer.status_code == 401 and answer.headers["Content-Type"] == "application/hal+json"
        assert body["detail"] == "Missing authentication, or failed to authenticate"
        assert body["title"] == "Unauthorized Request" and "wrongwrong" not in answer.text


def test_mollie_bank_transfer_goes_from_open_to_paid(mollie: MollieSandbox, mollie_api: Api) -> None:
    """An open bank transfer shows Mollie's bank details and a reference; paid, it names who paid."""
    payment = mollie.create_banktransfer("119", order_id="4711")
    shown = mollie_api.get(f"/v2/payments/{payment['id']}").json()
    assert shown["status"] == "open" and shown["amount"] == {"value": "119.00", "currency": "EUR"}
    assert shown["details"]["bankName"] == "Stichting Mollie Payments" and "consumerName" not in shown["details"]
    assert shown["metadata"] == {"order_id": "4711"} and shown["id"].startswith("tr_") and len(shown["id"]) == 13
    mollie.pay(payment["id"], at=NOW, consumer_name="Max Muster", consumer_account="DE02120300000000202051")
    paid = mollie_api.get(f"/v2/payments/{payment['id']}").json()
    assert (paid["status"], paid["paidAt"]) == ("paid", "2026-03-15T12:00:00+00:00")
    assert (paid["details"]["consumerName"], paid["details"]["consumerAccount"]) == ("Max Muster",
                                                                                    "DE02120300000000202051")
    assert paid["details"]["transferReference"] == shown["details"]["transferReference"]
    with pytest.raises(ValueError, match="not open"):
        mollie.pay(payment["id"])


def test_mollie_amounts_use_the_currency_decimals() -> None:
    mollie = MollieSandbox()
    assert mollie.create_payment("1000", "JPY")["amount"] == {"value": "1000", "currency": "JPY"}
    assert mollie.create_payment(5, "EUR")["amount"]["value"] == "5.00"


def test_mollie_missing_payment_and_faults(mollie: MollieSandbox, mollie_api: Api) -> None:
    missing = mollie_api.get("/v2/payments/tr_nothere00")
    assert missing.status_code == 404 and missing.json()["detail"] == "No payment exists with token tr_nothere00."
    mollie.fail_next(429, retry_after=2)
    limited = mollie_api.get("/v2/payments")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json()["title"] == "Too Many Requests"
    assert mollie_api.get("/v2/payments").status_code == 200


def test_transfer_references_are_valid_iso_11649() -> None:
    """RF references pass the mod-97 check (letters as numbers, RFkk moved to the end)."""
    ref = iso11649("345678901234").replace("-", "")
    moved = ref[4:] + "2715" + ref[2:4]
    assert int(moved) % 97 == 1
