"""`mahnwerk run` end to end: the sandbox shop over HTTP, a real database (SQLite and PostgreSQL), the executor
in-process with a simulated calendar. What the customer got is read back from the sandbox's notes and mails."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.outbox.decide import decide_shop
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.running import run_shops
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry, OutboxRow, OutboxState, Task
from tests.support import write_config
from tests.sync.test_casework_cli import RATES

MERCHANT = """
[merchant]
name = "Gartenglück GmbH"
street = "Hauptstraße 1"
postcode = "10115"
city = "Berlin"
email = "buchhaltung@gartenglueck.test"
phone = "+49 30 1234567"
iban = "DE14 3704 0044 1234 5678 90"
bic = "COBADEFFXXX"
bank_name = "Commerzbank"

[delivery]
messages_per_minute = 600
max_attempts = 3
retry_after = "10s"

[agency]
name = "Beispiel Inkasso GmbH"
address = "Musterweg 1, 10115 Berlin"
folder = "exports"

[letters]
folder = "letters"

[http]
max_attempts = 2
max_backoff = "1s"
"""
NOW = datetime.now(UTC)
TODAY = NOW.astimezone(ZoneInfo("Europe/Berlin")).date()  # the shops' day (tests/support.py: Europe/Berlin)


@pytest.fixture
def etc(tmp_path: Path, woo, db_url: str) -> Path:
    return write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                    "secret": woo.consumer_secret, "extra": RATES + MERCHANT}])


def run_at(etc: Path, days: int = 0, **options):
    """One `run` of every shop as if it were `days` from now."""
    config = load_config(etc)
    store = open_store(config)
    try:
        return run_shops(store, config, config.shops, now=lambda: NOW + timedelta(days=days),
                         sleep=lambda s: None, **options)
    finally:
        store.close()


def query(etc: Path, statement):
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            return session.execute(statement).scalars().all()
    finally:
        store.close()


def sync_and_decide(etc: Path):
    """Sync and write today's outbox rows, without executing them: the moment between plan and send."""
    config = load_config(etc)
    store = open_store(config)
    try:
        sync_one(store, config.shops[0])
        return decide_shop(store, config.shops[0], shop_today(config.shops[0], NOW), now=NOW)
    finally:
        store.close()


def customer_notes(woo) -> list[tuple[int, dict]]:
    """(order id, mail) of every customer-note mail the sandbox shop sent."""
    return [(mail["order_id"], mail) for mail in woo.mails if mail["subject"].startswith("A note has been added")]


def test_run_sends_each_due_reminder_once_through_the_shop(etc: Path, woo) -> None:
    [result] = run_at(etc)
    outcome = result.outcome
    assert result.ok and outcome.sent > 0 and outcome.dead == 0, result.as_dict()
    mails = customer_notes(woo)
    assert len(mails) == outcome.sent
    assert len({m["order_id"] for _, m in mails}) == len(mails)  # one per claim
    stages = query(etc, select(LedgerEntry).where(LedgerEntry.kind == "stage"))
    assert len(stages) == outcome.sent and all(e.data["stage"] == "reminder" and e.data["key"] for e in stages)
    claim = query(etc, select(Claim).where(Claim.id == stages[0].claim_id))[0]
    order = woo.order(int(claim.order_id))
    meta = {m["key"]: m["value"] for m in order["meta_data"]}
    assert meta["_mahnwerk_last_action"] == stages[0].data["key"] and meta["_mahnwerk_stage"] == "reminder"
    assert meta["_mahnwerk_next_action"] == "dunning_1" and meta["_mahnwerk_next_date"]
    mail = next(m for oid, m in mails if oid == int(claim.order_id))
    assert mail["to"] == claim.email
    assert claim.invoice_number in mail["body"] and "DE14 3704 0044 1234 5678 90" in mail["body"]
    private = [n for n in woo.notes.of(order) if not n["customer_note"] and "Mahnwerk" in n["note"]]
    assert len(private) == 1 and stages[0].data["key"] in private[0]["note"]

    [again] = run_at(etc)  # the same day: nothing new
    assert again.outcome.sent == 0 and again.decided == 0 and len(customer_notes(woo)) == len(mails)


def test_run_tells_its_progress_row_by_row(etc: Path, woo) -> None:
    """The progress callback hears (rows done, rows due) after every outbox row: what the demo's bar shows."""
    heard: list[tuple[int, int]] = []
    [result] = run_at(etc, progress=lambda done, due: heard.append((done, due)))
    rows = result.decided  # the first run: every row due is one decided today
    assert rows > 0 and heard == [(done, rows) for done in range(1, rows + 1)], (heard, result.as_dict())


def test_a_claim_paid_after_the_decision_gets_nothing_and_is_closed(etc: Path, woo) -> None:
    decided = sync_and_decide(etc)
    first = decided.new[0]
    claim = query(etc, select(Claim).where(Claim.id == first["claim_id"]))[0]
    woo.update_order(int(claim.order_id), status="processing")  # paid in the shop, after the decision
    [result] = run_at(etc, sync=False)
    assert result.outcome.skipped_paid == 1
    assert int(claim.order_id) not in {oid for oid, _ in customer_notes(woo)}
    assert query(etc, select(Claim.state).where(Claim.id == claim.id)) == [ClaimState.PAID]
    row = query(etc, select(OutboxRow).where(OutboxRow.claim_id == claim.id))[0]
    assert row.state == OutboxState.SKIPPED and "paid" in row.last_error


