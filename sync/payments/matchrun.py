"""One matching run for a shop: the payments waiting from earlier, then new statement files, matched against the
store's index of the claims (sync/payments/claimindex.py) and booked chunk by chunk (the booking itself is
sync/payments/reconcile.py's).

Reading a statement and matching it is Python work on the payer's text; booking is mostly the database. For a big
file (a quarter of a busy shop's account) the reading side gets its own process, so that the two overlap on two
cores: the child parses, drops what was imported before, matches, and sends each chunk with its matches; this
process stores and books it. The pipe between them holds about one chunk, so memory does not grow with the file.
A small file, or matching the waiting payments again, runs the same code in this process, without the pipe.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections import deque
from collections.abc import Generator, Sequence, Set
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, TypeGuard

import structlog
from sqlalchemy import Connection, func, select, text

from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem
from mahnwerk.connectors.statements import StatementSummary, read_statement
from mahnwerk.errors import MahnwerkError
from mahnwerk.policy.matching import Match
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.mirror import ensure_shop
from mahnwerk.sync.payments.claimindex import StoreMatcher
from mahnwerk.sync.payments.intake import CHUNK, Imported, new_rows
from mahnwerk.sync.payments.reconcile import (
    ACTOR,
    EVENTS,
    MATCHING,
    PAYMENTS,
    UPDATE_WAITING,
    ZERO,
    Booking,
    Reconciled,
    book,
    credit_of,
    decided,
    wait_update,
)
from mahnwerk.sync.store.bulk import bulk_insert, chunked, execute_many
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import PaymentState

log = structlog.get_logger("mahnwerk.payments")
NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence('payments', 'id')) FROM generate_series(1, :n)")
APART_FROM = 10 * 2**20  # bytes of statements from which reading and matching run in a process of their own (below,
# starting it costs more than the overlap gains: 8,923 entries (8 MB) 3.9 s here, 4.5 s apart; 22,000 (21 MB) 13 s
# here, 9 s apart)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A stored payment as booking needs it."""

    id: int
    source: str
    ref: str
    booked_on: date
    currency: str
    unallocated: Decimal


@dataclass(slots=True)
class Chunk:
    """Payments with what matching found for each (None: nothing): stored ones (`Waiting`) or new ones (a
    payments row, not stored yet)."""

    pairs: list[tuple[Waiting | dict[str, Any], Match | None]]


@dataclass(frozen=True, slots=True)
class Crashed:
    """The reading process failed: what it said."""

    error: str


def sure(match: Match | None, shop: ShopConfig) -> TypeGuard[Match]:
    """Is the match good enough to book without asking a person?"""
    return match is not None and bool(match.shares) and match.confidence >= shop.payments.min_confidence


def run(store: Store, shop: ShopConfig, files: Sequence[Path] = (), *, now: datetime, apart: bool | None = None
        ) -> tuple[list[Imported], Reconciled]:
    """Import `files` (each one's `Imported`, with `error` set for a file that is not a statement) and match every
    waiting payment of the shop: the sure ones booked, the guesses sent to review. `apart`: read and match in a
    child process (default: when the files are big)."""
    today = shop_today(shop, now)
    if files:
        ensure_shop(store, shop, now)
    if apart is None:
        apart = sum(path.stat().st_size for path in files) >= APART_FROM
    imported: list[Imported] = []
    result = Reconciled(shop.id)
    messages = in_child(store.url, shop, files, today, now) if apart else reading(store, shop, files, today, now)
    try:
        with store.bulk_connection() as conn:
            for message in messages:
                if isinstance(message, Imported):
                    report(shop, message)
                    imported.append(message)
                    continue
                pairs, stored = store_new(conn, shop, message.pairs, now=now)
                settle(conn, shop, pairs, today=today, now=now, result=result, stored=stored)
                conn.commit()
    finally:
        messages.close()
    return imported, result


def report(shop: ShopConfig, imported: Imported) -> None:
    name = Path(imported.origin).name
    if imported.error:
        log.error("payments.file_rejected", shop=shop.id, file=name, reason=imported.error)
    for problem in imported.problems:  # positions only: the entries themselves hold customer data
        log.warning("payments.bad_entry", shop=shop.id, file=name, position=problem.position, reason=problem.reason)


