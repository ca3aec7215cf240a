"""Work for a person: the policy's manual stages that are due (call the customer...) and the tasks the executor
opened (post a letter, find an e-mail address, check a delivery); listing them and marking them done or skipped,
the same for the command line (`mahnwerk tasks`) and the web console."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from mahnwerk.sync.casework.acting import act_on_case
from mahnwerk.sync.casework.case import Case, finish_task
from mahnwerk.sync.casework.casefile import claim_key
from mahnwerk.sync.casework.planner import assessments, plan_row, shop_today
from mahnwerk.sync.config import Config, ShopConfig
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, Task


def open_tasks(store: Store, shops: Sequence[ShopConfig], now: datetime) -> list[dict[str, Any]]:
    """Every open task of the shops as plan rows: the policy's manual stages due today, then the executor's. Only
    a shop whose policy has a manual stage needs the pass over all its open claims."""
    rows = [plan_row(shop.id, row, result) for shop in shops if any(s.kind == "task" for s in shop.policy.stages)
            for row, result in assessments(store, shop, shop_today(shop, now))
            if result.status == "due" and result.next is not None and result.next.kind == "task"]
    return rows + open_work(store, [shop.id for shop in shops])


def open_work(store: Store, shop_ids: list[str]) -> list[dict[str, Any]]:
    """Tasks the executor opened for a person (a letter to post for a customer without e-mail, an upload that
    failed), in the shape of plan rows."""
    with store.session() as session:
        found = session.execute(select(Task, Claim).join(Claim, col(Claim.id) == Task.claim_id).where(
            col(Claim.shop_id).in_(shop_ids), col(Task.done_at).is_(None)).order_by(col(Task.id))).all()
        return [{"claim": claim_key(c.shop_id, c.order_number), "action": t.kind, "kind": "task",
                 "due_on": t.created_at.date().isoformat(), "open_amount": str(c.open_amount), "currency": c.currency,
                 "reason": t.text} for t, c in found]


def close_work(case: Case, *, note: str, skipped: bool) -> list[str]:
    """Close the claim's open executor tasks (with a ledger entry each); their kinds, or [] if it has none."""
    open_rows = case.session.execute(select(Task).where(col(Task.claim_id) == case.claim.id,
                                                        col(Task.done_at).is_(None))).scalars().all()
    for task in open_rows:
        task.done_at, task.done_by = case.now, case.actor
        case.session.add(task)
        case.record("task", {"task": task.kind, "text": task.text, "skipped": skipped, "note": note})
    return [t.kind for t in open_rows]


def finish_tasks(store: Store, config: Config, ref: str, *, skipped: bool, note: str, by: str, source: str,
                 now: datetime, command: str, wait: float = 30.0) -> str:
    """Mark the claim's open tasks done (or skipped): the executor's if it has any, else its due manual stage, so
    the ladder goes on. Returns what was finished ("get_email", "phone_call", ...)."""

    def work(case: Case) -> str:
        closed = close_work(case, note=note, skipped=skipped)
        if closed:
            return ", ".join(closed)
        return str(finish_task(case, skipped=skipped, note=note).data["stage"])

    return act_on_case(store, config, ref, work, by=by, source=source, now=now, command=command, wait=wait)
