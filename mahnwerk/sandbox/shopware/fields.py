"""Field paths of the DAL (`transactions.stateMachineState.technicalName`): resolution against the schema, getters,
and values normalised the way MySQL compares them (datetimes as UTC instants, numbers as numbers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from mahnwerk.sandbox.shopware.schema import ENTITIES, JSON_FIELDS
from mahnwerk.sandbox.shopware.wire import ShopwareError, http_error

Bound = dict[str, dict | None]          # to-many path -> the row a filter group is looking at
Getter = Callable[[dict, Bound], object]


def unmapped(name: str, entity: str) -> ShopwareError:
    """UnmappedFieldException: names the last part of the path and the entity it was looked for in."""
    return http_error(400, "FRAMEWORK__UNMAPPED_FIELD", f'Field "{name}" in entity "{entity}" was not found.',
                      {"field": name, "entity": entity})


def instant(value: str) -> str:
    """The canonical stored form of a datetime ('2026-03-01T09:15:00.000+00:00'); naive values are UTC (DAL)."""
    moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1)) if "T" in value or " " in value.strip() \
        else datetime.combine(date.fromisoformat(value.strip()), datetime.min.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def is_datetime(name: str) -> bool:
    return name.endswith("At") or name in ("orderDateTime", "shippingDateEarliest", "shippingDateLatest")


@dataclass(frozen=True)
class FieldPath:
    """A resolved path: its steps, the prefix up to the first to-many association, and whether it is a datetime."""

    steps: tuple[tuple[str, str], ...]          # (kind, name); kind: one, many, field, json
    many: tuple[tuple[str, str], ...] | None
    datetime: bool
    entity: str                                 # the entity the last field belongs to


def resolve(entity: str, path: str) -> FieldPath:
    """Walk `path` from `entity` like EntityDefinitionQueryHelper; unknown parts raise FRAMEWORK__UNMAPPED_FIELD."""
    if path.startswith(entity + "."):
        path = path[len(entity) + 1:]
    parts, steps, current = path.split("."), [], ENTITIES[entity]
    many: tuple[tuple[str, str], ...] | None = None
    index = 0
    while index < len(parts):
        part = parts[index]
        if part in current.fields:
            steps.append(("field", part))
            if part in JSON_FIELDS:
                steps += [("json", key) for key in parts[index + 1:]]
            elif index + 1 < len(parts):
                raise unmapped(parts[index + 1], current.name)
            return FieldPath(tuple(steps), many, is_datetime(part), current.name)
        target = current.target(part)
        if target is None:
            raise unmapped(part, current.name)
        steps.append(("many" if part in current.to_many else "one", part))
        if part in current.to_many and many is None:
            many = tuple(steps)
        current = ENTITIES[target]
        index += 1
    steps.append(("field", "id"))               # a path ending on an association means its id
    return FieldPath(tuple(steps), many, False, current.name)


def getter(path: FieldPath) -> Getter:
    """value(row, bound): to-many steps read the row bound for that prefix (None when there is none)."""
    steps = path.steps

    def value(row: dict, bound: Bound) -> object:
        current: object = row
        for i, (kind, name) in enumerate(steps):
            if not isinstance(current, dict):
                return None
            current = bound.get(_key(steps[:i + 1])) if kind == "many" else current.get(name)
        return current
    return value


def rows_of(prefix: tuple[tuple[str, str], ...]) -> Callable[[dict], list]:
    """The rows of a to-many prefix (to-one steps before it followed from the root)."""
    def rows(row: dict) -> list:
        current: object = row
        for _, name in prefix:
            if not isinstance(current, dict):
                return []
            current = current.get(name)
        return current if isinstance(current, list) else []
    return rows


def _key(prefix: tuple[tuple[str, str], ...]) -> str:
    return ".".join(name for _, name in prefix)


def many_key(path: FieldPath) -> str | None:
    return None if path.many is None else _key(path.many)


def coerce(path: FieldPath, value: object) -> object:
    """A filter value as the column compares it: datetimes as canonical UTC instants, others as given."""
    if path.datetime and isinstance(value, str):
        try:
            return instant(value)
        except ValueError:
            raise http_error(400, "FRAMEWORK__INVALID_FILTER_QUERY", f'Invalid datetime value "{value}".') from None
    return value


def equal(stored: object, value: object) -> bool:
    """MySQL's `=` for the column's type: numbers numerically, booleans from 0/1/true, everything else as text."""
    if stored is None or value is None:
        return stored is None and value is None
    if isinstance(stored, bool):
        return stored == (value in (True, 1, "1", "true"))
    if isinstance(stored, int | float):
        number = _number(value)
        return number is not None and number == stored
    return str(value) == stored if not isinstance(value, bool) else False


def ordered(stored: object, value: object, op: str) -> bool:
    """MySQL's `<`, `<=`, `>`, `>=`: NULL never matches; numbers numerically, text as text."""
    if stored is None or value is None:
        return False
    left: object = stored
    right: object = str(value)
    if isinstance(stored, int | float) and not isinstance(stored, bool):
        right = _number(value)
        if right is None:
            return False
    elif not isinstance(stored, str):
        return False
    return _COMPARE[op](left, right)


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,  # type: ignore[operator]
    "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,  # type: ignore[operator]
}


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
