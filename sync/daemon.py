"""`mahnwerk daemon`: the long-running process under systemd. Each shop is synced every `sync.interval`.

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

from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.service import sync_one
from mahnwerk.sync.store import Store

log = structlog.get_logger("mahnwerk.daemon")


def build_scheduler(store: Store, shops: Sequence[ShopConfig]) -> BackgroundScheduler:
    """A scheduler with one sync job per shop, the first run right away."""
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=max(1, min(4, len(shops))))},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    for shop in shops:
        scheduler.add_job(sync_job, "interval", args=[store, shop], id=f"sync:{shop.id}", name=f"sync {shop.id}",
                          seconds=shop.sync.interval.total_seconds(), next_run_time=datetime.now(UTC))
    return scheduler


def sync_job(store: Store, shop: ShopConfig) -> None:
    """One scheduled sync; failures are logged and recorded, the next run comes at its time."""
    result = sync_one(store, shop)
    if result.ok:
        log.info("daemon.synced", shop=shop.id, new=result.counts.new, updated=result.counts.updated,
                 closed=result.counts.closed, requests=result.counts.requests)


def run_daemon(store: Store, shops: Sequence[ShopConfig], *, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or until `stop` is set), then wait for running syncs to end."""
    stop = stop or threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler = build_scheduler(store, shops)
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
