"""Proof of neutrality (issue 14): a shop kind that lives only in the tests (tests/memoryshop.py) runs the whole
flow through the code paths the WooCommerce kind uses: the command line in-process (or the functions it calls, where
the test needs its own clock), a real database (SQLite and PostgreSQL), and the memory shop holding what the customers
got, what the merchant sees on each order, and what it was told of payments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from mahnwerk.connectors.records import LineItem, Progress
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.running import RunResult, run_shops
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry, OutboxRow, OutboxState, Quarantine, Task
from tests.memoryshop import MemoryShop, invoice_order, memory_kind, open_shop
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT

URL = "https://mem.shop.test"
TOKEN = "t0k3n-of-the-memory-shop"
SHOP_TOML = """\
[shop]
id = "mem"
kind = "memory"
url = "{url}"
timezone = "Europe/Berlin"

[shop.auth]
token = "{token}"

[invoice]
payment_term_days = 14
{extra}
"""
IBAN = "DE14370400441234567890"  # MERCHANT's account


def orders() -> list[Any]:
    """Three open invoice orders (two overdue, one fresh) and four that owe nothing on invoice."""
    return [
        invoice_order("1", days_ago=30, total="119.00"),
        invoice_order("2", days_ago=28, total="59.90", first_name="Jürgen", last_name="Groß"),
        invoice_order("3", days_ago=3, total="240.00", company="Blumen Berger GmbH"),
        invoice_order("4", days_ago=20, total="80.00", status="paid"),
        invoice_order("5", days_ago=25, total="99.00", method="card"),
        invoice_order("6", days_ago=26, total="45.00", deleted=True),
        invoice_order("7", days_ago=27, total="12.00", status="cancelled"),
    ]


@pytest.fixture
def shop() -> Iterator[MemoryShop]:
    with memory_kind():
        yield open_shop(URL, token=TOKEN, orders=orders())


def write_etc(folder: Path, db_url: str, *, extra: str = "", token: str = TOKEN) -> Path:
    """A config folder with one shop of kind "memory" (invoice methods and statuses: the kind's defaults)."""
    (folder / "shops").mkdir(parents=True, exist_ok=True)
    (folder / "mahnwerk.toml").write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    (folder / "shops" / "mem.toml").write_text(SHOP_TOML.format(url=URL, token=token, extra=RATES + MERCHANT + extra),
                                               encoding="utf-8")
    return folder


@pytest.fixture
def etc(tmp_path: Path, shop: MemoryShop, db_url: str) -> Path:
    return write_etc(tmp_path / "etc", db_url)


def cli(etc: Path, capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> Any:
    """`mahnwerk --config-dir etc ARGS` in-process; its JSON output when it printed some, else the text."""
    capsys.readouterr()
    assert main(["--config-dir", str(etc), *args]) == code, capsys.readouterr()
    out = capsys.readouterr().out
    return json.loads(out) if "--json" in args else out


def run(etc: Path, later: timedelta = timedelta(0)) -> RunResult:
    """What `mahnwerk run` calls, `later` from now (so that a retry's backoff has passed)."""
    config = load_config(etc)
    store = open_store(config)
    try:
        [result] = run_shops(store, config, config.shops, now=lambda: datetime.now(UTC) + later,
                             sleep=lambda seconds: None)
        return result
    finally:
        store.close()


def query(etc: Path, statement: Any) -> list[Any]:
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            return list(session.execute(statement).scalars().all())
    finally:
        store.close()


def claim_of(etc: Path, order_id: str) -> Claim:
    [claim] = query(etc, select(Claim).where(col(Claim.shop_id) == "mem", col(Claim.order_id) == order_id))
    assert isinstance(claim, Claim)
    return claim


def rows_of(etc: Path, order_id: str, kind: str = "send") -> list[OutboxRow]:
    claim = claim_of(etc, order_id)
    return query(etc, select(OutboxRow).where(col(OutboxRow.claim_id) == claim.id, col(OutboxRow.kind) == kind)
                 .order_by(col(OutboxRow.id)))


def stages_of(etc: Path, order_id: str) -> list[dict[str, Any]]:
    claim = claim_of(etc, order_id)
    return [e.data for e in query(etc, select(LedgerEntry).where(
        col(LedgerEntry.claim_id) == claim.id, col(LedgerEntry.kind) == "stage").order_by(col(LedgerEntry.id)))]


def camt(path: Path, *credits: tuple[str, str, str]) -> Path:
    """A camt.053 statement of today with one booked credit per (bank reference, amount, remittance text)."""
    today = date.today().isoformat()
    entries = [
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>{today}</Dt></BookgDt><ValDt><Dt>{today}</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        "<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><RltdPties><Dbtr><Nm>Erika Mustermann"
        "</Nm></Dbtr><DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct></RltdPties>"
        f"<RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>" for ref, amount, text in credits]
    path.write_text("\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
        f"<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>{today}T06:00:00</CreDtTm></GrpHdr>",
        f"<Stmt><Id>{today}-001</Id><Acct><Id><IBAN>{IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>",
        *entries,
        "</Stmt></BkToCstmrStmt></Document>", ""]), encoding="utf-8")
    return path


