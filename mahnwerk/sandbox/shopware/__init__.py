"""A loopback fake Shopware 6.6 Admin API speaking the wire format of shared/reference/shopware6.md, for tests,
the demo and benchmarks; it answers the requests docs/shopware6.md lists, errors included.

    shop = ShopwareSandbox(orders=generate_sw_orders(200, seed=7))
    with ShopwareServer(shop) as server:
        token = requests.post(f"{server.url}/api/oauth/token", json={"grant_type": "client_credentials",
                              "client_id": shop.client_id, "client_secret": shop.client_secret}).json()
"""

from mahnwerk.sandbox.shopware.generate import generate_sw_orders, malformed_sw_orders
from mahnwerk.sandbox.shopware.server import ShopwareServer
from mahnwerk.sandbox.shopware.state import ShopwareSandbox

__all__ = ["ShopwareSandbox", "ShopwareServer", "generate_sw_orders", "malformed_sw_orders"]
