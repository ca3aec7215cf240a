"""A loopback fake WooCommerce shop speaking the real REST v3 wire format, for tests, the demo and benchmarks.

    shop = WooSandbox(orders=generate_orders(200, seed=7))
    with SandboxServer(shop) as server:
        requests.get(f"{server.url}/wp-json/wc/v3/orders", auth=(shop.consumer_key, shop.consumer_secret))

Faithful to a real WordPress 6.8 + WooCommerce 10 shop (see shared/reference/woocommerce.md, "Observed on a real
shop"): WP_Error bodies, pagination headers, exclusive date filters, status and auth errors; plus faults on demand
(fail_next, truncate_next, slow_next) and a log of what the shop received (requests, mails).

`ShopFleet` / `FleetServer` serve many such shops from one process, shop n under /s/<n> (for the many-shops bench).

The Shopware 6.6 counterpart is `ShopwareSandbox` / `ShopwareServer` (mahnwerk/sandbox/shopware/).
"""

from mahnwerk.sandbox.fleet import FleetServer, ShopFleet
from mahnwerk.sandbox.orders import generate_orders, malformed_orders
from mahnwerk.sandbox.server import SandboxServer
from mahnwerk.sandbox.shop import RecordedRequest, WooSandbox
from mahnwerk.sandbox.shopware import ShopwareSandbox, ShopwareServer, generate_sw_orders, malformed_sw_orders

__all__ = ["FleetServer", "RecordedRequest", "SandboxServer", "ShopFleet", "ShopwareSandbox", "ShopwareServer",
           "WooSandbox", "generate_orders", "generate_sw_orders", "malformed_orders", "malformed_sw_orders"]
