"""MollieSource against the Mollie sandbox on 127.0.0.1: the lookback window, paging by next links, skips,
problems, auth and rate limits; `responses` only for single-answer cases the sandbox never produces."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import responses

from mahnwerk.connectors.mollie_source import MollieSource, mollie_http
from mahnwerk.errors import ShopAuthFailed, ShopRejected
from mahnwerk.sandbox.mollie_server import MollieSandbox, MollieServer
from tests.connectors.provider_clock import NOW, Clock


@pytest.fixture
def mollie(clock: Clock) -> MollieSandbox:
    sandbox = MollieSandbox()
    sandbox.clock = clock
    return sandbox


@pytest.fixture
def server(mollie: MollieSandbox, start_server: Callable[[MollieServer], MollieServer]) -> MollieServer:
    return start_server(MollieServer(mollie))


def a_source(server: MollieServer, mollie: MollieSandbox, clock: Clock, slept: list[float] | None = None,
             **options: object) -> MollieSource:
    http = mollie_http(mollie.api_key, url=server.url, max_attempts=3,
                       sleep=(slept if slept is not None else []).append)
    return MollieSource(http, clock=clock, **options)  # type: ignore[arg-type]


@pytest.fixture
def source(server: MollieServer, mollie: MollieSandbox, clock: Clock, slept: list[float]) -> Iterator[MollieSource]:
    src = a_source(server, mollie, clock, slept)
    yield src
    src.close()


def test_paid_bank_transfers_become_payments(mollie: MollieSandbox, source: MollieSource) -> None:
    """Only paid bank transfers count; open, expired and other methods are skipped and counted."""
    paid = mollie.add_paid_banktransfer("119.00", order_id="4711", paid_at=datetime(2026, 3, 10, 23, 30, tzinfo=UTC),
                                        consumer_name="Erika Mustermann",
                                        consumer_account="DE89 3704 0044 0532 0130 00",
                                        description="Rechnung RE-2026-0042")
    mollie.create_banktransfer("50.00", order_id="4712")                     # still waiting for the money
    mollie.expire(mollie.create_banktransfer("60.00", created=NOW - timedelta(days=20))["id"])
    mollie.create_payment("70.00", method="creditcard", status="paid")
    result = source.poll(None)
    assert result.problems == [] and result.requests == 1
    assert result.skipped == {"not_paid": 2, "not_banktransfer": 1}
    [payment] = result.payments
    assert (payment.source, payment.ref, payment.amount, payment.currency) == ("mollie", paid["id"],
                                                                               Decimal("119.00"), "EUR")
    assert payment.booked_on == date(2026, 3, 10) and payment.order_hint == "4711"
    assert payment.creditor_ref == paid["details"]["transferReference"] and payment.creditor_ref.startswith("RF")
    assert (payment.payer_name, payment.payer_account) == ("Erika Mustermann", "DE89370400440532013000")
    assert payment.remittance == "Rechnung RE-2026-0042" and payment.provider_ids == (paid["id"],)
    assert payment.position == f"payment {paid['id']}"


def test_follows_next_links_across_pages(mollie: MollieSandbox, server: MollieServer, clock: Clock) -> None:
    """Pages follow `_links.next.href` (with `from`) until it is null."""
    payments = [mollie.add_paid_banktransfer("10.00", created=NOW - timedelta(days=30, minutes=i)) for i in range(7)]
    mollie.clear_requests()
    result = a_source(server, mollie, clock, page_size=3).poll(None)
    assert sorted(p.ref for p in result.payments) == sorted(p["id"] for p in payments) and result.requests == 3
    assert [r.query.get("from") for r in mollie.requests] == [None, [payments[3]["id"]], [payments[6]["id"]]]
    assert all(r.query["limit"] == ["3"] for r in mollie.requests)


def test_walk_stops_at_the_end_of_the_lookback_window(mollie: MollieSandbox, server: MollieServer,
                                                      clock: Clock) -> None:
    """Payments created before the window are not reported, and the pages behind them are not fetched."""
    recent = [mollie.add_paid_banktransfer("10.00", created=NOW - timedelta(days=d)) for d in (1, 2, 3)]
    for d in range(130, 140):
        mollie.add_paid_banktransfer("10.00", created=NOW - timedelta(days=d))
    result = a_source(server, mollie, clock, page_size=2, lookback_days=120).poll(None)
    assert sorted(p.ref for p in result.payments) == sorted(p["id"] for p in recent)
    assert result.requests == 2  # the second page reaches day 130; the five pages after it are never asked for


def test_incremental_poll_sees_an_open_transfer_paid_later(mollie: MollieSandbox, source: MollieSource,
                                                           clock: Clock) -> None:
    """A transfer open at one poll and paid before the next is reported then; the cursor is the newest createdAt."""
    waiting = mollie.create_banktransfer("119.00", order_id="4711", created=NOW - timedelta(days=40))
    newest = mollie.create_banktransfer("20.00", created=NOW - timedelta(hours=1))
    first = source.poll(None)
    assert first.payments == [] and first.cursor == (NOW - timedelta(hours=1)).isoformat()
    clock.now = NOW + timedelta(days=1)
    mollie.pay(waiting["id"], consumer_name="Erika Mustermann")
    second = source.poll(first.cursor)
    assert [(p.ref, p.order_hint, p.booked_on) for p in second.payments] == [(waiting["id"], "4711", date(2026, 3, 16))]
    assert second.cursor == first.cursor and newest["status"] == "open"


def test_cursor_widens_the_window_after_a_long_pause(mollie: MollieSandbox, source: MollieSource,
                                                     clock: Clock) -> None:
    """Back after 200 days, the walk reaches lookback_days before the cursor, not just before now."""
    created = mollie.create_banktransfer("30.00", created=NOW - timedelta(days=2))
    first = source.poll(None)
    clock.now = NOW + timedelta(days=200)
    mollie.pay(created["id"], at=NOW + timedelta(days=60))
    assert [p.ref for p in source.poll(first.cursor).payments] == [created["id"]]
    fresh = source.poll(None)  # without the cursor the payment is outside the window
    assert fresh.payments == []


def test_zero_decimal_currency(mollie: MollieSandbox, source: MollieSource) -> None:
    mollie.add_paid_banktransfer("1000", "JPY")
    [payment] = source.poll(None).payments
    assert (payment.amount, payment.currency) == (Decimal(1000), "JPY")


def test_malformed_payment_is_a_problem_and_the_rest_goes_on(mollie: MollieSandbox, source: MollieSource) -> None:
    good = mollie.add_paid_banktransfer("10.00", created=NOW - timedelta(days=3))
    bad_amount = mollie.add_paid_banktransfer("20.00", created=NOW - timedelta(days=2))
    no_paid_at = mollie.add_paid_banktransfer("30.00", created=NOW - timedelta(days=1))
    mollie.payments[bad_amount["id"]]["amount"]["value"] = "20,00"
    del mollie.payments[no_paid_at["id"]]["paidAt"]
    result = source.poll(None)
    assert [p.ref for p in result.payments] == [good["id"]]
    problems = {p.position: p.reason for p in result.problems}
    assert set(problems) == {f"payment {bad_amount['id']}", f"payment {no_paid_at['id']}"}
    assert "amount.value" in problems[f"payment {bad_amount['id']}"]
    assert "paidAt" in problems[f"payment {no_paid_at['id']}"]


def test_wrong_key_is_a_clear_auth_error_without_the_key(server: MollieServer, capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    key = "test_SecretSecretSecretSecret42"
    src = MollieSource(mollie_http(key, url=server.url, sleep=lambda s: None))
    with pytest.raises(ShopAuthFailed) as err:
        src.poll(None)
    assert err.value.status == 401 and "Missing authentication, or failed to authenticate" in str(err.value)
    assert key not in str(err.value) and src.http.requests_made == 1
    captured = capsys.readouterr()
    assert key not in captured.out + captured.err


def test_rate_limit_is_retried_with_retry_after(mollie: MollieSandbox, source: MollieSource,
                                                slept: list[float]) -> None:
    payment = mollie.add_paid_banktransfer("10.00")
    mollie.fail_next(429, retry_after=3)
    result = source.poll(None)
    assert [p.ref for p in result.payments] == [payment["id"]] and result.requests == 2 and slept == [3.0]


def test_mollie_http_wants_a_profile_key() -> None:
    with pytest.raises(ValueError, match="organization access tokens"):
        mollie_http("access_abc")
    with pytest.raises(ValueError, match="live_"):
        mollie_http("sk_test_abc")
    assert mollie_http("live_x", url="https://api.mollie.com/v2").base_url == "https://api.mollie.com/"


@responses.activate
def test_next_link_to_another_host_is_refused() -> None:
    """The key goes only to the configured API: a next link elsewhere is an error, not followed."""
    responses.get("https://api.mollie.com/v2/payments", json={
        "count": 0, "_embedded": {"payments": []},
        "_links": {"self": {"href": "https://api.mollie.com/v2/payments?limit=250"}, "previous": None,
                   "next": {"href": "https://evil.example/v2/payments?from=tr_x&limit=250"}}})
    src = MollieSource(mollie_http("live_abc", sleep=lambda s: None))
    with pytest.raises(ShopRejected, match="points outside the API"):
        src.poll(None)
    assert len(responses.calls) == 1


@responses.activate
def test_transport_reads_mollies_error_body() -> None:
    """Mollie says what is wrong in `detail` and names the parameter in `field`."""
    responses.get("https://api.mollie.com/v2/payments", status=422, content_type="application/hal+json", json={
        "status": 422, "title": "Unprocessable Entity", "detail": "The amount is lower than the minimum",
        "field": "amount", "_links": {"documentation": {"href": "https://docs.mollie.com", "type": "text/html"}}})
    src = MollieSource(mollie_http("live_abc", sleep=lambda s: None))
    with pytest.raises(ShopRejected, match=r"422: The amount is lower than the minimum \(field: amount\)"):
        src.poll(None)
    assert responses.calls[0].request.headers["Authorization"] == "Bearer live_abc"
