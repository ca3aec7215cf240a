"""`mahnwerk daemon` with `[daemon] metrics_listen`: Prometheus scrapes /metrics, and /healthz follows the database."""

from __future__ import annotations

import signal
import socket
import urllib.error
import urllib.request
from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from mahnwerk.errors import ConfigError
from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sync.casework.blocked import count_blocked
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.config import load_config
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, OutboxRow, SyncRun
from tests.e2e.dbproxy import DatabaseProxy
from tests.e2e.racing import Mahnwerk, poll, read
from tests.e2e.test_races import config
from tests.support import write_config
from tests.sync.test_payments import bring_in, credit, synced
from tests.sync.test_run import MERCHANT

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:  # not listening yet
        return 0, str(exc)


def scrape(base: str) -> Samples:
    """Every sample of /metrics: name → {sorted labels: value}."""
    status, body = get(f"{base}/metrics")
    if status != 200:
        return {}
    samples: Samples = defaultdict(dict)
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_daemon_serves_metrics_from_the_store_and_health_follows_the_database(tmp_path, pg_url) -> None:
    """Every metric name answers with the store's figures after the first tick and the day's run; /healthz is 200,
    turns 503 while the database is cut off, and 200 again when it is back."""
    real = make_url(pg_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with DatabaseProxy((real.host or "127.0.0.1", real.port or 5432)) as proxy:
        via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        shop = WooSandbox(orders=generate_orders(40, seed=5))
        with SandboxServer(shop) as server:
            shop.url = server.url
            # run_at 00:00: the day's run is due at the first tick. No [[policy.base_rates]] for 2026-H2 and later:
            # the overdue claims whose interest runs into it wait for a rate (blocked, reason rate_missing).
            etc = config(tmp_path, via_proxy, shop, MERCHANT.replace("[delivery]\n", '[delivery]\nrun_at = "00:00"\n'))
            with (etc / "mahnwerk.toml").open("a", encoding="utf-8") as toml:
                toml.write(f'\n[daemon]\nmetrics_listen = "127.0.0.1:{port}"\n')
            synced(etc)  # the claims first, then a salary credit that pays none of them: it waits for a person
            bring_in(etc, [credit("G1", "1234.56", "Gehalt", payer="Arbeitgeber AG")])
            daemon = Mahnwerk(etc, "daemon")
            try:
                metrics = poll(lambda: scrape(base), until=lambda m: bool(
                    m.get("mahnwerk_blocked_claims") and m.get("mahnwerk_shop_up")) or not daemon.running(),
                    why="the first tick and the day's run in /metrics", timeout=90)
                assert daemon.running(), daemon.said()
                health = get(f"{base}/healthz")
                proxy.down()  # the database goes away: the daemon is alive but cannot work
                down = poll(lambda: get(f"{base}/healthz"), until=lambda r: r[0] == 503, why="/healthz 503")
                still = scrape(base)  # the process's own values are still scraped
                proxy.up()
                back = poll(lambda: get(f"{base}/healthz"), until=lambda r: r[0] == 200, why="/healthz 200 again")
                daemon.proc.send_signal(signal.SIGTERM)
                stopped = daemon.finish(timeout=30)
            finally:
                daemon.kill()
    assert stopped.code == 0, str(stopped)
    assert "Traceback" not in stopped.err, str(stopped)
    assert health == (200, "ok\n")
    assert down[1].startswith("database not answering: "), down
    assert back == (200, "ok\n")
    assert still.get("mahnwerk_shop_up"), still

    acme = (("shop", "acme"),)
    # Open claims and their amount: the store's own count and sum per currency.
    store_open = read(pg_url, select(Claim.currency, func.count(), func.sum(Claim.open_amount))
                      .where(Claim.state == "open").group_by(Claim.currency), scalars=False)
    assert store_open, "the sandbox shop has open invoice orders"
    assert metrics["mahnwerk_open_claims"] == {(("currency", cur), *acme): n for cur, n, _ in store_open}
    assert metrics["mahnwerk_open_amount"] == pytest.approx(
        {(("currency", cur), *acme): float(total) for cur, _, total in store_open}, abs=0.005)  # equal to the cent
    # The outbox per state, as the day's run left it.
    rows = read(pg_url, select(OutboxRow.state, func.count()).group_by(OutboxRow.state), scalars=False)
    assert rows, "the day's run decided something"
    assert metrics["mahnwerk_outbox_rows"] == {(*acme, ("state", state)): n for state, n in rows}
    assert metrics["mahnwerk_payments_waiting"] == {acme: 1}  # the salary credit
    # Blocked: what `plan` counts for today, with the same store and shop file.
    cfg = load_config(etc)
    store = Store(pg_url, migrate=False)
    try:
        blocked = count_blocked(store, cfg.shops[0], shop_today(cfg.shops[0], utcnow())).total
    finally:
        store.close()
    assert blocked > 0, "a claim's interest runs into the half-year without a rate"
    assert metrics["mahnwerk_blocked_claims"] == {(("reason", "rate_missing"), *acme): blocked}
    assert metrics["mahnwerk_shop_up"] == {acme: 1.0}
    # The last success: when the daemon's ok sync run ended (it notes the time right after recording the run).
    [last_ok] = read(pg_url, select(func.max(SyncRun.finished_at)).where(SyncRun.outcome == "ok"))
    assert 0 <= metrics["mahnwerk_sync_last_success_timestamp_seconds"][acme] - last_ok.timestamp() < 5
    assert metrics["mahnwerk_sync_duration_seconds_count"][acme] >= 1
    assert metrics["mahnwerk_sync_duration_seconds_sum"][acme] > 0


def test_metrics_listen_that_is_not_an_address_names_file_line_and_key(tmp_path) -> None:
    """A typo in metrics_listen is a config problem with its place, not a crash at start."""
    etc = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'm.db'}", [])
    with (etc / "mahnwerk.toml").open("a", encoding="utf-8") as toml:
        toml.write('[daemon]\nmetrics_listen = "9464"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(etc)
    assert str(caught.value.problems[0]) == ("mahnwerk.toml:4: daemon.metrics_listen: expected host:port "
                                             'like "127.0.0.1:9464" (port 1-65535), got "9464"')
