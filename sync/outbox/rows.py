"""The outbox rows themselves: their keys, which are due, how long a failed one waits, how many are in each state.

Each decided action becomes a row with a deterministic idempotency key before anything is executed, and moves
pending → sending → done (or skipped, or dead) in its own committed steps. A restart resumes from the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select

from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import OutboxRow, OutboxState, table_of

OUTBOX = table_of(OutboxRow)
EXECUTED_KINDS = ("send", "handover", "close")  # a policy task waits for a person (`mahnwerk tasks`)
# every kind of row the executor, the agency batch and the payment write-back work off
ROW_KINDS = (*EXECUTED_KINDS, "agency_update", "writeback")


def outbox_key(shop_id: str, order_id: str, stage: str, occurrence: int) -> str:
    """SHOP/ORDER_ID/STAGE/N: N counts how often the claim's ledger already holds the stage (a plan that breaks may
    send the final notice a second time, on purpose); the same decision on a later day finds the same key."""
    return f"{shop_id}/{order_id}/{stage}/{occurrence}"


def ready_rows(store: Store, shop_id: str, now: datetime, *, kinds: Sequence[str]) -> list[int]:
    """Ids of the shop's rows that are due for an attempt, oldest first."""
    with store.connection() as conn:
        return list(conn.execute(select(OUTBOX.c.id).where(
            OUTBOX.c.shop_id == shop_id, OUTBOX.c.state.in_((OutboxState.PENDING, OutboxState.SENDING)),
            OUTBOX.c.kind.in_(kinds), OUTBOX.c.next_attempt_at <= now).order_by(OUTBOX.c.id)).scalars())


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
