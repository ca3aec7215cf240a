"""What a shop kind provides, as Protocols over the shop-neutral records of connectors/records.py.

sync/ talks to every shop through these two and nothing else; a kind is one package in connectors/ plus one
registry entry (connectors/kinds.py). A kind that lives only in the tests (tests/memoryshop.py) runs the whole flow
through them, which is how the core proves it knows no shop kind.

    OrderReader     the mirror's side: changed orders since a cursor, orders by id, the `check` probe
    ShopActions     the executor's side: re-read one order, post a customer message and find it again after a
                    crash, record progress on the order, private notes, the paid state, line items

Exactly once is shared work: sync/ writes the outbox row first; the kind posts a message at most once per call
(never retried blindly: a timed-out POST may have arrived) and says what an interrupted attempt left behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from mahnwerk.connectors.records import CustomerMessage, LineItems, Page, Progress, ShopOrder, ShopProbe

UNKNOWN = "?unknown"  # `find_message`: nobody can tell whether an interrupted attempt reached the customer


class OrderReader(Protocol):
    """Reading a shop's orders, a page at a time."""

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far (retries included)."""
        ...

    def changed_pages(self, since: datetime | None) -> Iterator[Page[ShopOrder]]:
        """Every order changed after `since` (all orders when None); each page's `newest` is how far the cursor
        may move once that page is stored, in the shop's own time (None: not yet, e.g. before the last page of a
        read whose order is not the order of changes)."""
        ...

    def orders_by_id(self, ids: Sequence[str]) -> Iterator[Page[ShopOrder]]:
        """The current state of these orders; ids the shop no longer has at all are listed in `Page.missing`."""
        ...

    def probe(self) -> ShopProbe:
        """Reachable? Credentials accepted? Which payment methods exist and are enabled? (`detail` says why not,
        with the kind's own hint for the merchant.)"""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class ShopActions(Protocol):
    """Acting on one shop's orders through its own channels."""

    def current(self, order_id: str) -> Page[ShopOrder]:
        """The order as the shop has it now (deleted ones flagged; gone ones in `missing`): re-read before acting."""
        ...

    def send_message(self, order_id: str, message: CustomerMessage) -> str:
        """Deliver `message` to the order's customer through the shop; a reference for the record. Sent once:
        ShopUnavailable means it may or may not have arrived (ask `find_message` before sending again)."""
        ...

    def find_message(self, order_id: str, message: CustomerMessage) -> str | None:
        """What an interrupted `send_message` left behind: its reference when it arrived, None when it surely did
        not, UNKNOWN when the shop cannot tell (a person decides; nothing is sent twice)."""
        ...

    def record_progress(self, order_id: str, progress: Progress) -> None:
        """Show where dunning stands on the order, the marker last (idempotent)."""
        ...

    def add_private_note(self, order_id: str, text: str) -> str:
        """A note only the merchant sees; a reference."""
        ...

    def has_private_note(self, order_id: str, key: str) -> bool:
        """Is there a private note naming `key` (an interrupted attempt's)?"""
        ...

    def set_paid(self, order_id: str, *, in_full: bool) -> None:
        """Tell the shop the order's money came in (in full or in part), where the kind has a way to say it and the
        order still waits for its money (idempotent)."""
        ...

    def line_items(self, order_id: str) -> LineItems:
        """What the order consists of, for the agency; unreadable lines are named in `problems`."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class ShopConnection(OrderReader, ShopActions, Protocol):
    """One connected shop: both sides, as a kind's `connect` returns it."""
