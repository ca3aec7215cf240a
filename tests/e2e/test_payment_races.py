"""Money is booked once, raced (issue "Money is booked once", point 8): real `mahnwerk payments` processes on the
same shop at once, each race repeated, on SQLite and on PostgreSQL. Whoever loses waits for the shop's lock and
finds the work done: no payment booked twice, each claim closed once with one "paid in full" note, a second payment
for a claim is a credit for a person, nothing negative, no traceback."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sync.config import load_config
from mahnwerk.sync.payments.intake import import_payments
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.models import Claim, ClaimState, IncomingPaymentRow, LedgerEntry, OutboxRow, PaymentState
from tests.e2e.racing import all_finished, assert_clean, at_once, read
from tests.e2e.test_races import ROUNDS, config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_memory_kind import camt
from tests.sync.test_payments import NOW, credit, synced
from tests.sync.test_run import MERCHANT

ALREADY_PAID = "already paid: refund or assign"
CLAIMS = 6  # claims each race pays: enough to interleave, few enough to stay quick


def open_eur_claims(etc: Path) -> list[Claim]:
    return [c for c in synced(etc) if c.currency == "EUR"][:CLAIMS]


def paying(claim: Claim) -> str:
    """More than the claim owes (its open amount, and whatever interest and flat fee it has run up since it fell
    due): it closes, with a credit."""
    return str(2 * claim.open_amount + Decimal("50.00"))


def import_command(path: Path) -> tuple[str, ...]:
    return "payments", "import", str(path), "--json", "--wait", "60"


def assert_booked_once(db_url: str) -> tuple[list[IncomingPaymentRow], list[LedgerEntry]]:
    """No payment booked twice to a claim, none booked beyond its amount, every booked amount accounted for on the
    payment row, no payment `matched` with nothing booked, each claim closed at most once and the shop told so at
    most once."""
    payments = read(db_url, select(IncomingPaymentRow))
    entries = read(db_url, select(LedgerEntry).where(LedgerEntry.source == "payments"))
    bookings = [e for e in entries if e.kind == "payment"]
    assert set(Counter((e.data["payment"], e.claim_id) for e in bookings).values()) <= {1}
    for p in payments:
        booked = sum((Decimal(e.data["amount"]) for e in bookings if e.data["payment"] == p.id), Decimal(0))
        assert p.unallocated >= 0 and booked == p.amount - p.unallocated, (p.ref, p.state, p.unallocated, booked)
        assert p.state != PaymentState.MATCHED or (booked > 0 and p.unallocated == 0), (p.ref, p.reason)
    assert set(Counter(e.claim_id for e in entries if e.kind == "closed").values()) <= {1}
    paid_notes = Counter(read(db_url, select(OutboxRow.claim_id).where(OutboxRow.kind == "writeback",
                                                                       OutboxRow.stage == "paid")))
    assert set(paid_notes.values()) <= {1}, paid_notes
    return payments, bookings


@pytest.mark.parametrize("round_", ROUNDS)
def test_two_imports_paying_the_same_claims_close_each_once(tmp_path, db_url, round_) -> None:
    """Two `payments import` of different statements, each paying the same claims: each claim is closed once by
    one of them; the other's payment is a credit in review naming the claim, its whole amount unallocated."""
    shop = WooSandbox(orders=generate_orders(30, seed=round_))
    with SandboxServer(shop) as server:
        shop.url = server.url
        etc = config(tmp_path, db_url, shop, RATES + MERCHANT)
        claims = open_eur_claims(etc)
        first = camt(tmp_path / "first.xml", *[(f"A{round_}-{n}", paying(c), f"Rechnung {c.invoice_number}")
                                              for n, c in enumerate(claims)])
        second = camt(tmp_path / "second.xml", *[(f"B{round_}-{n}", paying(c), f"RE {c.invoice_number} Danke")
                                                for n, c in enumerate(claims)])
        done = all_finished(at_once(etc, import_command(first), import_command(second)))
    assert_clean(*done)
    summaries = [json.loads(f.out) for f in done]
    assert sum(s["closed"] for s in summaries) == len(claims) == sum(s["review"] for s in summaries), summaries

    payments, bookings = assert_booked_once(db_url)
    by_ref = {p.ref: p for p in payments}
    closed = {c.id: c for c in read(db_url, select(Claim).where(Claim.state == ClaimState.PAID))}
    for n, claim in enumerate(claims):
        assert claim.id in closed
        pair = [by_ref[f"A{round_}-{n}"], by_ref[f"B{round_}-{n}"]]
        [booked] = [p for p in pair if p.state == PaymentState.MATCHED]
        [credit_] = [p for p in pair if p is not booked]
        assert [e.data["payment"] for e in bookings if e.claim_id == claim.id] == [booked.id]
        assert credit_.state == PaymentState.REVIEW and credit_.unallocated == credit_.amount
        assert claim.invoice_number in credit_.reason and ALREADY_PAID in credit_.reason, credit_.reason


