"""The sandbox's order table: orders by id plus sorted indexes, so a page of 100,000 orders is a bisect and a slice.

Stored order dicts are never changed in place (mutations store a new dict), so a reader may serialize a dict it
got from the store after releasing the lock. Orders from an OrderFactory are built only when read.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter

from mahnwerk.sandbox.orders import OrderFactory

SORT_FIELDS = ("modified", "created", "id")


@dataclass(slots=True)
class Row:
    """What the indexes need to know about one order; `order` is None while it is still a factory order."""

    status: str
    created: str
    modified: str
    order: dict | None = None
    lazy: int = -1


@dataclass
class Selection:
    """A filter over the orders table; dates are UTC strings, bounds exclusive (WordPress date_query)."""

    statuses: frozenset[str]
    sort: str = "created"
    descending: bool = True
    ranges: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    include: list[int] = field(default_factory=list)
    exclude: frozenset[int] = frozenset()
    by_include: bool = False


def _key(row: Row, sort: str, order_id: int) -> str | int:
    return order_id if sort == "id" else getattr(row, sort)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""     # a broken date still needs a place in the index


class OrderStore:
    """Orders by id with indexes sorted by (date_modified_gmt, id), (date_created_gmt, id) and id."""

    def __init__(self, factory: OrderFactory | None = None) -> None:
        self.factory = factory
        self.rows: dict[int, Row] = {}
        self._index: dict[str, list[tuple[str | int, int]]] = {name: [] for name in SORT_FIELDS}
        self._views: dict[tuple[frozenset[str], str], list[tuple[str | int, int]]] = {}
        if factory is not None:
            for i in range(len(factory)):
                order_id, status, created, modified = factory.row(i)
                self.rows[order_id] = Row(status, created, modified, None, i)
            self._reindex()

    def load(self, orders: Iterable[dict]) -> None:
        """Add many orders at once and sort the indexes once."""
        for order in orders:
            self.rows[order["id"]] = self._row(order)
        self._reindex()

    def _reindex(self) -> None:
        for name in SORT_FIELDS:
            self._index[name] = sorted((_key(row, name, oid), oid) for oid, row in self.rows.items())
        self._views.clear()

    @staticmethod
    def _row(order: dict) -> Row:
        return Row(str(order.get("status")), _text(order.get("date_created_gmt")),
                   _text(order.get("date_modified_gmt")), order)

    def get(self, order_id: int) -> dict | None:
        """The stored order (do not modify it), or None."""
        row = self.rows.get(order_id)
        return None if row is None else self.materialize(row)

    def materialize(self, row: Row) -> dict:
        """The row's order dict; factory orders are built on each read (no lock needed: rows never change)."""
        if row.order is not None:
            return row.order
        assert self.factory is not None  # only a factory makes rows without an order
        return self.factory.build(row.lazy)

    def put(self, order: dict) -> None:
        """Insert or replace one order, keeping the indexes sorted."""
        order_id = order["id"]
        old = self.rows.get(order_id)
        new = self._row(order)
        for name in SORT_FIELDS:
            index = self._index[name]
            if old is not None:
                entry = (_key(old, name, order_id), order_id)
                del index[bisect_left(index, entry)]
            insort(index, (_key(new, name, order_id), order_id))
        self.rows[order_id] = new
        self._views.clear()

    def remove(self, order_id: int) -> None:
        row = self.rows.pop(order_id)
        for name in SORT_FIELDS:
            index = self._index[name]
            del index[bisect_left(index, (_key(row, name, order_id), order_id))]
        self._views.clear()

    def max_id(self) -> int:
        return self._index["id"][-1][1] if self.rows else 0

    def _view(self, statuses: frozenset[str], sort: str) -> list[tuple[str | int, int]]:
        """The index for `sort` restricted to `statuses`, cached until the next change."""
        view = self._views.get((statuses, sort))
        if view is None:
            rows = self.rows
            view = [entry for entry in self._index[sort] if rows[entry[1]].status in statuses]
            self._views[(statuses, sort)] = view
        return view

    def select(self, sel: Selection, offset: int, limit: int) -> tuple[int, list[int]]:
        """(total matches, ids of the requested window) for a selection."""
        if sel.include:
            matched = self._included(sel)
        else:
            view = self._view(sel.statuses, sel.sort)
            lo, hi = 0, len(view)
            after, before = sel.ranges.get(sel.sort, (None, None))
            if after is not None:
                lo = bisect_right(view, after, key=itemgetter(0))
            if before is not None:
                hi = max(lo, bisect_left(view, before, key=itemgetter(0)))
            others = {name: bounds for name, bounds in sel.ranges.items() if name != sel.sort}
            if not others and not sel.exclude:
                return hi - lo, self._window(view, lo, hi, sel.descending, offset, limit)
            keep = self._filter(others, sel.exclude)
            matched = [oid for _, oid in view[lo:hi] if keep(oid)]
        if sel.descending and not sel.by_include:
            matched.reverse()
        return len(matched), matched[offset:offset + limit]

    @staticmethod
    def _window(view: list, lo: int, hi: int, descending: bool, offset: int, limit: int) -> list[int]:
        if descending:
            start, stop = max(lo, hi - offset - limit), hi - offset
            return [oid for _, oid in reversed(view[start:stop])] if stop > lo else []
        return [oid for _, oid in view[lo + offset:min(hi, lo + offset + limit)]]

    def _filter(self, ranges: dict[str, tuple[str | None, str | None]], exclude: frozenset[int]):
        rows = self.rows

        def keep(order_id: int) -> bool:
            if order_id in exclude:
                return False
            row = rows[order_id]
            for name, (after, before) in ranges.items():
                value = getattr(row, name)
                if (after is not None and value <= after) or (before is not None and value >= before):
                    return False
            return True
        return keep

    def _included(self, sel: Selection) -> list[int]:
        keep = self._filter(sel.ranges, sel.exclude)
        found = [oid for oid in dict.fromkeys(sel.include)
                 if oid in self.rows and self.rows[oid].status in sel.statuses and keep(oid)]
        if not sel.by_include:
            found.sort(key=lambda oid: (_key(self.rows[oid], sel.sort, oid), oid))
        return found
