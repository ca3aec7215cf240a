"""The outbox: each decided action becomes a row with a deterministic idempotency key before anything is executed,
and moves pending → sending → done (or skipped, or dead) in its own committed steps. A restart resumes from here.

The key is SHOP/ORDER_ID/STAGE/N, N counting how often the claim's ledger already holds that stage (a plan that
breaks may send the final notice a second time, on purpose); the same decision on a later day finds the same key.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlmodel import Session

from mahnwerk.policy.engine import Action, Assessment
from mahnwerk.sync.config.shop import ShopConfig
from mahnwerk.sync.store.models import LedgerEntry, OutboxRow, OutboxState
from mahnwerk.sync.casework.planner import assessments
from mahnwerk.sync.store.engine import Store

OUTBOX = OutboxRow.__table__
EXECUTED_KINDS = ("send", "handover", "close")  # a policy task waits for a person (`mahnwerk tasks`)
# every kind of row the executor, the agency batch and the payment write-back work off
ROW_KINDS = (*EXECUTED_KINDS, "agency_update", "writeback")


def outbox_key(shop_id: str, order_id: str, stage: str, occurrence: int) -> str:
    return f"{shop_id}/{order_id}/{stage}/{occurrence}"


def action_payload(action: Action, result: Assessment) -> dict[str, Any]:
    """What was decided, for the record and for `run --dry-run`; the executor re-assesses before it acts."""
    return {"code": action.code, "reason": action.reason, "fee": str(action.fee), "template": action.template,
            "deadline": action.deadline.isoformat() if action.deadline else None, "status": result.status}


@dataclass
class Decided:
    """What `decide_shop` wrote (or, in a dry run, would write)."""

    new: list[dict[str, Any]] = field(default_factory=list)
    existing: int = 0  # due actions that already have their row (an earlier run, a retry pending)


def due_actions(store: Store, shop: ShopConfig, today: date) -> Iterator[tuple[Any, Assessment, Action]]:
    """(claims row, assessment, action) for every claim with an action the executor carries out today."""
    for row, result in assessments(store, shop, today):
        for action in result.actions:
            if action.kind in EXECUTED_KINDS:
                yield row, result, action


def decide_shop(store: Store, shop: ShopConfig, today: date, *, now: datetime, dry_run: bool = False) -> Decided:
    """Write one outbox row per due action of the shop, in one transaction; rows already written are kept."""
    due = list(due_actions(store, shop, today))
    decided = Decided()
    with store.session() as session:
        sent = stage_counts(session, [row.id for row, _, _ in due])
        for row, result, action in due:
            stage = action.stage or action.kind
            key = outbox_key(shop.id, row.order_id, stage, sent[(row.id, stage)] + 1)
            if session.execute(select(OUTBOX.c.id).where(OUTBOX.c.key == key)).first() is not None:
                decided.existing += 1
                continue
            values = {"key": key, "shop_id": shop.id, "claim_id": row.id, "kind": action.kind, "stage": stage,
                      "channel": action.channel or ("none" if action.kind == "close" else "shop"),
                      "planned_on": today, "payload": action_payload(action, result)}
            decided.new.append(values | {"order_number": row.order_number})
            if not dry_run:
                session.add(OutboxRow(**values, next_attempt_at=now, created_at=now, updated_at=now))
        if not dry_run:
            session.commit()
    return decided


def stage_counts(session: Session, claim_ids: Sequence[int]) -> Counter[tuple[int, str]]:
    """How often each claim's ledger holds each stage."""
    counts: Counter[tuple[int, str]] = Counter()
    for start in range(0, len(claim_ids), 500):
        entries = session.execute(select(LedgerEntry.claim_id, LedgerEntry.data).where(
            LedgerEntry.kind == "stage", LedgerEntry.claim_id.in_(claim_ids[start:start + 500])))
        for claim_id, data in entries:
            counts[(claim_id, data.get("stage", ""))] += 1
    return counts


def ready_rows(store: Store, shop_id: str, now: datetime, *, kinds: Sequence[str]) -> list[int]:
    """Ids of the shop's rows that are due for an attempt, oldest first."""
    with store.connection() as conn:
        return list(conn.execute(select(OUTBOX.c.id).where(
            OUTBOX.c.shop_id == shop_id, OUTBOX.c.state.in_((OutboxState.PENDING, OutboxState.SENDING)),
            OUTBOX.c.kind.in_(kinds), OUTBOX.c.next_attempt_at <= now).order_by(OUTBOX.c.id)).scalars())


@contextmanager
def executor_lock(store: Store, shop_id: str) -> Iterator[bool]:
    """One executor per shop at a time, across processes: yields False when another one holds the shop.

    The lock dies with its process (a PostgreSQL session's advisory lock, a file lock next to a SQLite database),
    so an executor killed mid-row never blocks the one restarted after it.
    """
    if store.engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"mahnwerk-executor:{shop_id}".encode()).digest()[:8], "big", signed=True)
        with store.engine.connect() as conn:
            held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    database = store.engine.url.database
    path = Path(database + f".{shop_id}.lock") if database and database != ":memory:" else None
    if path is None:
        yield True
        return
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def backoff(row: OutboxRow, base: timedelta) -> timedelta:
    """Wait before the next attempt: base, doubled per attempt, at most a day."""
    return min(base * (2 ** max(0, row.attempts - 1)), timedelta(days=1))


def counts_by_state(store: Store, shop_ids: Sequence[str]) -> dict[str, Counter[str]]:
    """{shop: {state: rows}} for `status`."""
    found: dict[str, Counter[str]] = {shop_id: Counter() for shop_id in shop_ids}
    with store.connection() as conn:
        for shop_id, state, n in conn.execute(select(OUTBOX.c.shop_id, OUTBOX.c.state, func.count()).where(
                OUTBOX.c.shop_id.in_(list(shop_ids))).group_by(OUTBOX.c.shop_id, OUTBOX.c.state)):
            found[shop_id][state] = n
    return found