@pytest.mark.parametrize("round_", ROUNDS)
def test_two_imports_rematching_the_queue_book_each_payment_once(tmp_path, db_url, round_) -> None:
    """Payments wait in the queue (stored, not matched yet): whole, in parts, twice for one claim. Two imports
    match that queue again at once, while a person assigns one of its payments: each payment is booked once,
    its rest never negative; whoever comes second finds it decided and says so."""
    shop = WooSandbox(orders=generate_orders(30, seed=round_))
    with SandboxServer(shop) as server:
        shop.url = server.url
        etc = config(tmp_path, db_url, shop, RATES + MERCHANT)
        claims = open_eur_claims(etc)
        queue = [credit(f"Q{n}", paying(c), f"Rechnung {c.invoice_number}") for n, c in enumerate(claims[:3])]
        queue += [credit(f"T{k}", "5.00", f"Rate {k} Rechnung {claims[3].invoice_number}") for k in (1, 2)]
        queue += [credit("D0", paying(claims[0]), f"Rechnung {claims[0].invoice_number} nochmal")]
        cfg = load_config(etc)
        store = open_store(cfg)
        try:  # stored only: matching is what the racers do
            import_payments(store, cfg.shops[0], queue, origin="queue.xml", now=NOW)
        finally:
            store.close()
        [assigned] = read(db_url, select(IncomingPaymentRow.id).where(IncomingPaymentRow.ref == "Q1"))
        first = camt(tmp_path / "first.xml", (f"F{round_}", paying(claims[4]), f"Rechnung {claims[4].invoice_number}"))
        second = camt(tmp_path / "second.xml", (f"S{round_}", paying(claims[4]), f"RE {claims[4].invoice_number}"))
        done = all_finished(at_once(etc, import_command(first), import_command(second),
                                    ("payments", "assign", str(assigned), f"acme:{claims[1].order_number}",
                                     "--wait", "60")))
    assert_clean(*done[:2])
    assert_clean(done[2], codes=(0, 2))  # 2: an import booked it first
    assert done[2].code == 0 or "not waiting" in done[2].err, str(done[2])

    payments, bookings = assert_booked_once(db_url)
    by_ref = {p.ref: p for p in payments}
    assert all(by_ref[f"Q{n}"].state == PaymentState.MATCHED for n in range(3))
    assert [by_ref[f"T{k}"].state for k in (1, 2)] == [PaymentState.MATCHED] * 2  # two parts, two bookings
    assert by_ref["D0"].state == PaymentState.REVIEW and ALREADY_PAID in by_ref["D0"].reason
    assert sorted(p.state for p in (by_ref[f"F{round_}"], by_ref[f"S{round_}"])) == [PaymentState.MATCHED,
                                                                                      PaymentState.REVIEW]
    parts = read(db_url, select(OutboxRow.key).where(OutboxRow.claim_id == claims[3].id))
    assert len(parts) == 2 and len(bookings) == 6, (parts, len(bookings))
