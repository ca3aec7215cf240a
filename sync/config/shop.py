"""The configuration: `mahnwerk.toml` and `shops/*.toml`, parsed once into frozen dataclasses or one ConfigError.

Each dataclass is its own schema: a field made with `setting(parser, default)` is a TOML key, and a field whose
default is another config dataclass is a TOML table of that name. A new `[policy]` or `[smtp]` table is one
dataclass plus one field; `read_table` validates it, reports unknown keys and finds the lines.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from mahnwerk.errors import ConfigError, ConfigProblem
from mahnwerk.policy.model import Policy
from mahnwerk.policy.presets import PRESETS
from mahnwerk.sync.config.schema import (Context, a_date, boolean, cross_check, database_url, did_you_mean, duration,
                                  existing_file, integer, one_of, parse_duration, read_table, setting, shop_url, show,
                                  strings, text, timezone)
from mahnwerk.sync.config.delivery import (AgencyConfig, DeliveryConfig, LettersConfig, MerchantConfig,
                                           SmtpConfig)
from mahnwerk.sync.config.payments import PaymentsConfig
from mahnwerk.sync.config.policy import read_policy
from mahnwerk.sync.config.secrets import Secret, mask_url
from mahnwerk.sync.config.tomlpos import KeyPath, Problems, parse_toml

DEFAULT_CONFIG_DIR = Path("/etc/mahnwerk")
NO_CONFIG_DIR = (
    "configuration directory not found; create it with a shops/ folder holding one <shop>.toml per shop "
    "(see config.example.toml), or point --config-dir or MAHNWERK_CONFIG_DIR at the right directory"
)


@dataclass(frozen=True, repr=False)
class DatabaseConfig:
    url: str = setting(database_url, "sqlite:////var/lib/mahnwerk/mahnwerk.db", secret=True)

    def __repr__(self) -> str:
        return f"DatabaseConfig(url={mask_url(self.url)!r})"


@dataclass(frozen=True)
class LoggingConfig:
    level: str = setting(one_of("debug", "info", "warning", "error"), "info")
    format: str = setting(one_of("auto", "console", "json"), "auto")  # auto: console on a terminal, else json


@dataclass(frozen=True)
class WooCommerceAuth:
    consumer_key: Secret = setting(secret=True)
    consumer_secret: Secret = setting(secret=True)


@dataclass(frozen=True)
class ShopwareAuth:
    client_id: Secret = setting(secret=True)
    client_secret: Secret = setting(secret=True)


AUTH_BY_KIND: dict[str, type[WooCommerceAuth | ShopwareAuth]] = {
    "woocommerce": WooCommerceAuth,
    "shopware6": ShopwareAuth,
}


@dataclass(frozen=True)
class InvoiceConfig:
    payment_methods: tuple[str, ...] = setting(strings(non_empty=True), ("bacs", "cheque", "invoice"))
    payment_term_days: int = setting(integer(0, 365), 14)  # due = invoice date + this, if the shop has no due date
    number_meta_key: str | None = setting(text(), None)  # None: the order number is the invoice number
    date_meta_key: str | None = setting(text(), None)  # None: the order's creation date
    due_date_meta_key: str | None = setting(text(), None)


@dataclass(frozen=True)
class StatusMapping:
    open: tuple[str, ...] = setting(strings(non_empty=True), ("on-hold",))
    paid: tuple[str, ...] = setting(strings(non_empty=True), ("processing", "completed"))
    cancelled: tuple[str, ...] = setting(strings(), ("cancelled", "failed"))
    refunded: tuple[str, ...] = setting(strings(), ("refunded",))

    def meaning(self, status: str) -> str | None:
        """Which list holds `status`: "open", "paid", "cancelled", "refunded", or None if none does."""
        return next((f.name for f in fields(self) if status in getattr(self, f.name)), None)


@dataclass(frozen=True)
class SyncConfig:
    interval: timedelta = setting(duration("30s", "1d"), timedelta(minutes=5))
    since: date | None = setting(a_date, None)  # None: orders of any age
    overlap: timedelta = setting(duration("1s", "1h"), timedelta(seconds=10))  # re-read window behind the cursor
    page_size: int = setting(integer(1, 100), 100)  # 100 is WooCommerce's maximum per_page
    reread_interval: timedelta = setting(duration("5m", "7d"), timedelta(hours=6))


@dataclass(frozen=True)
class HttpConfig:
    timeout: timedelta = setting(duration("1s", "5m"), timedelta(seconds=30))
    max_attempts: int = setting(integer(1, 20), 5)
    max_backoff: timedelta = setting(duration("1s", "10m"), timedelta(seconds=60))
    ca_bundle: Path | None = setting(existing_file, None)


@dataclass(frozen=True)
class ShopConfig:
    """One shop file: `[shop]` with `[shop.auth]`, and a top-level table per config dataclass field."""

    id: str = setting(text(r"[a-z0-9][a-z0-9_-]{0,39}", 'an id of a-z, 0-9, "-", "_" (at most 40) like "acme"'))
    kind: str = setting(one_of(*AUTH_BY_KIND))
    url: str = setting(shop_url)
    timezone: ZoneInfo = setting(timezone)
    auth: WooCommerceAuth | ShopwareAuth  # [shop.auth]; which keys it needs depends on kind, see _read_shop
    source: Path  # the file it came from
    allow_insecure_http: bool = setting(boolean, False)
    invoice: InvoiceConfig = InvoiceConfig()
    statuses: StatusMapping = StatusMapping()
    sync: SyncConfig = SyncConfig()
    http: HttpConfig = HttpConfig()
    merchant: MerchantConfig = MerchantConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    smtp: SmtpConfig = SmtpConfig()
    letters: LettersConfig = LettersConfig()
    agency: AgencyConfig = AgencyConfig()
    payments: PaymentsConfig = PaymentsConfig()
    policy: Policy = field(default=PRESETS["de-b2c"], metadata={"table": False})  # [policy]: sync/policyconfig.py


@dataclass(frozen=True)
class Config:
    """Everything under the config dir; `database` and `logging` come from mahnwerk.toml."""

    config_dir: Path
    database: DatabaseConfig = DatabaseConfig()
    logging: LoggingConfig = LoggingConfig()
    shops: tuple[ShopConfig, ...] = ()
    warnings: tuple[ConfigProblem, ...] = ()  # allowed but questionable settings, shown by `check`

    def shop(self, shop_id: str) -> ShopConfig:
        """The shop with this id; ConfigError with a did-you-mean if there is none."""
        ids = [shop.id for shop in self.shops]
        if shop_id in ids:
            return self.shops[ids.index(shop_id)]
        hint = did_you_mean(shop_id, ids) or (f"; configured: {', '.join(ids)}" if ids else "; no shops configured")
        where = str(self.config_dir / "shops")
        raise ConfigError([ConfigProblem(where, None, "", f'unknown shop "{shop_id}"{hint}')])


# Rules across keys of one table, run once its keys are valid: they yield (path in the table, message).


@cross_check(ShopConfig)
def _insecure_url(values: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    parts = urlsplit(values["url"])
    if parts.scheme != "https" and not values["allow_insecure_http"] and not _is_loopback(parts.hostname or ""):
        yield ("url",), (
            "must start with https:// unless the host is loopback or shop.allow_insecure_http = true "
            f"(got {show(mask_url(values['url']))})"
        )


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cross_check(StatusMapping)
def _status_twice(values: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    first: dict[str, str] = {}
    for meaning, statuses in values.items():
        for index, status in enumerate(statuses):
            if first.setdefault(status, meaning) != meaning:
                yield (meaning, index), f'"{status}" is also listed in statuses.{first[status]}'


def load_config(config_dir: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read `mahnwerk.toml` and `shops/*.toml` in `config_dir`; raise one ConfigError listing every problem."""
    config_dir = Path(config_dir).absolute()
    if not config_dir.is_dir():
        raise ConfigError([ConfigProblem(str(config_dir), None, "", NO_CONFIG_DIR)])
    ctx = Context(config_dir, os.environ if environ is None else environ)
    problems: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []
    settings: dict[str, Any] = {}
    if (config_dir / "mahnwerk.toml").exists() and (parsed := parse_toml(config_dir, "mahnwerk.toml", problems)):
        settings = read_table(Config, parsed[0], (), parsed[1], ctx) or {}
        problems += parsed[1].in_order()
    shops: dict[str, ShopConfig] = {}
    for path in sorted(config_dir.glob("shops/*.toml")):
        if (parsed := parse_toml(config_dir, path.relative_to(config_dir).as_posix(), problems)) is None:
            continue
        if (shop := _read_shop(*parsed, ctx, path)) and (first := shops.setdefault(shop.id, shop)) is not shop:
            where = first.source.relative_to(config_dir).as_posix()
            parsed[1].add(("shop", "id"), f'shop id "{shop.id}" is already used by {where}')
        problems += parsed[1].in_order()
        warnings += parsed[1].warnings
    if problems:
        raise ConfigError(problems)
    return Config(config_dir, shops=tuple(shops.values()), warnings=tuple(warnings), **settings)


