"""`mahnwerk daemon` as systemd runs it: syncs at once, keeps running, stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from sqlalchemy import select

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import SyncRun
from tests.support import write_config


def test_daemon_syncs_every_shop_and_stops_on_sigterm(tmp_path) -> None:
    """Both shops are synced right after start; SIGTERM ends the process with exit code 0."""
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    shop = WooSandbox(orders=generate_orders(50, seed=3))
    with SandboxServer(shop) as server:
        folder = write_config(tmp_path / "etc", db_url, [
            {"shop_id": sid, "url": server.url, "key": shop.consumer_key, "secret": shop.consumer_secret}
            for sid in ("berlin", "wien")])
        child = subprocess.Popen([sys.executable, "-m", "mahnwerk", "--config-dir", str(folder), "daemon"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        store = Store(db_url)
        deadline, runs = time.monotonic() + 30, []
        while time.monotonic() < deadline and len(runs) < 2:
            time.sleep(0.2)
            with store.session() as session:
                runs = session.execute(select(SyncRun).where(SyncRun.outcome == "ok")).scalars().all()
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGTERM)
        assert child.wait(20) == 0
        store.close()
    assert sorted(r.shop_id for r in runs) == ["berlin", "wien"]
    assert all(r.new > 0 for r in runs)
