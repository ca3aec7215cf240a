"""A `mahnwerk sync` process killed with SIGKILL mid-backfill, then restarted: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, LedgerEntry
from tests.support import write_config
from tests.sync.test_mirror import unpaid_invoice_ids


@pytest.mark.parametrize("kill_after_requests", [3, 9])
def test_sigkill_between_pages_loses_nothing_and_duplicates_nothing(tmp_path, db_url, kill_after_requests) -> None:
    """Kill the sync after some pages, run it again: the claims are exactly the shop's, each opened once."""
    shop = WooSandbox(orders=generate_orders(400, seed=5))
    with SandboxServer(shop) as server:
        shop.url = server.url
        folder = write_config(tmp_path / "etc", db_url, [{
            "shop_id": "acme", "url": server.url, "key": shop.consumer_key, "secret": shop.consumer_secret,
            "extra": "[sync]\npage_size = 10"}])
        shop.slow_next(0.15, times=1000)  # slow pages, so the kill lands mid-backfill
        child = subprocess.Popen([sys.executable, "-m", "mahnwerk", "--config-dir", str(folder), "sync"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(shop.requests) < kill_after_requests and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL

        store = Store(db_url)
        with store.session() as session:
            partial = session.execute(select(func.count()).select_from(Claim)).scalar()
        expected = unpaid_invoice_ids(shop)
        assert 0 < partial < len(expected)  # the kill really landed mid-backfill, after some pages committed

        shop.faults.clear()
        restarted = subprocess.run([sys.executable, "-m", "mahnwerk", "--config-dir", str(folder), "sync"],
                                   capture_output=True, text=True, timeout=120)
        assert restarted.returncode == 0, restarted.stderr
        with store.session() as session:
            order_ids = list(session.execute(select(Claim.order_id)).scalars())
            opened = session.execute(select(LedgerEntry.claim_id, func.count()).where(LedgerEntry.kind == "opened")
                                     .group_by(LedgerEntry.claim_id)).all()
        store.close()
    assert sorted(order_ids) == sorted(expected)
    assert len(opened) == len(expected) and all(count == 1 for _, count in opened)
