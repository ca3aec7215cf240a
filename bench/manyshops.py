"""Many-shops benchmark (issue 17): one daemon, 1,000 shops, the default `[daemon] workers`.

    python bench/manyshops.py --db sqlite
    python bench/manyshops.py --db postgresql        # MAHNWERK_TEST_PG_URL, default 127.0.0.1:5432/test

The shops are a sandbox fleet in a process of its own (`python -m mahnwerk.sandbox --shops 1000 --orders 300`,
shop n under /s/<n>, its memory is not the daemon's); one shop file each. The daemon's job loop runs in a child
process (bench/manyshops_jobs.py: set up as `mahnwerk daemon`, each cycle calls every shop's job once through the
daemon's pool). Cycles: the first full cycle (backfill), two cycles of idle polls, then, after the fleet's admin
marked `--change` orders paid in every shop, a cycle with changes. The baseline, in the same run against the same
fleet: a bare requests loop of one incremental GET per shop (a new connection each, as a tick opens one) through a
pool of as many threads.

While a cycle runs the child's /proc is sampled every 50 ms: RSS, threads, TCP sockets to the fleet (HTTP) and to
PostgreSQL, open descriptors of the SQLite file. Targets: a cycle of 1,000 idle polls <= 60 s, peak RSS <= 300 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, select, text
from sqlmodel import col

from mahnwerk.connectors.woocommerce.orders import ORDER_FIELDS
from mahnwerk.sync.config.shop import DaemonConfig
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import SyncRun

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.backfill import PG, pg_schema_url  # noqa: E402  (ROOT on sys.path first)
from tests.support import write_config  # noqa: E402

DEFAULT_WORKERS = DaemonConfig().workers  # [daemon] workers when mahnwerk.toml does not set it
SAMPLE_SECONDS = 0.05


def start_fleet(shops: int, orders: int) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "mahnwerk.sandbox", "--shops", str(shops), "--orders", str(orders),
                             "--seed", "1"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.kill()
        raise SystemExit("the sandbox fleet did not start")
    return proc, json.loads(line)


def write_shops(folder: Path, db_url: str, fleet: dict) -> Path:
    """mahnwerk.toml (the database, warnings only, metrics on) and one shop file per fleet shop, synced every 60 s
    (the target: a cycle of 1,000 idle polls within 60 s). The day's run is set to 23:59 shop time: these cycles
    measure polling, not a day's sending."""
    shops = requests.get(f"{fleet['admin']}/shops", timeout=60).json()
    extra = '[sync]\ninterval = "60s"\n\n[delivery]\nrun_at = "23:59"\n'
    etc = write_config(folder, db_url, [{"shop_id": f"shop{s['shop']:04d}", "url": s["url"], "extra": extra,
                                         "key": s["consumer_key"], "secret": s["consumer_secret"]} for s in shops])
    with (etc / "mahnwerk.toml").open("a", encoding="utf-8") as toml:
        toml.write(f'\n[logging]\nlevel = "warning"\n\n[daemon]\nmetrics_listen = "127.0.0.1:{free_port()}"\n')
    return etc


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def baseline(fleet: dict, workers: int) -> float:
    """Seconds for one bare incremental GET per shop (new session each) through `workers` threads."""
    shops = requests.get(f"{fleet['admin']}/shops", timeout=60).json()
    since = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")

    def poll(shop: dict) -> int:
        with requests.Session() as session:
            response = session.get(f"{shop['url']}/wp-json/wc/v3/orders", timeout=60,
                                   auth=(shop["consumer_key"], shop["consumer_secret"]),
                                   params={"orderby": "modified", "order": "asc", "per_page": 100, "page": 1,
                                           "dates_are_gmt": "true", "modified_after": since, "status": "any",
                                           "_fields": ORDER_FIELDS})
            response.raise_for_status()
            return len(response.json())

    begun = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(poll, shops))
    return time.perf_counter() - begun


