"""The mirror: a shop's changed orders into claims, page by page, the cursor moving in the pages' transaction.

Pages and the cursor that covers them are committed together, so a process killed between pages resumes from
the last committed page (re-seen orders are idempotent upserts). Connectors read the next page ahead while this
one is written (connectors/readahead.py). Pages that arrive faster than COMMIT_EVERY share a transaction: a
commit per page cost a backfill more than the pages' rows (on PostgreSQL BEGIN, SET LOCAL, the cursor's UPDATE and
COMMIT are four round trips per page; on SQLite each commit writes the pages of ten claims indexes to the WAL
again). A shop slower than that (a real one answers in 150-400 ms) still gets a commit per page; a crash loses at
most the pages of the last COMMIT_EVERY, read again by the next sync.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as dtime
from weakref import WeakKeyDictionary

import structlog
from sqlalchemy import Connection, select, update

from mahnwerk.connectors.records import Page, ShopOrder
from mahnwerk.connectors.shop import OrderReader
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.business import reclassify
from mahnwerk.sync.mirror.cursors import read_cursor, write_cursor
from mahnwerk.sync.mirror.pagewriter import PageResult, PageWriter, unresolved_quarantine
from mahnwerk.sync.store.bulk import insert_new
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, ClaimState, Shop, table_of

log = structlog.get_logger("mahnwerk.mirror")
SHOPS, CLAIMS = table_of(Shop), table_of(Claim)
ORDERS_STREAM, REREAD_STREAM = "orders", "reread"
COMMIT_EVERY = 0.1  # seconds: pages written within this long after the last commit join its successor's transaction
COMMIT_PAGES = 50  # and at most this many pages in one transaction
# The `business_when` each shop's open claims were last classified under, per store, in this process.
CLASSIFIED: WeakKeyDictionary[Store, dict[str, tuple[str, ...]]] = WeakKeyDictionary()


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
    quarantined_ids: set[str] = field(default_factory=set, repr=False)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def ensure_shop(store: Store, shop: ShopConfig, now: datetime) -> None:
    """Create or refresh the shop's row, which claims and runs refer to (a row another process made is kept)."""
    with store.connection() as conn:
        insert_new(conn, SHOPS, [{"id": shop.id, "kind": shop.kind, "url": shop.url, "created_at": now}], key="id")
        conn.execute(update(SHOPS).where(SHOPS.c.id == shop.id, (SHOPS.c.kind != shop.kind) | (SHOPS.c.url != shop.url))
                     .values(kind=shop.kind, url=shop.url))
        conn.commit()


