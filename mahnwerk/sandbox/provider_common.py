"""What the Stripe and Mollie sandboxes share: a loopback HTTP server, the request log, faults, ids and the clock.

A provider sandbox subclasses `ProviderSandbox` (state + `handle(request) -> Reply`); `ProviderServer` serves it on
http://127.0.0.1:<free port> with HTTP/1.1 keep-alive, like the WooCommerce `SandboxServer`.
"""

from __future__ import annotations

import json
import random
import string
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, parse_qsl, urlsplit

from mahnwerk.sandbox.faults import FaultArming, FaultPlan
from mahnwerk.sandbox.serving import LoopbackHandler, LoopbackHTTPServer, LoopbackServer

_ALNUM = string.ascii_letters + string.digits


def real_clock() -> datetime:
    """Now in UTC, whole seconds (both providers report seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """One request as the sandbox sees it; `query` keeps repeated keys (`types[]=a&types[]=b`) in order."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes
    base_url: str  # the server's own http://127.0.0.1:port, for absolute links


@dataclass
class Reply:
    """What the server writes: status, content type, body bytes and extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: object, status: int = 200, *, content_type: str = "application/json",
             headers: list[tuple[str, str]] | None = None) -> Reply:
        return cls(status, json.dumps(data, indent=2).encode("utf-8"), content_type, headers or [])


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One request as the provider saw it, with the status it answered; headers without Authorization."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    headers: dict[str, str]


class IdMaker:
    """Provider-style ids (`in_` + 24 characters, `tr_` + 10), reproducible from a seed and never repeated."""

    def __init__(self, seed: int | None) -> None:
        self._random = random.Random(seed)
        self._taken: set[str] = set()

    def make(self, prefix: str, length: int) -> str:
        while True:
            candidate = prefix + "".join(self._random.choice(_ALNUM) for _ in range(length))
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate

    def digits(self, length: int) -> str:
        return "".join(self._random.choice(string.digits) for _ in range(length))


class ProviderSandbox(FaultArming):
    """Base of a provider's in-memory state: lock, clock, armed faults and the log of answered requests.

    fail_next / truncate_next / slow_next (from FaultArming) answer in the provider's error format (`fault_reply`)."""

    name = "provider"

    def __init__(self, *, seed: int | None = 0) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], datetime] = real_clock
        self.faults = FaultPlan()
        self.requests: list[RecordedCall] = []
        self.ids = IdMaker(seed)

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def handle(self, request: ProviderRequest) -> Reply:
        """Answer one request (the subclass speaks the provider's wire format)."""
        raise NotImplementedError

    def fault_reply(self, status: int) -> Reply:
        """The body the provider sends with an injected status (429, 500, ...)."""
        raise NotImplementedError

    def record(self, call: RecordedCall) -> None:
        with self.lock:
            self.requests.append(call)

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()


class _Handler(LoopbackHandler):
    server: _Server

    def serve(self) -> None:
        sandbox = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        planned = sandbox.faults.take(url.path + "?" + url.query)
        if planned.sleep:
            time.sleep(planned.sleep)
        if planned.fail is not None:
            reply = sandbox.fault_reply(planned.fail.status)
            if planned.fail.retry_after is not None:
                reply.headers.append(("Retry-After", f"{planned.fail.retry_after:g}"))
        else:
            request = ProviderRequest(self.command, url.path, parse_qsl(url.query, keep_blank_values=True),
                                      dict(self.headers.items()), body, self.server.url)
            try:
                reply = sandbox.handle(request)
            except Exception:
                traceback.print_exc()
                reply = sandbox.fault_reply(500)
        shown = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        sandbox.record(RecordedCall(self.command, url.path, parse_qs(url.query, keep_blank_values=True),
                                    reply.status, shown))
        self._send(reply, truncate=planned.truncate, now=sandbox.now())

    def _send(self, reply: Reply, *, truncate: bool, now: datetime) -> None:
        self.write_response(reply.status, [f"Date: {format_datetime(now, usegmt=True)}",  # the sandbox's clock
                                           *(f"{k}: {v}" for k, v in reply.headers),
                                           f"Content-Type: {reply.content_type}"], reply.body, truncate=truncate)


class _Server(LoopbackHTTPServer):
    def __init__(self, sandbox: ProviderSandbox, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox


class ProviderServer(LoopbackServer):
    """Serves a ProviderSandbox on http://127.0.0.1:<free port>; a context manager, or start()/close().

    `url` is the API root, e.g. http://127.0.0.1:54321 (Stripe's /v1/... and Mollie's /v2/... live below it)."""

    _kind = "ProviderServer"

    def __init__(self, sandbox: ProviderSandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.sandbox = sandbox

    def _bind(self, address: tuple[str, int]) -> _Server:
        return _Server(self.sandbox, address)

    def _thread_name(self) -> str:
        return f"{self.sandbox.name}-sandbox-{self.port}"


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else None."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by case-insensitive name."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)
