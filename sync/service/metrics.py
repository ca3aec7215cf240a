"""The daemon's Prometheus metrics and `/healthz`, served on `[daemon] metrics_listen` (absent: no server).

Where each value comes from, so a scrape stays cheap with a million claims:
- from the store at scrape time, by one aggregate query each over the `(shop_id, state)` indexes: open claims and
  their amount per currency, outbox rows per state, payments waiting for a person;
- from this process, after each shop tick: the last successful sync, its duration (a histogram), whether the
  shop's last tick got through (`shop_up`), and the claims blocked by a missing base rate — counted with the day's
  run (or once a day at the first tick) and after a rates update, never per scrape (it is a pass like `plan`).
The last success is seeded from the store at start, so a restart does not reset it. Under several daemons take
`max by (shop)` of the process-side values: each daemon reports the shops it has worked.

`/healthz` answers 200 while the scheduler runs and the database answers a `SELECT 1`, else 503; the body says
which.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, ClaimState, IncomingPaymentRow, OutboxRow, PaymentState, SyncRun

log = structlog.get_logger("mahnwerk.metrics")
# Seconds: an idle poll takes well under one, a backfill minutes.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
RATE_MISSING = "rate_missing"


class DaemonMetrics:
    """What the daemon reports: a registry of its own (never the global one) with the store's gauges and the
    values each tick leaves."""

    def __init__(self, store: Store, shop_ids: Sequence[str]) -> None:
        self.store, self.shop_ids = store, tuple(shop_ids)
        self.registry = CollectorRegistry()
        self.duration = Histogram("mahnwerk_sync_duration_seconds", "Wall time of one shop's sync (orders, "
                                  "payments, matching)", ["shop"], buckets=DURATION_BUCKETS, registry=self.registry)
        self.last_success: dict[str, float] = {}
        self.up: dict[str, bool] = {}
        self.blocked: dict[str, tuple[date, dict[str, int]]] = {}  # shop: (the day counted, reason: claims)
        self.lock = threading.Lock()
        self.registry.register(StoreCollector(self))

    def seed(self) -> None:
        """The last successful sync of each shop from the store, so a restart does not lose it."""
        with self.store.session() as session:
            rows = session.execute(select(col(SyncRun.shop_id), func.max(col(SyncRun.finished_at)))
                                   .where(col(SyncRun.outcome) == "ok").group_by(col(SyncRun.shop_id))).all()
        with self.lock:
            for shop, finished in rows:
                if shop in self.shop_ids and finished is not None:
                    self.last_success.setdefault(shop, finished.timestamp())

    def synced(self, shop: str, *, ok: bool, seconds: float, at: datetime) -> None:
        """One sync of `shop` ended."""
        self.duration.labels(shop=shop).observe(seconds)
        with self.lock:
            self.up[shop] = ok
            if ok:
                self.last_success[shop] = at.timestamp()

    def tick_failed(self, shop: str) -> None:
        """A tick ended before its sync did (the database away, a bug)."""
        with self.lock:
            self.up[shop] = False

    def blocked_counted(self, shop: str, day: date, claims: int) -> None:
        with self.lock:
            self.blocked[shop] = (day, {RATE_MISSING: claims})

    def blocked_due(self, shop: str, day: date) -> bool:
        """Is the count of blocked claims not yet made for `day`?"""
        with self.lock:
            return self.blocked.get(shop, (None,))[0] != day

    def blocked_total(self, shop: str) -> int | None:
        """The claims counted as waiting for a base rate at the last count; None before the first."""
        with self.lock:
            counted = self.blocked.get(shop)
        return counted[1].get(RATE_MISSING, 0) if counted else None

    def rates_changed(self) -> None:
        """New base rates may unblock claims: count again at each shop's next tick."""
        with self.lock:
            self.blocked.clear()


