"""The loopback-server lifecycle the sandboxes share: a ThreadingHTTPServer on 127.0.0.1 with HTTP/1.1 keep-alive,
served from a daemon thread, that knows its URL and cuts open keep-alive connections when it closes.

`SandboxServer` (WooCommerce) and `ProviderServer` (Stripe, Mollie) subclass `LoopbackServer`; their request
handlers subclass `LoopbackHandler` and their HTTP servers `LoopbackHTTPServer`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol, Self
from urllib.parse import SplitResult, urlsplit

from mahnwerk.sandbox.faults import FaultPlan
from mahnwerk.sandbox.wire import Response


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that tracks its open connections and knows its own http://host:port."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server
        self.url = f"http://{host}:{port}"

    def cut_connections(self) -> None:
        """Shut down every open connection, like a stopped server: keep-alive clients are cut, not served on."""
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class LoopbackHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler that registers its connection with the server; every method goes to serve()."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # headers and body go out in one write anyway; no 40 ms delayed-ACK stalls
    timeout = 60                        # idle keep-alive connections give their thread back
    server: LoopbackHTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self.serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass                            # tests read the sandbox's request log instead

    def serve(self) -> None:
        """Answer the request in self.command / self.path / self.headers / self.rfile."""
        raise NotImplementedError

    def write_response(self, status: int, headers: list[str], body: bytes, *, truncate: bool = False) -> None:
        """Write the status line, `headers` ("Name: value"), Content-Length and `body` in one go (no body for HEAD);
        `truncate` sends only half the body and closes the connection."""
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}", *headers,
                f"Content-Length: {len(body)}"]
        if truncate:
            self.close_connection = True
            body = body[:len(body) // 2]
        if self.close_connection:
            head.append("Connection: close")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace")
        self.wfile.write(payload if self.command == "HEAD" else payload + body)


class HookedShop(Protocol):
    """What ShopHandler needs of a shop sandbox: the crash tests' request hook and the armed faults."""

    on_request: Callable[[str, str, str], bool] | None
    faults: FaultPlan


class ShopHandler(LoopbackHandler):
    """A shop sandbox's request: hook "before", armed faults, the answer, the log, hook "after", the response.

    `on_request(method, path, phase)` returning True drops the connection unanswered: before the shop saw the request
    (phase "before") or after it applied it (phase "after"), as when the client is killed. A subclass names its shop
    and gives `answer`, `fault_response`, `log` and `send`.
    """

    def shop(self) -> HookedShop:
        raise NotImplementedError

    def answer(self, url: SplitResult, body: bytes) -> Response:
        raise NotImplementedError

    def fault_response(self, status: int, retry_after: float | None) -> Response:
        raise NotImplementedError

    def log(self, url: SplitResult, status: int) -> None:
        raise NotImplementedError

    def send(self, response: Response, *, truncate: bool) -> None:
        raise NotImplementedError

    def serve(self) -> None:
        shop = self.shop()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        if shop.on_request is not None and shop.on_request(self.command, url.path, "before"):
            self.close_connection = True  # the test stopped the client (SIGKILL) before the shop saw the request
            return
        planned = shop.faults.take(url.path + "?" + url.query)
        if planned.sleep:
            time.sleep(planned.sleep)
        if planned.fail is not None:
            response = self.fault_response(planned.fail.status, planned.fail.retry_after)
        else:
            try:
                response = self.answer(url, body)
            except Exception:           # a sandbox bug: answer like a crashed shop, keep the traceback visible
                traceback.print_exc()
                response = self.fault_response(500, None)
        self.log(url, response.status)
        if shop.on_request is not None and shop.on_request(self.command, url.path, "after"):
            self.close_connection = True  # applied, but the client died before it could read the answer
            return
        self.send(response, truncate=planned.truncate)


class LoopbackServer:
    """Start/close lifecycle of a LoopbackHTTPServer on a daemon thread; a context manager, or start()/close().

    A subclass builds its HTTP server in `_bind(address)` and names the serving thread in `_thread_name()`.
    """

    _kind = "LoopbackServer"            # named in the error when url/port are asked for before start()

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _bind(self, address: tuple[str, int]) -> LoopbackHTTPServer:
        raise NotImplementedError

    def _thread_name(self) -> str:
        raise NotImplementedError

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is None:
            self._server = self._bind(self._address)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=self._thread_name(), daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, free the port and cut open keep-alive connections (their threads are daemons)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.cut_connections()
            if self._thread is not None:
                self._thread.join()

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:54321."""
        return self._require().url

    @property
    def port(self) -> int:
        return self._require().server_address[1]

    def _require(self) -> LoopbackHTTPServer:
        if self._server is None:
            raise RuntimeError(f"{self._kind} is not started")
        return self._server

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
