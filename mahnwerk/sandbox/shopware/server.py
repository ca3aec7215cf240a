"""ShopwareServer: a ShopwareSandbox on a loopback port, with the WooCommerce sandbox's faults and request hook."""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime
from urllib.parse import SplitResult, parse_qs, parse_qsl

from mahnwerk.sandbox.provider_common import ProviderRequest
from mahnwerk.sandbox.serving import LoopbackHTTPServer, LoopbackServer, ShopHandler
from mahnwerk.sandbox.shop import RecordedRequest
from mahnwerk.sandbox.shopware.routes import dispatch
from mahnwerk.sandbox.shopware.state import ShopwareSandbox
from mahnwerk.sandbox.shopware.wire import http_error
from mahnwerk.sandbox.wire import Response

# Status -> (code, detail) for injected faults: a proxy or PHP-FPM in front of Shopware, or Shopware itself.
FAULTS = {
    429: ("FRAMEWORK__RATE_LIMIT_EXCEEDED", "Too many requests, try again in 1 seconds."),
    500: ("0", "An error occurred while processing your request."),
    502: ("0", "Bad Gateway"),
    503: ("0", "Service Unavailable"),
    504: ("0", "Gateway Timeout"),
}


def fault_response(status: int, retry_after: float | None) -> Response:
    code, detail = FAULTS.get(status, ("0", f"Injected fault {status}."))
    response = http_error(status, code, detail).response()
    if retry_after is not None:
        response.headers.append(("Retry-After", f"{retry_after:g}"))
    return response


class _Handler(ShopHandler):
    server: _Server

    def shop(self) -> ShopwareSandbox:
        return self.server.shop

    def answer(self, url: SplitResult, body: bytes) -> Response:
        return dispatch(self.server.shop, ProviderRequest(self.command, url.path,
                                                          parse_qsl(url.query, keep_blank_values=True),
                                                          dict(self.headers.items()), body, self.server.url))

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        return fault_response(status, retry_after)

    def log(self, url: SplitResult, status: int) -> None:
        self.server.shop.record(RecordedRequest(self.command, url.path,
                                                parse_qs(url.query, keep_blank_values=True), status))

    def send(self, response: Response, *, truncate: bool) -> None:
        date = format_datetime(self.server.shop.clock().astimezone(UTC), usegmt=True)     # the sandbox's clock
        self.write_response(response.status, [f"Date: {date}", "Server: nginx",
                                              *(f"{k}: {v}" for k, v in response.headers)],
                            response.body, truncate=truncate)


class _Server(LoopbackHTTPServer):
    def __init__(self, shop: ShopwareSandbox, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.shop = shop


class ShopwareServer(LoopbackServer):
    """Serves a ShopwareSandbox on http://127.0.0.1:<free port>; a context manager, or start()/close().

    `url` is the shop's base URL (Admin API under /api/)."""

    _kind = "ShopwareServer"

    def __init__(self, shop: ShopwareSandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.shop = shop

    def _bind(self, address: tuple[str, int]) -> _Server:
        return _Server(self.shop, address)

    def _thread_name(self) -> str:
        return f"shopware-sandbox-{self.port}"