# --- the reading side: runs here or in the child --------------------------------------------------------------------


def reading(store: Store, shop: ShopConfig, files: Sequence[Path], today: date, now: datetime
            ) -> Generator[Chunk | Imported, None, None]:
    """The waiting payments, then each file's new ones, a chunk at a time with their matches; after each file its
    `Imported`. The store's index of the claims is brought up to date once, when the first payment needs it."""
    matcher: StoreMatcher | None = None

    def matched(payments: Sequence[Any]) -> list[Match | None]:
        nonlocal matcher
        if matcher is None:
            matcher = StoreMatcher(store, shop, today)
        # what follows a sure match sees the claim owing less
        return matcher.match([credit_of(p) for p in payments], lambda match: sure(match, shop))

    with store.connection() as conn:
        waiting = conn.execute(select(PAYMENTS.c.id).where(
            PAYMENTS.c.shop_id == shop.id, PAYMENTS.c.state == PaymentState.UNMATCHED).order_by(PAYMENTS.c.id)
        ).scalars().all()
    for ids in chunked(waiting, CHUNK):
        with store.connection() as conn:
            rows = conn.execute(select(*MATCHING).where(PAYMENTS.c.id.in_(ids)).order_by(PAYMENTS.c.id)).all()
        yield Chunk([(Waiting(r.id, r.source, r.ref, r.booked_on, r.currency, r.unallocated), match)
                     for r, match in zip(rows, matched([r._mapping for r in rows]), strict=True)])
    # The last two chunks read, perhaps not committed yet when the next is read: a chunk is only read after the one
    # before it went through the pipe, which the booking side reads only after committing the one before that.
    # Older ones the store answers for, so memory does not grow with the file. Kept across files, since one booking
    # can come in two of them (a camt.052 and the day's camt.053 imported together).
    recent: deque[set[tuple[str, str]]] = deque(maxlen=2)
    for path in files:
        imported = Imported(str(path))
        summary = StatementSummary()
        try:
            for chunk in chunked(read_statement(path, summary), CHUNK):
                imported.problems += [p for p in chunk if isinstance(p, SourceProblem)]
                new = new_rows(store, shop, [p for p in chunk if isinstance(p, IncomingPayment)], recent,
                               origin=str(path), now=now, imported=imported)
                if new:
                    yield Chunk(list(zip(new, matched(new), strict=True)))
        except MahnwerkError as exc:  # not a statement: nothing of it was imported
            imported.error = str(exc)
        imported.skipped.update(summary.skipped)
        yield imported


# --- the booking side ----------------------------------------------------------------------------------------------


def store_new(conn: Connection, shop: ShopConfig, pairs: list[tuple[Waiting | dict[str, Any], Match | None]], *,
              now: datetime) -> tuple[list[tuple[Waiting, Match | None]], set[int]]:
    """Insert a chunk's new payments as matching left them (booked in full, in review, unmatched): every payment
    as a `Waiting` with its id, and the ids of the new ones (whose row needs no update unless a share could not
    be booked after all)."""
    new = [row for row, _ in pairs if isinstance(row, dict)]
    if not new:
        return pairs, set()  # type: ignore[return-value]  # all stored before
    for row, match in pairs:
        if isinstance(row, dict):
            if sure(match, shop):
                booked = sum((s.amount for s in match.shares), ZERO)
                outcome = decided(None, row["amount"], row["currency"], match, booked, now=now, actor=ACTOR)
            else:
                outcome = wait_update(None, row["amount"], match)
            del outcome["payment_id"]
            row.update(outcome)
    ids = iter(insert_new(conn, shop, new))
    stored = [(Waiting(next(ids), row["source"], row["ref"], row["booked_on"], row["currency"], row["amount"])
               if isinstance(row, dict) else row, match) for row, match in pairs]
    return stored, {payment.id for (payment, _), (row, _) in zip(stored, pairs, strict=True) if isinstance(row, dict)}


