"""The configuration: `mahnwerk.toml` and `shops/*.toml`, parsed once into frozen dataclasses or one ConfigError.

Each dataclass is its own schema: a field made with `setting(parser, default)` is a TOML key, and a field whose
default is another config dataclass is a TOML table of that name. A new `[policy]` or `[smtp]` table is one
dataclass plus one field; `read_table` validates it, reports unknown keys and finds the lines.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from mahnwerk.errors import ConfigError, ConfigProblem
from mahnwerk.sync.secrets import Secret, SecretError, mask_url, resolve_secret
from mahnwerk.sync.tomlpos import KeyPath, Problems, parse_toml

DEFAULT_CONFIG_DIR = Path("/etc/mahnwerk")
NO_CONFIG_DIR = (
    "configuration directory not found; create it with a shops/ folder holding one <shop>.toml per shop "
    "(see config.example.toml), or point --config-dir or MAHNWERK_CONFIG_DIR at the right directory"
)


class Invalid(ValueError):
    """Raised by a parser when a value does not fit; `key` replaces the key's name, `at` points inside it."""

    def __init__(self, message: str, *, key: str | None = None, at: KeyPath = ()) -> None:
        super().__init__(message)
        self.key, self.at = key, at


@dataclass(frozen=True)
class Context:
    config_dir: Path  # relative paths in the configuration start here
    environ: Mapping[str, str]


Parser = Callable[[Any, Context], Any]


def setting(parse: Parser | None = None, default: Any = MISSING, *, secret: bool = False) -> Any:
    """A dataclass field that is a TOML key read by `parse`; a secret key also takes `<name>_file` and `${VAR}`."""
    return field(default=default, metadata={"parse": parse or (lambda raw, ctx: raw), "secret": secret})


def show(raw: Any) -> str:
    """A value as it was written in TOML."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (str, list, dict)):
        return f'"{raw}"' if isinstance(raw, str) else "a list" if isinstance(raw, list) else "a table"
    return raw.isoformat() if isinstance(raw, date) else str(raw)


def did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


def parse_duration(text: str) -> timedelta:
    """Parse "30s", "5m", "1h30m", "2d" or "1h 30m" (units in this order, each once); ValueError otherwise."""
    match = re.fullmatch(r"(?:(\d+)d)? *(?:(\d+)h)? *(?:(\d+)m)? *(?:(\d+)s)?", text.strip())
    if not match or not text.strip():
        raise ValueError(f"not a duration: {text!r}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


# Parsers: (raw TOML value, context) -> parsed value, or Invalid saying what was expected and what came.


def expect(ok: bool, what: str, raw: Any) -> None:
    if not ok:
        raise Invalid(f"expected {what}, got {show(raw)}")


def integer(low: int, high: int) -> Parser:
    def parse(raw: Any, ctx: Context) -> int:
        expect(isinstance(raw, int) and not isinstance(raw, bool), "an integer", raw)  # true is not 1 here
        if not low <= raw <= high:
            raise Invalid(f"must be between {low} and {high}, got {raw}")
        return raw

    return parse


def duration(low: str, high: str) -> Parser:
    def parse(raw: Any, ctx: Context) -> timedelta:
        try:
            value = parse_duration(raw)
        except (TypeError, ValueError, AttributeError):
            raise Invalid(f'expected a duration like "5m", got {show(raw)}') from None
        if not parse_duration(low) <= value <= parse_duration(high):
            raise Invalid(f'must be between "{low}" and "{high}", got {show(raw)}')
        return value

    return parse


def text(pattern: str = r".+", what: str = "a non-empty string") -> Parser:
    def parse(raw: Any, ctx: Context) -> str:
        expect(isinstance(raw, str) and re.fullmatch(pattern, raw) is not None, what, raw)
        return raw

    return parse


def one_of(*choices: str) -> Parser:
    def parse(raw: Any, ctx: Context) -> str:
        expect(isinstance(raw, str) and raw in choices, f"one of {', '.join(map(show, choices))}", raw)
        return raw

    return parse


def strings(*, non_empty: bool = False) -> Parser:
    def parse(raw: Any, ctx: Context) -> tuple[str, ...]:
        expect(isinstance(raw, list), "a list of strings", raw)
        for index, item in enumerate(raw):
            if not isinstance(item, str) or not item:
                raise Invalid(f"expected a list of non-empty strings, got {show(item)} in it", at=(index,))
        if non_empty and not raw:
            raise Invalid("must not be empty")
        return tuple(raw)

    return parse


def boolean(raw: Any, ctx: Context) -> bool:
    expect(isinstance(raw, bool), "true or false", raw)
    return raw


def a_date(raw: Any, ctx: Context) -> date:
    if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    expect(isinstance(raw, date) and not isinstance(raw, datetime), "a date like 2024-01-31", raw)
    return raw


def timezone(raw: Any, ctx: Context) -> ZoneInfo:
    expect(isinstance(raw, str), 'a timezone like "Europe/Berlin"', raw)
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown timezone {show(raw)}{did_you_mean(raw, available_timezones())}") from None


def shop_url(raw: Any, ctx: Context) -> str:
    try:
        parts = urlsplit(raw) if isinstance(raw, str) else None
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        parts = None
    ok = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
    expect(ok, 'a URL like "https://shop.example.com"', mask_url(raw) if isinstance(raw, str) else raw)
    return raw.rstrip("/")


def existing_file(raw: Any, ctx: Context) -> Path:
    path = ctx.config_dir / text()(raw, ctx)
    if not path.is_file():
        raise Invalid(f'file not found: "{path}"')
    return path


def database_url(raw: Secret, ctx: Context) -> str:
    url = raw.reveal()
    ok = re.match(r"(sqlite|postgresql)(\+\w+)?://", url) is not None
    expect(ok, "a sqlite:// or postgresql+psycopg:// URL", mask_url(url))
    return url


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
    overlap: timedelta = setting(duration("1s", "1h"), timedelta(seconds=60))  # re-read window behind the cursor
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


@dataclass(frozen=True)
class Config:
    """Everything under the config dir; `database` and `logging` come from mahnwerk.toml."""

    config_dir: Path
    database: DatabaseConfig = DatabaseConfig()
    logging: LoggingConfig = LoggingConfig()
    shops: tuple[ShopConfig, ...] = ()

    def shop(self, shop_id: str) -> ShopConfig:
        """The shop with this id; ConfigError with a did-you-mean if there is none."""
        ids = [shop.id for shop in self.shops]
        if shop_id in ids:
            return self.shops[ids.index(shop_id)]
        hint = did_you_mean(shop_id, ids) or (f"; configured: {', '.join(ids)}" if ids else "; no shops configured")
        where = str(self.config_dir / "shops")
        raise ConfigError([ConfigProblem(where, None, "", f'unknown shop "{shop_id}"{hint}')])


# Rules across keys of one table, run once its keys are valid: they yield (path in the table, message).


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


def _status_twice(values: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    first: dict[str, str] = {}
    for meaning, statuses in values.items():
        for index, status in enumerate(statuses):
            if first.setdefault(status, meaning) != meaning:
                yield (meaning, index), f'"{status}" is also listed in statuses.{first[status]}'


CHECKS: dict[type, Callable[[dict[str, Any]], Iterator[tuple[KeyPath, str]]]] = {
    ShopConfig: _insecure_url,
    StatusMapping: _status_twice,
}


def load_config(config_dir: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read `mahnwerk.toml` and `shops/*.toml` in `config_dir`; raise one ConfigError listing every problem."""
    config_dir = Path(config_dir).absolute()
    if not config_dir.is_dir():
        raise ConfigError([ConfigProblem(str(config_dir), None, "", NO_CONFIG_DIR)])
    ctx = Context(config_dir, os.environ if environ is None else environ)
    problems: list[ConfigProblem] = []
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
    if problems:
        raise ConfigError(problems)
    return Config(config_dir, shops=tuple(shops.values()), **settings)


