"""SandboxServer: a WooSandbox on a loopback port (ThreadingHTTPServer, HTTP/1.1 keep-alive, daemon thread)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlsplit

from mahnwerk.sandbox.params import php_params
from mahnwerk.sandbox.routes import Request, dispatch
from mahnwerk.sandbox.shop import RecordedRequest, WooSandbox
from mahnwerk.sandbox.wire import FAULTS, JSON_TYPE, Response, WPError

# Headers WordPress sends with every REST response.
_WP_HEADERS = [
    ("X-Robots-Tag", "noindex"),
    ("X-Content-Type-Options", "nosniff"),
    ("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link"),
    ("Access-Control-Allow-Headers", "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"),
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # headers and body go out in one write anyway; no 40 ms delayed-ACK stalls
    timeout = 60                        # idle keep-alive connections give their thread back
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass                            # tests read shop.requests instead

    def _serve(self) -> None:
        shop = self.server.shop
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        if shop.on_request is not None and shop.on_request(self.command, url.path, "before"):
            self.close_connection = True  # the test stopped the client (SIGKILL) before the shop saw the request
            return
        planned = shop.faults.take(url.path + "?" + url.query)
        if planned.sleep:
            time.sleep(planned.sleep)
        if planned.fail is not None:
            response = _fault_response(planned.fail.status, planned.fail.retry_after)
        else:
            try:
                response = dispatch(shop, self._request(url.path, pairs, body), self.headers.get("Authorization"))
            except Exception:           # a sandbox bug: answer like a PHP fatal error, keep the traceback visible
                traceback.print_exc()
                response = _fault_response(500, None)
        shop.record(RecordedRequest(self.command, url.path, parse_qs(url.query, keep_blank_values=True),
                                    response.status))
        if shop.on_request is not None and shop.on_request(self.command, url.path, "after"):
            self.close_connection = True  # applied, but the client died before it could read the answer
            return
        self._send(response, truncate=planned.truncate)

    def _request(self, path: str, pairs: list[tuple[str, str]], body: bytes) -> Request:
        pretty = path.startswith("/wp-json")
        if pretty:
            route = path[len("/wp-json"):]
        else:
            route = next((v for k, v in pairs if k == "rest_route"), None)
            pairs = [(k, v) for k, v in pairs if k != "rest_route"]
            if route is None or path not in ("/", "/index.php"):
                route = "/__not_rest__" + path
        route = route.rstrip("/") or "/"
        return Request(self.command, route, pairs, php_params(pairs), body,
                       self.headers.get("Content-Type", ""), self.server.url, pretty)

    def _send(self, response: Response, *, truncate: bool) -> None:
        body = response.body
        head = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}",
                f"Date: {self.date_time_string()}", "Server: Apache", *(f"{k}: {v}" for k, v in _WP_HEADERS),
                *(f"{k}: {v}" for k, v in response.headers),
                f"Content-Type: {JSON_TYPE}", f"Content-Length: {len(body)}"]
        if truncate:
            self.close_connection = True
            body = body[:len(body) // 2]
        if self.close_connection:
            head.append("Connection: close")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace")
        self.wfile.write(payload if self.command == "HEAD" else payload + body)


def _fault_response(status: int, retry_after: float | None) -> Response:
    code, message = FAULTS.get(status, ("sandbox_fault", f"Injected fault {status}."))
    response = WPError(status, code, message).response()
    if retry_after is not None:
        response.headers.append(("Retry-After", f"{retry_after:g}"))
    return response


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, shop: WooSandbox, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.shop = shop
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        host, port = self.server_address[:2]
        self.url = f"http://{host}:{port}"


class SandboxServer:
    """Serves a WooSandbox on http://127.0.0.1:<free port>; use as a context manager or start()/close()."""

    def __init__(self, shop: WooSandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.shop, self._address = shop, (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is None:
            self._server = _Server(self.shop, self._address)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"woo-sandbox-{self.port}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and free the port; idle keep-alive threads are daemons and die with their sockets."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            with server.lock:           # like a stopped shop: open keep-alive connections are cut, not served on
                for connection in server.connections:
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)
            if self._thread is not None:
                self._thread.join()

    @property
    def url(self) -> str:
        """The shop's base URL, e.g. http://127.0.0.1:54321 (REST API under /wp-json/wc/v3/)."""
        return self._require().url

    @property
    def port(self) -> int:
        return self._require().server_address[1]

    def _require(self) -> _Server:
        if self._server is None:
            raise RuntimeError("SandboxServer is not started")
        return self._server

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
