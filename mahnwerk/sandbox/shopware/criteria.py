"""The Criteria subset of RequestCriteriaBuilder: page/limit/ids, total-count-mode, filters, sort, nested
associations and includes, with Shopware's errors (400 FRAMEWORK__SEARCH_REQUEST_MAPPING entries, unmapped fields).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mahnwerk.sandbox.shopware import fields as F
from mahnwerk.sandbox.shopware.schema import ENTITIES
from mahnwerk.sandbox.shopware.wire import ShopwareError, http_error

MAX_LIMIT = 500                         # shopware.api.max_limit
COUNT_MODES = {"none": 0, "exact": 1, "next-pages": 2}
Match = Callable[[dict, F.Bound], bool]
MULTI_TYPES = {"multi": None, "and": "AND", "or": "OR", "not": None, "nand": "AND", "nor": "OR"}
LEAF_TYPES = ("equals", "equalsAny", "range", "contains", "prefix", "suffix")


@dataclass
class Sort:
    path: F.FieldPath
    descending: bool
    value: F.Getter


@dataclass
class Criteria:
    """A parsed search request for `entity`; `key` names its result set (everything but paging and loading)."""

    entity: str
    ids: list[str] | None = None
    limit: int | None = None
    offset: int = 0
    count_mode: int = 0
    match: Match | None = None
    sort: list[Sort] = field(default_factory=list)
    associations: dict[str, Criteria] = field(default_factory=dict)
    includes: dict[str, list[str]] | None = None
    key: str = ""
    created_from: str | None = None  # a top-level `createdAt >= X` under a createdAt-first sort (keyset paging)


class _Mapping:
    """SearchRequestException: mapping problems collected with their JSON pointer, thrown together."""

    def __init__(self) -> None:
        self.errors: list[dict] = []

    def add(self, code: str, detail: str, pointer: str, parameters: dict | None = None) -> None:
        self.errors.append({"status": "400", "code": code, "title": "Bad Request", "detail": detail,
                            "source": {"pointer": pointer}, "meta": {"parameters": parameters or {}}})

    def raise_any(self) -> None:
        if self.errors:
            raise ShopwareError(400, self.errors)


def parse(entity: str, payload: object, *, max_limit: int | None = MAX_LIMIT) -> Criteria:
    """A Criteria from a request body, checked in RequestCriteriaBuilder's order."""
    if not isinstance(payload, dict):
        payload = {}
    problems = _Mapping()
    criteria = Criteria(entity)
    if payload.get("ids") is not None:
        ids = payload["ids"]
        criteria.ids = [i for i in ids.split("|") if i] if isinstance(ids, str) else [str(i) for i in ids]
    else:                               # with ids there is no limit and no page (setLimit(null))
        mode = payload.get("total-count-mode")
        if mode is not None:
            text = str(mode)
            number = int(text) if text.lstrip("-").isdigit() else COUNT_MODES.get(text, 0)
            criteria.count_mode = number if 0 <= number <= 2 else 0
        if payload.get("limit") is not None:
            criteria.limit = _limit(payload["limit"], problems, max_limit)
        if criteria.limit is None:
            criteria.limit = max_limit
        if payload.get("page") is not None:
            page = payload["page"]
            if page == "" or not _numeric(page) or int(float(page)) <= 0:
                problems.add("FRAMEWORK__INVALID_PAGE_QUERY",
                             f"The page parameter must be a positive integer. Given: {page or '(empty)'}", "/page",
                             {"page": page})
            else:                       # Shopware multiplies by the *given* limit: no limit, no offset
                given = payload.get("limit")
                criteria.offset = (int(float(given)) if _numeric(given) else 0) * (int(float(page)) - 1)  # type: ignore[arg-type]
    if payload.get("includes") is not None:
        if not isinstance(payload["includes"], dict):
            raise http_error(400, "FRAMEWORK__API_EXPECTED_ARRAY", "Expected includes to be an array.")
        criteria.includes = {str(k): list(v) for k, v in payload["includes"].items() if isinstance(v, list)}
    filters = _filter_list(payload, "filter", problems) + _filter_list(payload, "post-filter", problems)
    sort = payload.get("sort")
    if sort is not None and not isinstance(sort, list):
        raise http_error(400, "FRAMEWORK__INVALID_SORT_QUERY",
                         'The "sort" parameter needs to be a sorting array or a comma separated list of fields',
                         pointer="/sort")
    associations = payload.get("associations")
    for name, nested in (associations.items() if isinstance(associations, dict) else []):
        if not isinstance(nested, dict):
            continue
        target = ENTITIES[entity].target(name)
        if target is None:
            raise http_error(400, "FRAMEWORK__ASSOCIATION_NOT_FOUND", f"Can not find association by name {name}",
                             {"association": name})
        criteria.associations[name] = parse(target, nested, max_limit=None)
    problems.raise_any()
    keyset = _keyset(filters, sort)
    if keyset is not None:  # the same result set as without it, cut where the sort reaches X: one cache entry
        filters = [f for f in filters if f is not keyset]
        criteria.created_from = F.instant(str(keyset["parameters"]["gte"]))
    criteria.match = compile_filters(entity, filters, "AND", negate=False) if filters else None
    criteria.sort = [_sort(entity, item, i) for i, item in enumerate(sort or [])]
    criteria.key = repr((entity, criteria.ids, filters, sort))
    return criteria