def insert_new(conn: Connection, shop: ShopConfig, rows: list[dict[str, Any]]) -> list[int]:
    """Insert payments rows; the ids they got, in their order."""
    if conn.dialect.name == "postgresql":  # numbers from the table's sequence first, then one COPY with them
        ids = list(conn.execute(NEXT_IDS, {"n": len(rows)}).scalars())
        for row, id_ in zip(rows, ids, strict=True):
            row["id"] = id_
        bulk_insert(conn, PAYMENTS, rows)
        return ids
    bulk_insert(conn, PAYMENTS, rows)
    if conn.dialect.name == "sqlite":
        # SQLite lets one writer at a time and numbers rows one above the highest: the rows of this transaction's
        # insert got the last len(rows) numbers.
        last = conn.execute(select(func.max(PAYMENTS.c.id))).scalar_one()
        return list(range(last - len(rows) + 1, last + 1))
    by_ref = {(source, ref): id_ for id_, source, ref in conn.execute(
        select(PAYMENTS.c.id, PAYMENTS.c.source, PAYMENTS.c.ref).where(
            PAYMENTS.c.shop_id == shop.id, PAYMENTS.c.ref.in_([row["ref"] for row in rows])))}
    return [by_ref[(row["source"], row["ref"])] for row in rows]


def settle(conn: Connection, shop: ShopConfig, pairs: list[tuple[Waiting, Match | None]], *, today: date,
           now: datetime, result: Reconciled, stored: Set[int] = frozenset()) -> None:
    """Book the sure matches, put the rest in the queue, in the current transaction (`stored`: payments whose row
    was inserted with this outcome)."""
    bookings, waits = [], []
    for payment, match in pairs:
        if sure(match, shop):
            bookings.append(Booking(payment, match.shares, match.rule, match.confidence, match.reason,
                                    match.candidates))
        else:
            waits.append(wait_update(payment.id, payment.unallocated, match))
    book(conn, shop, bookings, today=today, now=now, actor=ACTOR, result=result, stored=stored)
    execute_many(conn, UPDATE_WAITING, [w for w in waits if w["payment_id"] not in stored])
    bulk_insert(conn, EVENTS, [{"payment_id": w["payment_id"], "at": now, "kind": w["state"], "actor": ACTOR,
                                "data": {"reason": w["reason"], "candidates": w["candidates"]}}
                               for w in waits if w["state"] == PaymentState.REVIEW])
    result.review += sum(w["state"] == PaymentState.REVIEW for w in waits)
    result.unmatched += sum(w["state"] == PaymentState.UNMATCHED for w in waits)


# --- the child process -----------------------------------------------------------------------------------------------


def in_child(url: str, shop: ShopConfig, files: Sequence[Path], today: date, now: datetime
             ) -> Generator[Chunk | Imported, None, None]:
    """`reading()` in a child process (`python -m mahnwerk.sync.payments.matchchild`, which imports only what reading
    needs): its messages, pickled through its stdout, one chunk ahead at most. The child ends with this generator (when
    the run finishes, fails or is interrupted); a parent that dies leaves it a broken pipe, and it ends too."""
    child = subprocess.Popen([sys.executable, "-m", "mahnwerk.sync.payments.matchchild"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    stdin, stdout = child.stdin, child.stdout
    assert stdin is not None and stdout is not None  # both pipes
    try:
        with stdin:
            pickle.dump((url, shop, list(files), today, now), stdin)
        while True:
            try:
                message = pickle.load(stdout)
            except EOFError:
                raise MahnwerkError(f"the process reading the statements ended unexpectedly (exit code "
                                    f"{child.wait()}); what was booked before stays, import the files again to go "
                                    "on") from None
            if message is None:
                return
            if isinstance(message, Crashed):
                raise MahnwerkError(f"reading the statements failed: {message.error}")
            yield message
    finally:
        stdout.close()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def child_main(inbox: BinaryIO, outbox: BinaryIO) -> None:
    """The child's life: its task from `inbox`, then read, match and send to `outbox`; None when done, `Crashed`
    when not."""
    store = None
    try:
        url, shop, files, today, now = pickle.load(inbox)
        store = Store(url, migrate=False)
        for message in reading(store, shop, files, today, now):
            pickle.dump(message, outbox, protocol=pickle.HIGHEST_PROTOCOL)
            outbox.flush()
        pickle.dump(None, outbox)
        outbox.flush()
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the parent is gone or stopping: nothing to tell
    except Exception as exc:  # the parent reports it with the run
        pickle.dump(Crashed(f"{type(exc).__name__}: {exc}"), outbox)
        outbox.flush()
    finally:
        if store is not None:
            store.close()
