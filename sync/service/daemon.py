"""`mahnwerk daemon`: the long-running process under systemd.

One job per shop, every `sync.interval`: under the shop's lock it syncs (orders, then payments and matching), and
then either does the day's run (decide and execute, as `mahnwerk run`) when it is due, or retries the outbox rows
whose time has come. The day's run is due from `delivery.run_at` (shop time) until it is done that day, so a run
missed because the database or the shop was down happens at the next tick after it answers again. Shops run in
parallel in a bounded pool (`[daemon] workers`); a shop held by another process (a command typed by hand, another
daemon) is skipped for this tick.

Several daemons on one PostgreSQL share the shops without being told which is whose: each schedules every shop,
and a tick that finds the shop synced by another process since its own last tick, less than an interval ago, skips
it and comes back just after that shop's next due time. So each shop is synced about once per interval by whoever
gets there first, and when a daemon dies its shop locks die with its database sessions and the others take its
shops at their next due time. The first ticks are spread over the time the pool needs for them (a second per
`workers` shops, at most an interval) and every tick comes a little late at random (a twentieth of the interval,
at most 15 s), so shops do not fire together.

A database that does not answer (a restart, a network blip) fails the tick without a traceback; the shop's next
tick comes early (after 5 s, doubling up to its interval) and catches up what was missed, the day's run included.

One more job, for the daemon and not per shop, runs `rates update` once a day on 1–14 January and July
(service/baserates.py's RatesJob).

With `[daemon] metrics_listen` it serves Prometheus metrics and /healthz (service/metrics.py); under systemd it
reports READY, WATCHDOG and STOPPING (service/systemd.py, service/health.py); with `[alerts] email` each tick
ends by mailing the problems that began or cleared (service/alerts.py); with `[web] listen` it serves the web
console (sync/web/) in a thread of its own.

SIGTERM or SIGINT stops the scheduler; a job in progress finishes its page and ends, and because every page
commits with its cursor, even a SIGKILL loses nothing.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlmodel import col

from mahnwerk.errors import StoreError
from mahnwerk.sync.casework.blocked import FIX, count_blocked, message
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.config import Config, ShopConfig
from mahnwerk.sync.mirror.claimdata import local_date
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.service.alerts import Alerts
from mahnwerk.sync.service.baserates import RatesJob, fetched_rows, with_rates
from mahnwerk.sync.service.dailyrun import daily_run_due, record_daily_run
from mahnwerk.sync.service.health import Watchdog, health
from mahnwerk.sync.service.metrics import DaemonMetrics, MetricsServer
from mahnwerk.sync.service.running import run_shop
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.service.systemd import notify
from mahnwerk.sync.store.engine import DEFAULT_WORKERS, Store
from mahnwerk.sync.store.locks import ShopBusy, shop_lock
from mahnwerk.sync.store.models import SyncRun

if TYPE_CHECKING:
    from mahnwerk.sync.web.serve import WebServer

log = structlog.get_logger("mahnwerk.daemon")
RATES_CHECK_INTERVAL = 3600  # seconds: the rates job looks hourly whether today's update is due
FIRST_RETRY = 5.0  # seconds after a database fault; doubled per fault in a row, at most the shop's interval
MAX_JITTER = 15.0  # seconds a tick may come late at random, at most (and a twentieth of the interval)


def build_scheduler(store: Store, shops: Sequence[ShopConfig], config: Config | None = None, *,
                    workers: int = DEFAULT_WORKERS, now: Callable[[], datetime] = utcnow,
                    metrics: DaemonMetrics | None = None, alerts: Alerts | None = None) -> BackgroundScheduler:
    """A scheduler with one job per shop, the first run right away, at most `workers` shops at a time."""
    scheduler = BackgroundScheduler(
        timezone=UTC,
        # One thread more for the rates job: a slow Bundesbank never holds up a shop's tick.
        executors={"default": ThreadPoolExecutor(max_workers=max(1, min(workers, len(shops))) + (config is not None))},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    if config is not None:
        scheduler.add_job(RatesJob(store, config, now=now, metrics=metrics), "interval", id="rates", name="base rates",
                          seconds=RATES_CHECK_INTERVAL, next_run_time=datetime.now(UTC))
    spread = len(shops) / max(1, workers)  # seconds: the pool starts about `workers` idle polls a second
    for shop in shops:
        job_id = f"shop:{shop.id}"
        interval = shop.sync.interval.total_seconds()
        first = datetime.now(UTC) + timedelta(seconds=random.uniform(0, min(spread, interval)))
        scheduler.add_job(shop_job, "interval", args=[store, shop, config],
                          kwargs={"now": now, "retry": EarlyRetry(scheduler, job_id, shop), "metrics": metrics,
                                  "alerts": alerts, "turns": Turns(scheduler, job_id, shop)}, id=job_id,
                          name=f"shop {shop.id}", seconds=interval, jitter=jitter(interval), next_run_time=first)
    return scheduler


def jitter(interval: float) -> float:
    """How late a shop's tick may come at random: a twentieth of its interval, at most MAX_JITTER seconds."""
    return min(interval / 20, MAX_JITTER)


