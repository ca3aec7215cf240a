"""Money is booked once (issue "Money is booked once", points 2, 3, 4, 9): a stale matching decision never undoes
or repeats a booking, a payment for a claim that is no longer open is a credit for a person, a payment in another
currency waits for a person, nothing zero or negative is ever booked, and one payment may pay one claim in parts.
The interleavings of two processes are played here in one, step by step; tests/e2e/test_payment_races.py races
real processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from mahnwerk.policy.matching import ClosedClaim, Credit, Match, Matcher, OpenClaim, Share
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.payments.intake import import_payments
from mahnwerk.sync.payments.matchrun import Waiting, settle
from mahnwerk.sync.payments.reconcile import CLAIMS, Booking, Reconciled, book, writeback_row
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.models import ClaimState, OutboxRow, PaymentEvent, PaymentState
from tests.support import write_config
from tests.sync.test_payments import NOW, TODAY, bring_in, claim_now, credit, fresh, ledger, payment, synced
from tests.sync.test_run import MERCHANT, RATES, query

D = Decimal
ALREADY_PAID = "already paid: refund or assign"


@pytest.fixture
def etc(tmp_path: Path, woo, db_url: str) -> Path:  # test_payments' shop
    return write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                    "secret": woo.consumer_secret, "extra": RATES + MERCHANT}])


@contextmanager
def booking_side(etc: Path) -> Iterator[tuple]:
    """(connection, shop) as a matching run has them; what is done is committed at the end."""
    config = load_config(etc)
    store = open_store(config)
    try:
        with store.connection() as conn:
            yield conn, config.shops[0]
            conn.commit()
    finally:
        store.close()


def waiting(etc: Path, ref: str) -> Waiting:
    """The payment as matching read it, now: what a process that is slower than the others holds."""
    p = payment(etc, ref)
    return Waiting(p.id, p.source, p.ref, p.booked_on, p.currency, p.unallocated)


def store_only(etc: Path, items: list) -> None:
    config = load_config(etc)
    store = open_store(config)
    try:
        import_payments(store, config.shops[0], items, origin="test.xml", now=NOW)
    finally:
        store.close()


def cli(etc: Path, *args: str) -> int:
    return main(["--config-dir", str(etc), *args])


def test_a_stale_queue_update_never_undoes_a_booking(etc: Path) -> None:
    """Process A read a waiting payment and found no sure match; meanwhile B booked part of it. A's queue update
    must not put it back to "unmatched" with its full amount, nor may A's stale booking book it again."""
    claim = synced(etc)[0]
    bring_in(etc, [credit("Q1", "20.00", "zwei Sachen", payer="Nobody")])
    seen = waiting(etc, "Q1")
    assert seen.unallocated == D("20.00") and payment(etc, "Q1").state == PaymentState.UNMATCHED
    assert cli(etc, "payments", "assign", str(seen.id), f"acme:{claim.order_number}", "--amount", "5.00") == 0

    with booking_side(etc) as (conn, shop):  # A, late: nothing sure for it
        settle(conn, shop, [(seen, None)], today=TODAY, now=NOW, result=Reconciled(shop.id))
    after = payment(etc, "Q1")
    assert (after.state, after.unallocated) == (PaymentState.REVIEW, D("15.00")), (after.state, after.reason)

    result = Reconciled("acme")
    with booking_side(etc) as (conn, shop):  # A, late, sure after all: lost, nothing booked twice
        match = Match((Share(claim.id, D("20.00")),), "reference", D("1.0"), "the text names it")
        settle(conn, shop, [(seen, match)], today=TODAY, now=NOW, result=result)
    assert (result.booked, result.lost) == (0, 1)
    assert [e.data["amount"] for e in ledger(etc, claim, "payment")] == ["5.00"]
    assert payment(etc, "Q1").unallocated == D("15.00")


