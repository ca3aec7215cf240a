"""The mirror: upserts a shop's orders into claims, a page per transaction, and moves the cursor with the page.

A page and the cursor that covers it are committed together, so a process killed between pages resumes from
the last committed page and re-reads at most one page (re-seen orders are idempotent upserts).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time as dtime
from typing import Any, Protocol

import structlog
from sqlalchemy import insert, select, update
from sqlmodel import Session

from mahnwerk.connectors.records import Page, Rejected, ShopOrder
from mahnwerk.sync.claimdata import changes, claim_fields, claim_state, is_new_claim
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.models import Claim, ClaimState, LedgerEntry, Quarantine, Shop, SyncCursor
from mahnwerk.sync.store import Store

log = structlog.get_logger("mahnwerk.mirror")
CLAIMS, LEDGER, QUARANTINE = Claim.__table__, LedgerEntry.__table__, Quarantine.__table__
ORDERS_STREAM, REREAD_STREAM = "orders", "reread"


class OrderSource(Protocol):
    """What the mirror needs from a shop connector."""

    requests_made: int

    def changed_pages(self, since: datetime | None) -> Iterator[Page[ShopOrder]]: ...

    def orders_by_id(self, ids: Sequence[str]) -> Iterator[Page[ShopOrder]]: ...


@dataclass
class SyncCounts:
    """What one sync did, for the summary line, the sync_runs table and monitoring."""

    shop: str
    new: int = 0
    updated: int = 0
    closed: int = 0
    quarantined: int = 0
    pages: int = 0
    orders_seen: int = 0
    orders_expected: int | None = None
    requests: int = 0
    seconds: float = 0.0
    reread: bool = False
    errors: list[str] = field(default_factory=list)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def ensure_shop(store: Store, shop: ShopConfig, now: datetime) -> None:
    """Create or refresh the shop's row, which claims and runs refer to."""
    with store.session() as session:
        row = session.get(Shop, shop.id)
        if row is None:
            session.add(Shop(id=shop.id, kind=shop.kind, url=shop.url, created_at=now))
        elif (row.kind, row.url) != (shop.kind, shop.url):
            row.kind, row.url = shop.kind, shop.url
        session.commit()


