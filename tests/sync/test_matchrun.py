"""A matching run (sync/matchrun.py): statement files read and matched in a child process or in this one book the
same, a file that is not a statement is refused while the others go in, and a child that fails says why."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter, deque
from pathlib import Path

import pytest
from sqlalchemy import select

from mahnwerk.errors import MahnwerkError
from mahnwerk.sandbox.statements import write_statement
from mahnwerk.sync.config import load_config
from mahnwerk.sync.payments import matchrun
from mahnwerk.sync.payments.intake import PAYMENTS, Imported, new_rows
from mahnwerk.sync.payments.matchrun import in_child, run
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.bulk import bulk_insert, chunked
from mahnwerk.sync.store.models import IncomingPaymentRow, LedgerEntry, OutboxRow, PaymentState
from tests.sync.test_payment_sources import config, open_claims, statement_claims, sync
from tests.sync.test_payments import NOW, TODAY, credit


def import_files(etc: Path, files: list[Path], *, apart: bool):
    cfg = load_config(etc)
    store = open_store(cfg)
    try:
        return run(store, cfg.shops[0], files, now=NOW, apart=apart)
    finally:
        store.close()


def outcome(etc: Path) -> tuple[dict, Counter, Counter]:
    """Per payment reference its state, rule, unallocated amount and reason; the ledger's payment entries
    (claim, amount, reference, split); the write-back rows (claim, stage, note)."""
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            payments = {(p.source, p.ref): (p.state, p.rule, p.unallocated, p.reason, sorted(p.candidates)) for p in
                        session.execute(select(IncomingPaymentRow)).scalars()}
            ledger = Counter((e.claim_id, e.kind, e.data.get("amount"), e.data.get("reference"),
                              str(e.data.get("applied"))) for e in session.execute(
                select(LedgerEntry).where(LedgerEntry.source == "payments")).scalars())
            writebacks = Counter((r.claim_id, r.stage, r.payload["note"]) for r in session.execute(
                select(OutboxRow).where(OutboxRow.kind == "writeback")).scalars())
    finally:
        store.close()
    return payments, ledger, writebacks


def test_reading_in_a_child_books_exactly_what_reading_here_books(tmp_path: Path, woo) -> None:
    here, apart = (config(tmp_path / name, woo, f"sqlite:///{tmp_path / name}.db") for name in ("here", "apart"))
    sync(here), sync(apart)
    claims = statement_claims(open_claims(here))
    first = write_statement(tmp_path / "day1.xml", claims, seed=5, start=TODAY, days=1, malformed=1)
    second = write_statement(tmp_path / "day2.sta", claims, seed=6, format="mt940", start=TODAY, days=1)

    done_here = import_files(here, [first.path, second.path], apart=False)
    done_apart = import_files(apart, [first.path, second.path], apart=True)

    assert [i.as_dict() for i in done_apart[0]] == [i.as_dict() for i in done_here[0]]
    assert done_apart[1] == done_here[1] and done_apart[1].booked > 0 and done_apart[1].closed > 0
    assert outcome(apart) == outcome(here)
    payments, ledger, _ = outcome(apart)
    assert sum(ledger.values()) >= done_apart[1].booked
    assert len(payments) == done_apart[0][0].new + done_apart[0][1].new


@pytest.mark.parametrize("apart", [True, False], ids=["apart", "here"])
def test_a_file_that_is_no_statement_is_refused_and_the_others_go_in(tmp_path: Path, woo, db_url: str,
                                                                    apart: bool) -> None:
    etc = config(tmp_path, woo, db_url)
    sync(etc)
    claims = statement_claims(open_claims(etc))
    good = write_statement(tmp_path / "good.xml", claims[:20], seed=3, start=TODAY, days=1, noise=0)
    junk = tmp_path / "junk.xml"
    junk.write_text("<Document><nothing/></Document>", encoding="utf-8")
    late = write_statement(tmp_path / "late.sta", claims[20:], seed=4, format="mt940", start=TODAY, days=1)

    files, matched = import_files(etc, [good.path, junk, late.path], apart=apart)
    assert [f.origin for f in files] == [str(good.path), str(junk), str(late.path)]
    assert "junk.xml: not a camt" in files[1].error  # refused by name, with the reason
    assert files[1].as_dict() == {"origin": str(junk), "error": files[1].error}
    assert files[0].new == len(good.credits) and files[2].new == len(late.credits)
    assert matched.booked > 0

    again, rematched = import_files(etc, [good.path, late.path], apart=apart)
    assert [f.new for f in again] == [0, 0]
    assert [f.duplicates for f in again] == [len(good.credits), len(late.credits)]
    assert rematched.booked == 0  # what waits stays waiting; nothing is booked twice
    payments, _, _ = outcome(etc)
    assert len(payments) == len(good.credits) + len(late.credits)
    assert all(state in PaymentState.WAITING or state == PaymentState.MATCHED for state, *_ in payments.values())


def test_a_child_that_fails_says_why(tmp_path: Path, woo, sqlite_url: str) -> None:
    etc = config(tmp_path, woo, sqlite_url)
    shop = load_config(etc).shops[0]
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    statement = write_statement(tmp_path / "s.xml", [], seed=1, start=TODAY, days=1).path
    messages = in_child(f"sqlite:///{blocker}/below/it.db", shop, [statement], TODAY, NOW)
    with pytest.raises(MahnwerkError, match="reading the statements failed: StoreError: .*cannot create the folder"):
        list(messages)


def test_the_sync_reads_a_big_inbox_file_in_a_child_and_books_it(tmp_path: Path, woo, db_url: str,
                                                                  monkeypatch) -> None:
    """The daemon's path: a sync finds a statement in the inbox big enough for a child (the threshold lowered),
    books it, and moves it to processed/ only after the run."""
    monkeypatch.setattr(matchrun, "APART_FROM", 0)
    etc = config(tmp_path, woo, db_url, '\n[payments]\ninbox = "inbox"\n')
    sync(etc)
    claims = statement_claims(open_claims(etc))
    inbox = etc / "inbox"
    inbox.mkdir()
    statement = write_statement(inbox / "2026-11-25.xml", claims, seed=8, start=TODAY, days=1)
    result = sync(etc)
    assert result.payments.new == len(statement.credits) and result.payments.reconciled.booked > 0
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["2026-11-25.xml"]
    assert not list(inbox.glob("*.xml"))


def test_a_child_that_dies_is_reported_and_what_was_stored_stays(tmp_path: Path, woo, sqlite_url: str) -> None:
    etc = config(tmp_path, woo, sqlite_url)
    sync(etc)
    shop = load_config(etc).shops[0]
    stuck = tmp_path / "upload.xml"
    os.mkfifo(stuck)  # the child waits for a writer that never comes, as on a hung network share

    def kill_the_child() -> None:
        for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
            for pid in children.read_text().split():
                if "matchchild" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                    os.kill(int(pid), signal.SIGKILL)

    timer = threading.Timer(2.0, kill_the_child)
    timer.start()
    try:
        with pytest.raises(MahnwerkError, match=r"ended unexpectedly \(exit code -9\).*import the files again"):
            list(in_child(sqlite_url, shop, [stuck], TODAY, NOW))
    finally:
        timer.cancel()
    assert len(outcome(etc)[0]) == 0  # nothing half-stored


def test_an_entry_listed_twice_in_a_file_is_imported_once_across_chunks(tmp_path: Path, woo, sqlite_url: str,
                                                                        monkeypatch) -> None:
    """Read in chunks of 3 and stored a chunk late, as with the child: the second listing comes one chunk later
    (not stored yet: the chunks just before are remembered), three and six chunks later (the store knows them)."""
    monkeypatch.setattr(matchrun, "CHUNK", 3)
    etc = config(tmp_path, woo, sqlite_url)
    sync(etc)
    cfg = load_config(etc)
    store = open_store(cfg)
    try:
        entries = [credit(f"E{n}", "10.00", f"Spende {n}") for n in range(18)]
        twice = [*entries[:4], entries[0], *entries[4:9], entries[1], *entries[9:], entries[2]]
        recent: deque = deque(maxlen=2)
        imported = Imported("test.xml")
        late: list = []
        for chunk in [*chunked(twice, 3), []]:
            rows = new_rows(store, cfg.shops[0], chunk, recent, origin="test.xml", now=NOW,
                                     imported=imported)
            with store.connection() as conn:  # the booking side, one chunk behind
                bulk_insert(conn, PAYMENTS, late)
                conn.commit()
            late = rows
        assert (imported.new, imported.duplicates) == (18, 3)
        assert sorted(outcome(etc)[0]) == sorted(("camt.053", f"E{n}") for n in range(18))
    finally:
        store.close()
