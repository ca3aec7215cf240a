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


def test_daemon_catches_up_the_days_run_after_a_database_outage(tmp_path, pg_url) -> None:
    """The database goes away while the daemon's tick works at `run_at` and comes back seconds later: the daemon
    says so without a traceback, tries again early and does the day's run then, not tomorrow."""
    from sqlalchemy.engine import make_url

    from mahnwerk.sync.service.dailyrun import DAILY_RUN_STREAM
    from mahnwerk.sync.store.models import OutboxRow, SyncCursor
    from tests.e2e.dbproxy import DatabaseProxy
    from tests.e2e.racing import Gate, Mahnwerk, poll, read
    from tests.e2e.test_races import config
    from tests.sync.test_casework_cli import RATES
    from tests.sync.test_payments import synced
    from tests.sync.test_run import MERCHANT

    real = make_url(pg_url)
    with DatabaseProxy((real.host or "127.0.0.1", real.port or 5432)) as proxy:
        via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        shop = WooSandbox(orders=generate_orders(30, seed=11))
        with SandboxServer(shop) as server:
            shop.url = server.url
            daily = MERCHANT.replace("[delivery]\n", '[delivery]\nrun_at = "00:00"\n')  # due since midnight
            etc = config(tmp_path, via_proxy, shop, RATES + daily)
            synced(etc)
            runs_before = len(read(pg_url, select(SyncRun.id)))
            shop.on_request = gate = Gate()  # the daemon's first tick waits in the shop, holding the shop's lock
            daemon = Mahnwerk(etc, "daemon")
            try:
                poll(lambda: len(read(pg_url, select(SyncRun.id))) > runs_before or not daemon.running(),
                     why="the daemon's first tick")
                proxy.down()  # the database restarts while the tick is under way
                gate.open()
                poll(lambda: "daemon.database_unavailable" in daemon.said() or not daemon.running(),
                     why="the daemon noticing the outage")
                assert read(pg_url, select(OutboxRow.id)) == []  # the day's run did not happen in the outage
                proxy.up()
                cursor = poll(lambda: read(pg_url, select(SyncCursor).where(
                    SyncCursor.stream == DAILY_RUN_STREAM)), why="the day's run after the outage", timeout=90)
                sent = read(pg_url, select(OutboxRow).where(OutboxRow.state == "done"))
                daemon.proc.send_signal(signal.SIGTERM)
                stopped = daemon.finish(timeout=30)
            finally:
                gate.open()
                daemon.kill()
    assert stopped.code == 0, str(stopped)
    assert "Traceback" not in stopped.err, str(stopped)
    assert len(cursor) == 1 and sent, "the day's run sent nothing"
    runs = read(pg_url, select(SyncRun))
    assert "running" not in {r.outcome for r in runs}, [(r.id, r.outcome, r.error) for r in runs]
