"""Per shop, how things stand: the last sync and its outcome, claims by state, the outbox by state with its dead
letters, open tasks and payments waiting for a person. `mahnwerk status` prints it; the web console shows it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from mahnwerk.sync.outbox.rows import counts_by_state
from mahnwerk.sync.outbox.work import DISK_FULL
from mahnwerk.sync.store.models import (
    Claim,
    ClaimState,
    IncomingPaymentRow,
    OutboxRow,
    OutboxState,
    PaymentState,
    SyncRun,
    Task,
)


def status_report(store: Any, shop_ids: list[str]) -> list[dict[str, Any]]:
    """One JSON-ready dict per shop, in the order of `shop_ids`."""
    outbox = counts_by_state(store, shop_ids)
    report = []
    with store.session() as session:
        for shop_id in shop_ids:
            last = session.execute(select(SyncRun).where(col(SyncRun.shop_id) == shop_id)
                                   .order_by(col(SyncRun.id).desc()).limit(1)).scalars().first()
            states = dict(session.execute(select(col(Claim.state), func.count()).where(col(Claim.shop_id) == shop_id)
                                          .group_by(col(Claim.state))).all())
            dead = session.execute(select(OutboxRow).where(col(OutboxRow.shop_id) == shop_id,
                                                           col(OutboxRow.state) == OutboxState.DEAD)
                                   .order_by(col(OutboxRow.id))).scalars().all()
            tasks = session.execute(select(func.count()).select_from(Task).join(Claim, col(Claim.id) == Task.claim_id)
                                    .where(col(Claim.shop_id) == shop_id, col(Task.done_at).is_(None))).scalar_one()
            full = session.execute(select(col(OutboxRow.last_error), func.count()).where(
                col(OutboxRow.shop_id) == shop_id, col(OutboxRow.state).in_((OutboxState.PENDING, OutboxState.SENDING)),
                col(OutboxRow.last_error).startswith(DISK_FULL)).group_by(col(OutboxRow.last_error))).all()
            waiting = session.execute(select(func.count()).select_from(IncomingPaymentRow).where(
                col(IncomingPaymentRow.shop_id) == shop_id,
                col(IncomingPaymentRow.state).in_(PaymentState.WAITING))).scalar_one()
            report.append({
                "shop": shop_id, "last_sync": last.started_at.isoformat() if last else None,
                "last_sync_outcome": last.outcome if last else None,
                "last_sync_error": last.error if last and last.error else None,
                "open_claims": states.get(ClaimState.OPEN, 0), "in_collection": states.get(ClaimState.IN_COLLECTION, 0),
                "outbox": {state: outbox[shop_id].get(state, 0) for state in
                           (OutboxState.PENDING, OutboxState.SENDING, OutboxState.DONE, OutboxState.SKIPPED,
                            OutboxState.DEAD)},
                "dead_letters": [{"id": d.id, "key": d.key, "stage": d.stage, "attempts": d.attempts,
                                  "error": d.last_error} for d in dead],
                "disk_full": {"rows": sum(n for _, n in full), "error": full[0][0]} if full else None,
                "open_tasks": tasks,
                "payments_waiting": waiting,
            })
    return report