def test_a_customer_without_email_gets_a_letter_and_a_task(etc: Path, woo, capsys) -> None:
    decided = sync_and_decide(etc)
    claim = query(etc, select(Claim).where(Claim.id == decided.new[0]["claim_id"]))[0]
    billing = dict(woo.order(int(claim.order_id))["billing"], email="")
    woo.update_order(int(claim.order_id), billing=billing)
    [result] = run_at(etc, sync=False)
    assert result.outcome.letters == 1 and result.outcome.tasks == 1
    task = query(etc, select(Task).where(Task.claim_id == claim.id))[0]
    path = Path(task.text.rsplit(": ", 1)[1])
    assert task.kind == "get_email" and path.is_file() and path.stat().st_mode & 0o777 == 0o600
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    assert claim.invoice_number in text and "DE14 3704 0044 1234 5678 90" in text and "Zahlungserinnerung" in text
    assert int(claim.order_id) not in {oid for oid, _ in customer_notes(woo)}
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "tasks", "--json"]) == 0
    listed = [t for t in json.loads(capsys.readouterr().out) if t["action"] == "get_email"]
    assert [t["claim"] for t in listed] == [f"acme:{claim.order_number}"] and str(path) in listed[0]["reason"]
    assert main(["--config-dir", str(etc), "tasks", "done", f"acme:{claim.order_number}", "--by", "alice"]) == 0
    assert query(etc, select(Task.done_by).where(Task.claim_id == claim.id)) == ["alice"]


def test_the_ladder_climbs_one_stage_at_a_time_to_the_agency(etc: Path, woo) -> None:
    seen: list[str] = []
    for days in range(0, 120, 3):
        for result in run_at(etc, days):
            assert result.ok, result.as_dict()
    stages = query(etc, select(LedgerEntry).where(LedgerEntry.kind == "stage").order_by(LedgerEntry.id))
    by_claim: dict[int, list[str]] = {}
    for entry in stages:
        by_claim.setdefault(entry.claim_id, []).append(entry.data["stage"])
    ladder = ["reminder", "dunning_1", "dunning_2", "final_notice", "agency"]
    assert any(seq == ladder for seq in by_claim.values()), by_claim
    for seq in by_claim.values():
        assert seq == ladder[:len(seq)]  # never a stage twice, never out of order
        seen += seq
    in_collection = query(etc, select(Claim).where(Claim.state == ClaimState.IN_COLLECTION))
    assert in_collection
    manifests = sorted((etc / "exports").glob("*.manifest.json"))
    assert manifests
    exported = {key for m in manifests for key in json.loads(m.read_text())["claims"]}
    assert {f"acme:{c.order_number}" for c in in_collection} <= exported
    letters = sorted((etc / "letters").rglob("*.pdf"))
    assert letters and any("dunning_2" in p.name for p in letters)

    # a payment the shop sees after the hand-over goes to the agency in the next export, and into the ledger
    paid = in_collection[0]
    woo.update_order(int(paid.order_id), status="completed")
    [result] = run_at(etc, 121)
    assert result.ok
    reported = query(etc, select(LedgerEntry).where(LedgerEntry.claim_id == paid.id,
                                                    LedgerEntry.kind == "agency_reported"))
    assert len(reported) == 1 and reported[0].data["update"] == "payment"
    newest = max((etc / "exports").glob("*.manifest.json"), key=lambda p: p.stat().st_mtime)
    manifest = json.loads(newest.read_text())
    assert f"acme:{paid.order_number}" in manifest["claims"] and manifest["counts"]["payment"] >= 1


def test_a_shop_that_keeps_failing_dead_letters_the_row(etc: Path, woo, capsys) -> None:
    woo.fail_next(500, times=1000, path_contains="/notes", retry_after=None)
    for days in (0, 1, 2, 3):  # the backoff has passed by each next day
        run_at(etc, days)
    dead = query(etc, select(OutboxRow).where(OutboxRow.state == OutboxState.DEAD))
    assert dead and all("500" in row.last_error or "gave up" in row.last_error for row in dead)
    assert customer_notes(woo) == []
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "status", "--json"]) == 0
    [status] = json.loads(capsys.readouterr().out)
    assert status["outbox"]["dead"] == len(dead) and status["dead_letters"][0]["error"]


def test_dry_run_changes_nothing(etc: Path, woo, capsys) -> None:
    assert main(["--config-dir", str(etc), "sync"]) == 0
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "run", "--dry-run", "--json"]) == 0
    [summary] = json.loads(capsys.readouterr().out)
    assert summary["would"] and all(w["state"] == "new" for w in summary["would"])
    assert query(etc, select(OutboxRow)) == [] and customer_notes(woo) == []


def test_run_refuses_to_send_without_the_merchants_details(tmp_path: Path, woo, db_url: str) -> None:
    etc = write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                   "secret": woo.consumer_secret, "extra": RATES}])
    [result] = run_at(etc)
    assert not result.ok and "[merchant]" in " ".join(result.as_dict()["errors"])
    assert customer_notes(woo) == []