class Mirror:
    """Mirrors one shop into the store."""

    def __init__(self, store: Store, shop: ShopConfig, source: OrderReader, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.shop, self.source, self.clock = store, shop, source, clock

    def run(self, *, reread: bool | None = None, on_page: Callable[[SyncCounts], None] | None = None) -> SyncCounts:
        """One sync: changed orders since the cursor, then (when due or asked) a re-read of all open claims."""
        started, begun = self.clock(), time.monotonic()
        counts = SyncCounts(shop=self.shop.id)
        requests_before = self.source.requests_made
        ensure_shop(self.store, self.shop, started)
        with self.store.connection() as conn:  # one connection for the run, a transaction per page
            cursor, last_reread = (read_cursor(conn, self.shop.id, s) for s in (ORDERS_STREAM, REREAD_STREAM))
            writer = PageWriter(self.shop, now=started, unresolved=unresolved_quarantine(conn, self.shop.id))
            conn.rollback()
            since = cursor - self.shop.sync.overlap if cursor else self._backfill_start()
            log.debug("mirror.start", shop=self.shop.id, since=since.isoformat() if since else None)
            # Capped at the run's start: one order with a date in the future must not carry the cursor past
            # everything that changes until then.
            self._write_pages(conn, writer, self.source.changed_pages(since), counts, requests_before, on_page,
                              advance=lambda page: min(page.newest, started) if page.newest is not None else None)
            # No page, no cursor: the orders cursor holds the shop's own timestamps only, never our clock, which
            # may run ahead of the shop's (an empty shop is asked for everything again, which is one request).
            self._classify(conn, counts, started)
            if reread is None:
                reread = last_reread is not None and started - last_reread >= self.shop.sync.reread_interval
            if reread:
                self._reread(conn, writer, counts, requests_before, on_page)
            if reread or last_reread is None:  # a fresh backfill has just read everything
                write_cursor(conn, self.shop.id, REREAD_STREAM, started, now=started)
                conn.commit()
        counts.requests = self.source.requests_made - requests_before
        counts.seconds = time.monotonic() - begun
        # An idle poll (nothing new, nothing changed) is the normal case every few minutes: debug, not info.
        changed = counts.new or counts.updated or counts.closed or counts.quarantined
        (log.info if changed else log.debug)(
            "mirror.done", shop=self.shop.id, new=counts.new, updated=counts.updated, closed=counts.closed,
            quarantined=counts.quarantined, requests=counts.requests, seconds=round(counts.seconds, 3))
        return counts

    def _classify(self, conn: Connection, counts: SyncCounts, now: datetime) -> None:
        """Open claims classified under another `business_when` are classified again: once per store, shop and
        setting in this process (a changed setting arrives with a new configuration)."""
        done = CLASSIFIED.setdefault(self.store, {})
        if done.get(self.shop.id) == self.shop.policy.business_when:
            return
        changed = reclassify(conn, self.shop, now=now)
        conn.commit()
        done[self.shop.id] = self.shop.policy.business_when
        counts.updated += changed
        if changed:
            log.info("mirror.reclassified", shop=self.shop.id, claims=changed)

    def _reread(self, conn: Connection, writer: PageWriter, counts: SyncCounts, requests_before: int,
                on_page: Callable[[SyncCounts], None] | None) -> None:
        """Re-read every open claim by id: catches deletions and changes that did not move date_modified."""
        counts.reread = True
        ids = list(conn.execute(select(CLAIMS.c.order_id).where(
            CLAIMS.c.shop_id == self.shop.id, CLAIMS.c.state == ClaimState.OPEN)).scalars())
        conn.rollback()
        self._write_pages(conn, writer, self.source.orders_by_id(ids), counts, requests_before, on_page,
                          advance=lambda page: None)

    def _write_pages(self, conn: Connection, writer: PageWriter, pages: Iterable[Page[ShopOrder]],
                     counts: SyncCounts, requests_before: int, on_page: Callable[[SyncCounts], None] | None, *,
                     advance: Callable[[Page[ShopOrder]], datetime | None]) -> None:
        """Write each page; commit with the cursor at the newest of the pages written when COMMIT_EVERY has passed
        since the last commit (or COMMIT_PAGES pages wait), at the end, and before an error of the shop ends the
        run: pages written before it are kept, as they were with a commit per page."""
        batch = _Batch(writer.now)
        last_commit = time.monotonic()
        iterator = iter(pages)
        while True:
            try:
                page = next(iterator)
            except StopIteration:
                break
            except BaseException:
                self._commit(conn, batch, counts)
                raise
            if counts.orders_expected is None:
                counts.orders_expected = page.total
            if not batch.pages:
                self.store.refetchable(conn)
            batch.add(self._write(conn, writer, page), len(page.records) + len(page.rejected), advance(page))
            if len(batch.pages) >= COMMIT_PAGES or time.monotonic() - last_commit >= COMMIT_EVERY:
                self._commit(conn, batch, counts)
                last_commit = time.monotonic()
            self._progress(counts, requests_before, on_page)
        self._commit(conn, batch, counts)

    def _write(self, conn: Connection, writer: PageWriter, page: Page[ShopOrder]) -> PageResult:
        """Write one page, in the open transaction."""
        result = writer.apply(conn, page)
        wrote = result.new or result.updated or result.closed or page.rejected
        (log.info if wrote else log.debug)("mirror.page", shop=self.shop.id, orders=len(page.records),
                                           rejected=len(page.rejected), new=result.new, updated=result.updated,
                                           closed=result.closed)
        return result

    def _commit(self, conn: Connection, batch: _Batch, counts: SyncCounts) -> None:
        """Move the cursor over the pages written since the last commit and commit them, then count what they did.
        The cursor only ever covers committed pages: it moves in their transaction."""
        if not batch.pages:
            return
        if batch.advance_to is not None:
            write_cursor(conn, self.shop.id, ORDERS_STREAM, batch.advance_to, now=batch.now, only_forward=True)
        conn.commit()
        for result, orders in batch.pages:
            counts.new += result.new
            counts.updated += result.updated
            counts.closed += result.closed
            counts.quarantined_ids |= result.quarantined
            counts.orders_seen += orders
        counts.quarantined = len(counts.quarantined_ids)  # overlapping pages may show a bad record twice
        batch.pages.clear()
        batch.advance_to = None

    def _progress(self, counts: SyncCounts, requests_before: int,
                  on_page: Callable[[SyncCounts], None] | None) -> None:
        counts.pages += 1
        counts.requests = self.source.requests_made - requests_before
        if on_page:
            on_page(counts)

    def _backfill_start(self) -> datetime | None:
        """Midnight of `sync.since` in the shop's timezone, or None to read every order."""
        since = self.shop.sync.since
        return datetime.combine(since, dtime(0), self.shop.timezone).astimezone(UTC) if since else None


@dataclass
class _Batch:
    """Pages written and not committed yet: what each did and its number of orders (not the page itself), and the
    newest change among them, where the cursor moves with their commit."""

    now: datetime
    pages: list[tuple[PageResult, int]] = field(default_factory=list)
    advance_to: datetime | None = None

    def add(self, result: PageResult, orders: int, advance_to: datetime | None) -> None:
        self.pages.append((result, orders))
        if advance_to is not None and (self.advance_to is None or advance_to > self.advance_to):
            self.advance_to = advance_to
