"""The daemon's job loop for bench/manyshops.py, in a process of its own (so its RSS and sockets are the daemon's).

    python bench/manyshops_jobs.py --config-dir ETC

Set up as `mahnwerk daemon` is (the CLI's Context: config, logging, store with migrations, the SQLite daemon lock;
then `build_scheduler` with the configured `[daemon] workers` and, with `metrics_listen`, the daemon's metrics and
its /metrics server), but instead of letting the scheduler fire each shop at its interval, every line on stdin runs
one cycle: each shop's job once, exactly as the scheduler would call it (same function, same arguments), through a
pool of `workers` threads that lives as long as the process, as the scheduler's does. After each cycle it prints one
JSON line: the cycle's wall time and what the shops' sync runs of that cycle recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from mahnwerk.sync.cli.main import Context
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.service.daemon import build_scheduler
from mahnwerk.sync.service.health import health
from mahnwerk.sync.service.metrics import DaemonMetrics, MetricsServer
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.locks import daemon_lock
from mahnwerk.sync.store.models import SyncRun


def runs_since(store: Store, since: object) -> dict[str, int]:
    """The sync runs started since `since`, summed: how many were ok / failed, and their counts."""
    with store.session() as session:
        rows = session.execute(select(col(SyncRun.outcome), func.count(), func.sum(SyncRun.new),
                                      func.sum(SyncRun.updated), func.sum(SyncRun.closed),
                                      func.sum(SyncRun.requests))
                               .where(col(SyncRun.started_at) >= since).group_by(col(SyncRun.outcome))).all()
    summary = {"ok": 0, "failed": 0, "new": 0, "updated": 0, "closed": 0, "requests": 0}
    for outcome, runs, new, updated, closed, requests in rows:
        summary["ok" if outcome == "ok" else "failed"] += runs
        for name, value in (("new", new), ("updated", updated), ("closed", closed), ("requests", requests)):
            summary[name] += int(value or 0)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-dir", type=Path, required=True)
    args = parser.parse_args()
    ctx = Context(args.config_dir, "warning", "json")
    store = ctx.store()
    shops, config = ctx.shops(None), ctx.config()
    workers = config.daemon.workers
    with daemon_lock(store):
        metrics = DaemonMetrics(store, [s.id for s in shops]) if config.daemon.metrics_listen else None
        scheduler = build_scheduler(store, shops, config, workers=workers, metrics=metrics)
        server = MetricsServer(config.daemon.metrics_listen, metrics, lambda: health(store, scheduler)) \
            if metrics and config.daemon.metrics_listen else None
        if metrics:
            metrics.seed()
        if server:
            server.start()
        jobs = [job for job in scheduler.get_jobs() if job.id.startswith("shop:")]
        print(json.dumps({"ready": True, "shops": len(jobs), "workers": workers}), flush=True)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs))), thread_name_prefix="shop") as pool:
            for _ in sys.stdin:
                since = utcnow()
                begun = time.perf_counter()
                list(pool.map(lambda job: job.func(*job.args, **job.kwargs), jobs))
                seconds = time.perf_counter() - begun
                print(json.dumps({"seconds": round(seconds, 3), **runs_since(store, since)}), flush=True)
        if server:
            server.stop()
    store.close()


if __name__ == "__main__":
    main()
