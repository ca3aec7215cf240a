"""The configuration schema machinery: dataclass fields as TOML keys, value parsers, and `read_table`.

A field made with `setting(parser, default)` is a TOML key; a field whose default is another config dataclass is
a TOML table of that name. Checks that span several keys of one table register with `@cross_check(cls)`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from mahnwerk.sync.config.secrets import Secret, SecretError, SecretUnavailable, mask_url, resolve_secret
from mahnwerk.sync.config.tomlpos import KeyPath, Problems

CrossCheck = Callable[[dict[str, Any]], Iterator[tuple[KeyPath, str]]]
CHECKS: dict[type, CrossCheck] = {}


def cross_check(cls: type) -> Callable[[CrossCheck], CrossCheck]:
    """Register a check over all keys of `cls`'s table; it yields (key path, message) per problem."""

    def register(check: CrossCheck) -> CrossCheck:
        CHECKS[cls] = check
        return check

    return register


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
    """A dataclass field that is a TOML key read by `parse`; a secret key also takes `<name>_file` and `${VAR}`.
    A secret without a parser may stay unread until it is used (see `Secret.problem`)."""
    return field(default=default, metadata={"parse": parse or _as_is, "secret": secret})


def _as_is(raw: Any, ctx: Context) -> Any:
    return raw


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


def decimal(raw: Any, example: str) -> Decimal:
    """A TOML string or integer as a Decimal; floats are refused because TOML floats are binary."""
    expect(isinstance(raw, (str, int)) and not isinstance(raw, bool), f'a number like "{example}"', raw)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise Invalid(f'expected a number like "{example}", got {show(raw)}') from None
    if not value.is_finite():
        raise Invalid(f"expected a finite number, got {show(raw)}")
    return value


def money(raw: Any, ctx: Context) -> Decimal:
    """An amount like "2.50": not negative, whole cents."""
    value = decimal(raw, "2.50")
    if value < 0 or value != value.quantize(Decimal("0.01")):
        raise Invalid(f"expected a non-negative amount with at most two decimals, got {show(raw)}")
    return value


def percent(raw: Any, ctx: Context) -> Decimal:
    """A percentage like "1.27" (base rates may be negative)."""
    value = decimal(raw, "1.27")
    if abs(value) >= 100:
        raise Invalid(f"expected a percentage between -100 and 100, got {show(raw)}")
    return value


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


def listen_address(raw: Any, ctx: Context) -> tuple[str, int]:
    """"127.0.0.1:9464" or "[::1]:9464" as (host, port): where a local HTTP listener binds."""
    expect(isinstance(raw, str), 'an address like "127.0.0.1:9464"', raw)
    host, _, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise Invalid(f'expected host:port like "127.0.0.1:9464" (port 1-65535), got {show(raw)}')
    return host, int(port)


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


def read_table(cls: type, raw: Any, path: KeyPath, sink: Problems, ctx: Context, *, keys: bool = True,
               tables: bool = True, extra: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Keyword arguments for `cls` from one TOML table (its keys, its sub-tables, or both); None on any problem.

    Keys left out stay out, so the dataclass supplies their defaults. Every problem goes to `sink`.
    """
    if not isinstance(raw, dict):
        sink.add(path, f"expected a table, got {'a string' if isinstance(raw, str) else show(raw)}")  # auth = "..."
        return None
    specs = [f for f in fields(cls) if keys and "parse" in f.metadata]
    subs = {f.name: type(f.default) for f in fields(cls)
            if tables and is_dataclass(f.default) and not isinstance(f.default, type) and f.metadata.get("table", True)}
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
            try:
                value = resolve_secret(raw, spec.name, base_dir=ctx.config_dir, environ=ctx.environ)
            except SecretUnavailable as exc:
                if spec.metadata["parse"] is not _as_is:
                    raise  # its value is needed now (the database URL)
                return Secret("", problem=sink.problem(path + (exc.key,), str(exc)))
        else:
            value = raw.get(spec.name)
        if value is None and spec.default is MISSING:
            alternative = f" (or {spec.name}_file)" if spec.metadata["secret"] else ""
            sink.add(path + (spec.name,), f"missing required key{alternative}")
        return MISSING if value is None else spec.metadata["parse"](value, ctx)
    except (Invalid, SecretError) as exc:
        sink.add(path + (exc.key or spec.name, *getattr(exc, "at", ())), str(exc))
        return MISSING
