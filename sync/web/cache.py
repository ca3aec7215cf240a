"""A small in-process cache for figures that take seconds to compute (the planner's pass over every open claim).
The first request computes the value (requests asking at the same time wait for that one computation); after
`ttl` seconds the old value is still answered while a thread computes the new one, so only the very first
visitor waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import current_app

T = TypeVar("T")


class TimedCache:
    """Values by key, each for `ttl` seconds after it was computed."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self.values: dict[Hashable, tuple[float, Any]] = {}
        self.locks: dict[Hashable, threading.Lock] = {}
        self.guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self.guard:
            lock = self.locks.setdefault(key, threading.Lock())
            found = self.values.get(key)
        if found is not None:
            if self.clock() - found[0] >= self.ttl and lock.acquire(blocking=False):  # one refresh at a time
                threading.Thread(target=self._refresh, args=(key, compute, lock), daemon=True,
                                 name="cache-refresh").start()
            return found[1]
        with lock:
            if (found := self.values.get(key)) is None:  # not computed by a request that held the lock before
                found = self._store(key, compute())
            return found[1]

    def _store(self, key: Hashable, value: Any) -> tuple[float, Any]:
        with self.guard:
            self.values[key] = (self.clock(), value)
            return self.values[key]

    def _refresh(self, key: Hashable, compute: Callable[[], Any], lock: threading.Lock) -> None:
        try:
            self._store(key, compute())
        finally:
            lock.release()

    def clear(self) -> None:
        with self.guard:
            self.values.clear()


def app_cache(name: str, ttl: float) -> TimedCache:
    """The application's cache called `name` (made on first use)."""
    caches = current_app.extensions.setdefault("mahnwerk.caches", {})
    found = caches.setdefault(name, TimedCache(ttl))  # one atomic step: two first requests get the same cache
    assert isinstance(found, TimedCache)
    return found