class Turns:
    """Whose turn a shop is when other processes (another daemon, a `sync` typed by hand) sync it too: a tick
    leaves the shop to a sync another process started since this daemon's last tick, less than an interval ago,
    and comes back just after that sync's next due time."""

    def __init__(self, scheduler: BackgroundScheduler, job_id: str, shop: ShopConfig) -> None:
        self.scheduler, self.job_id, self.shop_id = scheduler, job_id, shop.id
        self.interval = shop.sync.interval.total_seconds()
        self.mine: datetime | None = None  # when this daemon's last tick of the shop ended (None: none yet)

    def synced_elsewhere(self, store: Store) -> datetime | None:
        """When another process started the shop's last good sync, if it did since our last tick and less than an
        interval (less the jitter) ago; else None: the shop is due. Asked under the shop's lock."""
        if self.mine is None:
            return None  # a daemon's first tick syncs: it may have been down for long
        with store.session() as session:  # the shop's newest run (the newest id: no scan of its history)
            last = session.execute(select(col(SyncRun.started_at), col(SyncRun.outcome)).where(
                col(SyncRun.shop_id) == self.shop_id).order_by(col(SyncRun.id).desc()).limit(1)).first()
        if last is None or last.outcome != "ok":
            return None  # never synced, or the last sync failed: due
        recent = datetime.now(UTC) - timedelta(seconds=self.interval - jitter(self.interval))
        return last.started_at if self.mine < last.started_at and last.started_at > recent else None

    def defer(self, synced: datetime) -> datetime:
        """Move the next tick to just after the shop's next due time (after the other process's own jitter, so it
        keeps its turn); returns it."""
        spare = jitter(self.interval)
        at = synced + timedelta(seconds=self.interval + random.uniform(spare, 2 * spare))
        self.scheduler.modify_job(self.job_id, next_run_time=at)
        return at

    def ended(self) -> None:
        self.mine = datetime.now(UTC)

    def busy(self) -> None:
        """Another process had the shop at our first tick: from now on its syncs count (none of ours yet)."""
        if self.mine is None:
            self.mine = datetime.min.replace(tzinfo=UTC)


class EarlyRetry:
    """Brings a shop's next tick forward after a database fault: 5 s, then doubling, never later than the
    shop's interval; a tick that gets through resets it."""

    def __init__(self, scheduler: BackgroundScheduler, job_id: str, shop: ShopConfig) -> None:
        self.scheduler, self.job_id, self.interval = scheduler, job_id, shop.sync.interval.total_seconds()
        self.faults = 0

    def after_fault(self) -> float:
        """Schedule the next tick early; the seconds until it."""
        delay = min(FIRST_RETRY * 2 ** self.faults, self.interval)
        self.faults += 1
        self.scheduler.modify_job(self.job_id, next_run_time=datetime.now(UTC) + timedelta(seconds=delay))
        return delay

    def reset(self) -> None:
        self.faults = 0


