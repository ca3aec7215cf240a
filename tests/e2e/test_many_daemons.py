"""Many shops, many daemons (issue 17 §1): real processes started together on one new database, on SQLite and on
PostgreSQL. Migrations are serialised (one process migrates, the others wait and find the schema current), SQLite
refuses a second daemon, and daemons on one PostgreSQL share the shops: a shop is synced by one process at a time,
every interval, and a daemon killed with SIGKILL leaves its shops to the other within an interval."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sync.store.engine import SCHEMA_REVISION, Store
from mahnwerk.sync.store.models import SyncRun
from tests.e2e.racing import Mahnwerk, assert_clean, poll, read
from tests.support import write_config

# A process that opens (and so migrates) the store at an agreed moment, so that all of them really start together.
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
                                                       "extra": '[sync]\ninterval = "1h"'}])
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
