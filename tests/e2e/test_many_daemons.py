"""Many shops, many daemons (issue 17 §1): real processes started together on one new database, on SQLite and on
PostgreSQL. Migrations are serialised (one process migrates, the others wait and find the schema current), SQLite
refuses a second daemon, and daemons on one PostgreSQL share the shops: a shop is synced by one process at a time,
every interval, and a daemon killed with SIGKILL leaves its shops to the other within an interval."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sync.store.engine import SCHEMA_REVISION, Store
from mahnwerk.sync.store.models import SyncRun
from tests.e2e.racing import Mahnwerk, assert_clean, at_once, poll, read
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT

# A process that opens (and so migrates) the store at an agreed moment, so that all of them really start together.
# A complete [merchant] and the day's run due since midnight: whatever the hour the tests run at, each daemon
# does the daily run too (an incomplete [merchant] is rightly logged as an error), not only before 09:00.
DAILY = RATES + MERCHANT.replace("[delivery]\n", '[delivery]\nrun_at = "00:00"\n')

OPEN_AT = ("import sys, time\n"
           "from mahnwerk.sync.store.engine import Store\n"
           "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
           "Store(sys.argv[1]).close()\n")


@pytest.fixture
def new_pg_database(postgres_server: str) -> Iterator[str]:
    """A URL to a new, empty PostgreSQL database of its own (not just a schema: nothing exists in it), dropped
    afterwards."""
    name = f"mahnwerk_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def open_together(url: str, processes: int) -> list[tuple[int, str]]:
    """Start `processes` Pythons that open the store at the same moment; their exit codes and stderr."""
    at = time.time() + 2.0  # every interpreter has imported SQLAlchemy by then
    children = [subprocess.Popen([sys.executable, "-c", OPEN_AT, url, str(at)], stderr=subprocess.PIPE, text=True)
                for _ in range(processes)]
    return [(child.wait(120), child.stderr.read() if child.stderr else "") for child in children]


def assert_migrated_once(url: str, outcomes: list[tuple[int, str]]) -> None:
    assert all(code == 0 for code, _ in outcomes), [[line for line in err.splitlines() if "Error" in line][-1:]
                                                    for _, err in outcomes]
    store = Store(url, migrate=False)
    try:
        assert store.revision() == SCHEMA_REVISION
        with store.connection() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("trial", range(2))
def test_processes_opening_a_new_postgres_database_together_migrate_it_once(new_pg_database, trial) -> None:
    """Four processes on an empty PostgreSQL database: all come up (without the migration lock, the losers died
    with `UniqueViolation ... alembic_version`), and the database holds one schema revision."""
    assert_migrated_once(new_pg_database, open_together(new_pg_database, 4))


@pytest.mark.parametrize("trial", range(2))
def test_processes_opening_a_new_sqlite_file_together_migrate_it_once(tmp_path, trial) -> None:
    """The same on a new SQLite file (without the lock: `table alembic_version already exists`)."""
    url = f"sqlite:///{tmp_path / 'mahnwerk.db'}"
    assert_migrated_once(url, open_together(url, 4))


def test_a_second_daemon_on_one_sqlite_file_exits_and_names_the_first(tmp_path) -> None:
    """SQLite is the store of one daemon: a second `mahnwerk daemon` on the same file exits 3 saying so and naming
    the first, which goes on; a `sync` typed by hand still works beside it."""
    db_url = f"sqlite:///{tmp_path / 'mahnwerk.db'}"
    shop = WooSandbox(orders=generate_orders(20, seed=5))
    with SandboxServer(shop) as server:
        etc = write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": server.url,
                                                       "key": shop.consumer_key, "secret": shop.consumer_secret,
                                                       "extra": '[sync]\ninterval = "1h"\n' + DAILY}])
        first = Mahnwerk(etc, "daemon")
        try:
            poll(lambda: "daemon.started" in first.said() or not first.running(),
                 why="the first daemon's start")
            second = Mahnwerk(etc, "daemon").finish()
            assert second.code == 3, str(second)
            # error: another daemon serves /tmp/.../mahnwerk.db (daemon by pid 4711 since 2026-12-06 04:40:00 UTC): ...
            assert f"error: another daemon serves {tmp_path / 'mahnwerk.db'} (daemon by pid {first.pid} since " \
                   in second.err, second.err
            assert "a SQLite database is the store of one daemon" in second.err and "PostgreSQL" in second.err
            by_hand = Mahnwerk(etc, "sync", "--wait", "60").finish()
            assert_clean(by_hand)
            assert first.running(), first.said()
            first.proc.send_signal(signal.SIGTERM)
            assert_clean(first.finish(30))
        finally:
            first.kill()
    assert {r.outcome for r in read(db_url, select(SyncRun))} == {"ok"}


SHOPS = [f"shop{n:02d}" for n in range(1, 13)]
INTERVAL = 4.0  # seconds: [sync] interval = "4s"
JITTER = INTERVAL / 20  # daemon.jitter: a twentieth of the interval
SLACK = 2.5  # seconds a tick may wait for a worker and its process for the CPU on a busy machine


def synced(daemon: Mahnwerk) -> set[str]:
    """The shops a daemon has logged a sync of (`daemon.synced`, JSON lines on stderr)."""
    events = (json.loads(line) for line in daemon.said().splitlines() if line.startswith("{"))
    return {e["shop"] for e in events if e.get("event") == "daemon.synced"}


def ok_runs(db_url: str) -> dict[str, list[SyncRun]]:
    """Each shop's good sync runs, oldest first."""
    runs: dict[str, list[SyncRun]] = {shop: [] for shop in SHOPS}
    if migrated(db_url) != SCHEMA_REVISION:
        return runs  # the daemons are still starting
    for run in read(db_url, select(SyncRun).where(SyncRun.outcome == "ok").order_by(SyncRun.started_at)):
        runs[run.shop_id].append(run)
    return runs