def _keyset(filters: list, sort: object) -> dict | None:
    """The filter `createdAt >= X` (gte only) at the top level when the sort begins with createdAt ascending."""
    first = sort[0] if isinstance(sort, list) and sort and isinstance(sort[0], dict) else {}
    if first.get("field") != "createdAt" or str(first.get("order", "ASC")).upper() != "ASC":
        return None
    return next((f for f in filters if isinstance(f, dict) and f.get("type") == "range"
                 and f.get("field") in ("createdAt", "order.createdAt")
                 and isinstance(f.get("parameters"), dict) and set(f["parameters"]) == {"gte"}
                 and isinstance(f["parameters"]["gte"], str)), None)


def _numeric(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
        return not isinstance(value, bool)
    except (TypeError, ValueError):
        return False


def _limit(value: object, problems: _Mapping, max_limit: int | None) -> int | None:
    if value == "" or not _numeric(value) or int(float(value)) <= 0:  # type: ignore[arg-type]
        problems.add("FRAMEWORK__INVALID_LIMIT_QUERY",
                     f"The limit parameter must be a positive integer greater or equals than 1. Given: "
                     f"{value if value != '' else '(empty)'}", "/limit", {"limit": value})
        return None
    limit = int(float(value))  # type: ignore[arg-type]
    if max_limit and limit > max_limit:
        problems.add("FRAMEWORK__QUERY_LIMIT_EXCEEDED",
                     f"The limit must be lower than or equal to MAX_LIMIT(={max_limit}). Given: {limit}", "/limit",
                     {"maxLimit": max_limit, "limit": limit})
        return None
    return limit


def _filter_list(payload: dict, name: str, problems: _Mapping) -> list[dict]:
    raw = payload.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add("FRAMEWORK__INVALID_FILTER_QUERY", "The filter parameter has to be a list of filters.",
                     f"/{name}")
        return []
    good = []
    for index, query in enumerate(raw):
        problem = _check(query)
        if problem:
            problems.add("FRAMEWORK__INVALID_FILTER_QUERY", problem, f"/{name}/{index}")
        else:
            good.append(query)
    return good


def _check(query: object) -> str | None:
    """What QueryStringParser would refuse about one filter object, or None."""
    if not isinstance(query, dict):
        return "The filter parameter has to be a list of filters."
    kind = query.get("type")
    if kind in MULTI_TYPES:
        queries = query.get("queries")
        if not isinstance(queries, list) or not queries:
            return 'Parameter "queries" for multi filter is missing.'
        return next((p for p in map(_check, queries) if p), None)
    if kind not in LEAF_TYPES:
        return f"Unsupported filter type: {kind}"
    if not isinstance(query.get("field"), str) or not query["field"]:
        return f'Parameter "field" for {kind} filter is missing.'
    if kind == "range":
        return None if isinstance(query.get("parameters"), dict) else 'Parameter "parameters" for range is missing.'
    if "value" not in query or (kind != "equals" and query.get("value") in (None, "")):
        return f'Parameter "value" for {kind} filter is missing.'
    return None


def compile_filters(entity: str, queries: list[dict], operator: str, *, negate: bool) -> Match:
    """One level of filters; leaves on the same to-many association are one join: they must hold for one row."""
    singles: list[Match] = []
    groups: dict[str, tuple[Callable[[dict], list], list[Match]]] = {}
    for query in queries:
        kind = query["type"]
        if kind in MULTI_TYPES:
            op = str(query.get("operator") or MULTI_TYPES[kind] or "AND").upper()
            singles.append(compile_filters(entity, query["queries"], "OR" if op == "OR" else "AND",
                                           negate=kind in ("not", "nand", "nor")))
            continue
        path = F.resolve(entity, query["field"])
        leaf = _leaf(query, path)
        key = F.many_key(path)
        if key is None or path.many is None:
            singles.append(leaf)
        else:
            groups.setdefault(key, (F.rows_of(path.many), []))[1].append(leaf)
    combine = all if operator == "AND" else any
    parts = singles + [_exists(key, rows, leaves, combine) for key, (rows, leaves) in groups.items()]

    def match(row: dict, bound: F.Bound) -> bool:
        return combine(part(row, bound) for part in parts) != negate
    return match


def _exists(key: str, rows: Callable[[dict], list], leaves: list[Match],
            combine: Callable[..., bool]) -> Match:
    def match(row: dict, bound: F.Bound) -> bool:
        candidates: list = rows(row) or [None]      # LEFT JOIN: no row means NULL columns
        return any(combine(leaf(row, {**bound, key: item}) for leaf in leaves) for item in candidates)
    return match


def _leaf(query: dict, path: F.FieldPath) -> Match:
    value_of, kind = F.getter(path), query["type"]
    if kind == "equals":
        wanted = F.coerce(path, query.get("value"))
        return lambda row, bound: F.equal(value_of(row, bound), wanted)
    if kind == "equalsAny":
        raw = query["value"]
        values = [F.coerce(path, v) for v in (raw.split("|") if isinstance(raw, str) else raw
                                              if isinstance(raw, list) else [raw])]
        return lambda row, bound: any(F.equal(value_of(row, bound), v) for v in values if v is not None)
    if kind == "range":
        bounds = [(op, F.coerce(path, v)) for op, v in query["parameters"].items() if op in ("gt", "gte", "lt", "lte")]
        return lambda row, bound: all(F.ordered(value_of(row, bound), v, op) for op, v in bounds)
    needle = str(query["value"]).lower()
    test: Callable[[str], bool] = {"contains": lambda s: needle in s, "prefix": lambda s: s.startswith(needle),
                                   "suffix": lambda s: s.endswith(needle)}[kind]

    def text_match(row: dict, bound: F.Bound) -> bool:
        stored = value_of(row, bound)
        return stored is not None and test(str(stored).lower())    # LIKE with a case-insensitive collation
    return text_match


def _sort(entity: str, item: object, index: int) -> Sort:
    if not isinstance(item, dict) or not isinstance(item.get("field"), str):
        raise http_error(400, "FRAMEWORK__INVALID_SORT_QUERY",
                         'The "sort" array needs to be an associative array at least containing a field name',
                         pointer=f"/sort/{index}")
    path = F.resolve(entity, item["field"])
    descending = str(item.get("order", "ASC")).lower() == "desc"
    value = F.getter(path)
    if path.many is not None:                       # a to-many sort uses the rows' extreme value
        rows, key, inner = F.rows_of(path.many), F.many_key(path) or "", value

        def extreme(row: dict, bound: F.Bound) -> object:
            values = [v for v in (inner(row, {key: r}) for r in rows(row)) if v is not None]
            return (max(values) if descending else min(values)) if values else None  # type: ignore[type-var]
        value = extreme
    return Sort(path, descending, value)