def _read_shop(doc: dict[str, Any], sink: Problems, ctx: Context, source: Path) -> ShopConfig | None:
    # [shop] holds ShopConfig's own keys; its tables ([sync], [http], ...) sit at the top of the file.
    tables = read_table(ShopConfig, doc, (), sink, ctx, keys=False, extra=("shop",))
    shop = doc.get("shop", {})
    values = read_table(ShopConfig, shop, ("shop",), sink, ctx, tables=False, extra=("auth",))
    kind = shop.get("kind") if isinstance(shop, dict) else None
    auth_cls = AUTH_BY_KIND.get(kind) if isinstance(kind, str) else None  # a bad kind is reported already
    auth = read_table(auth_cls, shop.get("auth", {}), ("shop", "auth"), sink, ctx) if auth_cls else None
    if tables is None or values is None or auth_cls is None or auth is None:
        return None
    return ShopConfig(**values, **tables, auth=auth_cls(**auth), source=source)


def read_table(cls: type, raw: Any, path: KeyPath, sink: Problems, ctx: Context, *, keys: bool = True,
               tables: bool = True, extra: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Keyword arguments for `cls` from one TOML table (its keys, its sub-tables, or both); None on any problem.

    Keys left out stay out, so the dataclass supplies their defaults. Every problem goes to `sink`.
    """
    if not isinstance(raw, dict):
        sink.add(path, f"expected a table, got {'a string' if isinstance(raw, str) else show(raw)}")  # auth = "..."
        return None
    specs = [f for f in fields(cls) if keys and "parse" in f.metadata]
    subs = {f.name: type(f.default) for f in fields(cls) if tables and is_dataclass(f.default)}
    known = [f.name for f in specs] + [f"{f.name}_file" for f in specs if f.metadata["secret"]] + [*subs, *extra]
    before = len(sink.found)
    for key, value in raw.items():
        if key not in known:
            what = "table" if isinstance(value, dict) else "key"
            sink.add(path + (key,), f'unknown {what} "{key}"{did_you_mean(key, known)}')
    values = {f.name: value for f in specs if (value := _take(raw, f, path, sink, ctx)) is not MISSING}
    for name, sub in subs.items():
        if (table := read_table(sub, raw.get(name, {}), path + (name,), sink, ctx)) is not None:
            values[name] = sub(**table)
    if specs and cls in CHECKS and len(sink.found) == before:
        for where, message in CHECKS[cls]({f.name: values.get(f.name, f.default) for f in specs}):
            sink.add(path + where, message)
    return values if len(sink.found) == before else None


def _take(raw: dict[str, Any], spec: Field[Any], path: KeyPath, sink: Problems, ctx: Context) -> Any:
    """The parsed value of one key; MISSING if it is absent or wrong (and then reported)."""
    try:
        if spec.metadata["secret"]:
            value = resolve_secret(raw, spec.name, base_dir=ctx.config_dir, environ=ctx.environ)
        else:
            value = raw.get(spec.name)
        if value is None and spec.default is MISSING:
            alternative = f" (or {spec.name}_file)" if spec.metadata["secret"] else ""
            sink.add(path + (spec.name,), f"missing required key{alternative}")
        return MISSING if value is None else spec.metadata["parse"](value, ctx)
    except (Invalid, SecretError) as exc:
        sink.add(path + (exc.key or spec.name, *getattr(exc, "at", ())), str(exc))
        return MISSING