def migrated(db_url: str) -> str | None:
    store = Store(db_url, migrate=False)
    try:
        return store.revision()
    finally:
        store.close()


def every_shop_synced_after(db_url: str, moment: datetime) -> dict[str, datetime] | None:
    """Per shop, the start of its first good sync after `moment`; None while a shop has none yet."""
    first = {shop: next((r.started_at for r in runs if r.started_at > moment), None)
             for shop, runs in ok_runs(db_url).items()}
    return None if None in first.values() else first  # type: ignore[return-value]


@pytest.mark.postgres
def test_two_daemons_on_postgres_share_the_shops_and_one_takes_over_when_the_other_is_killed(
        tmp_path, new_pg_database) -> None:
    """Two daemons started together on a new PostgreSQL database with a dozen shops synced every 4 s: both come
    up (one migrates, the other waits), every shop is synced every interval, by one process at a time (no two
    sync runs of a shop overlap), both daemons do some of the work, and after a SIGKILL of one the other syncs
    every shop within an interval."""
    db_url = new_pg_database
    with contextlib.ExitStack() as servers:
        entries = []
        for n, shop_id in enumerate(SHOPS):
            shop = WooSandbox(orders=generate_orders(8, seed=n))
            server = servers.enter_context(SandboxServer(shop))
            entries.append({"shop_id": shop_id, "url": server.url, "key": shop.consumer_key,
                            "secret": shop.consumer_secret, "extra": '[sync]\ninterval = "4s"\n' + DAILY})
        etc = write_config(tmp_path / "etc", db_url, entries)
        # At debug: `daemon.synced` says which daemon synced a shop, whatever level an idle poll logs at.
        first, second = daemons = at_once(etc, ("--log-level", "debug", "daemon"), ("--log-level", "debug", "daemon"))
        try:
            alive = lambda: all(d.running() for d in daemons)  # noqa: E731
            started = poll(lambda: every_shop_synced_after(db_url, datetime.min.replace(tzinfo=UTC))
                           or not alive(), timeout=60, why="every shop's first sync")
            assert alive(), [d.said() for d in daemons]
            # Three intervals of work shared by the two daemons ...
            window = max(started.values()) + timedelta(seconds=3 * INTERVAL)
            poll(lambda: every_shop_synced_after(db_url, window) or not alive(), timeout=30,
                 why="three more intervals")
            assert alive(), [d.said() for d in daemons]
            assert synced(first) and synced(second), "one daemon did all the work"
            # ... then one dies without a word: its shop locks die with its database sessions.
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(10)
            killed = datetime.now(UTC)
            taken = poll(lambda: every_shop_synced_after(db_url, killed) or not second.running(), timeout=30,
                         why="the other daemon taking over")
            assert second.running(), second.said()
            second.proc.send_signal(signal.SIGTERM)
            stopped = second.finish(30)
        finally:
            for daemon in daemons:
                daemon.kill()
    assert_clean(stopped)
    # Within one interval of the kill, as late as the shop's own jitter and the other daemon's deferral allow:
    # at most INTERVAL + 2 * JITTER (= 4.4 s) after the killed daemon's last sync, which was before the kill.
    late = {shop: (at - killed).total_seconds() for shop, at in taken.items()
            if at > killed + timedelta(seconds=INTERVAL + 2 * JITTER + SLACK)}
    assert not late, late
    everything = read(db_url, select(SyncRun).order_by(SyncRun.started_at))
    for shop in SHOPS:
        runs = [r for r in everything if r.shop_id == shop]
        # One process at a time: each run ended before the shop's next one started (a run the killed daemon
        # left `running` is closed by the next one, before it starts).
        for earlier, later in itertools.pairwise(runs):
            assert earlier.finished_at is not None and earlier.finished_at <= later.started_at, (shop, earlier, later)
        # Every interval: between the first syncs and the kill, no gap longer than an interval and two jitters.
        starts = [r.started_at for r in runs if r.outcome == "ok" and started[shop] <= r.started_at <= killed]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
        assert len(starts) >= 4 and max(gaps) <= INTERVAL + 2 * JITTER + SLACK, (shop, gaps)
        # ... and once per interval, not once per daemon: after the first ticks a tick leaves a shop synced
        # elsewhere less than INTERVAL - JITTER (3.8 s) ago alone. Two daemons polling on their own would sync
        # it twice per interval, and of each two such gaps (together 4 s) one is at most 2 s.
        settled = [(b - a).total_seconds() for a, b in itertools.pairwise(
            [at for at in starts if at > max(started.values()) + timedelta(seconds=INTERVAL)])]
        assert settled and min(settled) > INTERVAL / 2, (shop, settled)


@pytest.mark.postgres
def test_a_gone_machines_sessions_end_within_a_minute(pg_url) -> None:
    """Every session (the shops' locks among them) asks PostgreSQL to probe its client after 30 s of silence,
    3 times 10 s apart: a daemon whose machine is gone loses its shops after about a minute (30 + 3 * 10 = 60 s),
    not after the system's 2 h 11 min (7200 s + 9 probes * 75 s)."""
    store = Store(pg_url)
    try:
        with store.connection() as connection:
            shown = {name: connection.execute(text(f"SHOW {name}")).scalar() for name in
                     ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")}
    finally:
        store.close()
    assert shown == {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}
