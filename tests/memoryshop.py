"""A shop kind that lives only in the tests: orders as neutral `ShopOrder` records in memory, behind the Protocols of
connectors/shop.py. Registered as kind "memory" (`memory_kind()`), it runs the whole flow through the same code
paths as WooCommerce, which proves that sync/ knows no shop kind (DESIGN.md, issue 14).

    with memory_kind():
        shop = open_shop(URL, token="t0k3n", orders=[invoice_order("1", days_ago=30, total="119.00")])
        ...  # a shop file with kind = "memory", url = URL, [shop.auth] token = "t0k3n"
        shop.messages                  # what the customers got, in order
        shop.fail_next("send_message", after=True)  # the next message arrives, but the answer is lost

What it keeps per order: the record (status, amounts, billing, the marker of the last completed action, deleted),
the customer messages, the progress shown on the order, private notes, line items. Every operation counts as one
request, checks the token, and may be made to fail before or after it takes effect (`fail_next`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Literal, TypeVar

from mahnwerk.connectors.kinds import ShopKind, ShopSettings, register, unregister
from mahnwerk.connectors.records import (
    BillingAddress,
    CustomerMessage,
    LineItem,
    LineItems,
    Page,
    PaidState,
    Progress,
    Rejected,
    ShopOrder,
    ShopProbe,
)
from mahnwerk.connectors.shop import UNKNOWN, ShopConnection
from mahnwerk.errors import ShopAuthFailed, ShopError, ShopRejected, ShopUnavailable

T = TypeVar("T")
NAME = "memory"
MAX_PAGE_SIZE = 50
OPEN, PART_PAID, PAID = "open", "partly_paid", "paid"  # the memory shop's own status words (and "cancelled", ...)
FindMode = Literal["key", "text", "nothing"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A customer message as the shop delivered it."""

    order_id: str
    message: CustomerMessage
    reference: str


@dataclass(frozen=True, slots=True)
class Note:
    """A private note (only the merchant sees it)."""

    order_id: str
    text: str
    reference: str


@dataclass
class Fault:
    """The next `times` calls of `operation` (for `order_id`, or any order) fail with `error`: before they take
    effect, or `after` it (the shop did it, the answer was lost: a timed-out POST)."""

    operation: str
    error: type[ShopError] = ShopUnavailable
    after: bool = False
    order_id: str | None = None
    times: int = 1


