"""The daemon's shop ticks when other processes sync the same shops: a shop synced elsewhere since the daemon's last
tick, less than an interval ago, is left alone until its next due time; its own ticks, and the first one, sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.daemon import build_scheduler, jitter
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import SyncRun
from tests.support import write_config


def runs(store: Store) -> int:
    with store.session() as session:
        return session.execute(select(func.count()).select_from(SyncRun)).scalar_one()


def test_a_tick_leaves_a_shop_synced_elsewhere_until_its_next_due_time(tmp_path: Path, db_url: str, woo) -> None:
    etc = write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                   "secret": woo.consumer_secret, "extra": '[sync]\ninterval = "1m"'}])
    config = load_config(etc)
    store = open_store(config)
    try:
        scheduler = build_scheduler(store, config.shops, workers=8)  # not started: the test calls the ticks
        job = scheduler.get_job("shop:acme")
        first = job.next_run_time - datetime.now(UTC)
        assert timedelta(0) < first <= timedelta(seconds=1 / 8)  # spread: a second per 8 shops, for 1 shop 1/8 s

        def tick() -> None:
            job.func(*job.args, **job.kwargs)

        tick()  # the first tick syncs
        tick()  # so does the next one: the last sync was the daemon's own
        assert runs(store) == 2
        by_hand = sync_one(store, config.shops[0], command="sync")  # another process (a `mahnwerk sync`)
        assert by_hand.ok and runs(store) == 3
        tick()  # left alone: synced elsewhere a moment ago ...
        assert runs(store) == 3
        with store.session() as session:
            synced = session.execute(select(func.max(SyncRun.started_at))).scalar_one()
        # ... until that sync's next due time, after its own jitter: 60 s + 3..6 s (jitter: 60 s / 20 = 3 s).
        assert jitter(60) == 3.0
        due = scheduler.get_job("shop:acme").next_run_time
        assert synced + timedelta(seconds=63) <= due <= synced + timedelta(seconds=66), (synced, due)
    finally:
        store.close()
