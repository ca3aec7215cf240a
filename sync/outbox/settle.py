"""A person's decision about a dead letter, the same for `mahnwerk outbox retry|done|skip` and the web console:
retry queues it again; done and skip write its stage into the ledger (as sent, or as skipped) so the ladder goes on
from it. Also the dead letters themselves, with the reason each one stopped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from mahnwerk.sync.casework.acting import ActionRefused
from mahnwerk.sync.casework.case import Case
from mahnwerk.sync.casework.casefile import claim_key
from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.locks import shop_lock
from mahnwerk.sync.store.models import Claim, OutboxRow, OutboxState

VERBS = ("retry", "done", "skip")
SETTLED = {"retry": "queued for the next run", "done": "recorded as sent; the ladder goes on",
           "skip": "recorded as skipped; the ladder goes on"}


def dead_letters(store: Store, shop_ids: Sequence[str], *, limit: int | None = None) -> list[dict[str, Any]]:
    """The shops' dead letters, oldest first (the first `limit`): what each was to do, for which claim, and why it
    stopped."""
    with store.session() as session:
        found = session.execute(select(OutboxRow, Claim).join(Claim, col(Claim.id) == OutboxRow.claim_id).where(
            col(OutboxRow.shop_id).in_(shop_ids), col(OutboxRow.state) == OutboxState.DEAD)
            .order_by(col(OutboxRow.id)).limit(limit)).all()
        return [{"id": r.id, "shop": r.shop_id, "claim": claim_key(c.shop_id, c.order_number), "key": r.key,
                 "kind": r.kind, "stage": r.stage, "channel": r.payload.get("channel_used", r.channel),
                 "planned_on": r.planned_on, "attempts": r.attempts, "updated_at": r.updated_at,
                 "customer": c.customer_name, "error": r.last_error} for r, c in found]


def count_dead(store: Store, shop_ids: Sequence[str]) -> int:
    """How many dead letters the shops have."""
    with store.session() as session:
        return int(session.execute(select(func.count()).select_from(OutboxRow).where(
            col(OutboxRow.shop_id).in_(shop_ids), col(OutboxRow.state) == OutboxState.DEAD)).scalar_one())


def settle_dead_letter(store: Store, config: Config, row_id: int, verb: str, *, note: str, by: str, source: str,
                       now: datetime, command: str, wait: float = 30.0) -> str:
    """Retry, mark done or skip the dead letter `row_id` under its shop's lock; what became of it, in words.
    ActionRefused when the row is no dead letter (any more: another person or process may have settled it)."""
    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb!r}")
    with store.session() as session:
        found = session.get(OutboxRow, row_id)
        shop_id = found.shop_id if found is not None else ""
    with shop_lock(store, shop_id, command=command, wait=wait), store.session() as session:
        row = session.get(OutboxRow, row_id)
        if row is None or row.state != OutboxState.DEAD:
            raise ActionRefused(f"outbox row {row_id} is not a dead letter (see mahnwerk outbox --state dead)",
                                code="not_dead_letter", id=row_id)
        if verb == "retry":
            row.state, row.attempts, row.next_attempt_at, row.reference = OutboxState.PENDING, 0, now, ""
        elif row.kind in ("writeback", "agency_update"):  # no stage: only the row is settled
            row.state, row.done_at = OutboxState.DONE if verb == "done" else OutboxState.SKIPPED, now
        else:
            claim = session.get(Claim, row.claim_id)
            if claim is None:  # the foreign key keeps it; a store edited by hand may not
                raise ActionRefused(f"outbox row {row_id}: its claim {row.claim_id} is not in the store",
                                    code="row_without_claim", id=row_id)
            Case(session, config.shop(row.shop_id), claim, by, now, source=source).record("stage", {
                "stage": row.stage, "kind": row.kind, "deadline": row.payload.get("deadline"),
                "fee": row.payload.get("fee", "0") if verb == "done" else "0", "skipped": verb == "skip",
                "channel": row.payload.get("channel_used", row.channel), "key": row.key,
                "note": note or f"outbox row {row.id} settled by hand"})
            row.state, row.done_at = OutboxState.DONE if verb == "done" else OutboxState.SKIPPED, now
        row.last_error = f"{verb} by {by} at {now.isoformat(timespec='seconds')}: {row.last_error}"[:2000]
        row.updated_at = now
        session.add(row)
        session.commit()
    return SETTLED[verb]
