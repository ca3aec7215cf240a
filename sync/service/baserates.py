"""The statutory base rates a shop computes with: the shipped table, the rows fetched into the store (`mahnwerk rates
update`), and the shop's own `[[policy.base_rates]]` rows, in that order of precedence (the later wins).

Why this order: a value the Bundesbank publishes beats a shipped row that was typed in by hand; a row in the shop
file is the merchant's explicit choice and wins over both, and `rates update` says so when they differ.
`with_rates` is applied where the command line opens the store (sync/cli/main.py `Context.store`) and on every
daemon tick, so new rows count without a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from sqlmodel import col, select

from mahnwerk.connectors.bundesbank import PublishedRate, fetch_base_rates
from mahnwerk.policy.rates import TABLES, RateRow, RateTable, half_year_end
from mahnwerk.sync.casework.blocked import count_blocked
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.config import Config, ShopConfig
from mahnwerk.sync.mirror.claimdata import local_date
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import BaseRateRow

if TYPE_CHECKING:
    from mahnwerk.sync.service.metrics import DaemonMetrics

log = structlog.get_logger("mahnwerk.rates")
GERMANY = ZoneInfo("Europe/Berlin")  # the base rate changes at midnight German time


def fetched_rows(store: Store) -> dict[str, list[RateRow]]:
    """The rows fetched before, by table key, oldest first; their source says URL and fetch time."""
    rows: dict[str, list[RateRow]] = {}
    with store.session() as session:
        for row in session.exec(select(BaseRateRow).order_by(col(BaseRateRow.table_key), col(BaseRateRow.valid_from))):
            rows.setdefault(row.table_key, []).append(
                RateRow(row.valid_from, row.rate, "fetched", f"{row.source} ({row.fetched_at:%Y-%m-%d %H:%M} UTC)"))
    return rows


def with_rates(shops: Iterable[ShopConfig], fetched: dict[str, list[RateRow]]) -> tuple[ShopConfig, ...]:
    """The shops with their interest tables rebuilt as shipped + fetched + the shop's config rows."""
    def table(current: RateTable) -> RateTable:
        if not fetched.get(current.key):
            return current
        shipped = [row for row in current.rows if row.origin == "shipped"]
        config = [row for row in current.rows if row.origin == "config"]
        base = RateTable(key=current.key, name=current.name, source=current.source, rows=tuple(shipped),
                         fetched_by=current.fetched_by)
        return base.extended(fetched[current.key]).extended(config)

    return tuple(replace(shop, policy=shop.policy.with_rate_tables(table)) for shop in shops)


def config_with_rates(config: Config, store: Store) -> Config:
    """The configuration with every shop's tables including the fetched rows."""
    return replace(config, shops=with_rates(config.shops, fetched_rows(store)))


@dataclass
class RatesUpdate:
    """What `rates update` did: rows added or changed in the store, and what it has to say about them."""

    url: str
    published: int = 0
    added: list[tuple[date, str]] = field(default_factory=list)      # (valid_from, rate)
    changed: list[tuple[date, str, str]] = field(default_factory=list)  # (valid_from, was, now)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What to print, one line each; the first says whether anything changed."""
        if self.added or self.changed:
            head = f"DE: {len(self.added)} row(s) added, {len(self.changed)} changed from {self.url}"
        else:
            head = f"DE: up to date ({self.published} half-year rates published at {self.url}, nothing changed)"
        return [head, *(f"  added {day}: {rate} %" for day, rate in self.added),
                *(f"  changed {day}: {was} % -> {now} % (the Bundesbank now publishes {now})"
                  for day, was, now in self.changed), *self.notes,
                "AT: the OeNB publishes no machine-readable base-rate series Mahnwerk can read; the shipped table and "
                "your [[policy.base_rates]] rows (table = \"at\") are used"]

    def as_dict(self) -> dict[str, object]:
        return {"url": self.url, "published": self.published,
                "added": [{"valid_from": d.isoformat(), "rate": r} for d, r in self.added],
                "changed": [{"valid_from": d.isoformat(), "was": w, "rate": r} for d, w, r in self.changed],
                "notes": self.notes}


