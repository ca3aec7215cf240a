"""ShopFleet: many generated WooCommerce shops served by one process, shop n under the path prefix /s/<n>.

    fleet = ShopFleet(1000, orders=300)
    with FleetServer(fleet) as server:
        key, secret = fleet.credentials(7)
        requests.get(f"{server.url}/s/7/wp-json/wc/v3/orders", auth=(key, secret))

Each shop is a WooSandbox of its own (orders, keys, notes, faults), as if WordPress were installed in a
sub-folder: its home URL is http://host:port/s/<n>, so its REST API, pagination links and `rest_route` form are
those of a real shop at that URL. Shop n's orders are generate_orders(orders, seed=<from seed and n>), dated from
the moment the fleet was made, so a shop's data does not depend on when it is first asked; a shop is built on its
first request (a thousand shops start in no time).

Beside the shops, /admin (no key, loopback only) is what a benchmark needs to drive and watch them:
- `GET /admin/shops`: every shop's URL and keys; `GET /admin/stats`: requests served, in all and per shop;
- `POST /admin/shops/<n>/pay?count=K`: the merchant marks shop n's K oldest unpaid invoice orders paid (status
  processing, date_paid set, date_modified bumped, as in wp-admin); `POST /admin/pay?count=K` does so in every shop.
"""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import datetime
from urllib.parse import SplitResult, parse_qs, urlsplit

from mahnwerk.sandbox.dates import real_clock
from mahnwerk.sandbox.orders import OrderFactory
from mahnwerk.sandbox.server import _Handler, _Server
from mahnwerk.sandbox.serving import LoopbackServer
from mahnwerk.sandbox.shop import WooSandbox
from mahnwerk.sandbox.wire import JSON_TYPE, encode, no_route

PREFIX = re.compile(r"^/s/(?P<n>[1-9]\d*)(?P<rest>[/?].*)?$")
PAY = re.compile(r"^/admin/shops/(?P<n>[1-9]\d*)/pay$")
UNPAID = "on-hold"                  # the generated shops' unpaid invoice orders (bacs and cheque)
PAID = "processing"                 # what wp-admin's "mark as processing" leaves: paid, not yet shipped


class ShopFleet:
    """`shops` generated WooCommerce shops, numbered 1..shops, each with `orders` orders and keys of its own."""

    def __init__(self, shops: int, *, orders: int = 300, seed: int = 0, timezone: str = "Europe/Berlin",
                 now: datetime | None = None) -> None:
        self.size, self.orders, self.seed, self.timezone = shops, orders, seed, timezone
        self.now = now or real_clock()
        self.lock = threading.Lock()
        self._shops: dict[int, WooSandbox] = {}
        self._requests = [0] * (shops + 1)  # per shop number; [0]: admin and unknown paths

    def __len__(self) -> int:
        return self.size

    def credentials(self, n: int) -> tuple[str, str]:
        """Shop n's consumer key and secret (ck_/cs_ and 40 hex digits, like WooCommerce's own)."""
        key, secret = (hashlib.sha256(f"mahnwerk-fleet:{self.seed}:{n}:{part}".encode()).hexdigest()[:40]
                       for part in ("key", "secret"))
        return "ck_" + key, "cs_" + secret

    def shop_seed(self, n: int) -> int:
        return self.seed * 1_000_003 + n

    def shop(self, n: int) -> WooSandbox:
        """Shop n (1-based), built on first use; KeyError outside 1..len(fleet)."""
        if not 1 <= n <= self.size:
            raise KeyError(n)
        with self.lock:
            shop = self._shops.get(n)
            if shop is None:
                key, secret = self.credentials(n)
                factory = OrderFactory(self.orders, seed=self.shop_seed(n), now=self.now, timezone=self.timezone)
                shop = WooSandbox(factory, consumer_key=key, consumer_secret=secret, timezone=self.timezone,
                                  site_title=f"Sandbox shop {n}")
                self._shops[n] = shop
            return shop

    def count(self, n: int) -> None:
        """One request answered for shop n (0: for none)."""
        with self.lock:
            self._requests[n] += 1

    def stats(self) -> dict:
        """Requests the shops served, in all and per shop (per_shop[i] is shop i+1); `other_requests`: admin and
        unknown paths; `built`: shops asked so far."""
        with self.lock:
            per_shop = self._requests[1:]
            return {"shops": self.size, "orders_per_shop": self.orders, "built": len(self._shops),
                    "requests": sum(per_shop), "other_requests": self._requests[0], "per_shop": per_shop}

    def pay(self, n: int, count: int) -> list[int]:
        """Mark shop n's `count` oldest unpaid invoice orders paid, as the merchant does in wp-admin; their ids."""
        shop = self.shop(n)
        with shop.lock:
            unpaid = sorted(oid for oid, row in shop.store.rows.items() if row.status == UNPAID)[:max(0, count)]
            for order_id in unpaid:
                shop.update_order(order_id, status=PAID)
        return unpaid


