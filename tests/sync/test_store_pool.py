"""The store's connection pool is sized from the number of shops worked at once (`[daemon] workers`): every worker
holds its shop's lock (a connection of its own on PostgreSQL), a unit of work and a connection beside it (as
matching payments does) at the same time, and none waits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.engine import Store, pool_size
from mahnwerk.sync.store.locks import shop_lock
from tests.support import write_config


@pytest.mark.parametrize("workers", [8, 16])
def test_every_worker_holds_its_lock_and_two_connections_at_once(db_url: str, workers: int) -> None:
    """`workers` threads each hold a shop lock, a session and a connection until all of them do. SQLAlchemy's
    default pool (5 + 10 overflow) let the eighth worker wait 30 s for a connection, and then fail."""
    store = Store(db_url, workers=workers)
    all_in = threading.Barrier(workers, timeout=20)

    def tick(n: int) -> int:
        with shop_lock(store, f"shop{n}", command="daemon", wait=0), store.session() as session, \
                store.connection() as beside:
            value = session.execute(text("SELECT 1")).scalar_one() * beside.execute(text("SELECT 1")).scalar_one()
            all_in.wait()  # BrokenBarrierError when a worker is still waiting for a connection
            return int(value)

    try:
        with ThreadPoolExecutor(workers) as pool:
            assert sum(pool.map(tick, range(workers))) == workers
        assert store.engine.pool.size() == pool_size(workers) == 3 * workers + 2  # type: ignore[attr-defined]
    finally:
        store.close()


def test_the_configured_workers_size_the_pool(tmp_path, sqlite_url: str) -> None:
    etc = write_config(tmp_path / "etc", sqlite_url, [])
    with (etc / "mahnwerk.toml").open("a", encoding="utf-8") as toml:
        toml.write("\n[daemon]\nworkers = 12\n")
    store = open_store(load_config(etc))
    try:
        assert store.engine.pool.size() == pool_size(12)  # type: ignore[attr-defined]
    finally:
        store.close()