def test_a_payment_for_a_claim_closed_meanwhile_is_a_credit_to_review(etc: Path) -> None:
    """Matched while its claim was open, booked after another payment closed it: nothing is booked, the money
    waits for a person to refund or assign it; the claim is closed once and the shop told once."""
    claim = fresh(synced(etc))[0]
    bring_in(etc, [credit("R1", str(claim.open_amount), f"Rechnung {claim.invoice_number}")])
    assert payment(etc, "R1").state == PaymentState.MATCHED and claim_now(etc, claim).state == ClaimState.PAID
    store_only(etc, [credit("R2", str(claim.open_amount), f"Rechnung {claim.invoice_number} zweite Zahlung")])
    late = waiting(etc, "R2")  # as matched while the claim was open

    result = Reconciled("acme")
    with booking_side(etc) as (conn, shop):
        match = Match((Share(claim.id, claim.open_amount),), "reference", D("1.0"), "the text names it")
        settle(conn, shop, [(late, match)], today=TODAY, now=NOW, result=result)
    second = payment(etc, "R2")
    assert second.state == PaymentState.REVIEW and second.unallocated == claim.open_amount
    assert claim.invoice_number in second.reason and ALREADY_PAID in second.reason, second.reason
    assert (result.booked, result.review) == (0, 1)
    assert [e.data["payment"] for e in ledger(etc, claim, "payment")] == [payment(etc, "R1").id]
    assert len(ledger(etc, claim, "closed")) == 1
    assert len(query(etc, select(OutboxRow).where(OutboxRow.claim_id == claim.id, OutboxRow.stage == "paid"))) == 1
    [event] = query(etc, select(PaymentEvent).where(PaymentEvent.payment_id == second.id))
    assert event.kind == PaymentState.REVIEW and ALREADY_PAID in event.data["reason"]


def test_a_payment_naming_a_paid_claim_says_so(etc: Path, capsys) -> None:
    """The claim was paid by an earlier import, or earlier in the same file: the payment goes to review naming
    it, instead of "no claim names this payment" (or a booking of nothing)."""
    first, second = fresh(synced(etc))[:2]
    bring_in(etc, [credit("S1", str(first.open_amount), f"Rechnung {first.invoice_number}")])
    _, matched = bring_in(etc, [credit("S2", str(first.open_amount), f"Rechnung {first.invoice_number} nochmal"),
                                credit("S3", str(second.open_amount), f"RE {second.invoice_number}"),
                                credit("S4", str(second.open_amount), f"RE {second.invoice_number} nochmal")])
    assert (matched.booked, matched.closed, matched.review) == (1, 1, 2)
    for ref, claim in (("S2", first), ("S4", second)):
        row = payment(etc, ref)
        assert row.state == PaymentState.REVIEW and row.unallocated == row.amount, (ref, row.state)
        assert claim.invoice_number in row.reason and ALREADY_PAID in row.reason, row.reason
    assert [e.data["payment"] for e in ledger(etc, second, "payment")] == [payment(etc, "S3").id]
    capsys.readouterr()
    assert cli(etc, "payments", "unmatched", "--json") == 0
    queue = {p["ref"]: p for p in json.loads(capsys.readouterr().out)}
    assert queue["S2"]["candidates"] == [f"acme:{first.order_number}"]
    assert cli(etc, "payments", "assign", str(queue["S2"]["id"]), f"acme:{first.order_number}") != 0  # closed


def test_a_payment_in_another_currency_waits_for_a_person(etc: Path, capsys) -> None:
    """An EUR credit naming a USD claim (the payer sent dollars): never booked by matching, never a negative rest;
    `payments assign` books it only with --amount in the claim's currency, and then the whole payment."""
    claim = fresh(synced(etc))[0]
    with booking_side(etc) as (conn, _):
        conn.execute(update(CLAIMS).where(CLAIMS.c.id == claim.id).values(currency="USD"))
    euros = (claim.open_amount * D("0.92")).quantize(D("0.01"))
    _, matched = bring_in(etc, [credit("U1", str(euros), f"Invoice {claim.invoice_number}",
                                       original_amount=claim.open_amount, original_currency="USD")])
    row = payment(etc, "U1")
    assert matched.booked == 0 and row.state == PaymentState.REVIEW and row.unallocated == euros
    assert "USD" in row.reason and claim.invoice_number in row.reason, row.reason

    ref = f"acme:{claim.order_number}"
    capsys.readouterr()
    assert cli(etc, "payments", "assign", str(row.id), ref) == 2
    assert "--amount" in capsys.readouterr().err and ledger(etc, claim, "payment") == []
    assert cli(etc, "payments", "assign", str(row.id), ref, "--amount", str(claim.open_amount)) == 0
    [entry] = ledger(etc, claim, "payment")
    assert (D(entry.data["amount"]), entry.data["currency"]) == (claim.open_amount, "USD")
    assert claim_now(etc, claim).state == ClaimState.PAID
    after = payment(etc, "U1")
    assert (after.state, after.unallocated) == (PaymentState.MATCHED, D(0))


