"""Fixtures: a small generated shop on a loopback port and a client that speaks to its REST API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)      # generation "now"; the shop clock runs a day later
SHOP_NOW = NOW + timedelta(days=1)


class Client:
    """requests.Session bound to the shop's /wp-json/wc/v3 with Basic auth."""

    def __init__(self, url: str, auth: tuple[str, str] | None) -> None:
        self.url, self.base = url, url + "/wp-json/wc/v3"
        self.session = requests.Session()
        self.session.auth = auth

    def get(self, path: str, **params) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=10)

    def put(self, path: str, body: dict) -> requests.Response:
        return self.session.put(self.base + path, json=body, timeout=10)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=10)

    def delete(self, path: str, **params) -> requests.Response:
        return self.session.delete(self.base + path, params=params, timeout=10)


@pytest.fixture
def orders() -> list[dict]:
    return generate_orders(60, seed=7, now=NOW)


@pytest.fixture
def shop(orders: list[dict]) -> WooSandbox:
    shop = WooSandbox(orders=orders)
    shop.clock = lambda: SHOP_NOW
    return shop


@pytest.fixture
def server(shop: WooSandbox, start_server: Callable[[SandboxServer], SandboxServer]) -> SandboxServer:
    return start_server(SandboxServer(shop))


@pytest.fixture
def api(shop: WooSandbox, server: SandboxServer) -> Iterator[Client]:
    client = Client(server.url, (shop.consumer_key, shop.consumer_secret))
    yield client
    client.session.close()


@pytest.fixture
def make_client() -> type[Client]:
    """The Client class, for tests that need other credentials or another server."""
    return Client


@pytest.fixture
def anonymous(server: SandboxServer) -> Iterator[Client]:
    client = Client(server.url, None)
    yield client
    client.session.close()
