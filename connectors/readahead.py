"""Read ahead: run an iterator of HTTP responses in a background thread, so waiting for the shop overlaps with
parsing and storing the page before. Order is kept; the consumer still commits page by page."""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Iterator
from typing import Final, TypeVar

T = TypeVar("T")


class _End(enum.Enum):
    """The producer's last entry: no more items (and the error that ended them, if any)."""

    END = 0


_DONE: Final = _End.END


def read_ahead(items: Iterator[T], *, depth: int = 2) -> Iterator[T]:
    """Yield what `items` yields, produced up to `depth` items ahead in a daemon thread; errors re-raise here."""
    buffer: queue.Queue[tuple[T | _End, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[T | _End, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as exc:
            put((_DONE, exc))

    worker = threading.Thread(target=produce, name="mahnwerk-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = buffer.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)  # a producer stuck in a request ends with its timeout; it is a daemon either way
