"""Syncing: each shop in isolation, under its lock, with a record of every run; then its payments (inbox and
providers) and matching. The CLI's `sync`, `run` and the daemon call the same function."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlmodel import col

from mahnwerk.connectors.mollie_source import MollieSource
from mahnwerk.connectors.stripe_source import StripeSource
from mahnwerk.errors import MahnwerkError, ShopAuthFailed
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.mirror import Mirror, SyncCounts, ensure_shop, utcnow
from mahnwerk.sync.payments.sources import Collected, collect
from mahnwerk.sync.service.bootstrap import auth_hint, build_payment_sources, connect_shop
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.locks import ShopBusy, shop_lock
from mahnwerk.sync.store.models import SyncRun

log = structlog.get_logger("mahnwerk.sync")


@dataclass(frozen=True, slots=True)
class ShopSyncResult:
    """The outcome of syncing one shop: its counts, and the error that stopped it, if any."""

    counts: SyncCounts
    error: str = ""
    auth_failed: bool = False
    payments: Collected | None = None
    busy: bool = False  # another process had the shop longer than we would wait: nothing was done

    @property
    def ok(self) -> bool:
        """True when the shop synced without error."""
        return not self.error

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary for `sync --json` and monitoring."""
        c = self.counts
        return {"shop": c.shop, "ok": self.ok, "busy": self.busy, "error": self.error, "new": c.new,
                "updated": c.updated, "closed": c.closed, "quarantined": c.quarantined, "requests": c.requests,
                "pages": c.pages, "orders_seen": c.orders_seen, "reread": c.reread, "seconds": round(c.seconds, 3),
                "payments": self.payments.as_dict() if self.payments else None}


def sync_shops(store: Store, shops: Sequence[ShopConfig], *, reread: bool | None = None,
               on_page: Callable[[SyncCounts], None] | None = None, wait: float = 30.0) -> list[ShopSyncResult]:
    """Sync each shop in turn; a shop that fails (auth, outage, bad answers) or is busy does not stop the others."""
    return [sync_one(store, shop, reread=reread, on_page=on_page, wait=wait) for shop in shops]


def sync_one(store: Store, shop: ShopConfig, *, reread: bool | None = None,
             on_page: Callable[[SyncCounts], None] | None = None, wait: float = 30.0,
             command: str = "sync") -> ShopSyncResult:
    """Sync one shop under its lock (waiting up to `wait` seconds for it) and record the run in `sync_runs`."""
    try:
        with shop_lock(store, shop.id, command=command, wait=wait):
            return _sync_locked(store, shop, reread=reread, on_page=on_page)
    except ShopBusy as exc:
        log.warning("sync.busy", shop=shop.id, holder=exc.holder)
        return ShopSyncResult(SyncCounts(shop=shop.id), str(exc), busy=True)


def _sync_locked(store: Store, shop: ShopConfig, *, reread: bool | None,
                 on_page: Callable[[SyncCounts], None] | None) -> ShopSyncResult:
    run_id = _start_run(store, shop)
    counts, error, auth_failed, requests = SyncCounts(shop=shop.id), "", False, 0
    try:
        source = connect_shop(shop)
    except MahnwerkError as exc:  # a kind this version cannot connect to, a secret that cannot be read
        source, error = None, str(exc)
    if source is not None:
        try:
            counts = Mirror(store, shop, source).run(reread=reread, on_page=on_page)
        except ShopAuthFailed as exc:
            error, auth_failed = f"{exc} ({auth_hint(shop)})", True
        except MahnwerkError as exc:
            error = str(exc)
        except (IntegrityError, OperationalError) as exc:  # environmental, not a bug: say so, keep the run record
            error = (f"database error while syncing shop '{shop.id}': {exc.orig} (committed pages are kept; the "
                     "next sync continues from them)")
        except BaseException as exc:  # a bug or an interrupt: the run is recorded as failed, the traceback stays
            _finish_run(store, run_id, counts, f"interrupted: {type(exc).__name__}: {exc}")
            raise
        finally:
            requests = source.requests_made
            source.close()
    counts.requests = counts.requests or requests
    if error:
        log.error("sync.failed", shop=shop.id, error=error)
    _finish_run(store, run_id, counts, error)
    changed = counts.new + counts.updated > 0  # a new claim may be what a waiting payment pays
    return ShopSyncResult(counts, error, auth_failed, collect_payments(store, shop, claims_changed=changed))


def collect_payments(store: Store, shop: ShopConfig, *, claims_changed: bool) -> Collected:
    """The shop's inbox and payment providers, then matching (when payments came in or claims changed).
    Independent of the shop's API: a shop that is down still gets its payments booked."""
    sources: list[StripeSource | MollieSource] = []
    try:
        sources = build_payment_sources(shop)
        return collect(store, shop, now=utcnow(), providers=sources, match=claims_changed)
    except MahnwerkError as exc:
        log.error("payments.failed", shop=shop.id, error=str(exc))
        return Collected(shop.id, errors=[str(exc)])
    except SQLAlchemyError as exc:  # the day's run goes on without the payments; what is committed stays
        error = f"payments of shop '{shop.id}' not booked: database error: {getattr(exc, 'orig', None) or exc}"
        log.error("payments.failed", shop=shop.id, error=error.splitlines()[0])
        return Collected(shop.id, errors=[error.splitlines()[0]])
    finally:
        for source in sources:
            source.close()


def _start_run(store: Store, shop: ShopConfig) -> int:
    ensure_shop(store, shop, utcnow())
    with store.session() as session:
        # We hold the shop's lock: a run still `running` belongs to a process that was killed or lost its
        # database before it could record the end. It failed; `status` must not show it running for ever.
        session.execute(update(SyncRun).where(col(SyncRun.shop_id) == shop.id, col(SyncRun.outcome) == "running")
                        .values(outcome="failed", finished_at=utcnow(),
                                error="interrupted: the process ended (killed, or the database went away) "
                                      "before the run was recorded as finished"))
        run = SyncRun(shop_id=shop.id, started_at=utcnow())
        session.add(run)
        session.commit()
        assert run.id is not None
        return run.id


def _finish_run(store: Store, run_id: int, counts: SyncCounts, error: str) -> None:
    with store.session() as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.finished_at, run.outcome, run.error = utcnow(), "failed" if error else "ok", error[:2000]
        run.new, run.updated, run.closed = counts.new, counts.updated, counts.closed
        run.quarantined, run.requests = counts.quarantined, counts.requests
        session.commit()
