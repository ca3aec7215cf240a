"""The configuration's shape: `Config` (mahnwerk.toml and the shops) and `ShopConfig` (one shop file) with their
tables, as frozen dataclasses; config/load.py reads the files into them.

Each dataclass is its own schema: a field made with `setting(parser, default)` is a TOML key, and a field whose
default is another config dataclass is a TOML table of that name. A new `[policy]` or `[smtp]` table is one
dataclass plus one field; `read_table` validates it, reports unknown keys and finds the lines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from mahnwerk.connectors.bundesbank import BUNDESBANK_URL
from mahnwerk.connectors.kinds import ShopKind, kinds
from mahnwerk.connectors.kinds import kind as registered_kind
from mahnwerk.connectors.records import PaidState
from mahnwerk.errors import ConfigError, ConfigProblem
from mahnwerk.policy.model import Policy
from mahnwerk.policy.presets import PRESETS
from mahnwerk.sync.config.delivery import (
    AgencyConfig,
    DeliveryConfig,
    LettersConfig,
    MerchantConfig,
    SmtpConfig,
    email,
)
from mahnwerk.sync.config.payments import PaymentsConfig
from mahnwerk.sync.config.schema import (
    Context,
    a_date,
    boolean,
    cross_check,
    database_url,
    did_you_mean,
    duration,
    existing_file,
    integer,
    listen_address,
    one_of,
    parse_duration,
    setting,
    shop_url,
    show,
    strings,
    text,
    timezone,
)
from mahnwerk.sync.config.secrets import Secret, mask_url
from mahnwerk.sync.config.tomlpos import KeyPath

DEFAULT_CONFIG_DIR = Path("/etc/mahnwerk")
NO_CONFIG_DIR = (
    "configuration directory not found; create it with a shops/ folder holding one <shop>.toml per shop "
    "(see config.example.toml), or point --config-dir or MAHNWERK_CONFIG_DIR at the right directory"
)


def shop_kind(raw: Any, ctx: Context) -> str:
    """A kind's name; whether this version knows it is `check`'s question (the other shops go on meanwhile)."""
    names = " or ".join(f'"{name}"' for name in kinds())
    return text(r"[a-z0-9_]{1,20}", f"a shop kind ({names})")(raw, ctx)


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
class RatesConfig:
    """`[rates]` in mahnwerk.toml: where `mahnwerk rates update` reads the German base rate (tests point it at the
    sandbox), and how long it waits for the answer."""

    bundesbank_url: str = setting(shop_url, BUNDESBANK_URL)
    timeout: timedelta = setting(duration("1s", "5m"), timedelta(seconds=30))


@dataclass(frozen=True)
class DaemonConfig:
    """`[daemon]` in mahnwerk.toml: how `mahnwerk daemon` runs: how many shops it works on at a time, and where it
    serves metrics and health."""

    workers: int = setting(integer(1, 64), 8)
    metrics_listen: tuple[str, int] | None = setting(listen_address, None)  # None: no metrics and /healthz server


@dataclass(frozen=True)
class AlertsConfig:
    """`[alerts]` in mahnwerk.toml: whom the daemon mails when a shop needs a person (through the shop's [smtp])."""

    email: str = setting(email, "")  # "": no alert mails
    failed_syncs: int = setting(integer(1, 100), 3)  # this many failed syncs in a row are a problem


@dataclass(frozen=True)
class WebConfig:
    """`[web]` in mahnwerk.toml: the web console (sync/web/). With `listen` the daemon serves it too; `mahnwerk web`
    serves it on its own (at `listen`, else 127.0.0.1:8420)."""

    listen: tuple[str, int] | None = setting(listen_address, None)  # None: the daemon serves no console
    secure_cookies: bool = setting(boolean, False)  # the session cookie only over HTTPS (behind a TLS proxy)
    behind_proxy: bool = setting(boolean, False)  # trust one proxy's X-Forwarded-For/-Proto/-Host
    secret_key_file: Path | None = setting(existing_file, None)  # None: a random key kept in the database


@dataclass(frozen=True)
class ShopAuth:
    """`[shop.auth]`: the secrets the shop's kind asks for (connectors/kinds.py), by key; never shown."""

    secrets: Mapping[str, Secret]

    def revealed(self) -> dict[str, str]:
        """Every credential in clear, for connecting; ConfigError when one could not be read (an unset ${VAR})."""
        return {key: secret.reveal() for key, secret in self.secrets.items()}

    def __repr__(self) -> str:
        return f"ShopAuth({', '.join(f'{key}=***' for key in self.secrets)})"


@dataclass(frozen=True)
class InvoiceConfig:
    payment_methods: tuple[str, ...] = setting(strings(non_empty=True), ())  # (): the kind's invoice methods
    payment_term_days: int = setting(integer(0, 365), 14)  # due = invoice date + this, if the shop has no due date
    number_meta_key: str | None = setting(text(), None)  # None: the order number is the invoice number
    date_meta_key: str | None = setting(text(), None)  # None: the order's creation date
    due_date_meta_key: str | None = setting(text(), None)
    receipt_days: int = setting(integer(0, 30), 0)  # the invoice reaches the customer this long after its date


@dataclass(frozen=True)
class StatusMapping:
    """What the shop's own status words mean; a key left out takes the kind's default (connectors/kinds.py)."""

    open: tuple[str, ...] | None = setting(strings(non_empty=True), None)
    paid: tuple[str, ...] | None = setting(strings(non_empty=True), None)
    cancelled: tuple[str, ...] | None = setting(strings(), None)
    refunded: tuple[str, ...] | None = setting(strings(), None)

    def meaning(self, status: str) -> str | None:
        """Which list holds `status`: "open", "paid", "cancelled", "refunded", or None if none does."""
        return next((f.name for f in fields(self) if status in (getattr(self, f.name) or ())), None)

    def by_status(self) -> dict[str, PaidState]:
        """Each status word with what it means (after `for_kind`, every list is set)."""
        return {status: PaidState(f.name) for f in fields(self) for status in getattr(self, f.name) or ()}

    def for_kind(self, kind: ShopKind) -> StatusMapping:
        """The lists the file left out filled in from the kind's defaults."""
        return StatusMapping(**{f.name: getattr(self, f.name) if getattr(self, f.name) is not None
                                else kind.defaults(f.name) for f in fields(self)})


@dataclass(frozen=True)
class SyncConfig:
    # Below 30s only for a test shop (load.py warns): a live shop is asked that often by every poll.
    interval: timedelta = setting(duration("1s", "1d"), timedelta(minutes=5))
    since: date | None = setting(a_date, None)  # None: orders of any age
    overlap: timedelta = setting(duration("1s", "1h"), timedelta(seconds=10))  # re-read window behind the cursor
    page_size: int = setting(integer(1, 10_000), 0)  # 0: the largest page the kind allows
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

    # First: type checkers take every setting() for a field with a default (only some have one).
    auth: ShopAuth  # [shop.auth]; which keys depends on the kind
    source: Path  # the file it came from
    id: str = setting(text(r"[a-z0-9][a-z0-9_-]{0,39}", 'an id of a-z, 0-9, "-", "_" (at most 40) like "acme"'))
    kind: str = setting(shop_kind)
    url: str = setting(shop_url)
    timezone: ZoneInfo = setting(timezone)
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
    policy: Policy = field(default=PRESETS["de-b2c"], metadata={"table": False})  # [policy]: config/policy.py

    @property
    def shop_kind(self) -> ShopKind | None:
        """The registered kind, None when this version does not know it (`check` says so)."""
        return registered_kind(self.kind)


@dataclass(frozen=True)
class Config:
    """Everything under the config dir; `database`, `logging`, `rates` and `daemon` come from mahnwerk.toml."""

    config_dir: Path
    database: DatabaseConfig = DatabaseConfig()
    logging: LoggingConfig = LoggingConfig()
    shops: tuple[ShopConfig, ...] = ()
    warnings: tuple[ConfigProblem, ...] = ()  # allowed but questionable settings, shown by `check`
    rates: RatesConfig = RatesConfig()  # [rates]: where `rates update` reads the German base rate
    daemon: DaemonConfig = DaemonConfig()  # [daemon]: its pool of shop ticks, metrics and health
    alerts: AlertsConfig = AlertsConfig()  # [alerts]: mails about shops that need a person
    web: WebConfig = WebConfig()  # [web]: the web console

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


__all__ = ["DEFAULT_CONFIG_DIR", "AlertsConfig", "Config", "DaemonConfig", "DatabaseConfig", "HttpConfig",
           "InvoiceConfig", "LoggingConfig", "RatesConfig", "ShopAuth", "ShopConfig", "StatusMapping", "SyncConfig",
           "WebConfig", "parse_duration"]
