"""`python -m mahnwerk.sandbox --orders N [--kind shopware6]`: serve a generated shop in the foreground until
SIGTERM/SIGINT. `--shops N` serves N WooCommerce shops of `--orders` orders each from this one process, shop n under
/s/<n> (mahnwerk/sandbox/fleet.py), and prints {"url", "shops", "orders", "admin"}: keys from GET <admin>/shops.
`--kind bundesbank [--rate 2026-07-01=1.02 ...]` serves the base-rate series instead (the shipped German rows plus
the given ones) and prints {"url"}: the value for `[rates] bundesbank_url`.

Prints one JSON line first: {"url", "consumer_key", "consumer_secret", "orders"} (Shopware: "client_id",
"client_secret" instead of the key and secret); benchmarks read it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from mahnwerk.policy.rates import DE_BASE_RATE
from mahnwerk.sandbox.bundesbank import BundesbankSandbox, BundesbankServer
from mahnwerk.sandbox.fleet import FleetServer, ShopFleet
from mahnwerk.sandbox.server import SandboxServer
from mahnwerk.sandbox.shop import WooSandbox
from mahnwerk.sandbox.shopware import ShopwareSandbox, ShopwareServer, generate_sw_orders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mahnwerk.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="number of generated orders (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shops", type=int, default=0, help="woocommerce: serve this many shops under /s/<n>")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--timezone", default="Europe/Berlin")
    parser.add_argument("--kind", choices=["woocommerce", "shopware6", "bundesbank"], default="woocommerce")
    parser.add_argument("--rate", action="append", default=[], metavar="YYYY-MM-DD=RATE",
                        help="bundesbank: publish this half-year's rate (repeatable)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.shops and args.kind != "woocommerce":
        parser.error("--shops serves WooCommerce shops only")
    if args.kind == "shopware6":
        return serve_shopware(args.orders, args.seed, args.host, args.port, stop)
    if args.kind == "bundesbank":
        return serve_bundesbank(args.rate, args.host, args.port, stop)
    if args.shops:
        return serve_fleet(ShopFleet(args.shops, orders=args.orders, seed=args.seed, timezone=args.timezone),
                           args.host, args.port, stop)
    # Orders are built lazily from the seed: same orders as generate_orders(N, seed=S), without holding N dicts.
    shop = WooSandbox.generated(args.orders, seed=args.seed, timezone=args.timezone)
    with SandboxServer(shop, host=args.host, port=args.port) as server:
        print(json.dumps({"url": server.url, "consumer_key": shop.consumer_key,
                          "consumer_secret": shop.consumer_secret, "orders": args.orders}), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


def serve_shopware(orders: int, seed: int, host: str, port: int, stop: threading.Event) -> int:
    shop = ShopwareSandbox(orders=generate_sw_orders(orders, seed=seed))
    with ShopwareServer(shop, host=host, port=port) as server:
        print(json.dumps({"url": server.url, "client_id": shop.client_id, "client_secret": shop.client_secret,
                          "orders": orders}), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


def serve_fleet(fleet: ShopFleet, host: str, port: int, stop: threading.Event) -> int:
    with FleetServer(fleet, host=host, port=port) as server:
        print(json.dumps({"url": server.url, "shops": len(fleet), "orders": fleet.orders,
                          "admin": f"{server.url}/admin"}), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


def serve_bundesbank(rates: list[str], host: str, port: int, stop: threading.Event) -> int:
    sandbox = BundesbankSandbox({row.valid_from: row.rate for row in DE_BASE_RATE.rows})
    for item in rates:
        valid_from, _, rate = item.partition("=")
        sandbox.publish(valid_from, rate)
    with BundesbankServer(sandbox, host=host, port=port) as server:
        print(json.dumps({"url": server.series_url}), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
