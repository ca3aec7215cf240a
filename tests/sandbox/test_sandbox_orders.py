"""Generated order data: deterministic, mixed like the realshop seed, hostile where it should be."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from mahnwerk.sandbox import WooSandbox, generate_orders, malformed_orders
from mahnwerk.sandbox.orders import OrderFactory

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
ROOT = Path(__file__).resolve().parents[2]


def test_same_seed_same_orders_other_seed_other_orders():
    """generate_orders is a pure function of (n, seed, now)."""
    assert generate_orders(40, seed=3, now=NOW) == generate_orders(40, seed=3, now=NOW)
    assert generate_orders(40, seed=3, now=NOW) != generate_orders(40, seed=4, now=NOW)


def test_mix_per_20_orders_follows_the_realshop_seed():
    """Per 20: 10 bacs + 1 cheque on-hold, 3 completed, 2 processing (1 cod), 2 cancelled, 1 refunded, 1 pending."""
    orders = generate_orders(200, seed=1, now=NOW)
    mix = Counter((o["payment_method"], o["status"]) for o in orders)
    assert mix == {("bacs", "on-hold"): 100, ("cheque", "on-hold"): 10, ("bacs", "completed"): 30,
                   ("bacs", "processing"): 10, ("cod", "processing"): 10, ("bacs", "cancelled"): 20,
                   ("bacs", "refunded"): 10, ("bacs", "pending"): 10}
    unpaid = [o for o in orders if o["status"] == "on-hold"]
    assert all(o["date_paid"] is None and o["needs_payment"] is False for o in unpaid)
    assert any(o["refunds"] for o in unpaid)                                   # partly refunded ones
    assert all(o["date_paid_gmt"] for o in orders if o["status"] in ("completed", "refunded"))
    refunded = [o for o in orders if o["status"] == "refunded"]
    assert all(o["refunds"][0]["total"] == "-" + o["total"] for o in refunded)
    assert set(Counter(o["currency"] for o in orders)) == {"EUR", "CHF", "GBP", "USD"}
    assert 0.2 < sum(bool(o["billing"]["company"]) for o in orders) / 200 < 0.35


def test_dates_are_consistent_and_in_wc_format():
    """Dates have no suffix, gmt is UTC, local is Berlin time, modified >= created, ids grow with creation."""
    orders = generate_orders(300, seed=2, now=NOW)
    for o in orders:
        assert o["date_modified_gmt"] >= o["date_created_gmt"]
        assert len(o["date_created"]) == 19 and o["date_created"][10] == "T"
        local = datetime.fromisoformat(o["date_created_gmt"]).replace(tzinfo=UTC).astimezone(BERLIN)
        assert local.strftime("%Y-%m-%dT%H:%M:%S") == o["date_created"]
    assert [o["id"] for o in orders] == sorted(o["id"] for o in orders)
    assert max(Counter(o["date_modified_gmt"] for o in orders).values()) >= 3          # same-second ties


def test_names_and_addresses_are_hostile_and_international():
    """Umlauts, other scripts, formula and script injection, SQL-ish names and checkout-escaped values occur."""
    text = json.dumps(generate_orders(200, seed=1, now=NOW), ensure_ascii=False)
    for needle in ("Jürgen", "Größmann", "Иванова", "佐藤", '=HYPERLINK(\\"http://x\\",\\"y\\")',
                   "<script>alert(1)</script>", "+SUM(1,2)", "Robert'); DROP TABLE orders;--",
                   "Größmann &amp; Söhne GmbH", "Müller & Söhne GmbH", "_wcpdf_invoice_number", "vat_id"):
        assert needle in text, needle


def test_some_numbers_differ_from_ids():
    """A sequential-number plugin gives some orders a number that is not their id."""
    orders = generate_orders(40, seed=1, now=NOW)
    assert any(o["number"] != str(o["id"]) for o in orders)


def test_lazy_factory_builds_the_same_orders():
    """WooSandbox.generated and OrderFactory serve exactly what generate_orders returns."""
    factory = OrderFactory(120, seed=5, now=NOW)
    assert [factory.build(i) for i in range(120)] == generate_orders(120, seed=5, now=NOW)
    shop = WooSandbox(factory)
    assert shop.order(factory.order_id(7)) == factory.build(7)


def test_malformed_orders_are_broken_bacs_on_hold_orders():
    """malformed_orders has missing/None/unparseable totals, a bad date and unknown currencies, and loads."""
    broken = malformed_orders()
    assert all(o["status"] == "on-hold" and o["payment_method"] == "bacs" for o in broken)
    assert {"total" in o and o["total"] for o in broken} >= {None, "12,50", False}
    assert {o["currency"] for o in broken} >= {"XXX", ""}
    assert any(o["date_created"] == "not a date" for o in broken)
    shop = WooSandbox(orders=generate_orders(5, seed=1, now=NOW) + broken)
    assert shop.order(broken[2]["id"])["date_created"] == "not a date"


def test_command_line_prints_one_json_line_and_stops_on_sigterm():
    """python -m mahnwerk.sandbox serves a generated shop, announces it in one JSON line and exits on SIGTERM."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "mahnwerk.sandbox", "--orders", "30", "--seed", "4"],
                               stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        info = json.loads(process.stdout.readline())
        assert info["orders"] == 30 and info["url"].startswith("http://127.0.0.1:")
        r = requests.get(info["url"] + "/wp-json/wc/v3/orders", timeout=10,
                         auth=(info["consumer_key"], info["consumer_secret"]))
        assert r.headers["X-WP-Total"] == "30"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.stdout.close()