# --- sync ----------------------------------------------------------------------------------------------------------


def test_check_probes_the_memory_shop_through_the_registry(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [verdict] = cli(etc, capsys, "check", "--json")
    assert verdict["ok"] and verdict["authenticated"] and verdict["invoice_methods"] == {"invoice": True}


def test_a_refused_token_fails_that_shop_with_the_kinds_hint(tmp_path: Path, shop: MemoryShop, db_url: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    etc = write_etc(tmp_path / "etc", db_url, token="wrong")
    [summary] = cli(etc, capsys, "sync", "--json", code=1)
    assert not summary["ok"] and "401" in summary["error"] and "check token in [shop.auth]" in summary["error"]
    assert "wrong" not in summary["error"]
    [verdict] = cli(etc, capsys, "check", "--json", code=1)
    assert not verdict["authenticated"] and "check token in [shop.auth]" in verdict["problem"]
    assert cli(etc, capsys, "claims", "--json") == [] and shop.messages == []


def test_sync_mirrors_the_open_invoice_orders_and_follows_the_shop(etc: Path, shop: MemoryShop,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    [summary] = cli(etc, capsys, "sync", "--json")
    assert summary["ok"] and (summary["new"], summary["updated"], summary["closed"]) == (3, 0, 0), summary
    assert summary["orders_seen"] == 7 and summary["requests"] >= 1 and summary["quarantined"] == 0
    claims = {c["order_id"]: c for c in cli(etc, capsys, "claims", "--json")}
    assert set(claims) == {"1", "2", "3"}  # not paid (4), card (5), in the bin (6), cancelled (7)
    first = claims["1"]
    assert (first["order_number"], first["open_amount"], first["currency"], first["state"]) == \
        ("M-1", "119.00", "EUR", "open")
    ordered = shop.orders["1"].created_at.astimezone(load_config(etc).shops[0].timezone).date()
    assert first["due_date"] == (ordered + timedelta(days=14)).isoformat() and first["days_overdue"] == 16
    stored = claim_of(etc, "3")
    # A company name without a VAT id is no business under the default business_when = ["vat_id"].
    assert stored.invoice_number == "RE-2026-00003" and not stored.is_b2b and stored.email == "customer3@example.org"
    assert claim_of(etc, "2").customer_name == "Jürgen Groß"

    [again] = cli(etc, capsys, "sync", "--json")  # nothing changed: nothing written
    assert (again["new"], again["updated"], again["closed"]) == (0, 0, 0)

    shop.update("1", refunded=Decimal("19.00"))  # a part refund: less is owed
    shop.update("2", status="paid")  # paid in the shop
    shop.trash("3")  # into the bin
    shop.update("5", status="cancelled")  # never a claim: stays none
    shop.add(invoice_order("8", days_ago=1, total="35.00"))
    shop.add_broken("9", field_name="total", message="not a number: 'x'")
    [second] = cli(etc, capsys, "sync", "--json")
    assert (second["new"], second["updated"], second["closed"], second["quarantined"]) == (1, 3, 2, 1), second
    assert {c["order_id"]: c["open_amount"] for c in cli(etc, capsys, "claims", "--json")} == \
        {"1": "100.00", "8": "35.00"}
    every = {c["order_id"]: c["state"] for c in cli(etc, capsys, "claims", "--state", "all", "--json")}
    assert every == {"1": "open", "2": ClaimState.PAID, "3": ClaimState.TRASHED, "8": "open"}
    [bad] = query(etc, select(Quarantine))
    assert (bad.record_id, bad.field, bad.resolved_at) == ("9", "total", None)

    shop.remove("8")  # gone for good: only a re-read by id notices
    [third] = cli(etc, capsys, "sync", "--json")
    assert third["closed"] == 0
    [reread] = cli(etc, capsys, "sync", "--reread", "--json")
    assert reread["reread"] is True and reread["closed"] == 1, reread
    assert claim_of(etc, "8").state == ClaimState.DELETED and claim_of(etc, "1").state == ClaimState.OPEN


def test_an_order_the_shop_calls_part_paid_asks_a_person_for_the_amount_once(
        etc: Path, shop: MemoryShop, capsys: pytest.CaptureFixture[str]) -> None:
    cli(etc, capsys, "sync")
    shop.update("1", part_paid=True, status="partly_paid")
    shop.update("2", part_paid=True, status="partly_paid")
    cli(etc, capsys, "sync")
    cli(etc, capsys, "sync", "--reread")  # seen again: still one task each
    tasks = query(etc, select(Task).order_by(col(Task.id)))
    assert [(t.claim_id, t.kind) for t in tasks] == [(claim_of(etc, "1").id, "confirm_amount"),
                                                     (claim_of(etc, "2").id, "confirm_amount")]
    assert "mahnwerk mark-paid mem:M-1 --amount X" in tasks[0].text
    assert claim_of(etc, "1").state == ClaimState.OPEN and claim_of(etc, "1").open_amount == Decimal("119.00")
    listed = cli(etc, capsys, "tasks", "--json")
    assert {(t["claim"], t["action"]) for t in listed} >= {("mem:M-1", "confirm_amount"), ("mem:M-2", "confirm_amount")}

    cli(etc, capsys, "mark-paid", "mem:M-1", "--amount", "50")
    cli(etc, capsys, "tasks", "done", "mem:M-1")
    shop.update("1", status="partly_paid", total=Decimal("119.00"))
    cli(etc, capsys, "sync", "--reread")  # a payment is booked here now: no new task
    assert [t.claim_id for t in query(etc, select(Task).where(col(Task.done_at).is_(None)))] == \
        [claim_of(etc, "2").id]


# --- plan and run --------------------------------------------------------------------------------------------------


def test_plan_shows_the_due_reminders_and_sends_nothing(etc: Path, shop: MemoryShop,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    cli(etc, capsys, "sync")
    rows = {r["order_id"]: r for r in cli(etc, capsys, "plan", "--json")}
    assert set(rows) == {"1", "2", "3"}
    for order_id in ("1", "2"):
        assert (rows[order_id]["action"], rows[order_id]["status"], rows[order_id]["fee"]) == ("reminder", "due",
                                                                                               "0.00")
        assert rows[order_id]["claim"] == f"mem:M-{order_id}"
    assert rows["3"]["status"] == "waiting" and rows["3"]["action"] == "reminder"
    assert date.fromisoformat(rows["3"]["due_on"]) > date.today()
    assert {r["order_id"] for r in cli(etc, capsys, "plan", "--due", "--json")} == {"1", "2"}
    [dry] = cli(etc, capsys, "run", "--dry-run", "--json")
    assert sorted((w["claim"], w["stage"], w["channel"], w["state"]) for w in dry["would"]) == [
        ("mem:M-1", "reminder", "shop", "new"), ("mem:M-2", "reminder", "shop", "new")]
    assert shop.messages == [] and shop.calls["send_message"] == 0 and query(etc, select(OutboxRow)) == []


def test_run_sends_each_due_notice_once_and_records_it_on_the_order(etc: Path, shop: MemoryShop,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    [summary] = cli(etc, capsys, "run", "--json")
    assert summary["ok"] and (summary["decided"], summary["sent"], summary["dead"]) == (2, 2, 0), summary
    assert sorted(m.order_id for m in shop.messages) == ["1", "2"]
    for order_id in ("1", "2"):
        [sent] = shop.messages_to(order_id)
        [row] = rows_of(etc, order_id)
        claim = claim_of(etc, order_id)
        assert row.state == OutboxState.DONE and row.reference == sent.reference and sent.message.key == row.key
        assert sent.message.to == claim.email == f"customer{order_id}@example.org"
        assert sent.message.to_name == claim.customer_name and sent.message.language == "de"
        assert claim.invoice_number in sent.message.text and "DE14 3704 0044 1234 5678 90" in sent.message.text
        assert sent.message.subject and sent.message.html
        progress = shop.progress[order_id]
        assert (progress.stage, progress.next_action, progress.marker) == ("reminder", "dunning_1", row.key)
        assert progress.next_on is not None and progress.next_on > date.today()
        assert shop.orders[order_id].marker == row.key  # read back as ShopOrder.marker after a crash
        [note] = shop.notes_of(order_id)
        assert row.key in note and "reminder sent" in note
        [stage] = stages_of(etc, order_id)
        assert (stage["stage"], stage["key"], stage["reference"], stage["channel"]) == ("reminder", row.key,
                                                                                         sent.reference, "shop")

    [again] = cli(etc, capsys, "run", "--json")  # the same day: nothing new, nothing twice
    assert again["ok"] and (again["decided"], again["sent"], again["recovered"]) == (0, 0, 0), again
    assert len(shop.messages) == 2 and shop.calls["send_message"] == 2 and len(shop.notes) == 2
    [status] = cli(etc, capsys, "status", "--json")
    assert status["outbox"]["done"] == 2 and status["open_claims"] == 3 and status["dead_letters"] == []


# --- exactly once ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("finds_by", ["key", "text"])
def test_a_message_that_arrived_before_the_answer_was_lost_is_found_not_sent_again(
        etc: Path, shop: MemoryShop, finds_by: str) -> None:
    shop.finds_by = finds_by  # type: ignore[assignment]
    shop.fail_next("send_message", after=True, order_id="1")
    first = run(etc)
    assert first.outcome is not None
    assert (first.outcome.sent, first.outcome.retrying, first.outcome.dead) == (1, 1, 0), first.as_dict()
    [arrived] = shop.messages_to("1")  # the customer has it; Mahnwerk does not know yet
    [row] = rows_of(etc, "1")
    assert (row.state, row.reference) == (OutboxState.SENDING, "") and "answer was lost" in row.last_error
    assert stages_of(etc, "1") == [] and "1" not in shop.progress

    second = run(etc, later=timedelta(hours=1))
    assert second.outcome is not None
    assert (second.outcome.sent, second.outcome.recovered, second.outcome.dead) == (0, 1, 0), second.as_dict()
    assert shop.messages_to("1") == [arrived] and shop.calls["send_message"] == 2 and shop.calls["find_message"] == 1
    [row] = rows_of(etc, "1")
    assert (row.state, row.reference) == (OutboxState.DONE, arrived.reference)
    assert shop.progress["1"].marker == row.key and len(shop.notes_of("1")) == 1
    assert [(s["stage"], s["reference"]) for s in stages_of(etc, "1")] == [("reminder", arrived.reference)]
    third = run(etc, later=timedelta(hours=2))
    assert third.outcome is not None and third.outcome.sent + third.outcome.recovered == 0
    assert len(shop.messages) == 2


def test_a_send_that_surely_failed_is_sent_once_on_the_retry(etc: Path, shop: MemoryShop) -> None:
    shop.fail_next("send_message", order_id="1")  # refused before the shop stored it
    first = run(etc)
    assert first.outcome is not None and (first.outcome.sent, first.outcome.retrying) == (1, 1)
    assert shop.messages_to("1") == []
    [row] = rows_of(etc, "1")
    assert row.state == OutboxState.SENDING and row.attempts == 1 and row.next_attempt_at is not None

    early = run(etc)  # the backoff has not passed: the row waits
    assert early.outcome is not None and early.outcome.sent == 0 and shop.messages_to("1") == []

    retry = run(etc, later=timedelta(hours=1))
    assert retry.outcome is not None and (retry.outcome.sent, retry.outcome.recovered) == (1, 0), retry.as_dict()
    [sent] = shop.messages_to("1")  # once: asked first (nothing there), then sent
    assert shop.calls["find_message"] == 1 and shop.calls["send_message"] == 3
    [row] = rows_of(etc, "1")
    assert (row.state, row.reference, row.attempts) == (OutboxState.DONE, sent.reference, 2)
    assert [s["reference"] for s in stages_of(etc, "1")] == [sent.reference]


def test_when_the_shop_cannot_tell_a_person_decides_and_nothing_is_sent_twice(
        etc: Path, shop: MemoryShop, capsys: pytest.CaptureFixture[str]) -> None:
    shop.finds_by = "nothing"  # the shop keeps no readable log: find_message answers UNKNOWN
    shop.fail_next("send_message", after=True, order_id="1")
    run(etc)
    later = run(etc, later=timedelta(hours=1))
    assert later.outcome is not None and (later.outcome.dead, later.outcome.sent) == (1, 0), later.as_dict()
    assert len(shop.messages_to("1")) == 1 and shop.calls["send_message"] == 2
    [row] = rows_of(etc, "1")
    assert row.state == OutboxState.DEAD and "cannot tell whether it went out" in row.last_error
    assert f"mahnwerk outbox done {row.id}" in row.last_error
    [status] = cli(etc, capsys, "status", "--json")
    assert [d["id"] for d in status["dead_letters"]] == [row.id]
    for hours in (2, 30):  # dead letters wait for the person, however often `run` comes by
        again = run(etc, later=timedelta(hours=hours))
        assert again.outcome is not None and again.outcome.sent == 0
    assert len(shop.messages_to("1")) == 1

    cli(etc, capsys, "outbox", "done", str(row.id), "--by", "anna", "--note", "the customer confirmed it")
    [stage] = stages_of(etc, "1")
    assert stage["stage"] == "reminder" and stage["key"] == row.key
    after = run(etc, later=timedelta(hours=31))
    assert after.outcome is not None and after.outcome.sent == 0 and len(shop.messages_to("1")) == 1
    plan = {r["order_id"]: r for r in cli(etc, capsys, "plan", "--json")}
    assert plan["1"]["action"] == "dunning_1"  # the ladder goes on from the stage the person recorded


def test_a_delivered_message_whose_record_failed_is_recorded_once_later(etc: Path, shop: MemoryShop) -> None:
    shop.fail_next("record_progress", order_id="1")
    first = run(etc)
    assert first.outcome is not None  # both messages went out; the shop's record of one must be tried again
    assert (first.outcome.sent, first.outcome.retrying, first.outcome.dead) == (2, 1, 0), first.as_dict()
    [sent] = shop.messages_to("1")
    [row] = rows_of(etc, "1")
    assert (row.state, row.reference) == (OutboxState.SENDING, sent.reference)
    assert "the shop's record failed" in row.last_error and len(shop.notes_of("1")) == 1

    second = run(etc, later=timedelta(hours=1))
    assert second.outcome is not None and second.outcome.recovered == 1, second.as_dict()
    assert shop.messages_to("1") == [sent] and shop.calls["find_message"] == 0
    assert len(shop.notes_of("1")) == 1  # the note of the first attempt is found by its key, not written again
    assert shop.progress["1"] == Progress("reminder", "dunning_1", shop.progress["1"].next_on, row.key)
    assert [s["reference"] for s in stages_of(etc, "1")] == [sent.reference]


def test_a_marker_that_reached_the_shop_finishes_the_row_without_asking(etc: Path, shop: MemoryShop) -> None:
    shop.fail_next("record_progress", after=True, order_id="1")  # the marker is on the order; the answer lost
    run(etc)
    [row] = rows_of(etc, "1")
    assert row.state == OutboxState.SENDING and shop.orders["1"].marker == row.key
    second = run(etc, later=timedelta(hours=1))
    assert second.outcome is not None and second.outcome.recovered == 1, second.as_dict()
    assert len(shop.messages_to("1")) == 1 and shop.calls["find_message"] == 0 and len(shop.notes_of("1")) == 1
    assert rows_of(etc, "1")[0].state == OutboxState.DONE and len(stages_of(etc, "1")) == 1


def test_a_claim_paid_in_the_shop_after_the_decision_gets_nothing(etc: Path, shop: MemoryShop) -> None:
    shop.fail_next("current", order_id="1")  # the re-read before sending fails: nothing is sent, the row waits
    first = run(etc)
    assert first.outcome is not None and first.outcome.retrying == 1 and shop.messages_to("1") == []
    shop.update("1", status="paid")
    second = run(etc, later=timedelta(hours=1))
    assert second.outcome is not None and second.outcome.skipped_paid == 1, second.as_dict()
    assert shop.messages_to("1") == [] and claim_of(etc, "1").state == ClaimState.PAID
    assert rows_of(etc, "1")[0].state == OutboxState.SKIPPED


# --- payments ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("extra", "full", "part"), [
    ("", "paid", "partly_paid"),
    ('\n[statuses]\npaid = ["paid", "settled"]\n\n[payments]\npaid_status = "settled"\n', "settled", "partly_paid"),
    ("\n[payments]\nmark_paid = false\n", "open", "open"),
], ids=["default", "paid_status", "no_mark_paid"])
def test_a_statement_pays_one_claim_in_full_and_one_in_part_and_the_shop_is_told(
        tmp_path: Path, shop: MemoryShop, db_url: str, capsys: pytest.CaptureFixture[str], extra: str, full: str,
        part: str) -> None:
    etc = write_etc(tmp_path / "etc", db_url, extra=extra)
    cli(etc, capsys, "sync")
    statement = camt(tmp_path / "statement.xml", ("BANK-1", "240.00", "Rechnung RE-2026-00003"),
                     ("BANK-2", "50.00", "RE-2026-00001 Teilzahlung"))
    imported = cli(etc, capsys, "payments", "import", str(statement), "--json")
    assert imported["files"][0]["new"] == 2
    assert (imported["booked"], imported["closed"], imported["partial"], imported["unmatched"]) == (2, 1, 1, 0)
    assert claim_of(etc, "3").state == ClaimState.PAID and claim_of(etc, "1").state == ClaimState.OPEN
    [paid_row] = rows_of(etc, "3", "writeback")
    [part_row] = rows_of(etc, "1", "writeback")
    assert (paid_row.payload["paid"], part_row.payload["paid"]) == ("full", "part")

    [summary] = cli(etc, capsys, "run", "--json")
    assert summary["ok"] and summary["written_back"] == 2, summary
    assert sorted(shop.set_paid_calls) == [("1", False), ("3", True)]
    assert (shop.orders["3"].status, shop.orders["1"].status) == (full, part)
    assert any("paid in full" in n and "BANK-1" in n and paid_row.key in n for n in shop.notes_of("3"))
    assert any("payment of 50.00 EUR" in n and "still open" in n and part_row.key in n for n in shop.notes_of("1"))
    assert [m.order_id for m in shop.messages] == ["1", "2"]  # the fresh claim paid in full gets no reminder
    assert rows_of(etc, "3", "writeback")[0].state == OutboxState.DONE

    [again] = cli(etc, capsys, "run", "--json")  # exactly once: nothing left to tell
    assert again["written_back"] == 0 and len(shop.set_paid_calls) == 2
    assert sum("paid in full" in n for n in shop.notes_of("3")) == 1
    cli(etc, capsys, "sync", "--reread")  # what the shop now says keeps the claims where the payments put them
    assert claim_of(etc, "3").state == ClaimState.PAID
    assert (claim_of(etc, "1").state, claim_of(etc, "1").shop_status) == (ClaimState.OPEN, part)
    claims = {c["order_id"]: c for c in cli(etc, capsys, "claims", "--json")}
    assert set(claims) == {"1", "2"}


def test_set_paid_leaves_an_order_that_no_longer_waits_for_its_money(tmp_path: Path, shop: MemoryShop,
                                                                     db_url: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    etc = write_etc(tmp_path / "etc", db_url)
    cli(etc, capsys, "sync")
    cli(etc, capsys, "payments", "import", str(camt(tmp_path / "s.xml", ("B-3", "240.00", "RE-2026-00003"))))
    shop.update("3", status="cancelled")  # cancelled in the shop meanwhile: not to be marked paid
    [row] = rows_of(etc, "3", "writeback")
    config = load_config(etc)
    store = open_store(config)
    try:
        [result] = run_shops(store, config, config.shops, sync=False, sleep=lambda seconds: None)
    finally:
        store.close()
    assert result.outcome is not None and result.outcome.written_back == 1
    assert shop.set_paid_calls == [("3", True)] and shop.orders["3"].status == "cancelled"
    assert any(row.key in n for n in shop.notes_of("3"))


# --- to the agency -------------------------------------------------------------------------------------------------


def test_the_ladder_climbs_to_the_agency_with_the_orders_line_items(etc: Path, shop: MemoryShop) -> None:
    shop.lines["2"] = [LineItem("Gießkanne 10 l", Decimal(2), Decimal("49.90")),
                       LineItem("Versand", Decimal(1), Decimal("10.00")), "total is not a number: 'zehn'"]
    errors: list[str] = []
    for days in range(0, 120, 3):
        result = run(etc, later=timedelta(days=days))
        assert result.error == "", result.as_dict()
        errors += result.outcome.errors if result.outcome else []
    ladder = ["reminder", "dunning_1", "dunning_2", "final_notice", "agency"]
    assert [s["stage"] for s in stages_of(etc, "2")] == ladder
    assert claim_of(etc, "2").state == ClaimState.IN_COLLECTION
    assert [s["channel"] for s in stages_of(etc, "2")][:4] == ["shop", "shop", "letter", "letter"]
    assert [m.order_id for m in shop.messages].count("2") == 2  # the two shop-channel stages, once each
    assert shop.progress["2"].stage == "agency" and shop.orders["2"].marker == rows_of(etc, "2", "handover")[0].key
    assert any("handed over" in n for n in shop.notes_of("2"))
    assert any("line item left out" in e and "zehn" in e for e in errors)
    manifests = sorted((etc / "exports").glob("*.manifest.json"))
    assert manifests and any("mem:M-2" in json.loads(m.read_text())["claims"] for m in manifests)
    exported = "\n".join(p.read_text(encoding="utf-8") for p in (etc / "exports").iterdir()
                         if not p.name.endswith(".manifest.json") and p.is_file())
    assert "Gießkanne 10 l" in exported and "Versand" in exported
