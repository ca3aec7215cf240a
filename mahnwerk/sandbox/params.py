"""Request parameters as PHP and the WordPress REST schema see them, with WordPress's 400 messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from mahnwerk.sandbox.dates import parse_query_date
from mahnwerk.sandbox.orders import NUMERIC
from mahnwerk.sandbox.shop import ORDER_STATUSES
from mahnwerk.sandbox.store import Selection
from mahnwerk.sandbox.wire import invalid_params

# The v3 orders controller's get_order_statuses(): auto-draft, then wc_get_order_statuses() without the wc- prefix.
EDIT_STATUSES = ("auto-draft", *ORDER_STATUSES)
LIST_STATUSES = ("any", "trash", *EDIT_STATUSES)
ORDERBY = ("date", "id", "include", "title", "slug", "modified")
_BRACKET = re.compile(r"^([^\[]+)\[([^\]]*)\]$")

Params = dict[str, "str | list[str]"]


def php_params(pairs: list[tuple[str, str]]) -> Params:
    """$_GET of a query: `a[]=x&a[]=y` and `a[0]=x` make lists, a repeated plain `a=` keeps only the last."""
    params: Params = {}
    for key, value in pairs:
        match = _BRACKET.match(key)
        if match:
            current = params.get(match.group(1))
            if not isinstance(current, list):
                current = params[match.group(1)] = []
            current.append(value)
        else:
            params[key] = value
    return params


def as_list(value: str | list[str]) -> list[str]:
    """wp_parse_list(): a list stays, a string splits on commas and whitespace."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part for part in re.split(r"[\s,]+", value) if part]


def id_list(value: str | list[str]) -> list[int]:
    """wp_parse_id_list(): absint of every item, so junk becomes 0 instead of an error."""
    ids = []
    for part in as_list(value):
        match = re.match(r"^\s*[+-]?(\d+)", part)
        ids.append(int(match.group(1)) if match else 0)
    return list(dict.fromkeys(ids))


def wp_list(values: tuple[str, ...] | list[str]) -> str:
    """wp_sprintf_l()'s %l: 'a and b', or 'a, b, and c' for more."""
    if len(values) < 3:
        return " and ".join(values)
    return ", ".join(values[:-1]) + ", and " + values[-1]


def not_in_enum(name: str, allowed: tuple[str, ...]) -> str:
    """rest_validate_enum()'s message: 'x is not a.' for a single value, 'x is not one of a, b, and c.' else."""
    if len(allowed) == 1:
        return f"{name} is not {allowed[0]}."
    return f"{name} is not one of {wp_list(allowed)}."


def to_bool(raw: object) -> bool | None:
    """rest_is_boolean() + rest_sanitize_boolean(): true/false, 1/0 and their strings; None if not a boolean."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.lower() in ("true", "1", "false", "0", ""):
        return raw.lower() in ("true", "1")
    return None


def _integer(raw: object) -> int | None:
    """rest_is_integer(): numeric and whole, so '10', ' 10', '1e1' and '10.0' all pass."""
    if not isinstance(raw, str) or not NUMERIC.match(raw):
        return None
    try:
        return int(raw)
    except ValueError:
        number = float(raw)
        return int(number) if number.is_integer() else None


class Checker:
    """Collects every invalid parameter, then raises one rest_invalid_param like has_valid_params()."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.problems: dict[str, tuple[str, str]] = {}

    def integer(self, name: str, default: int | None, minimum: int | None = None, maximum: int | None = None):
        raw = self.params.get(name)
        if raw is None:
            return default
        value = _integer(raw)
        if value is None:
            self.problems[name] = ("rest_invalid_type", f"{name} is not of type integer.")
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            message = (f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)" if maximum is not None
                       else f"{name} must be greater than or equal to {minimum}")
            self.problems[name] = ("rest_out_of_bounds", message)
            return default
        return abs(value)                               # sanitize_callback absint

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.params.get(name)
        if raw is None:
            return default
        value = to_bool(raw)
        if value is None:
            self.problems[name] = ("rest_invalid_type", f"{name} is not of type boolean.")
            return default
        return value

    def string(self, name: str) -> str | None:
        raw = self.params.get(name)
        if raw is not None and not isinstance(raw, str):
            self.problems[name] = ("rest_invalid_type", f"{name} is not of type string.")
            return None
        return raw

    def enum(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.params.get(name, default)
        if raw not in allowed:
            self.problems[name] = ("rest_not_in_enum", not_in_enum(name, allowed))
            return default
        return raw

    def enum_list(self, name: str, default: list[str], allowed: tuple[str, ...]) -> list[str]:
        raw = self.params.get(name)
        values = default if raw is None else as_list(raw)
        for n, value in enumerate(values):
            if value not in allowed:
                self.problems[name] = ("rest_not_in_enum", not_in_enum(f"{name}[{n}]", allowed))
                return default
        return values

    def date(self, name: str, gmt: bool, tz: ZoneInfo) -> str | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        parsed = parse_query_date(raw, gmt=gmt, tz=tz) if isinstance(raw, str) else None
        if parsed is None:
            self.problems[name] = ("rest_invalid_date", "Invalid date.")
        return parsed

    def done(self) -> None:
        if self.problems:
            raise invalid_params(self.problems)


@dataclass
class Listing:
    """A validated GET /orders request."""

    selection: Selection
    page: int
    per_page: int
    offset: int | None
    fields: list[str] | None


def parse_listing(params: Params, tz: ZoneInfo) -> Listing:
    """Validate the collection params of GET /orders (class-wc-rest-crud-controller + orders v3 controller)."""
    check = Checker(params)
    page = check.integer("page", 1, minimum=1)
    per_page = check.integer("per_page", 10, minimum=1, maximum=100)
    offset = check.integer("offset", None)
    gmt = check.boolean("dates_are_gmt", False)
    statuses = check.enum_list("status", ["any"], LIST_STATUSES)
    orderby = check.enum("orderby", "date", ORDERBY)
    order = check.enum("order", "desc", ("asc", "desc"))
    ranges = {"created": (check.date("after", gmt, tz), check.date("before", gmt, tz)),
              "modified": (check.date("modified_after", gmt, tz), check.date("modified_before", gmt, tz))}
    check.done()
    wanted = set(ORDER_STATUSES) if "any" in statuses else set(statuses)     # "any": never trash or auto-draft
    sort = {"modified": "modified", "id": "id"}.get(orderby, "created")           # title/slug/include: by date
    include = id_list(params["include"]) if "include" in params else []
    selection = Selection(
        statuses=frozenset(wanted), sort=sort, descending=order == "desc",
        ranges={name: bounds for name, bounds in ranges.items() if bounds != (None, None)},
        include=include, exclude=frozenset(id_list(params.get("exclude", ""))),
        by_include=orderby == "include" and bool(include))
    fields = [f.strip() for f in as_list(params["_fields"])] if "_fields" in params else []
    return Listing(selection, page, per_page, offset, fields or None)     # an empty _fields filters nothing