def _read_shop(doc: dict[str, Any], sink: Problems, ctx: Context, source: Path) -> ShopConfig | None:
    # [shop] holds ShopConfig's own keys; its tables ([sync], [http], ...) sit at the top of the file.
    tables = read_table(ShopConfig, doc, (), sink, ctx, keys=False, extra=("shop", "policy"))
    policy = read_policy(doc.get("policy"), sink, ctx)
    shop = doc.get("shop", {})
    values = read_table(ShopConfig, shop, ("shop",), sink, ctx, tables=False, extra=("auth",))
    kind = shop.get("kind") if isinstance(shop, dict) else None
    auth_cls = AUTH_BY_KIND.get(kind) if isinstance(kind, str) else None  # a bad kind is reported already
    auth = read_table(auth_cls, shop.get("auth", {}), ("shop", "auth"), sink, ctx) if auth_cls else None
    if tables is None or values is None or auth_cls is None or auth is None or policy is None:
        return None
    return ShopConfig(**values, **tables, auth=auth_cls(**auth), source=source, policy=policy)


__all__ = ["DEFAULT_CONFIG_DIR", "Config", "DatabaseConfig", "HttpConfig", "InvoiceConfig", "LoggingConfig",
           "ShopConfig", "ShopwareAuth", "StatusMapping", "SyncConfig", "WooCommerceAuth", "load_config",
           "parse_duration"]