class Watch:
    """Samples a process's /proc while a cycle runs: peak RSS, threads and connections."""

    def __init__(self, pid: int, http_port: int, sqlite_file: str | None) -> None:
        self.pid, self.http_port, self.sqlite_file = pid, http_port, sqlite_file
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> dict[str, int]:
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "Threads"):
                fields[name] = int(value.split()[0])
        return fields

    def connections(self) -> dict[str, int]:
        """TCP sockets of the process by peer (fleet, PostgreSQL) and descriptors of the SQLite file."""
        inodes, db_files = set(), 0
        fd_dir = Path(f"/proc/{self.pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
            elif self.sqlite_file and target == self.sqlite_file:
                db_files += 1
        counts = {"http": 0, "postgresql": 0, "sqlite_fds": db_files}
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{self.pid}/net/{table}").read_text().splitlines()[1:]:
                cols = line.split()
                if cols[9] in inodes:
                    port = int(cols[2].rsplit(":", 1)[1], 16)
                    if port == self.http_port:
                        counts["http"] += 1
                    elif port == 5432:
                        counts["postgresql"] += 1
        return counts

    def sample(self) -> None:
        now = {**self.status(), **self.connections()}
        for name, value in now.items():
            self.peak[name] = max(self.peak.get(name, 0), value)

    def __enter__(self) -> Watch:
        self.peak = {}
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(SAMPLE_SECONDS):
                with contextlib.suppress(OSError, IndexError, ValueError):  # the process ended meanwhile
                    self.sample()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()


def cycle(child: subprocess.Popen, watch: Watch) -> dict:
    assert child.stdin and child.stdout
    with watch:
        child.stdin.write("cycle\n")
        child.stdin.flush()
        line = child.stdout.readline()
    if not line:
        raise SystemExit(f"the job loop died (exit {child.wait()})")
    status = watch.status()
    return json.loads(line) | {"peak": dict(watch.peak), "rss_mb": status["VmRSS"] / 1024,
                               "hwm_mb": status["VmHWM"] / 1024}


def served(fleet: dict) -> int:
    return requests.get(f"{fleet['admin']}/stats", timeout=60).json()["requests"]


def show(name: str, result: dict, requests_served: int) -> None:
    peak = result["peak"]
    db = f"PostgreSQL conns {peak['postgresql']}" if peak["postgresql"] else f"SQLite fds {peak['sqlite_fds']}"
    print(f"{name:<16} {result['seconds']:8.2f} s  runs ok {result['ok']} failed {result['failed']}  "
          f"new {result['new']} updated {result['updated']} closed {result['closed']}  "
          f"requests {requests_served}  RSS {result['rss_mb']:.0f} MB (peak {result['hwm_mb']:.0f} MB)  "
          f"threads {peak['Threads']}  HTTP sockets {peak['http']}  {db} (peaks)", flush=True)


def job_loop(tmp: Path, etc: Path, fleet: dict, db: str, change: int, idle: int) -> None:
    """The cycles through the daemon's job loop (bench/manyshops_jobs.py), then the baseline."""
    log = tmp / "jobs.log"
    child = subprocess.Popen([sys.executable, str(ROOT / "bench" / "manyshops_jobs.py"), "--config-dir", str(etc)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
    try:
        line = child.stdout.readline() if child.stdout else ""
        if not line:
            raise SystemExit("the job loop did not start: " + log.read_text()[-2000:])
        assert json.loads(line)["workers"] == DEFAULT_WORKERS, line
        watch = Watch(child.pid, fleet_port(fleet), str(tmp / "bench.db") if db == "sqlite" else None)
        for name in ["backfill"] + [f"idle {n + 1}" for n in range(idle)]:
            before = served(fleet)
            show(name, cycle(child, watch), served(fleet) - before)
        paid = requests.post(f"{fleet['admin']}/pay", params={"count": change}, timeout=600).json()
        before = served(fleet)
        show(f"{paid['paid']} paid", cycle(child, watch), served(fleet) - before)
        print(f"{'baseline':<16} {baseline(fleet, DEFAULT_WORKERS):8.2f} s  one bare GET per shop, "
              f"{DEFAULT_WORKERS} threads (requests.Session each, stores nothing)", flush=True)
    finally:
        if child.stdin:
            child.stdin.close()
        if child.wait(120) != 0:
            print(log.read_text()[-3000:])
    errors(log)


def real_daemon(tmp: Path, etc: Path, fleet: dict, db_url: str, seconds: float) -> None:
    """`mahnwerk daemon` itself on the synced store for `seconds` (shop files: interval 60 s): does each shop get
    its sync every interval, how much memory and how many connections does it take?"""
    log = tmp / "daemon.log"
    begun = datetime.now(UTC)
    child = subprocess.Popen([sys.executable, "-m", "mahnwerk", "--config-dir", str(etc), "daemon"],
                             stdout=subprocess.DEVNULL, stderr=log.open("w"))
    watch = Watch(child.pid, fleet_port(fleet), str(tmp / "bench.db") if db_url.startswith("sqlite") else None)
    try:
        with watch:
            time.sleep(seconds)
        status = watch.status()
    finally:
        child.send_signal(signal.SIGTERM)
        code = child.wait(120)
    store = Store(db_url, migrate=False)
    with store.session() as session:
        rows = session.execute(select(SyncRun.shop_id, SyncRun.started_at, SyncRun.outcome)
                               .where(col(SyncRun.started_at) >= begun)
                               .order_by(col(SyncRun.shop_id), col(SyncRun.started_at))).all()
    store.close()
    starts: dict[str, list[datetime]] = {}
    for shop_id, started, _ in rows:
        starts.setdefault(shop_id, []).append(started)
    gaps = [(b - a).total_seconds() for times in starts.values() for a, b in itertools.pairwise(times)]
    per_shop = [len(times) for times in starts.values()]
    peak = watch.peak
    db = f"PostgreSQL conns {peak['postgresql']}" if peak["postgresql"] else f"SQLite fds {peak['sqlite_fds']}"
    print(f"{'daemon ' + str(int(seconds)) + ' s':<16} runs {len(rows)} (failed "
          f"{sum(r[2] != 'ok' for r in rows)}), shops synced {len(starts)}, syncs per shop "
          f"{min(per_shop, default=0)}-{max(per_shop, default=0)}, longest gap between a shop's syncs "
          f"{max(gaps, default=0):.1f} s (interval 60 s)  RSS {status['VmRSS'] / 1024:.0f} MB (peak "
          f"{status['VmHWM'] / 1024:.0f} MB)  threads {peak['Threads']}  HTTP sockets {peak['http']}  {db} (peaks)  "
          f"exit {code}", flush=True)
    errors(log)


def errors(log: Path) -> None:
    problems = [line for line in log.read_text().splitlines() if '"error"' in line or "Traceback" in line]
    if problems:
        print(f"  {len(problems)} error lines in {log.name}, the first: {problems[0][:400]}")


def fleet_port(fleet: dict) -> int:
    return int(fleet["url"].rsplit(":", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--shops", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=300, help="orders per shop")
    parser.add_argument("--change", type=int, default=3, help="orders marked paid per shop before the last cycle")
    parser.add_argument("--idle", type=int, default=3, help="cycles of idle polls (RSS after each: no growth)")
    parser.add_argument("--daemon", type=float, default=150, help="seconds of the real daemon at the end (0: none)")
    args = parser.parse_args()
    fleet_proc, fleet = start_fleet(args.shops, args.orders)
    schema = None
    try:
        with tempfile.TemporaryDirectory(prefix="mahnwerk-manyshops-") as folder:
            tmp = Path(folder)
            db_url, schema = (f"sqlite:///{tmp}/bench.db", None) if args.db == "sqlite" else pg_schema_url()
            etc = write_shops(tmp / "etc", db_url, fleet)
            print(f"date={date.today().isoformat()} machine={platform.node()} cpus={os.cpu_count()} "
                  f"load={load()} python={platform.python_version()} db={args.db} shops={args.shops} "
                  f"orders/shop={args.orders} workers={DEFAULT_WORKERS}", flush=True)
            job_loop(tmp, etc, fleet, args.db, args.change, args.idle)
            if args.daemon:
                real_daemon(tmp, etc, fleet, db_url, args.daemon)
            print(f"load after: {load()}")
    finally:
        fleet_proc.terminate()
        fleet_proc.wait(10)
        if schema:
            with create_engine(PG).begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
