"""Whether the daemon works: the scheduler's thread lives and the database answers. `/healthz` (service/metrics.py)
answers by it, and the systemd watchdog is pinged only while it holds."""

from __future__ import annotations

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from mahnwerk.sync.service.metrics import database_answers
from mahnwerk.sync.service.systemd import notify, watchdog_interval
from mahnwerk.sync.store.engine import Store

log = structlog.get_logger("mahnwerk.daemon")  # the daemon's own log lines: `daemon.healthy`, `daemon.unhealthy`


def scheduler_alive(scheduler: BackgroundScheduler) -> bool:
    """Is the scheduler started and its thread (which starts the jobs) still there?"""
    thread = getattr(scheduler, "_thread", None)  # apscheduler 3 keeps it private; None: not started
    return bool(scheduler.running) and thread is not None and thread.is_alive()


def health(store: Store, scheduler: BackgroundScheduler) -> str:
    """"" when the daemon works (the scheduler runs, the database answers), else what is wrong."""
    if not scheduler_alive(scheduler):
        return "scheduler not running"
    problem = database_answers(store)
    return f"database not answering: {problem}" if problem else ""


class Watchdog:
    """WATCHDOG=1 to systemd every `WatchdogSec=`/2, only while the scheduler's thread lives and the database
    answers: a daemon that hangs or has lost its database is restarted by systemd (`Restart=on-failure`)."""

    def __init__(self, store: Store, scheduler: BackgroundScheduler) -> None:
        self.store, self.scheduler = store, scheduler
        self.every = watchdog_interval()
        self.problem = ""

    def beat(self) -> None:
        if self.every is None:
            return
        problem = health(self.store, self.scheduler)
        if problem != self.problem:  # said once when it starts and once when it ends, not every beat
            if problem:
                log.warning("daemon.unhealthy", problem=problem, watchdog="no ping until it is healthy again")
            else:
                log.info("daemon.healthy")
            self.problem = problem
        if not problem:
            notify("WATCHDOG=1")
