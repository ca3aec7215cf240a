"""Payments end to end on a real database: imported once, matched, booked with the §367 split, claims closed or
reduced, the shop told through the outbox, and the queue a person works off (`payments unmatched/assign/ignore`)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem
from mahnwerk.sync.casework.case import Case
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.payments.intake import import_payments
from mahnwerk.sync.payments.matchrun import run
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.store.models import (
    Claim,
    ClaimState,
    IncomingPaymentRow,
    LedgerEntry,
    OutboxRow,
    OutboxState,
    PaymentEvent,
    PaymentState,
)
from tests.sync.test_run import NOW, customer_notes, query, run_at, sync_and_decide

D = Decimal
TODAY = NOW.date()


@pytest.fixture
def etc(tmp_path: Path, woo, db_url: str) -> Path:
    from tests.support import write_config
    from tests.sync.test_run import MERCHANT, RATES
    return write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                    "secret": woo.consumer_secret, "extra": RATES + MERCHANT}])


def synced(etc: Path) -> list[Claim]:
    config = load_config(etc)
    store = open_store(config)
    try:
        sync_one(store, config.shops[0])
    finally:
        store.close()
    return sorted(query(etc, select(Claim).where(Claim.state == ClaimState.OPEN)), key=lambda c: c.id)


def fresh(claims: list[Claim]) -> list[Claim]:
    """Claims not yet in default: what they owe is their open amount, no interest yet."""
    return [c for c in claims if c.due_date >= TODAY - timedelta(days=10)]


def credit(ref: str, amount: str, text: str = "", *, payer: str = "", currency: str = "EUR", **extra
           ) -> IncomingPayment:
    return IncomingPayment(source="camt.053", ref=ref, booked_on=TODAY - timedelta(days=1), amount=D(amount),
                           currency=currency, account="DE14370400441234567890", payer_name=payer, remittance=text,
                           position=f"entry {ref}", **extra)


def bring_in(etc: Path, items: list) -> tuple:
    """Import `items` like a statement file, then match: (Imported, Reconciled)."""
    config = load_config(etc)
    store = open_store(config)
    try:
        imported = import_payments(store, config.shops[0], items, origin="test.xml", now=NOW)
        return imported, run(store, config.shops[0], now=NOW)[1]
    finally:
        store.close()


def payment(etc: Path, ref: str) -> IncomingPaymentRow:
    [row] = query(etc, select(IncomingPaymentRow).where(IncomingPaymentRow.ref == ref))
    return row


def ledger(etc: Path, claim: Claim, kind: str) -> list[LedgerEntry]:
    return query(etc, select(LedgerEntry).where(LedgerEntry.claim_id == claim.id, LedgerEntry.kind == kind))


def claim_now(etc: Path, claim: Claim) -> Claim:
    return query(etc, select(Claim).where(Claim.id == claim.id))[0]


def test_a_payment_naming_the_invoice_closes_the_claim_and_tells_the_shop(etc: Path, woo) -> None:
    claim = fresh(synced(etc))[0]
    imported, matched = bring_in(etc, [credit("A1", str(claim.open_amount), f"Rechnung {claim.invoice_number}")])
    assert imported.new == 1 and matched.booked == 1 and matched.closed == 1
    assert claim_now(etc, claim).state == ClaimState.PAID
    [entry] = ledger(etc, claim, "payment")
    assert entry.data["rule"] == "reference" and entry.data["confidence"] == "1.0"
    assert entry.data["applied"]["principal"] == str(claim.open_amount)
    assert payment(etc, "A1").state == PaymentState.MATCHED
    [row] = query(etc, select(OutboxRow).where(OutboxRow.kind == "writeback"))
    assert row.stage == "paid" and row.payload["paid"] == "full"

    [result] = run_at(etc, sync=False)
    assert result.outcome.written_back == 1, result.as_dict()
    order = woo.order(int(claim.order_id))
    assert order["status"] == "processing"
    notes = [n["note"] for n in woo.notes.of(order) if not n["customer_note"]]
    assert any("paid in full" in n and "A1" in n and row.key in n for n in notes)
    [again] = run_at(etc, sync=False)  # exactly once: nothing left to tell
    assert again.outcome.written_back == 0


def test_the_same_statement_twice_counts_nothing_twice(etc: Path) -> None:
    claim = synced(etc)[0]
    items = [credit("B1", "5.00", f"RE {claim.invoice_number} Teilzahlung")]
    bring_in(etc, items)
    imported, matched = bring_in(etc, items)
    assert (imported.new, imported.duplicates, matched.booked) == (0, 1, 0)
    assert len(ledger(etc, claim, "payment")) == 1


def test_a_partial_payment_reduces_the_claim_and_notes_it_in_the_shop(etc: Path, woo) -> None:
    claim = synced(etc)[0]
    _, matched = bring_in(etc, [credit("C1", "5.00", f"Rechnung {claim.invoice_number} erste Rate")])
    assert matched.partial == 1 and claim_now(etc, claim).state == ClaimState.OPEN
    [row] = query(etc, select(OutboxRow).where(OutboxRow.kind == "writeback"))
    assert row.stage == "part_paid" and row.payload["paid"] == "part" and "still open" in row.payload["note"]
    run_at(etc, sync=False)
    order = woo.order(int(claim.order_id))
    assert order["status"] == "on-hold"
    assert any("payment of" in n["note"] for n in woo.notes.of(order) if not n["customer_note"])


def test_an_overpayment_closes_the_claim_and_records_the_credit(etc: Path) -> None:
    claim = fresh(synced(etc))[0]
    _, matched = bring_in(etc, [credit("D1", str(claim.open_amount + D("10.00")), f"Rechnung {claim.invoice_number}")])
    assert matched.closed == 1 and matched.credit == 1
    [credit_entry] = ledger(etc, claim, "credit")
    assert credit_entry.data["amount"] == "10.00"


def test_one_transfer_for_two_invoices_is_split(etc: Path) -> None:
    first, second = fresh(synced(etc))[:2]
    total = first.open_amount + second.open_amount
    _, matched = bring_in(etc, [credit("E1", str(total), f"RE {first.invoice_number} + {second.invoice_number}")])
    assert matched.closed == 2
    assert [e.data["amount"] for e in ledger(etc, first, "payment")] == [str(first.open_amount)]
    assert [e.data["amount"] for e in ledger(etc, second, "payment")] == [str(second.open_amount)]


def test_costs_then_interest_then_principal(etc: Path) -> None:
    """§367 BGB: a payment first settles the letter fee, then interest, and only the rest the principal."""
    claim = synced(etc)[0]
    config = load_config(etc)
    store = open_store(config)
    try:
        with store.session() as session:
            row = session.get(Claim, claim.id)
            Case(session, config.shops[0], row, "test", NOW - timedelta(days=30)).record("stage", {
                "stage": "dunning_2", "kind": "send", "deadline": None, "fee": "2.50",
                "on": (claim.due_date + timedelta(days=1)).isoformat()})
            session.commit()
    finally:
        store.close()
    _, matched = bring_in(etc, [credit("F1", "3.00", f"Rechnung {claim.invoice_number}")])
    [entry] = ledger(etc, claim, "payment")
    applied = {k: D(v) for k, v in entry.data["applied"].items()}
    assert applied["fees"] == D("2.50") and applied["interest"] + applied["principal"] == D("0.50")
    assert claim_now(etc, claim).state == ClaimState.OPEN and matched.partial == 1


def test_no_rule_sure_enough_leaves_it_to_a_person(etc: Path, capsys) -> None:
    claims = synced(etc)
    _, matched = bring_in(etc, [credit("G1", "1234.56", "Gehalt", payer="Arbeitgeber AG"),
                                credit("G2", str(claims[0].open_amount), "Danke", payer="Nobody Known")])
    assert matched.booked == 0 and matched.unmatched + matched.review == 2
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "payments", "unmatched", "--json"]) == 0
    queue = {p["ref"]: p for p in json.loads(capsys.readouterr().out)}
    assert set(queue) == {"G1", "G2"} and queue["G1"]["state"] == "unmatched"
    assert main(["--config-dir", str(etc), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["payments_waiting"] == 2

    claim = claims[0]
    ref = f"acme:{claim.order_number}"
    assert main(["--config-dir", str(etc), "payments", "assign", str(queue["G2"]["id"]), ref, "--by", "anna"]) == 0
    assert claim_now(etc, claim).state == ClaimState.PAID
    [entry] = ledger(etc, claim, "payment")
    assert entry.data["rule"] == "manual" and entry.actor == "anna"
    assert main(["--config-dir", str(etc), "payments", "ignore", str(queue["G1"]["id"]), "--reason",
                 "salary, not a customer"]) == 0
    assert payment(etc, "G1").state == PaymentState.IGNORED
    events = query(etc, select(PaymentEvent).where(PaymentEvent.payment_id == queue["G1"]["id"]))
    assert [e.kind for e in events] == ["ignored"] and events[0].data["reason"] == "salary, not a customer"
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "payments", "unmatched", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_assign_books_part_of_a_payment_and_the_rest_keeps_waiting(etc: Path, capsys) -> None:
    claims = synced(etc)
    bring_in(etc, [credit("H1", "20.00", "zwei Sachen", payer="Nobody")])
    capsys.readouterr()
    row = payment(etc, "H1")
    assert main(["--config-dir", str(etc), "payments", "assign", str(row.id), f"acme:{claims[0].order_number}",
                 "--amount", "5.00"]) == 0
    after = payment(etc, "H1")
    assert after.unallocated == D("15.00") and after.state in PaymentState.WAITING
    assert main(["--config-dir", str(etc), "payments", "assign", str(row.id), f"acme:{claims[1].order_number}",
                 "--amount", "99.00"]) == 2  # more than is left: refused


def test_bad_entries_are_reported_and_the_rest_imported(etc: Path) -> None:
    claim = fresh(synced(etc))[0]
    imported, matched = bring_in(etc, [credit("I1", str(claim.open_amount), claim.invoice_number),
                                       SourceProblem("statement S1 entry 2 (line 40)", "Amt is not a number: 'x'")])
    assert imported.new == 1 and [p.position for p in imported.problems] == ["statement S1 entry 2 (line 40)"]
    assert matched.closed == 1


def test_a_payment_between_plan_and_send_stops_the_send(etc: Path, woo) -> None:
    decided = sync_and_decide(etc)
    first = decided.new[0]
    [claim] = query(etc, select(Claim).where(Claim.id == first["claim_id"]))
    bring_in(etc, [credit("J1", str(claim.open_amount), f"RE {claim.invoice_number}")])
    [result] = run_at(etc, sync=False)
    assert int(claim.order_id) not in {oid for oid, _ in customer_notes(woo)}
    assert result.outcome.sent == len(decided.new) - 1 and result.outcome.written_back == 1
    [row] = query(etc, select(OutboxRow).where(OutboxRow.claim_id == claim.id, OutboxRow.kind == "send"))
    assert row.state == OutboxState.SKIPPED


def test_explain_shows_what_a_payment_settled(etc: Path, capsys) -> None:
    claim = fresh(synced(etc))[0]
    bring_in(etc, [credit("L1", "5.00", f"Rechnung {claim.invoice_number}")])
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "explain", f"acme:{claim.order_number}"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "payment of 5.00 EUR" in out and "reference match, confidence 0.9" in out and "principal 5.00" in out


def test_a_shop_that_keeps_failing_dead_letters_the_write_back_with_its_reason(etc: Path, woo, capsys) -> None:
    claim = fresh(synced(etc))[0]
    bring_in(etc, [credit("M1", str(claim.open_amount), f"Rechnung {claim.invoice_number}")])
    woo.fail_next(500, times=50, path_contains=f"/orders/{claim.order_id}")
    for days in (0, 1, 2):  # max_attempts = 3 in the test config; retries wait with backoff
        [result] = run_at(etc, days, sync=False)
    [row] = query(etc, select(OutboxRow).where(OutboxRow.kind == "writeback"))
    assert row.state == OutboxState.DEAD and "500" in row.last_error, row.last_error
    assert row.attempts == 3 and result.outcome.dead == 1
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "outbox", "skip", str(row.id)]) == 0  # settled by hand: no stage entry
    assert [e.kind for e in ledger(etc, claim, "stage")] == []