class Mirror:
    """Mirrors one shop into the store."""

    def __init__(self, store: Store, shop: ShopConfig, source: OrderSource, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.shop, self.source, self.clock = store, shop, source, clock

    def run(self, *, reread: bool | None = None, on_page: Callable[[SyncCounts], None] | None = None) -> SyncCounts:
        """One sync: changed orders since the cursor, then (when due or asked) a re-read of all open claims."""
        started, begun = self.clock(), time.monotonic()
        counts = SyncCounts(shop=self.shop.id)
        requests_before = self.source.requests_made
        ensure_shop(self.store, self.shop, started)
        cursor = self._cursor(ORDERS_STREAM)
        since = cursor - self.shop.sync.overlap if cursor else self._backfill_start()
        log.info("mirror.start", shop=self.shop.id, since=since.isoformat() if since else None)
        for page in self.source.changed_pages(since):
            if counts.orders_expected is None:
                counts.orders_expected = page.total
            self._apply(page, counts, advance_to=min(page.newest, started) if page.newest else None, now=started)
            self._progress(counts, requests_before, on_page)
        if cursor is None and self._cursor(ORDERS_STREAM) is None:  # an empty shop: start from now next time
            self._commit_cursor(ORDERS_STREAM, started)
        last_reread = self._cursor(REREAD_STREAM)
        if reread or (reread is None and last_reread and started - last_reread >= self.shop.sync.reread_interval):
            self._reread(counts, started, requests_before, on_page)
        elif last_reread is None:  # a fresh backfill has just read everything
            self._commit_cursor(REREAD_STREAM, started)
        counts.requests = self.source.requests_made - requests_before
        counts.seconds = time.monotonic() - begun
        log.info("mirror.done", shop=self.shop.id, new=counts.new, updated=counts.updated, closed=counts.closed,
                 quarantined=counts.quarantined, requests=counts.requests, seconds=round(counts.seconds, 3))
        return counts

    def _reread(self, counts: SyncCounts, started: datetime, requests_before: int,
                on_page: Callable[[SyncCounts], None] | None) -> None:
        """Re-read every open claim by id: catches deletions and changes that did not move date_modified."""
        counts.reread = True
        with self.store.session() as session:
            ids = list(session.execute(select(CLAIMS.c.order_id).where(
                CLAIMS.c.shop_id == self.shop.id, CLAIMS.c.state == ClaimState.OPEN)).scalars())
        for page in self.source.orders_by_id(ids):
            self._apply(page, counts, advance_to=None, now=started)
            self._progress(counts, requests_before, on_page)
        self._commit_cursor(REREAD_STREAM, started)

    def _progress(self, counts: SyncCounts, requests_before: int,
                  on_page: Callable[[SyncCounts], None] | None) -> None:
        counts.pages += 1
        counts.requests = self.source.requests_made - requests_before
        if on_page:
            on_page(counts)

    def _apply(self, page: Page[ShopOrder], counts: SyncCounts, *, advance_to: datetime | None,
               now: datetime) -> None:
        """Upsert one page, quarantine its bad records and move the cursor, all in one transaction."""
        with self.store.session() as session:
            ids = [o.order_id for o in page.records] + [r.record_id for r in page.rejected] + page.missing
            known = self._known(session, ids)
            new, updated, closed = self._upsert(session, page.records, known, now)
            closed += self._mark_deleted(session, [known[i] for i in page.missing if i in known], now)
            quarantined = self._quarantine(session, page.rejected, known, now)
            self._resolve_quarantine(session, [o.order_id for o in page.records], now)
            if advance_to is not None:
                self._set_cursor(session, ORDERS_STREAM, advance_to, now, only_forward=True)
            session.commit()
        counts.new += new
        counts.updated += updated
        counts.closed += closed
        counts.quarantined += quarantined
        counts.orders_seen += len(page.records) + len(page.rejected)
        log.info("mirror.page", shop=self.shop.id, orders=len(page.records), rejected=len(page.rejected),
                 new=new, updated=updated, closed=closed)

    def _known(self, session: Session, order_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not order_ids:
            return {}
        rows = session.execute(select(CLAIMS).where(CLAIMS.c.shop_id == self.shop.id,
                                                    CLAIMS.c.order_id.in_(order_ids))).mappings()
        return {row["order_id"]: dict(row) for row in rows}

    def _upsert(self, session: Session, orders: Iterable[ShopOrder], known: dict[str, dict[str, Any]],
                now: datetime) -> tuple[int, int, int]:
        inserts, updates, ledger_for_updates, closed = [], [], [], 0
        for order in dict((o.order_id, o) for o in orders).values():  # a page may repeat an id; last wins
            old = known.get(order.order_id)
            if old is None:
                if is_new_claim(order, self.shop):
                    inserts.append(claim_fields(order, self.shop, state=ClaimState.OPEN)
                                   | {"shop_id": self.shop.id, "first_seen_at": now, "updated_at": now})
                continue
            state = claim_state(order, self.shop)
            if state is None:  # a status the mapping does not name: keep the claim as it is, note the status
                state = old["state"]
            new = claim_fields(order, self.shop, state=state)
            diff = changes(old, new)
            if not diff:
                continue
            became_closed = old["state"] == ClaimState.OPEN and state != ClaimState.OPEN
            closed += became_closed
            kind = "closed" if became_closed else "reopened" if state == ClaimState.OPEN != old["state"] else "changed"
            updates.append(new | {"id": old["id"], "updated_at": now,
                                  "closed_at": now if became_closed else None if state == ClaimState.OPEN else old["closed_at"]})
            ledger_for_updates.append({"claim_id": old["id"], "at": now, "kind": kind, "source": "sync",
                                       "data": {"changes": diff, "shop_status": order.status}})
        if inserts:
            ids = session.execute(insert(CLAIMS).returning(CLAIMS.c.id, sort_by_parameter_order=True), inserts).scalars()
            session.execute(insert(LEDGER), [
                {"claim_id": claim_id, "at": now, "kind": "opened", "source": "sync",
                 "data": {"order_number": row["order_number"], "gross_amount": str(row["gross_amount"]),
                          "open_amount": str(row["open_amount"]), "currency": row["currency"],
                          "due_date": row["due_date"].isoformat(), "shop_status": row["shop_status"]}}
                for claim_id, row in zip(ids, inserts, strict=True)])
        if updates:
            session.execute(update(Claim), updates)
            session.execute(insert(LEDGER), ledger_for_updates)
        return len(inserts), len(updates), closed

    def _mark_deleted(self, session: Session, claims: list[dict[str, Any]], now: datetime) -> int:
        """Orders the shop no longer has at all: the claim closes as deleted."""
        open_claims = [c for c in claims if c["state"] == ClaimState.OPEN]
        if not open_claims:
            return 0
        session.execute(update(Claim), [{"id": c["id"], "state": ClaimState.DELETED, "closed_at": now,
                                         "updated_at": now} for c in open_claims])
        session.execute(insert(LEDGER), [{"claim_id": c["id"], "at": now, "kind": "closed", "source": "sync",
                                          "data": {"changes": {"state": [c["state"], ClaimState.DELETED]},
                                                   "reason": "the shop no longer has this order"}}
                                         for c in open_claims])
        return len(open_claims)

    def _quarantine(self, session: Session, rejected: list[Rejected], known: dict[str, dict[str, Any]],
                    now: datetime) -> int:
        """Keep bad records that matter (invoice orders, or orders we already hold) with their reason."""
        relevant = [r for r in rejected
                    if r.record_id in known or r.raw.get("payment_method") in self.shop.invoice.payment_methods]
        for r in relevant:
            existing = session.execute(select(QUARANTINE.c.id, QUARANTINE.c.times_seen).where(
                QUARANTINE.c.shop_id == self.shop.id, QUARANTINE.c.record_id == r.record_id)).first()
            values = {"field": r.field, "reason": r.message[:1000], "raw": r.raw, "last_seen_at": now,
                      "resolved_at": None}
            if existing:
                session.execute(update(QUARANTINE).where(QUARANTINE.c.id == existing.id)
                                .values(values | {"times_seen": existing.times_seen + 1}))
            else:
                session.execute(insert(QUARANTINE).values(values | {"shop_id": self.shop.id, "record_id": r.record_id,
                                                                    "first_seen_at": now, "times_seen": 1}))
            log.warning("mirror.quarantined", shop=self.shop.id, order_id=r.record_id, field=r.field)
        return len(relevant)

    def _resolve_quarantine(self, session: Session, order_ids: list[str], now: datetime) -> None:
        """A record that parses again leaves quarantine (the row stays, marked resolved, for the record)."""
        if order_ids:
            session.execute(update(QUARANTINE).where(
                QUARANTINE.c.shop_id == self.shop.id, QUARANTINE.c.record_id.in_(order_ids),
                QUARANTINE.c.resolved_at.is_(None)).values(resolved_at=now))

    def _backfill_start(self) -> datetime | None:
        """Midnight of `sync.since` in the shop's timezone, or None to read every order."""
        since = self.shop.sync.since
        return datetime.combine(since, dtime(0), self.shop.timezone).astimezone(UTC) if since else None

    def _cursor(self, stream: str) -> datetime | None:
        with self.store.session() as session:
            row = session.get(SyncCursor, (self.shop.id, stream))
            return row.value if row else None

    def _commit_cursor(self, stream: str, value: datetime) -> None:
        with self.store.session() as session:
            self._set_cursor(session, stream, value, value, only_forward=False)
            session.commit()

    def _set_cursor(self, session: Session, stream: str, value: datetime, now: datetime, *,
                    only_forward: bool) -> None:
        row = session.get(SyncCursor, (self.shop.id, stream))
        if row is None:
            session.add(SyncCursor(shop_id=self.shop.id, stream=stream, value=value, updated_at=now))
        elif not only_forward or value > row.value:
            row.value, row.updated_at = value, now
        session.flush()