def update_rates(store: Store, config: Config, now: datetime) -> RatesUpdate:
    """Fetch the German base rate and store each half-year the shipped table does not already hold with the same
    value; RatesUnavailable (nothing changed) when the service cannot be read."""
    url = config.rates.bundesbank_url
    published = fetch_base_rates(url, timeout=config.rates.timeout.total_seconds())
    return store_published(store, config.shops, published, url=url, now=now)


def store_published(store: Store, shops: Sequence[ShopConfig], published: Sequence[PublishedRate], *, url: str,
                    now: datetime) -> RatesUpdate:
    """Write the published rows into `base_rates` in one transaction and report each difference."""
    shipped = {row.valid_from: row.rate for row in TABLES["de"].rows}
    report = RatesUpdate(url, published=len(published))
    with store.session() as session:
        known = {row.valid_from: row for row in session.exec(select(BaseRateRow).where(BaseRateRow.table_key == "de"))}
        for item in published:
            stored = known.get(item.valid_from)
            if stored is not None and stored.rate == item.rate:
                continue
            if stored is not None:
                report.changed.append((item.valid_from, _pct(stored.rate), _pct(item.rate)))
                log.warning("rates.changed", table="de", valid_from=item.valid_from.isoformat(),
                            was=_pct(stored.rate), rate=_pct(item.rate), url=url)
                stored.rate, stored.source, stored.fetched_at = item.rate, url, now
                session.add(stored)
                continue
            if shipped.get(item.valid_from) == item.rate:
                continue  # the shipped row says the same: nothing to store
            if item.valid_from in shipped:
                report.notes.append(f"  note {item.valid_from}: the shipped table says {_pct(shipped[item.valid_from])}"
                                    f" %, the Bundesbank publishes {_pct(item.rate)} %: the published value is used")
                log.warning("rates.shipped_differs", table="de", valid_from=item.valid_from.isoformat(),
                            shipped=_pct(shipped[item.valid_from]), rate=_pct(item.rate))
            report.added.append((item.valid_from, _pct(item.rate)))
            session.add(BaseRateRow(table_key="de", valid_from=item.valid_from, rate=item.rate, source=url,
                                    fetched_at=now))
        session.commit()
    report.notes += config_differences(shops, published)
    return report


def config_differences(shops: Sequence[ShopConfig], published: Sequence[PublishedRate]) -> list[str]:
    """A line for each shop config row that differs from the published value: the shop keeps its own row."""
    values = {item.valid_from: item.rate for item in published}
    lines = []
    for shop in shops:
        rows = {row.valid_from: row for row in config_rows(shop, "de")}
        for day, row in sorted(rows.items()):
            if day in values and values[day] != row.rate:
                lines.append(f"  note {day}: shop {shop.id} sets {_pct(row.rate)} % in {row.source}, the Bundesbank "
                             f"publishes {_pct(values[day])} %: the shop's row is used (remove it to use the "
                             "published value)")
                log.warning("rates.config_differs", shop=shop.id, valid_from=day.isoformat(),
                            configured=_pct(row.rate), published=_pct(values[day]), where=row.source)
    return lines


def _pct(rate: object) -> str:
    """A rate as the Bundesbank prints it: "1.27", "-0.88" (the store keeps four decimals)."""
    text = f"{rate:f}"
    if "." in text:
        text = text.rstrip("0")
        whole, _, fraction = text.partition(".")
        text = f"{whole}.{fraction.ljust(2, '0')}"
    return text


def update_due(today: date, last_attempt: date | None) -> bool:
    """Is a `rates update` due today? Once a day on 1–14 January and 1–14 July (the Bundesbank publishes the new rate
    around the turn of the half-year), not again on a day it was already tried."""
    return today.month in (1, 7) and today.day <= 14 and last_attempt != today


