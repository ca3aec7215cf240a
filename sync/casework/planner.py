"""The dry run: every open claim through the policy for one day, streamed in chunks so a million claims fit in
a small, constant amount of memory. Rows are plain JSON-ready dicts; the CLI prints them as a table or JSON."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Row, bindparam, select

from mahnwerk.policy.engine import Assessment, assess
from mahnwerk.policy.interest import cents
from mahnwerk.policy.model import Event
from mahnwerk.sync.casework.casefile import facts, shop_histories
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.claimdata import local_date
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, ClaimState, table_of

CLAIMS = table_of(Claim)


class PlanClaim(NamedTuple):
    """The columns of a claims row that plan reads. A plain tuple: a SQLAlchemy Row looks an attribute up in
    Python (~0.8 µs), a named tuple's costs a tenth of that, and plan reads eleven per claim."""

    id: int
    shop_id: str
    order_id: str
    order_number: str
    currency: str
    open_amount: Decimal
    invoice_date: date
    due_date: date
    is_b2b: bool
    payment_method: str


PLAN_COLUMNS = tuple(CLAIMS.c[name] for name in PlanClaim._fields)


def open_chunk(columns: Sequence[Any]) -> Any:
    """The next `size` open claims of a shop after id `after`, with `columns`."""
    return (select(*columns).where(CLAIMS.c.shop_id == bindparam("shop"), CLAIMS.c.state == ClaimState.OPEN,
                                   CLAIMS.c.id > bindparam("after"))
            .order_by(CLAIMS.c.id).limit(bindparam("size")))


OPEN_CHUNK = open_chunk(PLAN_COLUMNS)
# Where each chunk of `size` open claims ends, found from the one before without reading the claims: a walk along
# the (shop_id, state) index. A window function numbering all of them took 16 times as long on SQLite.
CHUNK_END = (select(CLAIMS.c.id).where(CLAIMS.c.shop_id == bindparam("shop"), CLAIMS.c.state == ClaimState.OPEN,
                                        CLAIMS.c.id > bindparam("after"))
             .order_by(CLAIMS.c.id).limit(1).offset(bindparam("skip")))
OPEN_REST = (select(*PLAN_COLUMNS).where(CLAIMS.c.shop_id == bindparam("shop"), CLAIMS.c.state == ClaimState.OPEN,
                                          CLAIMS.c.id > bindparam("after")).order_by(CLAIMS.c.id))
OPEN_RANGE = OPEN_REST.where(CLAIMS.c.id <= bindparam("last"))


def shop_today(shop: ShopConfig, now: datetime) -> date:
    """The calendar day it is in the shop's timezone."""
    return local_date(now, shop.timezone)


def open_chunks(store: Store, shop: ShopConfig, *, columns: Sequence[Any] = PLAN_COLUMNS, chunk: int = 5000
                ) -> Iterator[tuple[Sequence[Row], dict[int, list[Event]]]]:
    """The shop's open claims in id order, `chunk` rows (with `columns`, at least PLAN_COLUMNS) per query, each
    chunk with its claims' policy events (claims without any are absent)."""
    query = OPEN_CHUNK if columns is PLAN_COLUMNS else open_chunk(columns)
    after = 0
    with store.connection() as conn:
        while rows := conn.execute(query, {"shop": shop.id, "after": after, "size": chunk}).all():
            yield rows, shop_histories(conn, shop.id, rows[0].id, rows[-1].id, shop.timezone)
            after = rows[-1].id


def assessments(store: Store, shop: ShopConfig, today: date, *,
                chunk: int = 5000) -> Iterator[tuple[PlanClaim, Assessment]]:
    """(claim, assessment) for every open claim of the shop, in id order, `chunk` claims per query."""
    for rows, events in open_chunks(store, shop, chunk=chunk):
        for claim in map(PlanClaim._make, rows):
            yield claim, assess(facts(claim), events.get(claim.id, ()), today, shop.policy)


def plan_row(shop_id: str, row: PlanClaim, result: Assessment) -> dict[str, Any]:
    """One line of `mahnwerk plan --json`: the claim's next action, its date, fee, interest and the reason."""
    action = result.next
    balance = result.next_balance  # interest and amount owed on the action's day
    gap = result.gap  # interest not computable: no interest figure, what is owed without it, the table once
    known = balance or result.known if gap else None
    return {
        "shop": shop_id,
        "order_id": row.order_id,
        "order_number": row.order_number,
        "claim": result.claim.key,
        "action": action.stage or action.kind if action else "none",
        "kind": action.kind if action else None,
        "due_on": action.on.isoformat() if action else None,
        "deadline": action.deadline.isoformat() if action and action.deadline else None,
        "fee": str(cents(action.fee)) if action else "0.00",
        "interest": str(cents(balance.interest)) if balance and not gap else None,
        "open_amount": str(cents(balance.total)) if balance else None,
        "open_without_interest": str(cents(known.total)) if known else None,
        "currency": row.currency,
        "status": result.status,
        "code": result.code,
        "reason": result.reason,
        "default_since": result.default_on.isoformat() if result.default_on else None,
        # the engine's long text names the day; grouped per table, the short form is enough (`explain` has it all)
        "problem": f"no {gap.table} from {gap.since}" if gap else result.problem or None,
        "rate_gap": {"table": gap.table, "from": gap.since.isoformat()} if gap else None,
    }


@dataclass(frozen=True, slots=True)
class PlanChunk:
    """A shop's open claims with ids after `after` up to `last` (None: all after it), planned for `today`."""

    shop: ShopConfig
    today: date
    after: int
    last: int | None


def plan_chunks(store: Store, shops: Sequence[ShopConfig], *, on: date | None, now: datetime,
                chunk: int = 5000) -> list[PlanChunk]:
    """The open claims of the shops as chunks of `chunk` claims in plan order, for planning them apart (each on a
    core of its own: sync/casework/fanout.py). The last chunk of a shop runs to the end, so a claim added meanwhile
    is planned, once, as a single query would have found it."""
    found = []
    with store.connection() as conn:
        for shop in shops:
            ends: list[int] = []
            while (end := conn.execute(CHUNK_END, {"shop": shop.id, "after": ends[-1] if ends else 0,
                                                   "skip": chunk - 1}).scalar()) is not None:
                ends.append(end)
            today = on or shop_today(shop, now)
            lasts: list[int | None] = [*ends, None]
            found += [PlanChunk(shop, today, after, last) for after, last in zip([0, *ends], lasts, strict=True)]
    return found


def chunk_rows(store: Store, part: PlanChunk) -> Iterator[dict[str, Any]]:
    """The plan rows of one chunk's claims, in id order."""
    shop = part.shop
    query, bounds = (OPEN_REST, {}) if part.last is None else (OPEN_RANGE, {"last": part.last})
    with store.connection() as conn:
        rows = conn.execute(query, {"shop": shop.id, "after": part.after, **bounds}).all()
        events = shop_histories(conn, shop.id, rows[0].id, rows[-1].id, shop.timezone) if rows else {}
    for claim in map(PlanClaim._make, rows):
        yield plan_row(shop.id, claim, assess(facts(claim), events.get(claim.id, ()), part.today, shop.policy))


def plan_rows(store: Store, shops: Sequence[ShopConfig], *, on: date | None, now: datetime,
              chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Plan rows for every open claim of the shops on `on` (default: today in each shop's timezone)."""
    for shop in shops:
        today = on or shop_today(shop, now)
        for row, result in assessments(store, shop, today, chunk=chunk):
            yield plan_row(shop.id, row, result)
