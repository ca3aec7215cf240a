"""One writer per shop (issue 14 §2): real `mahnwerk` processes raced against each other on the same shop, each
race repeated, on SQLite and on PostgreSQL. Whoever loses a race waits for the shop's lock and then finds the work
done: every claim opened once, every credit booked once, one note per claim and stage, no traceback, no run left
`running`. A process that may not wait long enough exits 3 naming who has the shop; reading never waits."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sandbox.statements import StatementClaim, write_statement
from mahnwerk.sync.cli.main import sync as sync_command
from mahnwerk.sync.store.models import Claim, ClaimState, IncomingPaymentRow, LedgerEntry, OutboxRow, SyncRun
from tests.e2e.racing import (
    Gate,
    Mahnwerk,
    all_finished,
    assert_clean,
    assert_nothing_left_running,
    at_once,
    poll,
    read,
    running_syncs,
)
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_mirror import unpaid_invoice_ids
from tests.sync.test_payments import synced
from tests.sync.test_run import MERCHANT

# Each race is run this often, with another shop each time (MAHNWERK_RACE_ROUNDS=10 when changing the locking).
ROUNDS = [pytest.param(n, id=f"round{n}") for n in range(1, int(os.environ.get("MAHNWERK_RACE_ROUNDS", "2")) + 1)]
BUSY = re.compile(r"shop 'acme' is busy: (?P<command>[a-z ]+) by pid (?P<pid>\d+) "
                  r"since (?P<since>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")


def config(tmp_path: Path, db_url: str, shop: WooSandbox, extra: str = "") -> Path:
    return write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": shop.url, "key": shop.consumer_key,
                                                    "secret": shop.consumer_secret, "extra": extra}])


def customer_notes(shop: WooSandbox) -> Counter:
    """Per order id, how many customer notes (each one a mail to the customer) the shop holds."""
    return Counter(m["order_id"] for m in shop.mails if m["subject"].startswith("A note has been added"))


def assert_one_note_per_claim_and_stage(db_url: str, shop: WooSandbox) -> None:
    """The ledger has each (claim, stage) once, and the shop one customer note per stage sent through it."""
    stages = read(db_url, select(Claim.order_id, LedgerEntry.data).join(Claim, Claim.id == LedgerEntry.claim_id)
                  .where(LedgerEntry.kind == "stage"), scalars=False)
    per_stage = Counter((order_id, data["stage"]) for order_id, data in stages)
    assert set(per_stage.values()) <= {1}, per_stage
    through_shop = Counter(int(order_id) for order_id, data in stages if data["channel"] == "shop")
    assert customer_notes(shop) == through_shop


@pytest.mark.parametrize("round_", ROUNDS)
def test_two_syncs_at_once_open_each_claim_once(tmp_path, db_url, round_) -> None:
    """Two `sync` processes on a new database: one migrates and mirrors, the other waits and finds it done."""
    shop = WooSandbox(orders=generate_orders(60, seed=round_))
    with SandboxServer(shop) as server:
        shop.url = server.url
        etc = config(tmp_path, db_url, shop, "[sync]\npage_size = 10")
        shop.slow_next(0.1, times=8)  # the first sync holds the shop for a while: the second really waits
        started = datetime.now(UTC)
        done = all_finished(at_once(etc, ("sync", "--wait", "60"), ("sync", "--wait", "60")))
        expected = unpaid_invoice_ids(shop)
    assert_clean(*done)
    assert_nothing_left_running(db_url)
    first, second = sorted(read(db_url, select(SyncRun)), key=lambda r: r.started_at)
    assert first.finished_at is not None and second.started_at >= first.finished_at  # one after the other
    assert started < first.finished_at  # ... while both processes were there
    assert first.new == len(expected) and second.new == 0
    assert sorted(read(db_url, select(Claim.order_id))) == sorted(expected)
    opened = Counter(read(db_url, select(LedgerEntry.claim_id).where(LedgerEntry.kind == "opened")))
    assert len(opened) == len(expected) and set(opened.values()) == {1}


@pytest.mark.parametrize("round_", ROUNDS)
def test_two_runs_at_once_send_each_notice_once(tmp_path, db_url, round_) -> None:
    """Two `run` processes on a new database with overdue claims: each due reminder goes out once."""
    shop = WooSandbox(orders=generate_orders(30, seed=round_))
    with SandboxServer(shop) as server:
        shop.url = server.url
        etc = config(tmp_path, db_url, shop, RATES + MERCHANT)
        shop.slow_next(0.2, times=3)
        done = all_finished(at_once(etc, ("run", "--json", "--wait", "60"), ("run", "--json", "--wait", "60")))
        assert_clean(*done)
        summaries = [json.loads(f.out)[0] for f in done]
        assert_one_note_per_claim_and_stage(db_url, shop)
        notes = sum(customer_notes(shop).values())
    assert notes > 3 and sorted(s["sent"] for s in summaries) == [0, notes], summaries
    assert all(s["ok"] and not s["busy"] and not s["errors"] for s in summaries), summaries
    assert_nothing_left_running(db_url)
    assert {r.state for r in read(db_url, select(OutboxRow))} <= {"done", "skipped"}


def statement_claims(db_url: str) -> list[StatementClaim]:
    """The open claims in EUR as the statement generator sees them."""
    claims = read(db_url, select(Claim).where(Claim.state == ClaimState.OPEN, Claim.currency == "EUR")
                  .order_by(Claim.id))
    return [StatementClaim(c.invoice_number, c.order_number, c.open_amount, c.currency, c.customer_name, c.company,
                           c.invoice_date) for c in claims]


@pytest.mark.parametrize("round_", ROUNDS)
def test_daemon_and_two_imports_book_each_credit_once(tmp_path, db_url, round_) -> None:
    """The daemon imports a statement from its inbox and does the day's run while two `payments import` processes
    bring the same statement and another one paying the same claims: each credit is booked once, no claim is
    paid twice, and the daemon stops cleanly on SIGTERM."""
    shop = WooSandbox(orders=generate_orders(40, seed=round_))
    with SandboxServer(shop) as server:
        shop.url = server.url
        daily = MERCHANT.replace("[delivery]\n", '[delivery]\nrun_at = "00:00"\n')  # the day's run is due at once
        etc = config(tmp_path, db_url, shop, RATES + daily + '\n[payments]\ninbox = "inbox"\n')
        synced(etc)
        before = {c.id: c for c in read(db_url, select(Claim))}
        claims = statement_claims(db_url)
        today = date.today()
        first = write_statement(tmp_path / "first.xml", claims, seed=round_, start=today - timedelta(days=1),
                                days=1, noise=0)
        second = write_statement(tmp_path / "second.sta", claims, seed=round_ + 10, format="mt940",
                                 start=today - timedelta(days=1), days=1, noise=0)
        (etc / "inbox").mkdir()
        shutil.copy(first.path, etc / "inbox" / "first.xml")

        shop.on_request = gate = Gate()  # the daemon's tick waits for the shop, holding the shop's lock
        daemon = Mahnwerk(etc, "daemon")
        try:
            poll(lambda: len(read(db_url, select(SyncRun.id))) > 1 or not daemon.running(),
                 why="the daemon's first sync")
            imports = at_once(etc, ("payments", "import", str(first.path), "--json", "--wait", "60"),
                              ("payments", "import", str(second.path), "--json", "--wait", "60"))
            gate.open()
            done = all_finished(imports)
            assert daemon.running()
            daemon.proc.send_signal(signal.SIGTERM)
            stopped = daemon.finish(timeout=30)
        finally:
            gate.open()
            daemon.kill()
        assert_clean(stopped, *done)
        assert_one_note_per_claim_and_stage(db_url, shop)
    assert_nothing_left_running(db_url)
    assert (etc / "inbox" / "processed" / "first.xml").exists()  # the daemon had the shop first: it imported
    again, other = (json.loads(f.out)["files"][0] for f in done)
    assert (again["new"], again["duplicates"]) == (0, len(first.credits))  # ... and the same file again is no news
    assert (other["new"], other["duplicates"]) == (len(second.credits), 0)

    payments = read(db_url, select(IncomingPaymentRow))
    assert sorted((p.source, p.ref) for p in payments) == sorted(
        (truth.source, credit.ref) for truth in (first, second) for credit in truth.credits)
    entries = read(db_url, select(LedgerEntry).where(LedgerEntry.source == "payments"))
    bookings = [e for e in entries if e.kind == "payment"]
    shares = Counter((e.data["payment"], e.claim_id) for e in bookings)
    assert bookings and set(shares.values()) == {1}  # no payment booked twice to a claim
    for p in payments:
        booked = sum((Decimal(e.data["amount"]) for e in bookings if e.data["payment"] == p.id), Decimal(0))
        assert booked == p.amount - p.unallocated, (p.ref, p.state, p.amount, p.unallocated, booked)
    closed = Counter(e.claim_id for e in entries if e.kind == "closed")
    assert closed and set(closed.values()) == {1}  # each claim paid in full once
    principal = Counter()
    for e in bookings:
        principal[e.claim_id] += Decimal(e.data["applied"]["principal"])
    assert all(paid <= before[claim_id].open_amount for claim_id, paid in principal.items()), principal
    paid = {c.id for c in read(db_url, select(Claim).where(Claim.state == ClaimState.PAID))}
    assert paid == set(closed)


def test_a_busy_shop_names_its_holder_and_reading_never_waits(tmp_path, db_url) -> None:
    """While a `sync` holds the shop, a state-changing command that may wait 1 s (or not at all) exits 3 naming
    the holder's command, pid and since when; `claims` and `status` answer at once."""
    assert next(p for p in sync_command.params if p.name == "wait").default == 30  # the default --wait
    statement = write_statement(tmp_path / "empty.xml", [], seed=1, noise=0).path
    shop = WooSandbox(orders=generate_orders(40, seed=2))
    with SandboxServer(shop) as server:
        shop.url = server.url
        etc = config(tmp_path, db_url, shop, RATES + MERCHANT + "[sync]\npage_size = 10")
        shop.on_request = gate = Gate()
        holder = Mahnwerk(etc, "sync")
        try:
            poll(lambda: running_syncs(db_url) or not holder.running(), why="the holder's sync")
            since = datetime.now(UTC).replace(microsecond=0)
            refused = all_finished(at_once(etc, ("sync", "--wait", "1"),
                                           ("payments", "import", str(statement), "--wait", "0"),
                                           ("claims",), ("status", "--json")))
            assert holder.running() and running_syncs(db_url) == 1  # all of them ended while the shop was held
            gate.open()
            held = holder.finish()
        finally:
            gate.open()
            holder.kill()
    assert_clean(held)
    assert_clean(*refused[:2], codes=(3,))
    for f in refused[:2]:
        found = BUSY.search(f.err)
        assert found, str(f)
        assert found["command"] == "sync" and int(found["pid"]) == holder.pid, str(f)
        moment = datetime.strptime(found["since"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert since - timedelta(seconds=60) <= moment <= since, str(f)
    assert_clean(*refused[2:])
    assert json.loads(refused[3].out)[0]["last_sync_outcome"] == "running"
    assert_nothing_left_running(db_url)
