"""Answering a Criteria from rows in memory: the matching ids are cached per result set (criteria without paging),
so a backfill of 100,000 orders reads a slice per page; rows whose sort values tie come out in a new order on every
request, as MySQL may return them, unless the sort ends with a unique field.
"""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Iterable

from mahnwerk.sandbox.shopware import fields as F
from mahnwerk.sandbox.shopware.criteria import Criteria, Sort

_CACHE_SIZE = 64


def sort_rows(rows: list[dict], sort: list[Sort]) -> list[dict]:
    """Sorted like ORDER BY: NULLs first ascending, last descending; stable, so equal keys keep their order."""
    for item in reversed(sort):
        rows.sort(key=lambda row, s=item: _key(s.value(row, {})), reverse=item.descending)  # type: ignore[misc]
    return rows


def _key(value: object) -> tuple:
    return (0, "") if value is None else (1, value)


class Table:
    """The rows of one entity by id, and the result sets of recent searches until the next write."""

    def __init__(self, rows: dict[str, dict]) -> None:
        self.rows = rows
        self._cache: dict[str, tuple[list[str], list[tuple] | None]] = {}
        self._created: dict[str, list[str]] = {}  # per cached result set: each row's createdAt, for keyset cuts
        self._lock = threading.Lock()

    def changed(self) -> None:
        """Forget every cached result set (called on each write)."""
        with self._lock:
            self._cache.clear()
            self._created.clear()

    def select(self, criteria: Criteria) -> tuple[list[str], list[tuple] | None]:
        """All matching ids in sort order, with their sort keys when rows can tie."""
        with self._lock:
            hit = self._cache.get(criteria.key)
        if hit is not None:
            return hit
        candidates: Iterable[dict]
        if criteria.ids is not None:
            candidates = [self.rows[i] for i in dict.fromkeys(criteria.ids) if i in self.rows]
        else:
            candidates = self.rows.values()
        match = criteria.match
        rows = [row for row in candidates if match is None or match(row, {})]
        keys = None
        if criteria.sort:
            sort_rows(rows, criteria.sort)
            if not any(s.path.steps == (("field", "id"),) for s in criteria.sort):
                keys = [tuple(s.value(row, {}) for s in criteria.sort) for row in rows]
        result = ([row["id"] for row in rows], keys)
        with self._lock:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
                self._created.clear()
            self._cache[criteria.key] = result
        return result

    def _keyset_start(self, criteria: Criteria, ids: list[str]) -> int:
        """Where `createdAt >= created_from` begins in a result set sorted by createdAt first."""
        with self._lock:
            created = self._created.get(criteria.key)
        if created is None:
            created = [F.instant(self.rows[i]["createdAt"]) if self.rows[i].get("createdAt") else "" for i in ids]
            with self._lock:
                self._created[criteria.key] = created
        return bisect.bisect_left(created, criteria.created_from or "")

    def page(self, criteria: Criteria, rng: random.Random) -> tuple[list[dict], int]:
        """The rows of the requested page and the `total` its count mode asks for."""
        ids, keys = self.select(criteria)
        if criteria.created_from is not None:
            cut = self._keyset_start(criteria, ids)
            ids, keys = ids[cut:], keys[cut:] if keys is not None else None
        count = len(ids)
        start = min(criteria.offset, len(ids))
        end = len(ids) if criteria.limit is None else min(start + criteria.limit, len(ids))
        if keys is not None and start < end:
            ids = _unstable(ids, keys, start, end, rng)
            start, end = 0, end - start
        found = [self.rows[i] for i in ids[start:end] if i in self.rows]
        if criteria.count_mode == 1:
            total = count
        elif criteria.count_mode == 2 and criteria.limit is not None:
            total = min(count, criteria.offset + criteria.limit * 6 + 1)    # EntitySearcher reads 6 pages ahead
        else:
            total = len(found)
        return found, total


def _unstable(ids: list[str], keys: list[tuple], start: int, end: int, rng: random.Random) -> list[str]:
    """ids[start:end] after shuffling each run of equal sort keys that touches the page."""
    lo, hi = start, end
    while lo > 0 and keys[lo - 1] == keys[start]:
        lo -= 1
    while hi < len(ids) and keys[hi] == keys[end - 1]:
        hi += 1
    window, out, run = ids[lo:hi], [], [0]
    for i in range(1, len(window) + 1):
        if i == len(window) or keys[lo + i] != keys[lo + run[0]]:
            chunk = window[run[0]:i]
            rng.shuffle(chunk)
            out += chunk
            run[0] = i
    return out[start - lo:end - lo]
