"""A small in-process cache for figures that take seconds to compute (the planner's pass over every open claim):
each value is kept for a while, and requests that ask at the same time wait for one computation, not start their
own."""

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
        with lock:
            found = self.values.get(key)
            if found is not None and self.clock() - found[0] < self.ttl:
                return found[1]
            value = compute()
            self.values[key] = (self.clock(), value)
            return value

    def clear(self) -> None:
        with self.guard:
            self.values.clear()


def app_cache(name: str, ttl: float) -> TimedCache:
    """The application's cache called `name` (made on first use)."""
    caches = current_app.extensions.setdefault("mahnwerk.caches", {})
    found = caches.setdefault(name, TimedCache(ttl))  # one atomic step: two first requests get the same cache
    assert isinstance(found, TimedCache)
    return found