class StoreCollector(Collector):
    """The gauges, built at each scrape: the store's by aggregate queries, the ticks' from `DaemonMetrics`."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._from_ticks()
        try:
            yield from self._from_store()
        except SQLAlchemyError as exc:  # /healthz says 503; the scrape still carries what the process knows
            log.debug("metrics.store_unavailable", error=str(getattr(exc, "orig", None) or exc).splitlines()[:1])

    def _from_ticks(self) -> Iterator[Metric]:
        m = self.metrics
        with m.lock:
            success, up, blocked = dict(m.last_success), dict(m.up), dict(m.blocked)
        last = GaugeMetricFamily("mahnwerk_sync_last_success_timestamp_seconds",
                                 "Unix time the shop's last successful sync ended", labels=["shop"])
        for shop, at in sorted(success.items()):
            last.add_metric([shop], at)
        shop_up = GaugeMetricFamily("mahnwerk_shop_up", "1 if the shop's last tick synced without error, else 0",
                                    labels=["shop"])
        for shop, ok in sorted(up.items()):
            shop_up.add_metric([shop], 1.0 if ok else 0.0)
        waiting = GaugeMetricFamily("mahnwerk_blocked_claims", "Open claims whose dunning waits, by reason "
                                    "(rate_missing: a base rate; counted daily and after a rates update)",
                                    labels=["shop", "reason"])
        for shop, (_, reasons) in sorted(blocked.items()):
            for reason, count in sorted(reasons.items()):
                waiting.add_metric([shop, reason], count)
        yield from (last, shop_up, waiting)

    def _from_store(self) -> Iterator[Metric]:
        shops = set(self.metrics.shop_ids)
        claims = GaugeMetricFamily("mahnwerk_open_claims", "Open claims (being dunned)", labels=["shop", "currency"])
        amount = GaugeMetricFamily("mahnwerk_open_amount", "Sum of the open claims' open amounts",
                                   labels=["shop", "currency"])
        outbox = GaugeMetricFamily("mahnwerk_outbox_rows", "Outbox rows by state (dead: given up, needs a person)",
                                   labels=["shop", "state"])
        payments = GaugeMetricFamily("mahnwerk_payments_waiting", "Incoming payments waiting for a person "
                                     "(unmatched or to review)", labels=["shop"])
        with self.metrics.store.session() as session:
            for shop, currency, count, total in session.execute(
                    select(col(Claim.shop_id), col(Claim.currency), func.count(), func.sum(col(Claim.open_amount)))
                    .where(col(Claim.state) == ClaimState.OPEN)
                    .group_by(col(Claim.shop_id), col(Claim.currency))):
                if shop in shops:
                    claims.add_metric([shop, currency], count)
                    amount.add_metric([shop, currency], float(total or 0))
            for shop, state, count in session.execute(
                    select(col(OutboxRow.shop_id), col(OutboxRow.state), func.count())
                    .group_by(col(OutboxRow.shop_id), col(OutboxRow.state))):
                if shop in shops:
                    outbox.add_metric([shop, state], count)
            waiting: dict[str, int] = dict(session.execute(
                select(col(IncomingPaymentRow.shop_id), func.count())
                .where(col(IncomingPaymentRow.state).in_(PaymentState.WAITING))
                .group_by(col(IncomingPaymentRow.shop_id))).all())
        for shop in sorted(shops):
            payments.add_metric([shop], waiting.get(shop, 0))
        yield from (claims, amount, outbox, payments)


def database_answers(store: Store) -> str:
    """"" when the database answers a `SELECT 1`, else why not (one line)."""
    try:
        with store.connection() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__
    return ""


class MetricsServer:
    """`/metrics` and `/healthz` on one address, each request in a thread of its own."""

    def __init__(self, address: tuple[str, int], metrics: DaemonMetrics, health: Callable[[], str]) -> None:
        handler = type("Handler", (_Handler,), {"metrics": metrics, "health": staticmethod(health)})
        try:
            self.server = ThreadingHTTPServer(address, handler)
        except OSError as exc:  # the port taken, an address not on this machine: the merchant's to fix
            raise MahnwerkError(f"daemon.metrics_listen: cannot listen on {address[0]}:{address[1]}: "
                                f"{exc.strerror or exc}") from exc
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    def start(self) -> None:
        self.thread.start()
        host, port = self.server.server_address[:2]
        log.info("metrics.listening", address=f"{host!s}:{port}")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class _Handler(BaseHTTPRequestHandler):
    metrics: DaemonMetrics
    health: Callable[[], str]  # "" when healthy, else the reason

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/metrics":
            self._answer(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            problem = self.health()
            self._answer(503 if problem else 200, f"{problem or 'ok'}\n".encode(), "text/plain; charset=utf-8")
        else:
            self._answer(404, b"not found: try /metrics or /healthz\n", "text/plain; charset=utf-8")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every few seconds are not news: at debug, not on stderr."""
        log.debug("metrics.request", line=format % args)
