"""The shop fleet (mahnwerk/sandbox/fleet.py): many WooCommerce shops from one process, each under /s/<n> with its
own orders and keys, an admin that changes orders and counts requests; over real HTTP, and synced by Mahnwerk."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select

from mahnwerk.sandbox import FleetServer, ShopFleet
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim
from tests.support import write_config

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def fleet() -> ShopFleet:
    return ShopFleet(4, orders=40, seed=3, now=NOW)


@pytest.fixture
def server(fleet: ShopFleet, start_server: Callable[[FleetServer], FleetServer]) -> FleetServer:
    return start_server(FleetServer(fleet))


def orders(server: FleetServer, fleet: ShopFleet, n: int, **params: object) -> requests.Response:
    return requests.get(f"{server.shop_url(n)}/wp-json/wc/v3/orders", auth=fleet.credentials(n),
                        params={"per_page": 100, **params}, timeout=10)


def test_each_shop_has_its_own_orders_and_keys(server: FleetServer, fleet: ShopFleet) -> None:
    first, second = orders(server, fleet, 1), orders(server, fleet, 2)
    assert first.status_code == second.status_code == 200
    assert first.headers["X-WP-Total"] == second.headers["X-WP-Total"] == "40"
    assert {o["order_key"] for o in first.json()}.isdisjoint({o["order_key"] for o in second.json()})
    assert fleet.credentials(1) != fleet.credentials(2)
    # Shop 2's key is unknown to shop 1: anonymous there, as WooCommerce answers an unknown key.
    wrong = requests.get(f"{server.shop_url(1)}/wp-json/wc/v3/orders", auth=fleet.credentials(2), timeout=10)
    assert (wrong.status_code, wrong.json()["code"]) == (401, "woocommerce_rest_cannot_view")
    key, _ = fleet.credentials(1)
    bad_secret = requests.get(f"{server.shop_url(1)}/wp-json/wc/v3/orders", auth=(key, "cs_nope"), timeout=10)
    assert (bad_secret.status_code, bad_secret.json()["code"]) == (401, "woocommerce_rest_authentication_error")


def test_a_shop_is_the_same_in_another_fleet_with_the_same_seed(server: FleetServer, fleet: ShopFleet) -> None:
    again = ShopFleet(4, orders=40, seed=3, now=NOW)
    with FleetServer(again) as other:
        ours, theirs = orders(server, fleet, 3).json(), orders(other, again, 3).json()
    assert [{k: v for k, v in o.items() if k != "_links"} for o in theirs] == \
        [{k: v for k, v in o.items() if k != "_links"} for o in ours]     # the links name each server's port
    assert again.credentials(3) == fleet.credentials(3)


def test_links_and_the_site_index_carry_the_shop_prefix(server: FleetServer, fleet: ShopFleet) -> None:
    page = orders(server, fleet, 2, per_page=10, page=2)
    assert f'<{server.shop_url(2)}/wp-json/wc/v3/orders?per_page=10&page=3>; rel="next"' in page.headers["Link"]
    assert page.json()[0]["_links"]["self"][0]["href"].startswith(f"{server.shop_url(2)}/wp-json/wc/v3/orders/")
    plain = requests.get(f"{server.shop_url(2)}/?rest_route=/wc/v3/orders&per_page=10", auth=fleet.credentials(2),
                         timeout=10)
    assert plain.status_code == 200 and f"{server.shop_url(2)}/?rest_route=/wc/v3/orders" in plain.headers["Link"]
    index = requests.get(f"{server.shop_url(4)}/wp-json/", timeout=10).json()
    assert index["url"] == index["home"] == server.shop_url(4)


@pytest.mark.parametrize("path", ["/s/5/wp-json/wc/v3/orders", "/s/0/wp-json/", "/wp-json/wc/v3/orders", "/s/x/"])
def test_no_shop_lives_outside_the_fleet(server: FleetServer, path: str) -> None:
    answer = requests.get(server.url + path, timeout=10)
    assert (answer.status_code, answer.json()["code"]) == (404, "rest_no_route")


def test_admin_pays_the_oldest_unpaid_orders_and_the_change_is_seen(server: FleetServer, fleet: ShopFleet) -> None:
    before = {o["id"]: o for o in orders(server, fleet, 2).json()}
    paid = requests.post(f"{server.url}/admin/shops/2/pay", params={"count": 3}, timeout=10).json()
    unpaid = sorted(oid for oid, o in before.items() if o["status"] == "on-hold")[:3]
    assert paid == {"shop": 2, "paid": unpaid}
    after = {o["id"]: o for o in orders(server, fleet, 2).json()}
    for order_id in unpaid:
        assert after[order_id]["status"] == "processing" and after[order_id]["date_paid_gmt"]
        assert after[order_id]["date_modified_gmt"] > before[order_id]["date_modified_gmt"]
    assert {oid for oid in after if after[oid] != before[oid]} == set(unpaid)
    # An incremental poll from before the change finds exactly the paid orders.
    newest = max(o["date_modified_gmt"] for o in before.values())
    changed = orders(server, fleet, 2, modified_after=newest, dates_are_gmt="true")
    assert sorted(o["id"] for o in changed.json()) == unpaid
    assert orders(server, fleet, 1).json() == orders(server, fleet, 1).json()  # the other shops are untouched
    everywhere = requests.post(f"{server.url}/admin/pay", params={"count": 2}, timeout=10).json()
    assert everywhere == {"paid": 8, "shops": 4}


def test_stats_count_the_requests_each_shop_served(server: FleetServer, fleet: ShopFleet) -> None:
    for n in (1, 3, 3):
        orders(server, fleet, n)
    requests.get(server.url + "/s/9/", timeout=10)
    stats = requests.get(f"{server.url}/admin/stats", timeout=10).json()
    assert stats["per_shop"] == [1, 0, 2, 0] and stats["requests"] == 3
    assert stats["other_requests"] == 2 and stats["built"] == 2 and stats["shops"] == 4  # /s/9 and this one
    listed = requests.get(f"{server.url}/admin/shops", timeout=10).json()
    assert listed[2] == {"shop": 3, "url": server.shop_url(3), "consumer_key": fleet.credentials(3)[0],
                         "consumer_secret": fleet.credentials(3)[1]}
    assert requests.post(f"{server.url}/admin/nothing", timeout=10).status_code == 404
    assert requests.post(f"{server.url}/admin/pay", params={"count": "x"}, timeout=10).status_code == 400


def test_mahnwerk_syncs_fleet_shops_each_on_its_own(server: FleetServer, fleet: ShopFleet, tmp_path) -> None:
    """Shop files pointing at /s/<n>: `mahnwerk sync` mirrors each shop's own unpaid invoices, then sees a payment."""
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    etc = write_config(tmp_path / "etc", db_url, [
        {"shop_id": f"shop{n}", "url": server.shop_url(n), "key": fleet.credentials(n)[0],
         "secret": fleet.credentials(n)[1]} for n in (1, 2)])

    def sync() -> None:
        done = subprocess.run([sys.executable, "-m", "mahnwerk", "--config-dir", str(etc), "sync"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    def open_claims(shop_id: str) -> int:
        with store.session() as session:
            return session.execute(select(func.count()).select_from(Claim).where(
                Claim.shop_id == shop_id, Claim.state == "open")).scalar_one()

    sync()
    store = Store(db_url)
    try:
        unpaid = {n: sum(o["status"] == "on-hold" and o["payment_method"] in ("bacs", "cheque")
                         for o in orders(server, fleet, n).json()) for n in (1, 2)}
        assert open_claims("shop1") == unpaid[1] > 0 and open_claims("shop2") == unpaid[2] > 0
        requests.post(f"{server.url}/admin/shops/2/pay", params={"count": 2}, timeout=10)
        sync()
        assert (open_claims("shop1"), open_claims("shop2")) == (unpaid[1], unpaid[2] - 2)
    finally:
        store.close()


def test_the_command_line_serves_a_fleet_until_sigterm() -> None:
    """`python -m mahnwerk.sandbox --shops 3 --orders 5` prints where it is; the keys come from /admin/shops."""
    child = subprocess.Popen([sys.executable, "-m", "mahnwerk.sandbox", "--shops", "3", "--orders", "5"],
                             stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(child.stdout.readline() if child.stdout else "{}")
        assert info["shops"] == 3 and info["orders"] == 5 and info["admin"] == info["url"] + "/admin"
        shops = requests.get(info["admin"] + "/shops", timeout=10).json()
        assert [s["url"] for s in shops] == [f"{info['url']}/s/{n}" for n in (1, 2, 3)]
        third = requests.get(shops[2]["url"] + "/wp-json/wc/v3/orders", timeout=10,
                             auth=(shops[2]["consumer_key"], shops[2]["consumer_secret"]))
        assert third.status_code == 200 and len(third.json()) == 5
    finally:
        child.terminate()
        assert child.wait(10) == 0
