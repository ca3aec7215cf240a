"""`plan --json` on several cores: the claims planned chunk by chunk, in forked processes, come out as the one
pass over all of them would give them (the sandbox shop's 60 orders, a real database, chunks of 7)."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mahnwerk.sync.casework.fanout import in_order
from mahnwerk.sync.casework.planner import PlanChunk, chunk_rows, plan_chunks, plan_rows
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import ShopConfig, load_config
from mahnwerk.sync.service.baserates import config_with_rates
from mahnwerk.sync.store.engine import Store
from tests.support import write_config
from tests.sync.test_casework_cli import RATES

NOW = datetime.now(UTC)


@pytest.fixture
def synced(tmp_path: Path, woo, db_url: str) -> Iterator[tuple[Store, tuple[ShopConfig, ...]]]:
    etc = write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                   "secret": woo.consumer_secret, "extra": RATES}])
    assert main(["--config-dir", str(etc), "sync"]) == 0
    store = Store(db_url)
    yield store, config_with_rates(load_config(etc), store).shops
    store.close()


def test_chunks_plan_every_open_claim_once_in_id_order(synced) -> None:
    """Chunks of 7 claims, each planned on its own, give the rows of one pass over all claims, in its order."""
    store, shops = synced
    whole = list(plan_rows(store, shops, on=None, now=NOW))
    parts = plan_chunks(store, shops, on=None, now=NOW, chunk=7)
    assert len(whole) > 14 and len(parts) == len(whole) // 7 + 1  # the last one runs to the end
    assert [row for part in parts for row in chunk_rows(store, part)] == whole


def test_forked_workers_hand_back_the_chunks_in_order(synced) -> None:
    """Three processes (this one and two forked children with connections of their own) plan the chunks; the text
    comes back in chunk order, the same as planned here."""
    store, shops = synced
    parts = plan_chunks(store, shops, on=None, now=NOW, chunk=7)

    def text(part: PlanChunk) -> bytes:
        return json.dumps([*chunk_rows(store, part), os.getpid()]).encode()

    here = [json.loads(t) for t in map(text, parts)]
    forked = [json.loads(t) for t in in_order(parts, text, processes=3,
                                              forked=lambda: store.engine.dispose(close=False))]
    assert [t[:-1] for t in forked] == [t[:-1] for t in here]
    assert len({t[-1] for t in forked}) == 3  # three processes did the work


def test_a_failed_worker_fails_the_whole_run() -> None:
    """A child that raises ends the reading with an error, not with a shorter output."""
    def work(n: int) -> bytes:
        if n == 3:
            raise ValueError("broken claim")
        return str(n).encode()

    with pytest.raises(RuntimeError, match="ended early"):
        list(in_order(range(6), work, processes=2))


def test_a_reader_that_stops_early_ends_the_workers() -> None:
    """Closing the results half-way (a closed stdout, say) leaves no worker behind."""
    results = in_order(range(100), lambda n: str(n).encode(), processes=3)
    assert [next(results) for _ in range(4)] == [b"0", b"1", b"2", b"3"]
    results.close()
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("mahnwerk-worker")]
