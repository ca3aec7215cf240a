"""Read-only views of the store as plain data: the CLI renders them as tables or JSON, so both always agree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from mahnwerk.policy.aging import AgingLine, aging_totals, bucket, days_overdue
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.claimdata import local_date
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, ClaimState, Quarantine

STATES = ("open", "in_collection", "closed", "all")


def claim_rows(store: Store, shops: Sequence[ShopConfig], *, state: str = "open", now: datetime) -> list[dict[str, Any]]:
    """Claims of the given shops as JSON-ready dicts, most overdue first; days counted in each shop's timezone."""
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)} (got {state!r})")
    zones = {shop.id: shop.timezone for shop in shops}
    query = select(Claim).where(Claim.shop_id.in_(list(zones)))
    if state == "open":
        query = query.where(Claim.state == ClaimState.OPEN)
    elif state == "in_collection":
        query = query.where(Claim.state == ClaimState.IN_COLLECTION)
    elif state == "closed":
        query = query.where(Claim.state.not_in((ClaimState.OPEN, ClaimState.IN_COLLECTION)))
    with store.session() as session:
        claims = session.execute(query.order_by(Claim.due_date, Claim.shop_id, Claim.id)).scalars().all()
    rows = []
    for claim in claims:
        today = local_date(now, zones[claim.shop_id])
        overdue = days_overdue(claim.due_date, today) if claim.state == ClaimState.OPEN else 0
        rows.append({
            "shop": claim.shop_id,
            "order_id": claim.order_id,
            "order_number": claim.order_number,
            "invoice_number": claim.invoice_number,
            "invoice_date": claim.invoice_date.isoformat(),
            "customer": claim.customer_name,
            "company": claim.company,
            "b2b": claim.is_b2b,
            "state": claim.state,
            "shop_status": claim.shop_status,
            "gross_amount": str(claim.gross_amount),
            "open_amount": str(claim.open_amount),
            "currency": claim.currency,
            "due_date": claim.due_date.isoformat(),
            "days_overdue": overdue,
            "aging": bucket(overdue) if claim.state == ClaimState.OPEN else None,
        })
    return rows


def aging(rows: Sequence[dict[str, Any]]) -> list[AgingLine]:
    """Totals per currency and aging bucket over the open claims among `rows`."""
    return aging_totals((r["currency"], Decimal(r["open_amount"]), r["days_overdue"])
                        for r in rows if r["state"] == ClaimState.OPEN)


def quarantine_rows(store: Store, shops: Sequence[ShopConfig], *, include_resolved: bool = False) -> list[dict[str, Any]]:
    """Quarantined records with their reason, newest first."""
    query = select(Quarantine).where(Quarantine.shop_id.in_([s.id for s in shops]))
    if not include_resolved:
        query = query.where(Quarantine.resolved_at.is_(None))
    with store.session() as session:
        items = session.execute(query.order_by(Quarantine.last_seen_at.desc())).scalars().all()
    return [{"shop": q.shop_id, "order_id": q.record_id, "field": q.field, "reason": q.reason,
             "first_seen": q.first_seen_at.isoformat(), "last_seen": q.last_seen_at.isoformat(),
             "times_seen": q.times_seen, "resolved": q.resolved_at.isoformat() if q.resolved_at else None}
            for q in items]
