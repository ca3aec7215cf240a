"""SandboxServer: a WooSandbox on a loopback port (ThreadingHTTPServer, HTTP/1.1 keep-alive, daemon thread)."""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qs, parse_qsl

from mahnwerk.sandbox.params import php_params
from mahnwerk.sandbox.routes import Request, dispatch
from mahnwerk.sandbox.serving import LoopbackHTTPServer, LoopbackServer, ShopHandler
from mahnwerk.sandbox.shop import RecordedRequest, WooSandbox
from mahnwerk.sandbox.wire import FAULTS, JSON_TYPE, Response, WPError

# Headers WordPress sends with every REST response.
_WP_HEADERS = [
    ("X-Robots-Tag", "noindex"),
    ("X-Content-Type-Options", "nosniff"),
    ("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link"),
    ("Access-Control-Allow-Headers", "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"),
]


class _Handler(ShopHandler):
    server: _Server

    def shop(self) -> WooSandbox:
        return self.server.shop

    def answer(self, url: SplitResult, body: bytes) -> Response:
        pairs = parse_qsl(url.query, keep_blank_values=True)
        return dispatch(self.shop(), self._request(url.path, pairs, body), self.headers.get("Authorization"))

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        return _fault_response(status, retry_after)

    def log(self, url: SplitResult, status: int) -> None:
        self.shop().record(RecordedRequest(self.command, url.path, parse_qs(url.query, keep_blank_values=True), status))

    def send(self, response: Response, *, truncate: bool) -> None:
        self._send(response, truncate=truncate)

    def _request(self, path: str, pairs: list[tuple[str, str]], body: bytes) -> Request:
        pretty = path.startswith("/wp-json")
        route: str | None
        if pretty:
            route = path[len("/wp-json"):]
        else:
            route = next((v for k, v in pairs if k == "rest_route"), None)
            pairs = [(k, v) for k, v in pairs if k != "rest_route"]
            if route is None or path not in ("/", "/index.php"):
                route = "/__not_rest__" + path
        route = route.rstrip("/") or "/"
        return Request(self.command, route, pairs, php_params(pairs), body,
                       self.headers.get("Content-Type", ""), self.base_url(), pretty)

    def base_url(self) -> str:
        """The shop's home URL, which its REST links start with (a fleet's shop adds its path prefix)."""
        return self.server.url

    def _send(self, response: Response, *, truncate: bool) -> None:
        self.write_response(response.status, [f"Date: {self.date_time_string()}", "Server: Apache",
                                              *(f"{k}: {v}" for k, v in _WP_HEADERS),
                                              *(f"{k}: {v}" for k, v in response.headers),
                                              f"Content-Type: {JSON_TYPE}"], response.body, truncate=truncate)


def _fault_response(status: int, retry_after: float | None) -> Response:
    code, message = FAULTS.get(status, ("sandbox_fault", f"Injected fault {status}."))
    response = WPError(status, code, message).response()
    if retry_after is not None:
        response.headers.append(("Retry-After", f"{retry_after:g}"))
    return response


class _Server(LoopbackHTTPServer):
    def __init__(self, shop: WooSandbox, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.shop = shop


class SandboxServer(LoopbackServer):
    """Serves a WooSandbox on http://127.0.0.1:<free port>; use as a context manager or start()/close().

    `url` is the shop's base URL, e.g. http://127.0.0.1:54321 (REST API under /wp-json/wc/v3/)."""

    _kind = "SandboxServer"

    def __init__(self, shop: WooSandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.shop = shop

    def _bind(self, address: tuple[str, int]) -> _Server:
        return _Server(self.shop, address)

    def _thread_name(self) -> str:
        return f"woo-sandbox-{self.port}"
