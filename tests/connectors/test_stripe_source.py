"""StripeSource against the Stripe sandbox on 127.0.0.1: first and incremental polls, paging, skips, problems,
auth and rate limits; `responses` only for the transport's reading of Stripe's error envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import responses

from mahnwerk.connectors.stripe_source import STRIPE_VERSION, StripeSource, minor_to_decimal, stripe_http
from mahnwerk.errors import ShopAuthFailed, ShopRejected
from mahnwerk.sandbox.stripe_server import StripeSandbox, StripeServer
from tests.connectors.provider_clock import NOW, Clock


@pytest.fixture
def stripe(clock: Clock) -> StripeSandbox:
    sandbox = StripeSandbox()
    sandbox.clock = clock
    return sandbox


@pytest.fixture
def server(stripe: StripeSandbox, start_server: Callable[[StripeServer], StripeServer]) -> StripeServer:
    return start_server(StripeServer(stripe))


@pytest.fixture
def source(server: StripeServer, stripe: StripeSandbox, clock: Clock, slept: list[float]) -> Iterator[StripeSource]:
    src = StripeSource(stripe_http(stripe.api_key, url=server.url, sleep=slept.append, max_attempts=3), clock=clock)
    yield src
    src.close()


def test_first_poll_lists_paid_send_invoice_invoices(stripe: StripeSandbox, source: StripeSource) -> None:
    """Each paid send_invoice invoice becomes an IncomingPayment; open, charge_automatically and out-of-band
    invoices do not (out-of-band ones are counted)."""
    paid_late = datetime(2026, 3, 14, 23, 30, tzinfo=UTC)  # 00:30 in Berlin, still the 14th in UTC
    invoice = stripe.add_paid_invoice(11900, "eur", paid_at=paid_late, customer_name="Erika Mustermann",
                                      description="Rechnung RE-2026-0042", metadata={"shop_order_id": "4711"})
    stripe.add_paid_invoice(5000, paid_at=NOW - timedelta(days=2), out_of_band=True)
    stripe.add_paid_invoice(7000, collection_method="charge_automatically")
    stripe.create_invoice(9900)
    result = source.poll(None)
    assert result.problems == [] and result.skipped == {"paid_out_of_band": 1} and result.requests == 1
    [payment] = result.payments
    assert (payment.source, payment.ref, payment.amount, payment.currency) == ("stripe", invoice["id"],
                                                                               Decimal("119.00"), "EUR")
    assert payment.booked_on == date(2026, 3, 14) and payment.order_hint == "4711"
    assert payment.provider_ids == (invoice["id"], invoice["number"], invoice["payment_intent"])
    assert payment.remittance == f"{invoice['number']} Rechnung RE-2026-0042"
    assert payment.payer_name == "Erika Mustermann" and payment.position == f"invoice {invoice['id']}"
    assert payment.account == "" and payment.creditor_ref == ""


def test_first_poll_pages_with_starting_after(stripe: StripeSandbox, source: StripeSource) -> None:
    """250 paid invoices come in three pages of 100, each page after the last id of the one before."""
    invoices = [stripe.add_paid_invoice(100 + i, paid_at=NOW - timedelta(minutes=300 - i)) for i in range(250)]
    stripe.clear_requests()
    result = source.poll(None)
    assert {p.ref for p in result.payments} == {i["id"] for i in invoices} and len(result.payments) == 250
    assert result.requests == 3
    queries = [r.query for r in stripe.requests]
    assert [q.get("starting_after") for q in queries] == [None, [invoices[150]["id"]], [invoices[50]["id"]]]
    assert all(q["limit"] == ["100"] and q["status"] == ["paid"] and q["collection_method"] == ["send_invoice"]
               for q in queries)
    assert all(r.headers.get("Stripe-Version") == STRIPE_VERSION for r in stripe.requests)


def test_incremental_poll_reports_only_new_payments(stripe: StripeSandbox, source: StripeSource,
                                                    clock: Clock) -> None:
    """Later polls read invoice.paid events since the cursor: only invoices paid since, out-of-band ones skipped."""
    stripe.add_paid_invoice(11900, paid_at=NOW - timedelta(minutes=3))  # inside the overlap of the next poll
    waiting = stripe.create_invoice(4200, created=NOW - timedelta(days=3), metadata={"order_id": "4712"})
    by_hand = stripe.create_invoice(3100, created=NOW - timedelta(days=3))
    first = source.poll(None)
    assert len(first.payments) == 1
    clock.now = NOW + timedelta(hours=1)
    stripe.pay_invoice(waiting["id"], at=NOW + timedelta(minutes=50))
    stripe.pay_invoice(by_hand["id"], at=NOW + timedelta(minutes=55), out_of_band=True)
    second = source.poll(first.cursor)
    assert [p.ref for p in second.payments] == [waiting["id"]] and second.skipped == {"paid_out_of_band": 1}
    assert second.payments[0].order_hint == "4712" and second.payments[0].position.startswith("event evt_")
    assert second.requests == 1
    clock.now = NOW + timedelta(hours=1, minutes=5)
    stripe.clear_requests()
    third = source.poll(second.cursor)  # re-reads both events in the overlap, reports nothing twice
    assert third.payments == [] and third.skipped == {} and third.problems == []
    assert stripe.requests[0].query["created[gte]"] == [str(int((NOW + timedelta(minutes=45)).timestamp()))]


def test_overlap_catches_an_event_that_became_visible_late(stripe: StripeSandbox, source: StripeSource,
                                                           clock: Clock) -> None:
    """An event created shortly before the last poll started but listed only after it is still reported."""
    first = source.poll(None)
    late = stripe.add_paid_invoice(2500, paid_at=NOW - timedelta(minutes=10))  # appears after the first poll
    clock.now = NOW + timedelta(minutes=30)
    assert [p.ref for p in source.poll(first.cursor).payments] == [late["id"]]


def test_events_page_across_several_pages(stripe: StripeSandbox, server: StripeServer, clock: Clock) -> None:
    src = StripeSource(stripe_http(stripe.api_key, url=server.url), page_size=2, clock=clock)
    first = src.poll(None)
    clock.now = NOW + timedelta(hours=1)
    paid = [stripe.add_paid_invoice(100 + i, paid_at=NOW + timedelta(minutes=i)) for i in range(5)]
    result = src.poll(first.cursor)
    assert sorted(p.ref for p in result.payments) == sorted(p["id"] for p in paid) and result.requests == 3


def test_old_cursor_falls_back_to_listing_invoices(stripe: StripeSandbox, source: StripeSource,
                                                   clock: Clock) -> None:
    """Events live 30 days: after a longer pause the source lists paid invoices again instead."""
    first = source.poll(None)
    invoice = stripe.add_paid_invoice(800, paid_at=NOW + timedelta(days=1))
    clock.now = NOW + timedelta(days=40)
    stripe.clear_requests()
    result = source.poll(first.cursor)
    assert [p.ref for p in result.payments] == [invoice["id"]]
    assert [r.path for r in stripe.requests] == ["/v1/invoices"]


def test_unreadable_cursor_lists_everything_again(stripe: StripeSandbox, source: StripeSource) -> None:
    invoice = stripe.add_paid_invoice(800)
    assert [p.ref for p in source.poll("mollie:2026-01-01").payments] == [invoice["id"]]


@pytest.mark.parametrize(("currency", "minor", "amount"), [("eur", 11900, Decimal("119.00")),
                                                           ("jpy", 5000, Decimal(5000)),
                                                           ("kwd", 12345, Decimal("12.345"))])
def test_amounts_use_the_currency_exponent(stripe: StripeSandbox, source: StripeSource, currency: str, minor: int,
                                           amount: Decimal) -> None:
    """JPY has no decimals, KWD three: 5000 JPY is 5000 yen, not 50."""
    stripe.add_paid_invoice(minor, currency)
    [payment] = source.poll(None).payments
    assert (payment.amount, payment.currency) == (amount, currency.upper())
    assert payment.amount.as_tuple().exponent == amount.as_tuple().exponent


def test_minor_to_decimal() -> None:
    assert minor_to_decimal(1, "EUR") == Decimal("0.01") and minor_to_decimal(1, "ISK") == Decimal("0.01")
    assert minor_to_decimal(1, "KRW") == Decimal(1)


def test_malformed_invoice_is_a_problem_and_the_rest_goes_on(stripe: StripeSandbox, source: StripeSource,
                                                             clock: Clock) -> None:
    good = stripe.add_paid_invoice(100, paid_at=NOW - timedelta(days=2))
    bad = stripe.add_paid_invoice(200, paid_at=NOW - timedelta(days=1))
    stripe.invoices[bad["id"]]["amount_paid"] = "200"
    first = source.poll(None)
    assert [p.ref for p in first.payments] == [good["id"]]
    assert [(p.position, "amount_paid" in p.reason) for p in first.problems] == [(f"invoice {bad['id']}", True)]
    # the same in an event: a broken paid_at in the event's snapshot
    later = stripe.create_invoice(300)
    fine = stripe.create_invoice(400)
    stripe.pay_invoice(later["id"], at=NOW + timedelta(minutes=1))
    stripe.pay_invoice(fine["id"], at=NOW + timedelta(minutes=2))
    event = next(e for e in stripe.paid_events() if e["data"]["object"]["id"] == later["id"])
    event["data"]["object"]["status_transitions"]["paid_at"] = "yesterday"
    clock.now = NOW + timedelta(hours=1)
    second = source.poll(first.cursor)
    assert [p.ref for p in second.payments] == [fine["id"]]
    assert [p.position for p in second.problems] == [f"event {event['id']}"]
    assert "paid_at" in second.problems[0].reason


def test_events_in_a_newer_api_version_are_read_through_the_pinned_invoice(clock: Clock) -> None:
    """An account on basil sends events without paid_out_of_band: the source re-reads the invoice (pinned) and
    still skips the out-of-band one."""
    stripe = StripeSandbox(account_version="2025-03-31.basil")
    stripe.clock = clock
    with StripeServer(stripe) as server:
        src = StripeSource(stripe_http(stripe.api_key, url=server.url), clock=clock)
        first = src.poll(None)
        transfer = stripe.create_invoice(11900)
        by_hand = stripe.create_invoice(5000)
        stripe.pay_invoice(transfer["id"], at=NOW + timedelta(minutes=1))
        stripe.pay_invoice(by_hand["id"], at=NOW + timedelta(minutes=2), out_of_band=True)
        clock.now = NOW + timedelta(hours=1)
        result = src.poll(first.cursor)
    assert [p.ref for p in result.payments] == [transfer["id"]] and result.skipped == {"paid_out_of_band": 1}
    assert result.payments[0].provider_ids[-1].startswith("pi_") and result.requests == 3


def test_wrong_key_is_a_clear_auth_error_without_the_key(stripe: StripeSandbox, server: StripeServer,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    key = "sk_test_51Secret" + "q" * 60 + "WXYZ"
    src = StripeSource(stripe_http(key, url=server.url, sleep=lambda s: None))
    with pytest.raises(ShopAuthFailed) as err:
        src.poll(None)
    assert err.value.status == 401 and "Invalid API Key provided" in str(err.value) and "stripe" in str(err.value)
    assert key not in str(err.value) and key not in repr(src.http.session.auth)
    assert src.http.requests_made == 1  # not retried
    captured = capsys.readouterr()
    assert key not in captured.out + captured.err


def test_rate_limit_is_retried(stripe: StripeSandbox, source: StripeSource, slept: list[float]) -> None:
    invoice = stripe.add_paid_invoice(100)
    stripe.fail_next(429, times=2)
    result = source.poll(None)
    assert [p.ref for p in result.payments] == [invoice["id"]]
    assert result.requests == 3 and len(slept) == 2 and [r.status for r in stripe.requests] == [429, 429, 200]


def test_stripe_http_wants_a_secret_or_restricted_key() -> None:
    with pytest.raises(ValueError, match="secret key"):
        stripe_http("pk_test_publishable")
    assert stripe_http("rk_live_x", url="https://api.stripe.com/v1/").base_url == "https://api.stripe.com/"


@responses.activate
def test_transport_reads_stripes_error_envelope() -> None:
    """Stripe nests its error: the code (or type) and the message and param reach the ShopError."""
    responses.get("https://api.stripe.com/v1/invoices", status=400, json={"error": {
        "type": "invalid_request_error", "code": "resource_missing", "param": "starting_after",
        "message": "No such invoice: 'in_x'", "doc_url": "https://stripe.com/docs/error-codes/resource-missing"}})
    http = stripe_http("sk_test_abc", sleep=lambda s: None)
    with pytest.raises(ShopRejected) as err:
        http.get("v1/invoices", params={"starting_after": "in_x"})
    assert err.value.shop_code == "resource_missing"
    assert "No such invoice: 'in_x' (param: starting_after)" in str(err.value)
    assert responses.calls[0].request.headers["Authorization"] == "Bearer sk_test_abc"
    assert responses.calls[0].request.headers["Stripe-Version"] == STRIPE_VERSION


def test_cursor_stays_short_when_many_payments_fall_into_the_overlap(stripe: StripeSandbox, source: StripeSource,
                                                                     clock: Clock) -> None:
    """The cursor fits the store's 500 characters; ids that do not fit are merely reported again."""
    invoices = [stripe.add_paid_invoice(100 + i, paid_at=NOW - timedelta(seconds=5 * i)) for i in range(40)]
    first = source.poll(None)
    assert len(first.payments) == 40 and len(first.cursor) <= 500
    kept = set(first.cursor.split(":")[2].split(","))
    assert kept and kept < {i["id"] for i in invoices}
    clock.now = NOW + timedelta(minutes=1)
    again = source.poll(first.cursor)
    assert {p.ref for p in again.payments} == {i["id"] for i in invoices} - kept