def rates_report(store: Store, config: Config, now: datetime, *, recent: int | None = 6) -> list[dict[str, Any]]:
    """Each table (DE, AT): its last known half-year, its rows with where each came from (the newest `recent`, or
    all with None), and the open claims its missing rows block. Plain JSON-ready dicts for `mahnwerk rates`."""
    with store.session() as session:
        stored = {(r.table_key, r.valid_from): r for r in session.exec(select(BaseRateRow))}
    shops = with_rates(config.shops, fetched_rows(store))
    report = []
    for key, shipped in TABLES.items():
        rows: dict[date, dict[str, Any]] = {
            row.valid_from: {"valid_from": row.valid_from.isoformat(), "rate": _pct(row.rate), "origin": "shipped",
                             "source": "shipped", "fetched_at": None} for row in shipped.rows}
        for (table_key, day), fetched in sorted(stored.items()):
            if table_key == key:
                rows[day] = {"valid_from": day.isoformat(), "rate": _pct(fetched.rate), "origin": "fetched",
                             "source": fetched.source, "fetched_at": fetched.fetched_at.isoformat()}
        for shop in shops:
            for configured in config_rows(shop, key):
                rows[configured.valid_from] = {"valid_from": configured.valid_from.isoformat(),
                                               "rate": _pct(configured.rate), "origin": "config",
                                               "source": configured.source, "fetched_at": None, "shop": shop.id}
        users = [shop for shop in shops if key in shop.policy.rate_tables()]
        newest = max(rows)
        ordered = [rows[day] for day in sorted(rows)]
        report.append({
            "key": key, "name": shipped.name, "known_until": half_year_end(newest).isoformat(),
            "gaps": [day.isoformat() for day in RateTable(key=key, name=shipped.name, source=shipped.source,
                                                          rows=tuple(RateRow(d, Decimal(0)) for d in rows)).gaps()],
            "fetch": shipped.fetched_by or None, "shops": [shop.id for shop in users],
            "blocked_claims": sum(blocked_claims(store, shop, key, now) for shop in users),
            "rows": ordered if recent is None else ordered[-recent:], "row_count": len(ordered)})
    return report


def config_rows(shop: ShopConfig, key: str) -> list[RateRow]:
    """The shop's own `[[policy.base_rates]]` rows for table `key`."""
    table = shop.policy.rate_tables().get(key)
    return [row for row in table.rows if row.origin == "config"] if table else []


def blocked_claims(store: Store, shop: ShopConfig, key: str, now: datetime) -> int:
    """Open claims of the shop whose interest waits for a missing row of table `key` (counted as `run`, `status`
    and `check` count them: sync/casework/blocked.py)."""
    name = shop.policy.rate_tables()[key].name
    counted = count_blocked(store, shop, shop_today(shop, now))
    return sum(n for gap, n in counted.claims.items() if gap.table == name)


class RatesJob:
    """The daemon's one `rates update` a day in the first two weeks of January and July (German time: the rate
    changes at midnight in Germany). Its outcome is logged; a failure is retried the next day and never touches
    the shops' jobs."""

    def __init__(self, store: Store, config: Config, *, now: Callable[[], datetime] = utcnow,
                 metrics: DaemonMetrics | None = None) -> None:
        self.store, self.config, self.now, self.metrics = store, config, now, metrics
        self.last_attempt: date | None = None

    def __call__(self) -> None:
        today = local_date(self.now(), GERMANY)
        if not update_due(today, self.last_attempt):
            return
        self.last_attempt = today
        try:
            report = update_rates(self.store, self.config, self.now())
        except Exception as exc:  # offline, the service down, the database away: tomorrow again
            log.warning("rates.update_failed", reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return
        if self.metrics and (report.added or report.changed):
            self.metrics.rates_changed()
        log.info("rates.updated", added=len(report.added), changed=len(report.changed), published=report.published,
                 newest=max((day for day, _ in report.added), default=None))