@dataclass
class MemoryShop:
    """One shop's state. Orders are kept as the shop has them (`paid_state` unset: what a status means is the
    merchant's `[statuses]` mapping, applied by the connection like a kind's parser does)."""

    url: str
    token: str = "t0k3n"
    payment_methods: dict[str, bool] = field(default_factory=lambda: {"invoice": True, "card": True})
    finds_by: FindMode = "key"  # how find_message recognises a message: by its key, by its text, or not at all
    clock: Callable[[], datetime] = utcnow
    orders: dict[str, ShopOrder] = field(default_factory=dict)
    broken: dict[str, Rejected] = field(default_factory=dict)  # records a parser would reject, by id
    broken_modified: dict[str, datetime] = field(default_factory=dict)
    lines: dict[str, list[LineItem | str]] = field(default_factory=dict)  # a str: a line that cannot be read
    messages: list[SentMessage] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    progress: dict[str, Progress] = field(default_factory=dict)
    set_paid_calls: list[tuple[str, bool]] = field(default_factory=list)  # every call: (order id, in_full)
    calls: Counter[str] = field(default_factory=Counter)  # operations asked for (failed ones included)
    faults: list[Fault] = field(default_factory=list)
    _last_modified: datetime = field(default=datetime.min.replace(tzinfo=UTC), repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # --- the test's side: what the shop holds, and changes "in the shop's admin" -------------------------------

    def add(self, *orders: ShopOrder, lines: Sequence[LineItem | str] | None = None) -> None:
        """New orders as given (their own modified_at); line items default to one line of the order's total."""
        with self._lock:
            for order in orders:
                self.orders[order.order_id] = order
                self.lines[order.order_id] = list(lines) if lines is not None else [
                    LineItem(f"Article of order {order.number}", Decimal(1), order.total)]
                self._last_modified = max(self._last_modified, order.modified_at)

    def update(self, order_id: str, **changes: object) -> ShopOrder:
        """Change an order as the merchant (or a plugin) would: modified now."""
        with self._lock:
            order = replace(self.orders[order_id], **changes, modified_at=self._tick())  # type: ignore[arg-type]
            self.orders[order_id] = order
            return order

    def trash(self, order_id: str) -> ShopOrder:
        """Into the shop's bin: still readable, flagged deleted."""
        return self.update(order_id, deleted=True)

    def remove(self, order_id: str) -> None:
        """Gone for good: the incremental read no longer sees it; a re-read by id lists it as missing."""
        with self._lock:
            del self.orders[order_id]

    def add_broken(self, record_id: str, *, field_name: str, message: str, payment_method: str = "invoice") -> None:
        """A record a parser rejects (quarantined by sync/, never dropped)."""
        with self._lock:
            self.broken[record_id] = Rejected(record_id, field_name, message, {"id": record_id},
                                              payment_method=payment_method)
            self.broken_modified[record_id] = self._tick()

    def fail_next(self, operation: str, *, after: bool = False, error: type[ShopError] = ShopUnavailable,
                  order_id: str | None = None, times: int = 1) -> None:
        """Make the next call(s) of `operation` (a method name of the connection) fail; see `Fault`."""
        with self._lock:
            self.faults.append(Fault(operation, error, after, order_id, times))

    def messages_to(self, order_id: str) -> list[SentMessage]:
        return [m for m in self.messages if m.order_id == order_id]

    def notes_of(self, order_id: str) -> list[str]:
        return [n.text for n in self.notes if n.order_id == order_id]

    # --- the shop's side, used by connections ------------------------------------------------------------------

    def _tick(self) -> datetime:
        """The shop's clock for a modification: now, strictly after the last modification it made."""
        self._last_modified = max(self.clock(), self._last_modified + timedelta(microseconds=1))
        return self._last_modified

    def _take_fault(self, operation: str, order_id: str | None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.operation == operation and fault.order_id in (None, order_id):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


SHOPS: dict[str, MemoryShop] = {}  # the shops `connect` finds, by URL (or by shop id)


def open_shop(url: str, *, orders: Iterable[ShopOrder] = (), token: str = "t0k3n", finds_by: FindMode = "key",
              clock: Callable[[], datetime] = utcnow) -> MemoryShop:
    """A new memory shop at `url` (registered for `connect`), holding `orders`."""
    shop = MemoryShop(url.rstrip("/"), token=token, finds_by=finds_by, clock=clock)
    shop.add(*orders)
    SHOPS[shop.url] = shop
    return shop


def invoice_order(order_id: str, *, days_ago: int, total: str, status: str = OPEN, method: str = "invoice",
                  refunded: str = "0", currency: str = "EUR", email: str | None = None, first_name: str = "Erika",
                  last_name: str = "Mustermann", company: str = "", country: str = "DE",
                  invoice_number: str | None = None, deleted: bool = False, vat_id: str = "",
                  now: datetime | None = None) -> ShopOrder:
    """An order placed `days_ago` days ago (and not changed since), in the memory shop's words."""
    created = (now or utcnow()) - timedelta(days=days_ago)
    return ShopOrder(
        order_id=order_id, number=f"M-{order_id}", status=status, payment_method=method, currency=currency,
        total=Decimal(total), refunded=Decimal(refunded), created_at=created, modified_at=created,
        paid_at=created if status == PAID else None,
        billing=BillingAddress(first_name=first_name, last_name=last_name, company=company,
                               address_1=f"Musterstraße {order_id}", postcode="10115", city="Berlin", country=country,
                               email=f"customer{order_id}@example.org" if email is None else email),
        invoice_number=invoice_number or f"RE-2026-{int(order_id):05d}", deleted=deleted, vat_id=vat_id)


class MemoryConnection:
    """A connection to one memory shop (connectors/shop.ShopConnection), made by `connect` from the settings."""

    def __init__(self, settings: ShopSettings) -> None:
        self.settings = settings
        self.shop = SHOPS.get(settings.url) or SHOPS.get(settings.shop_id)
        self.requests = 0
        self.closed = False

    # --- OrderReader -------------------------------------------------------------------------------------------

    @property
    def requests_made(self) -> int:
        return self.requests

    def changed_pages(self, since: datetime | None) -> Iterator[Page[ShopOrder]]:
        """Every order (bin included) and rejected record modified after `since`, oldest first, a page at a time."""
        shop = self._shop("changed_pages", None)
        with shop._lock:
            changed: list[tuple[datetime, str, ShopOrder | Rejected]] = [
                (o.modified_at, o.order_id, o) for o in shop.orders.values()]
            changed += [(shop.broken_modified[r.record_id], r.record_id, r) for r in shop.broken.values()]
        changed = sorted((c for c in changed if since is None or c[0] > since), key=lambda c: (c[0], c[1]))

        def page(chunk: list[tuple[datetime, str, ShopOrder | Rejected]]) -> Callable[[], Page[ShopOrder]]:
            return lambda: Page(records=[self._view(item) for _, _, item in chunk if isinstance(item, ShopOrder)],
                                rejected=[item for _, _, item in chunk if isinstance(item, Rejected)],
                                newest=max((modified for modified, _, _ in chunk), default=None), total=len(changed))

        size = self.settings.page_size
        for start in range(0, max(len(changed), 1), size):  # an empty shop still answers with an empty page
            yield self._call("changed_pages", None, page(changed[start:start + size]))

    def orders_by_id(self, ids: Sequence[str]) -> Iterator[Page[ShopOrder]]:
        """The orders' current state, a page per `page_size` ids; ids the shop does not have are `missing`."""
        size = self.settings.page_size
        for start in range(0, len(ids), size):
            yield self._call("orders_by_id", None, partial(self._by_id, list(ids[start:start + size])))

    def probe(self) -> ShopProbe:
        if self.shop is None:
            return ShopProbe(False, False, {}, f"no memory shop answers at {self.settings.url}")
        if self.settings.credentials.get("token") != self.shop.token:
            return ShopProbe(True, False, {}, f"the token was refused ({KIND.auth_hint})")
        methods = dict(self.shop.payment_methods)
        return self._call("probe", None, lambda: ShopProbe(True, True, methods))

    # --- ShopActions -------------------------------------------------------------------------------------------

    def current(self, order_id: str) -> Page[ShopOrder]:
        return self._call("current", order_id, lambda: self._by_id([order_id]))

    def send_message(self, order_id: str, message: CustomerMessage) -> str:
        """Delivered at once, every time it is asked (the shop does not de-duplicate: that is sync/'s work)."""
        def send() -> str:
            shop = self._order_shop(order_id)
            reference = f"message {len(shop.messages) + 1}"
            shop.messages.append(SentMessage(order_id, message, reference))
            return reference
        return self._call("send_message", order_id, send)

    def find_message(self, order_id: str, message: CustomerMessage) -> str | None:
        """By the key (stored with every message) or by subject and text; UNKNOWN when the shop keeps no log."""
        def find() -> str | None:
            shop = self._order_shop(order_id)
            if shop.finds_by == "nothing":
                return UNKNOWN
            for sent in shop.messages_to(order_id):
                if (sent.message.key == message.key if shop.finds_by == "key" else
                        (sent.message.subject, sent.message.text.strip()) == (message.subject, message.text.strip())):
                    return sent.reference
            return None
        return self._call("find_message", order_id, find)

    def record_progress(self, order_id: str, progress: Progress) -> None:
        """The progress on the order, the marker last; the order is modified only when something changed."""
        def record() -> None:
            shop = self._order_shop(order_id)
            if shop.progress.get(order_id) != progress:
                shop.progress[order_id] = progress
                shop.update(order_id, marker=progress.marker)
        self._call("record_progress", order_id, record)

    def add_private_note(self, order_id: str, text: str) -> str:
        def add() -> str:
            shop = self._order_shop(order_id)
            reference = f"note {len(shop.notes) + 1}"
            shop.notes.append(Note(order_id, text, reference))
            return reference
        return self._call("add_private_note", order_id, add)

    def has_private_note(self, order_id: str, key: str) -> bool:
        return self._call("has_private_note", order_id,
                          lambda: any(key in text for text in self._order_shop(order_id).notes_of(order_id)))

    def set_paid(self, order_id: str, *, in_full: bool) -> None:
        """Paid: the merchant's paid status; in part: "partly_paid" (still open). Only while the order waits for its
        money, and only when the merchant wants the shop told (`mark_paid`)."""
        def mark() -> None:
            shop = self._order_shop(order_id)
            shop.set_paid_calls.append((order_id, in_full))
            order = self._view(shop.orders[order_id])
            if not self.settings.mark_paid or order.paid_state != PaidState.OPEN:
                return
            status = (self.settings.paid_status or KIND.default_paid_status) if in_full else PART_PAID
            if order.status != status:
                shop.update(order_id, status=status, paid_at=shop.clock() if in_full else None)
        self._call("set_paid", order_id, mark)

    def line_items(self, order_id: str) -> LineItems:
        def read() -> LineItems:
            found = LineItems()
            for number, line in enumerate(self._order_shop(order_id).lines.get(order_id, []), 1):
                if isinstance(line, LineItem):
                    found.items.append(line)
                else:
                    found.problems.append(f"order {order_id} line {number}: {line}")
            return found
        return self._call("line_items", order_id, read)

    def close(self) -> None:
        self.closed = True

    # --- inside ------------------------------------------------------------------------------------------------

    def _shop(self, operation: str, order_id: str | None) -> MemoryShop:
        """The shop, when it answers and accepts the token (one request)."""
        assert not self.closed, "a closed connection was used"
        if self.shop is None:
            self.requests += 1
            raise ShopUnavailable(f"shop '{self.settings.shop_id}': cannot connect: no memory shop at "
                                  f"{self.settings.url}", shop=self.settings.shop_id, method=operation,
                                  url=self.settings.url)
        if self.settings.credentials.get("token") != self.shop.token:
            self.requests += 1
            self.shop.calls[operation] += 1
            raise ShopAuthFailed(f"shop '{self.settings.shop_id}': 401 the token was refused",
                                 shop=self.settings.shop_id, method=operation, url=self.settings.url, status=401)
        return self.shop

    def _call(self, operation: str, order_id: str | None, apply: Callable[[], T]) -> T:
        """One request: counted, authenticated, then done, unless a fault makes it fail before or after."""
        shop = self._shop(operation, order_id)
        self.requests += 1
        shop.calls[operation] += 1
        fault = shop._take_fault(operation, order_id)
        if fault is not None and not fault.after:
            raise self._error(fault, operation, order_id, "before the shop did it")
        with shop._lock:
            result = apply()
        if fault is not None:
            raise self._error(fault, operation, order_id, "after the shop did it; the answer was lost")
        return result

    def _error(self, fault: Fault, operation: str, order_id: str | None, when: str) -> ShopError:
        status = 503 if issubclass(fault.error, ShopUnavailable) else 401 if fault.error is ShopAuthFailed else 400
        return fault.error(f"shop '{self.settings.shop_id}': {operation}({order_id or ''}) failed {when} ({status})",
                           shop=self.settings.shop_id, method=operation, url=self.settings.url, status=status)

    def _order_shop(self, order_id: str) -> MemoryShop:
        """The shop, when it has this order (else a 404, as any shop answers for an order it does not have)."""
        assert self.shop is not None
        if order_id not in self.shop.orders:
            raise ShopRejected(f"shop '{self.settings.shop_id}': 404 no order {order_id}", shop=self.settings.shop_id,
                               url=self.settings.url, status=404)
        return self.shop

    def _by_id(self, ids: Sequence[str]) -> Page[ShopOrder]:
        assert self.shop is not None
        found = [self._view(self.shop.orders[i]) for i in ids if i in self.shop.orders]
        rejected = [self.shop.broken[i] for i in ids if i in self.shop.broken and i not in self.shop.orders]
        missing = [i for i in ids if i not in self.shop.orders and i not in self.shop.broken]
        modified = [o.modified_at for o in found] + [self.shop.broken_modified[r.record_id] for r in rejected]
        return Page(records=found, rejected=rejected, missing=missing, newest=max(modified, default=None))

    def _view(self, order: ShopOrder) -> ShopOrder:
        """The order with what its status means to this merchant (as a kind's parser reads it)."""
        return replace(order, paid_state=self.settings.statuses.get(order.status))


def connect(settings: ShopSettings) -> ShopConnection:
    """A connection to the memory shop at the settings' URL (no I/O until it is used, like an HTTP client)."""
    return MemoryConnection(settings)


KIND = ShopKind(
    name=NAME,
    title="Memory shop (tests)",
    auth_keys=("token",),
    max_page_size=MAX_PAGE_SIZE,
    default_statuses={"open": (OPEN, PART_PAID), "paid": (PAID,), "cancelled": ("cancelled",),
                      "refunded": ("refunded",)},
    default_invoice_methods=("invoice",),
    default_paid_status=PAID,
    auth_hint="check token in [shop.auth]",
    connect=connect,
)


@contextmanager
def memory_kind() -> Iterator[ShopKind]:
    """The memory kind registered (for the configuration and `connect_shop`) while inside; afterwards it and every
    memory shop are gone again."""
    register(KIND)
    try:
        yield KIND
    finally:
        unregister(NAME)
        SHOPS.clear()