def database_fault(exc: BaseException) -> bool:
    """Is `exc` the database not answering (down, restarting, unreachable), not a bug?"""
    if isinstance(exc, StoreError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def shop_job(store: Store, shop: ShopConfig, config: Config | None = None, *,
             now: Callable[[], datetime] = utcnow, retry: EarlyRetry | None = None,
             metrics: DaemonMetrics | None = None, alerts: Alerts | None = None,
             turns: Turns | None = None) -> None:
    """One tick for one shop: sync → payments → the day's run or the due retries, in that order, under its lock.
    Failures are logged; the next tick comes at its time (early after a database fault, with `retry`). With
    `turns`, a shop another process synced since our last tick, less than an interval ago, is left to it."""
    try:
        with shop_lock(store, shop.id, command="daemon", wait=0):
            if turns is not None and (synced := turns.synced_elsewhere(store)) is not None:
                log.debug("daemon.synced_elsewhere", shop=shop.id, synced=synced.isoformat(),
                          next=turns.defer(synced).isoformat())
                return
            try:
                _tick(store, shop, config, now, metrics, alerts)
            finally:
                if turns is not None:
                    turns.ended()
    except ShopBusy as exc:  # another daemon's tick, or a command typed by hand: its next due time again
        log.debug("daemon.shop_busy", shop=shop.id, holder=exc.holder)
        if turns is not None:
            turns.busy()
    except Exception as exc:
        if metrics:
            metrics.tick_failed(shop.id)
        if not database_fault(exc):
            log.exception("daemon.job_failed", shop=shop.id)
            return
        error = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.warning("daemon.database_unavailable", shop=shop.id, error=error[0] if error else type(exc).__name__,
                    retry_in=retry.after_fault() if retry else shop.sync.interval.total_seconds())
    else:
        if retry:
            retry.reset()


def _tick(store: Store, shop: ShopConfig, config: Config | None, now: Callable[[], datetime],
          metrics: DaemonMetrics | None = None, alerts: Alerts | None = None) -> None:
    [shop] = with_rates([shop], fetched_rows(store))  # rows fetched since the daemon started count at once
    begun = time.monotonic()
    result = sync_one(store, shop, command="daemon")
    if metrics and not result.busy:
        metrics.synced(shop.id, ok=result.ok, seconds=time.monotonic() - begun, at=utcnow())
    if result.ok:
        counts = result.counts
        idle = not (counts.new or counts.updated or counts.closed or counts.quarantined)
        (log.debug if idle else log.info)("daemon.synced", shop=shop.id, new=counts.new, updated=counts.updated,
                                          closed=counts.closed, requests=counts.requests)
    if config is None:
        return
    moment, ran_today = now(), False
    if daily_run_due(store, shop, moment):
        ran = run_shop(store, config, shop, sync=False, now=now, command="daemon")
        log.info("daemon.ran", shop=shop.id, **{k: v for k, v in ran.as_dict().items() if isinstance(v, int)})
        for error in ran.as_dict()["errors"]:
            log.error("daemon.run_failed", shop=shop.id, error=error)
        for gap, count in ran.blocked.claims.items():  # the same words as `run` and `status`: the fix named
            log.warning("daemon.rate_missing", shop=shop.id, table=gap.table, since=gap.since.isoformat(),
                        claims=count, fix=FIX, message=message(gap, count, ran.blocked.reminders[gap]))
        record_daily_run(store, shop, moment, ok=ran.ok)
        ran_today = True
    elif result.ok:
        ran = run_shop(store, config, shop, sync=False, decide=False, now=now, command="daemon")
        for error in ran.as_dict()["errors"]:
            log.error("daemon.run_failed", shop=shop.id, error=error)
    # Once a day (after the day's run, as `status` would count then), and after a rates update; never per scrape.
    day = shop_today(shop, moment)
    if metrics and (ran_today or metrics.blocked_due(shop.id, day)):
        metrics.blocked_counted(shop.id, day, count_blocked(store, shop, day).total)
    if alerts:
        alerts.check(shop, blocked=metrics.blocked_total(shop.id) if metrics else None, now=now())


def run_daemon(store: Store, shops: Sequence[ShopConfig], *, config: Config | None = None,
               stop: threading.Event | None = None, workers: int = DEFAULT_WORKERS) -> None:
    """Run until SIGTERM/SIGINT (or until `stop` is set), then wait for running jobs to end. Under systemd
    (`Type=notify`) it says READY=1 once the scheduler runs, WATCHDOG=1 while it is healthy, STOPPING=1 at the end."""
    stop = stop or threading.Event()
    listen = config.daemon.metrics_listen if config else None
    alerts = Alerts(store, config.alerts, shops) if config and config.alerts.email else None
    # The metrics also keep the daily count of blocked claims the alerts look at.
    metrics = DaemonMetrics(store, [s.id for s in shops]) if listen or alerts else None
    scheduler = build_scheduler(store, shops, config, workers=workers, metrics=metrics, alerts=alerts)
    server = MetricsServer(listen, metrics, lambda: health(store, scheduler)) if metrics and listen else None
    console = web_console(store, config) if config and config.web.listen else None
    if metrics:
        with suppress(SQLAlchemyError):  # the database away at start: the first ticks say so
            metrics.seed()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler.start()
    if server:
        server.start()
    if console:
        console.start()
    log.info("daemon.started", shops=[s.id for s in shops], workers=workers,
             intervals={s.id: int(s.sync.interval.total_seconds()) for s in shops},
             today={s.id: local_date(utcnow(), s.timezone).isoformat() for s in shops[:20]})
    if alerts:
        alerts.warn_without_smtp()
    notify(f"READY=1\nSTATUS=syncing {len(shops)} shop(s)")
    watchdog = Watchdog(store, scheduler)
    try:
        while not stop.wait(watchdog.every or 1.0):
            watchdog.beat()
    finally:
        notify("STOPPING=1")
        log.info("daemon.stopping")
        scheduler.shutdown(wait=True)
        if server:
            server.stop()
        if console:
            console.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("daemon.stopped")


def web_console(store: Store, config: Config) -> WebServer:
    """The web console at `[web] listen`, not yet started (sync/web/, imported only when it is wanted)."""
    from mahnwerk.sync.web.app import create_app
    from mahnwerk.sync.web.serve import WebServer

    assert config.web.listen is not None
    return WebServer(create_app(config, store), config.web.listen)