def test_booking_never_books_nothing_or_a_negative_amount(etc: Path) -> None:
    """Whatever a caller hands in: a zero or negative share books nothing (it would raise what the claim owes),
    and a share beyond what the payment has left books only what it has."""
    claim = synced(etc)[0]
    bring_in(etc, [credit("N1", "5.00", "Spende", payer="Nobody")])
    p = payment(etc, "N1")
    shares = (Share(claim.id, D("-1.56")), Share(claim.id, D(0)))
    with booking_side(etc) as (conn, shop):
        book(conn, shop, [Booking(waiting(etc, "N1"), shares, "manual", D(1), "test")], today=TODAY, now=NOW,
             actor="test", result=Reconciled(shop.id))
    assert ledger(etc, claim, "payment") == [] and claim_now(etc, claim).open_amount == claim.open_amount
    assert payment(etc, "N1").unallocated == D("5.00")
    with booking_side(etc) as (conn, shop):
        book(conn, shop, [Booking(waiting(etc, "N1"), (Share(claim.id, D("8.00")),), "manual", D(1), "test")],
             today=TODAY, now=NOW, actor="test", result=Reconciled(shop.id))
    assert [e.data["amount"] for e in ledger(etc, claim, "payment")] == ["5.00"]
    after = payment(etc, p.ref)
    assert (after.state, after.unallocated) == (PaymentState.MATCHED, D(0))


def test_one_payment_pays_one_claim_in_parts(etc: Path) -> None:
    """`payments assign 1 CLAIM --amount 0.10` twice: two bookings, two write-backs with keys of their own; the
    key of one booking stays the same when it is tried again."""
    claim = synced(etc)[0]
    bring_in(etc, [credit("P1", "20.00", "zwei Sachen", payer="Nobody")])
    p = payment(etc, "P1")
    for _ in range(2):
        assert cli(etc, "payments", "assign", str(p.id), f"acme:{claim.order_number}", "--amount", "0.10") == 0
    assert [e.data["amount"] for e in ledger(etc, claim, "payment")] == ["0.10", "0.10"]
    assert payment(etc, "P1").unallocated == D("19.80")
    keys = {r.key for r in query(etc, select(OutboxRow).where(OutboxRow.claim_id == claim.id,
                                                                 OutboxRow.kind == "writeback"))}
    assert len(keys) == 2
    shop = load_config(etc).shops[0]
    again = [writeback_row(shop, claim, "part_paid", p.id, D("20.00"), "n", TODAY, NOW, paid="part")["key"]
             for _ in range(2)]
    assert again[0] == again[1] and again[0] in keys


def test_ignoring_a_payment_booked_meanwhile_changes_nothing(etc: Path) -> None:
    claim = fresh(synced(etc))[0]
    bring_in(etc, [credit("I1", str(claim.open_amount), f"Rechnung {claim.invoice_number}")])
    p = payment(etc, "I1")
    assert cli(etc, "payments", "ignore", str(p.id), "--reason", "not ours") == 2
    assert payment(etc, "I1").state == PaymentState.MATCHED


def test_matching_names_a_closed_claim_and_proposes_no_foreign_booking() -> None:
    """Pure matching: a closed claim named by a number it can trust (a keyword, or a long number), or by the
    provider's order id, makes a guess for a person; a share in another currency is never proposed for booking."""
    open_ = [OpenClaim(1, "RE-2026-0001", "1001", "501", "EUR", D("50.00"), ("Eva Fischer",), TODAY),
             OpenClaim(3, "RE-2026-0003", "1003", "503", "USD", D("30.00"), ("Tom Smith",), TODAY)]
    matcher = Matcher(open_, closed=[ClosedClaim(2, "RE-2026-0002", "1002", "502", ClaimState.PAID)])
    found = matcher.match(Credit(D("50.00"), "EUR", TODAY, "Rechnung RE-2026-0002"))
    assert found is not None and (found.shares, found.candidates) == ((), (2,))
    assert "RE-2026-0002 (paid)" in found.reason and ALREADY_PAID in found.reason
    assert matcher.match(Credit(D("9.00"), "EUR", TODAY, "", order_hint="502")).candidates == (2,)
    assert matcher.match(Credit(D("7.00"), "EUR", TODAY, "1002")) is None  # a bare short number: no claim
    assert matcher.match(Credit(D("50.00"), "EUR", TODAY, "RE-2026-0001")).claim_ids == (1,)  # open ones first

    dollars = Credit(D("27.60"), "EUR", TODAY, "Invoice RE-2026-0003", original_amount=D("30.00"),
                     original_currency="USD")
    assert matcher.match(dollars).claim_ids == (3,)  # found by what was sent...
    proposed = matcher.proposal(dollars)
    assert proposed is not None and proposed.shares == () and proposed.candidates == (3,)  # ... booked by a person
    assert "USD" in proposed.reason and proposed.confidence < D("0.75")