class _FleetHandler(_Handler):
    """Routes /s/<n>/... to shop n (the rest of the path as that shop sees it) and /admin/... to the fleet."""

    server: _FleetHTTPServer
    _shop: WooSandbox
    _number = 0

    def shop(self) -> WooSandbox:
        return self._shop

    def base_url(self) -> str:
        return f"{self.server.url}/s/{self._number}"

    def log(self, url: SplitResult, status: int) -> None:
        self.server.fleet.count(self._number)  # counted, not recorded: a fleet's log would grow for ever

    def serve(self) -> None:
        fleet = self.server.fleet
        match = PREFIX.match(self.path)
        if self.path == "/admin" or self.path.startswith(("/admin/", "/admin?")):
            self._admin(fleet)
            return
        if match is None or int(match["n"]) > len(fleet):
            self._read_body()
            fleet.count(0)
            self.send(no_route().response(), truncate=False)  # no shop lives here
            return
        self._number = int(match["n"])
        self._shop = fleet.shop(self._number)
        rest = match["rest"] or "/"
        self.path = rest if rest.startswith("/") else "/" + rest
        super().serve()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _admin(self, fleet: ShopFleet) -> None:
        self._read_body()
        fleet.count(0)
        status, data = admin_answer(fleet, self.command, urlsplit(self.path), self.server.url)
        self.write_response(status, [f"Content-Type: {JSON_TYPE}"], encode(data))


def admin_answer(fleet: ShopFleet, method: str, url: SplitResult, base_url: str) -> tuple[int, object]:
    """(status, JSON data) of one /admin request."""
    try:
        count = int(parse_qs(url.query).get("count", ["1"])[0])
    except ValueError:
        return 400, {"error": "count must be a whole number"}
    paying = PAY.match(url.path)
    if method == "GET" and url.path == "/admin/stats":
        return 200, fleet.stats()
    if method == "GET" and url.path == "/admin/shops":
        return 200, [{"shop": n, "url": f"{base_url}/s/{n}", "consumer_key": key, "consumer_secret": secret}
                     for n in range(1, len(fleet) + 1) for key, secret in [fleet.credentials(n)]]
    if method == "POST" and paying and int(paying["n"]) <= len(fleet):
        return 200, {"shop": int(paying["n"]), "paid": fleet.pay(int(paying["n"]), count)}
    if method == "POST" and url.path == "/admin/pay":
        return 200, {"paid": sum(len(fleet.pay(n, count)) for n in range(1, len(fleet) + 1)), "shops": len(fleet)}
    return 404, {"error": f"no admin route {method} {url.path}"}


class _FleetHTTPServer(_Server):
    def __init__(self, fleet: ShopFleet, address: tuple[str, int]) -> None:
        super(_Server, self).__init__(address, _FleetHandler)  # no shop of its own: each request names one
        self.fleet = fleet


class FleetServer(LoopbackServer):
    """Serves a ShopFleet on http://127.0.0.1:<free port>: shop n at `shop_url(n)`, the fleet's admin at /admin."""

    _kind = "FleetServer"

    def __init__(self, fleet: ShopFleet, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.fleet = fleet

    def shop_url(self, n: int) -> str:
        """Shop n's home URL: the `url` of its shop file."""
        return f"{self.url}/s/{n}"

    def _bind(self, address: tuple[str, int]) -> _FleetHTTPServer:
        return _FleetHTTPServer(self.fleet, address)

    def _thread_name(self) -> str:
        return f"woo-fleet-{self.port}"
