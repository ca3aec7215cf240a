"""Deciding: every action due today for a shop's open claims becomes an outbox row, all in one transaction. A row
already there (an earlier run, a retry pending, another process just now) is kept, never doubled."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from mahnwerk.policy.engine import Action, Assessment
from mahnwerk.sync.casework.blocked import Blocked
from mahnwerk.sync.casework.planner import PlanClaim, assessments
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.outbox.rows import EXECUTED_KINDS, OUTBOX, outbox_key
from mahnwerk.sync.store.bulk import chunked, insert_new
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import LedgerEntry


def action_payload(action: Action, result: Assessment) -> dict[str, Any]:
    """What was decided, for the record and for `run --dry-run`; the executor re-assesses before it acts."""
    return {"code": action.code, "reason": action.reason, "fee": str(action.fee), "template": action.template,
            "deadline": action.deadline.isoformat() if action.deadline else None, "status": result.status}


@dataclass
class Decided:
    """What `decide_shop` wrote (or, in a dry run, would write)."""

    new: list[dict[str, Any]] = field(default_factory=list)
    existing: int = 0  # due actions that already have their row (an earlier run, a retry pending)
    blocked: Blocked = field(default_factory=Blocked)  # claims that wait for a base rate


def due_actions(store: Store, shop: ShopConfig, today: date, *,
                blocked: Blocked | None = None) -> Iterator[tuple[PlanClaim, Assessment, Action]]:
    """(claim, assessment, action) for every claim with an action the executor carries out today; claims that
    wait for a base rate are counted into `blocked` on the way."""
    for row, result in assessments(store, shop, today):
        if blocked is not None:
            blocked.add(result)
        for action in result.actions:
            if action.kind in EXECUTED_KINDS:
                yield row, result, action


def decide_shop(store: Store, shop: ShopConfig, today: date, *, now: datetime, dry_run: bool = False) -> Decided:
    """Write one outbox row per due action of the shop, in one transaction; rows already written are kept."""
    decided = Decided()
    due = list(due_actions(store, shop, today, blocked=decided.blocked))
    with store.session() as session:
        sent = stage_counts(session, [row.id for row, _, _ in due])
        rows = []
        for row, result, action in due:
            stage = action.stage or action.kind
            rows.append({"key": outbox_key(shop.id, row.order_id, stage, sent[(row.id, stage)] + 1),
                         "shop_id": shop.id, "claim_id": row.id, "kind": action.kind, "stage": stage,
                         "channel": action.channel or ("none" if action.kind == "close" else "shop"),
                         "planned_on": today, "payload": action_payload(action, result),
                         "order_number": row.order_number})
        known: set[str] = set()
        for keys in chunked([r["key"] for r in rows], 10_000):
            known.update(session.execute(select(OUTBOX.c.key).where(OUTBOX.c.key.in_(keys))).scalars())
        fresh = [r for r in rows if r["key"] not in known]
        if not dry_run:
            written = insert_new(session.connection(), OUTBOX, [
                {k: v for k, v in r.items() if k != "order_number"} | {
                    "state": "pending", "attempts": 0, "next_attempt_at": now, "last_error": "", "reference": "",
                    "created_at": now, "updated_at": now, "done_at": None} for r in fresh], key="key")
            session.commit()
            fresh = [r for r in fresh if r["key"] in set(written)]  # another process may have written some just now
        decided.new = fresh
        decided.existing = len(rows) - len(fresh)
    return decided


def stage_counts(session: Session, claim_ids: Sequence[int]) -> Counter[tuple[int, str]]:
    """How often each claim's ledger holds each stage."""
    counts: Counter[tuple[int, str]] = Counter()
    for start in range(0, len(claim_ids), 500):
        entries = session.execute(select(col(LedgerEntry.claim_id), col(LedgerEntry.data)).where(
            col(LedgerEntry.kind) == "stage", col(LedgerEntry.claim_id).in_(claim_ids[start:start + 500])))
        for claim_id, data in entries:
            counts[(claim_id, data.get("stage", ""))] += 1
    return counts
