"""`mahnwerk daemon`: the long-running process under systemd. Each shop is synced every `sync.interval`, and
once a day at `delivery.run_at` (shop time) it runs: sync, decide, execute (sync/runner.py). Retries of outbox rows
that failed go out with the next sync tick.

Jobs are one-line calls into sync/service.py, configured here only (one instance per shop at a time, missed runs
coalesced). SIGTERM or SIGINT stops the scheduler; a sync in progress finishes its page and ends, and because
every page commits with its cursor, even a SIGKILL loses nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from mahnwerk.sync.config.shop import Config, ShopConfig
from mahnwerk.sync.service.running import run_shop
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.store.engine import Store

log = structlog.get_logger("mahnwerk.daemon")


def build_scheduler(store: Store, shops: Sequence[ShopConfig], config: Config | None = None) -> BackgroundScheduler:
    """A scheduler with one sync job per shop, the first run right away, and (given the config) the daily run."""
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=max(1, min(4, len(shops))))},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    for shop in shops:
        scheduler.add_job(sync_job, "interval", args=[store, shop, config], id=f"sync:{shop.id}", name=f"sync {shop.id}",
                          seconds=shop.sync.interval.total_seconds(), next_run_time=datetime.now(UTC))
        if config is not None:
            scheduler.add_job(run_job, CronTrigger(hour=shop.delivery.run_at.hour, minute=shop.delivery.run_at.minute,
                                                   timezone=shop.timezone),
                              args=[store, config, shop], id=f"run:{shop.id}", name=f"run {shop.id}")
    return scheduler


def run_job(store: Store, config: Config, shop: ShopConfig) -> None:
    """The daily run: sync, decide, execute. Failures are logged; rows left for retry go with the sync ticks."""
    result = run_shop(store, config, shop)
    log.info("daemon.ran", shop=shop.id, **{k: v for k, v in result.as_dict().items() if isinstance(v, int)})
    for error in result.as_dict()["errors"]:
        log.error("daemon.run_failed", shop=shop.id, error=error)


def sync_job(store: Store, shop: ShopConfig, config: Config | None = None) -> None:
    """One scheduled sync, then the outbox rows whose retry is due; failures are logged, the next run comes at its
    time."""
    result = sync_one(store, shop)
    if config is not None and result.ok:
        run_shop(store, config, shop, sync=False, decide=False)
    if result.ok:
        log.info("daemon.synced", shop=shop.id, new=result.counts.new, updated=result.counts.updated,
                 closed=result.counts.closed, requests=result.counts.requests)


def run_daemon(store: Store, shops: Sequence[ShopConfig], *, config: Config | None = None,
               stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or until `stop` is set), then wait for running syncs to end."""
    stop = stop or threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler = build_scheduler(store, shops, config)
    scheduler.start()
    log.info("daemon.started", shops=[s.id for s in shops],
             intervals={s.id: int(s.sync.interval.total_seconds()) for s in shops})
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("daemon.stopping")
        scheduler.shutdown(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("daemon.stopped")
