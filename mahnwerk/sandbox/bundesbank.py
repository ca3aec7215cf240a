"""A Bundesbank statistics service on 127.0.0.1 that serves the base-rate series as SDMX-CSV, for tests and demos.

It answers GET /rest/data/BBIN1/M.DE.BBK.BBKBAS2.EUR.ME (any query) with one observation per month, from the first
row's month to `published_until`, each month carrying the rate of its half-year, as the real monthly series does
(see connectors/bundesbank.py for what is known of the real format; the dimension columns here are placeholders,
the parser reads TIME_PERIOD and OBS_VALUE by name). Told to, it fails the next requests: a status (500, 404), a
malformed body, or a slow answer. It records the paths it was asked for.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

from mahnwerk.sandbox.serving import LoopbackHandler, LoopbackHTTPServer, LoopbackServer

SERIES_PATH = "/rest/data/BBIN1/M.DE.BBK.BBKBAS2.EUR.ME"
HEADER = "DATAFLOW,FREQ,REF_AREA,SOURCE,SERIES,CURRENCY,TYPE,TIME_PERIOD,OBS_VALUE,OBS_STATUS"


@dataclass
class BundesbankSandbox:
    """The published rows ({1 January or 1 July: rate}) and the faults armed for the next requests."""

    rates: dict[date, Decimal] = field(default_factory=dict)
    published_until: date | None = None  # the last month with an observation; None: the newest row's month
    requests: list[str] = field(default_factory=list)
    _faults: list[tuple[str, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, valid_from: str, rate: str) -> None:
        """Publish (or change) the rate of the half-year that starts on `valid_from`."""
        self.rates[date.fromisoformat(valid_from)] = Decimal(rate)

    def fail_next(self, kind: str | int, *, times: int = 1, seconds: float = 0.0) -> None:
        """Fail the next `times` requests: an HTTP status (500), "malformed" or "slow" (answer after `seconds`)."""
        with self._lock:
            self._faults += [(str(kind), seconds)] * times

    def body(self) -> bytes:
        """The SDMX-CSV answer: every month from the first row to `published_until`."""
        if not self.rates:
            return (HEADER + "\n").encode()
        starts = sorted(self.rates)
        last = self.published_until or starts[-1]
        lines, month = [HEADER], starts[0]
        while month <= last:
            current = max(s for s in starts if s <= month)
            lines.append(f"BBK:BBIN1(1.0),M,DE,BBK,BBKBAS2,EUR,ME,{month:%Y-%m},{self.rates[current]},A")
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        return ("\n".join(lines) + "\n").encode()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request."""
        with self._lock:
            self.requests.append(path)
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None and fault[0] == "slow":
            time.sleep(fault[1])
        elif fault is not None and fault[0] == "malformed":
            return 200, "application/vnd.sdmx.data+csv", b"<html>Wartungsarbeiten</html>\n"
        elif fault is not None:
            return int(fault[0]), "application/json", b'{"title": "Internal Server Error"}'
        if urlsplit(path).path.rstrip("/") != SERIES_PATH:
            return 404, "application/json", b'{"title": "No results found"}'
        return 200, "application/vnd.sdmx.data+csv; charset=utf-8", self.body()


class _Handler(LoopbackHandler):
    sandbox: BundesbankSandbox

    def serve(self) -> None:
        status, kind, body = self.sandbox.answer(self.path)
        try:
            self.write_response(status, [f"Content-Type: {kind}"], body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (the "slow" fault): nobody left to answer


class BundesbankServer(LoopbackServer):
    """Serves a BundesbankSandbox; `series_url` is what `[rates] bundesbank_url` should say."""

    _kind = "BundesbankServer"

    def __init__(self, sandbox: BundesbankSandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.sandbox = sandbox

    def _bind(self, address: tuple[str, int]) -> LoopbackHTTPServer:
        handler = type("BundesbankHandler", (_Handler,), {"sandbox": self.sandbox})
        return LoopbackHTTPServer(address, handler)

    def _thread_name(self) -> str:
        return "bundesbank-sandbox"

    @property
    def series_url(self) -> str:
        return f"{self.url}{SERIES_PATH}?format=sdmx_csv"
