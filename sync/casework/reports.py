"""Read-only views of the store as plain data: the CLI renders them as tables or JSON, so both always agree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from mahnwerk.policy.account import account
from mahnwerk.policy.aging import AgingLine, aging_totals, bucket, days_overdue
from mahnwerk.policy.engine import owed
from mahnwerk.policy.interest import cents
from mahnwerk.policy.model import Event, Policy
from mahnwerk.policy.rates import MissingRate
from mahnwerk.sync.casework.casefile import facts, histories
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.claimdata import local_date
from mahnwerk.sync.store.bulk import chunked
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, ClaimState, Quarantine

STATES = ("open", "in_collection", "closed", "all")
OWING = (ClaimState.OPEN, ClaimState.IN_COLLECTION)
NOTHING = Decimal("0.00")


def figures(claim: Claim, history: Sequence[Event], today: date, policy: Policy) -> tuple[Decimal, Decimal | None]:
    """(principal still open after the payments booked here, everything owed today: principal, fees, flat fee and
    interest) for a claim that is open or with the agency; the second is None while interest is blocked (no base
    rate for a day it needs), and the first then counts the payments against the fees and the principal only."""
    claim_facts = facts(claim)
    try:
        balance = owed(claim_facts, history, today, policy)
    except MissingRate:
        known = account(claim_facts, history, today, policy.interest_rule(claim_facts), None)  # no default: no interest
        return cents(known.principal), None
    return cents(balance.principal), cents(balance.total)


def claim_rows(store: Store, shops: Sequence[ShopConfig], *, state: str = "open", now: datetime,
               email: str | None = None, customer_id: str | None = None) -> list[dict[str, Any]]:
    """Claims of the given shops (of one customer if given: their e-mail address in any case, or their account id
    in the shop) as JSON-ready dicts, most overdue first; days counted in each shop's timezone."""
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)} (got {state!r})")
    zones = {shop.id: shop.timezone for shop in shops}
    query = select(Claim).where(col(Claim.shop_id).in_(list(zones)), *state_condition(state))
    if email is not None:
        query = query.where(func.lower(col(Claim.email)) == email.strip().lower())
    if customer_id is not None:
        query = query.where(col(Claim.customer_id) == customer_id.strip())
    by_id = {shop.id: shop for shop in shops}
    with store.session() as session:
        claims = session.execute(query.order_by(col(Claim.due_date), col(Claim.shop_id), col(Claim.id))).scalars().all()
        events: dict[int, list[Event]] = {}
        for shop in shops:
            owing = [c.id for c in claims if c.shop_id == shop.id and c.state in OWING]
            for ids in chunked(owing, 5000):  # SQLite takes at most 32,766 parameters
                events.update(histories(session.connection(), ids, shop.timezone))
    return [claim_row(claim, events.get(claim.id, ()), local_date(now, zones[claim.shop_id]),
                      by_id[claim.shop_id].policy) for claim in claims]


def state_condition(state: str) -> list[Any]:
    """The WHERE conditions on claims for one of STATES ("all": none)."""
    if state == "open":
        return [col(Claim.state) == ClaimState.OPEN]
    if state == "in_collection":
        return [col(Claim.state) == ClaimState.IN_COLLECTION]
    if state == "closed":
        return [col(Claim.state).not_in((ClaimState.OPEN, ClaimState.IN_COLLECTION))]
    return []


def claim_row(claim: Claim, history: Sequence[Event], today: date, policy: Policy) -> dict[str, Any]:
    """One claim as a JSON-ready dict (`mahnwerk claims --json`, the console's list and its CSV) on `today`."""
    overdue = days_overdue(claim.due_date, today) if claim.state == ClaimState.OPEN else 0
    principal, total = figures(claim, history, today, policy) if claim.state in OWING else (NOTHING, NOTHING)
    return {
        "shop": claim.shop_id,
        "order_id": claim.order_id,
        "order_number": claim.order_number,
        "invoice_number": claim.invoice_number,
        "invoice_date": claim.invoice_date.isoformat(),
        "customer": claim.customer_name,
        "email": claim.email,
        "customer_id": claim.customer_id or None,
        "company": claim.company,
        "b2b": claim.is_b2b,
        "state": claim.state,
        "shop_status": claim.shop_status,
        "gross_amount": str(claim.gross_amount),
        "open_amount": str(principal),  # the principal still owed: the invoice less payments booked here
        "owed": str(total) if total is not None else None,  # with fees and interest; None: interest blocked
        "currency": claim.currency,
        "due_date": claim.due_date.isoformat(),
        "days_overdue": overdue,
        "aging": bucket(overdue) if claim.state == ClaimState.OPEN else None,
    }


def aging(rows: Sequence[dict[str, Any]]) -> list[AgingLine]:
    """Totals per currency and aging bucket over the open claims among `rows` (their open principal, as listed)."""
    return aging_totals((r["currency"], Decimal(r["open_amount"]), r["days_overdue"])
                        for r in rows if r["state"] == ClaimState.OPEN)


def quarantine_rows(store: Store, shops: Sequence[ShopConfig], *,
                    include_resolved: bool = False) -> list[dict[str, Any]]:
    """Quarantined records with their reason, newest first."""
    query = select(Quarantine).where(col(Quarantine.shop_id).in_([s.id for s in shops]))
    if not include_resolved:
        query = query.where(col(Quarantine.resolved_at).is_(None))
    with store.session() as session:
        items = session.execute(query.order_by(col(Quarantine.last_seen_at).desc())).scalars().all()
    return [{"shop": q.shop_id, "order_id": q.record_id, "field": q.field, "reason": q.reason,
             "first_seen": q.first_seen_at.isoformat(), "last_seen": q.last_seen_at.isoformat(),
             "times_seen": q.times_seen, "resolved": q.resolved_at.isoformat() if q.resolved_at else None}
            for q in items]
