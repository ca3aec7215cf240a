"""WooSandbox: the state of one fake WooCommerce shop and what tests may do to it behind the API's back."""

from __future__ import annotations

import copy
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from mahnwerk.sandbox import refunds
from mahnwerk.sandbox.customers import default_customers
from mahnwerk.sandbox.dates import gmt_to_local, local_to_gmt, real_clock, wc_pair
from mahnwerk.sandbox.faults import FaultArming, FaultPlan
from mahnwerk.sandbox.gateways import default_gateways
from mahnwerk.sandbox.notes import NoteBook, status_mail
from mahnwerk.sandbox.orders import SITE_URL, OrderFactory, paused_gc, to_cents
from mahnwerk.sandbox.store import OrderStore

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "checkout-draft")
DATE_FIELDS = ("date_created", "date_modified", "date_paid", "date_completed")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the shop saw it, with the status it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int


class WooSandbox(FaultArming):
    """A WooCommerce shop in memory: orders, notes, gateways, keys, armed faults and a log of requests."""

    DEFAULT_KEY = "ck_" + "5a4d" * 10
    DEFAULT_SECRET = "cs_" + "c0ffee42" * 5

    def __init__(self, orders: Iterable[dict] | OrderFactory = (), *, consumer_key: str = DEFAULT_KEY,
                 consumer_secret: str = DEFAULT_SECRET, timezone: str = "Europe/Berlin",
                 gateways: list[dict] | None = None, site_title: str = "Mahnwerk Sandbox",
                 permissions: str = "read_write", api_user: str = "admin") -> None:
        self.consumer_key, self.consumer_secret, self.permissions = consumer_key, consumer_secret, permissions
        self.timezone, self.tz, self.site_title, self.api_user = timezone, ZoneInfo(timezone), site_title, api_user
        self.gateways = gateways if gateways is not None else default_gateways()
        self.clock: Callable[[], datetime] = real_clock
        self.requests: list[RecordedRequest] = []
        self.mails: list[dict] = []
        self.lock = threading.RLock()
        self.faults = FaultPlan()
        self.notes = NoteBook(self.tz)
        self.refunds = refunds.RefundBook()
        self.customers: dict[int, dict] = default_customers()  # registered customers by WP user id, with role
        # Called with (method, path, "before"|"after") around each request; True drops the connection unanswered.
        self.on_request: Callable[[str, str, str], bool] | None = None
        self._meta_id = 50_000_000
        with paused_gc():
            self._load(orders)

    def _load(self, orders: Iterable[dict] | OrderFactory) -> None:
        if isinstance(orders, OrderFactory):
            self.store = OrderStore(orders)
            self._next_id = orders.order_id(len(orders))     # past the last order and its refund
        else:
            orders = list(orders)
            taken = [o["id"] for o in orders if isinstance(o.get("id"), int)]
            taken += [r["id"] for o in orders for r in o.get("refunds") or [] if isinstance(r.get("id"), int)]
            self._next_id = max(taken, default=999) + 1
            self.store = OrderStore()
            self.store.load([self._complete(order) for order in orders])

    @classmethod
    def generated(cls, n: int, *, seed: int = 0, site_url: str = SITE_URL, **shop_options) -> WooSandbox:
        """A shop with generate_orders(n, seed=seed), built lazily: fast and small even for 100,000 orders."""
        factory = OrderFactory(n, seed=seed, timezone=shop_options.get("timezone", "Europe/Berlin"), site_url=site_url)
        return cls(factory, **shop_options)

    # -- faults and the request log -------------------------------------------------------------------------------

    def fail_next(self, status: int = 429, *, retry_after: float | None = 1, times: int = 1,
                  path_contains: str | None = None) -> None:
        """The next `times` matching requests answer `status` with a WP_Error body (and Retry-After if given);
        unlike the payment providers, the shop sends Retry-After: 1 unless told otherwise."""
        super().fail_next(status, times=times, retry_after=retry_after, path_contains=path_contains)

    def record(self, request: RecordedRequest) -> None:
        """Append to `requests` (the server calls this once per answered request)."""
        with self.lock:
            self.requests.append(request)

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- orders ---------------------------------------------------------------------------------------------------

    def take_id(self) -> int:
        """The next post id; orders and refunds share one sequence."""
        with self.lock:
            self._next_id += 1
            return self._next_id - 1

    def now_pair(self) -> tuple[str, str]:
        """(local, gmt) strings of the shop clock's now."""
        return wc_pair(self.clock(), self.tz)

    def order(self, order_id: int) -> dict:
        """A deep copy of the stored order; KeyError if there is none."""
        with self.lock:
            order = self.store.get(order_id)
        if order is None:
            raise KeyError(order_id)
        return copy.deepcopy(order)

    def add_order(self, order: dict) -> dict:
        """Store an order, filling id, number, order_key and dates when missing; returns a copy."""
        with self.lock:
            order = self._complete(order)
            self.store.put(order)
            self._next_id = max(self._next_id, order["id"] + 1)
        return copy.deepcopy(order)

    def _complete(self, order: dict) -> dict:
        pairs_ok = all(bool(order.get(name)) == bool(order.get(name + "_gmt")) for name in DATE_FIELDS)
        if pairs_ok and order.get("id") is not None and order.get("number") is not None \
                and order.get("order_key") and order.get("date_created_gmt") and order.get("date_modified_gmt"):
            return order                    # taken over as is; the shop never changes a stored dict in place
        order = dict(order)
        if order.get("id") is None:
            order["id"] = self._next_id
        self._next_id = max(self._next_id, order["id"] + 1)
        if order.get("number") is None:
            order["number"] = str(order["id"])
        if not order.get("order_key"):
            order["order_key"] = "wc_order_" + secrets.token_hex(7)[:13]
        if not order.get("date_created") and not order.get("date_created_gmt"):
            order["date_created"], order["date_created_gmt"] = self.now_pair()
        self._pair_dates(order)
        if not order.get("date_modified") and not order.get("date_modified_gmt"):
            order["date_modified"], order["date_modified_gmt"] = order["date_created"], order["date_created_gmt"]
        return order

    def _pair_dates(self, order: dict) -> None:
        """Derive a missing local/gmt half of each date pair from the other half."""
        for name in DATE_FIELDS:
            local, gmt = order.get(name), order.get(name + "_gmt")
            try:
                if local and not gmt:
                    order[name + "_gmt"] = local_to_gmt(local, self.tz)
                elif gmt and not local:
                    order[name] = gmt_to_local(gmt, self.tz)
            except (TypeError, ValueError):
                pass                        # a broken date stays broken: quarantine tests need that

    def update_order(self, order_id: int, **fields) -> dict:
        """Change top-level fields like the merchant in wp-admin: bumps date_modified, status side effects apply."""
        return self.change(order_id, fields, bump=True)

    def touch_without_modifying(self, order_id: int, **fields) -> dict:
        """Change top-level fields verbatim without bumping date_modified (some real changes do not bump it)."""
        return self.change(order_id, fields, bump=False, side_effects=False)

    def change(self, order_id: int, fields: dict, *, bump: bool, side_effects: bool = True,
               meta: list[dict] | None = None, only_if_changed: bool = False) -> dict:
        """Apply fields (and meta_data upserts) to a copy of the order and store it; returns a copy.

        only_if_changed: a save that changes nothing leaves the order alone (no date_modified bump), like a REST
        PUT whose values equal the stored ones.
        """
        with self.lock:
            old = self.store.get(order_id)
            if old is None:
                raise KeyError(order_id)
            self.refunds.of(old)            # date refunds it was loaded with before date_modified moves on
            order, fields = copy.deepcopy(old), dict(fields)
            status = fields.pop("status", None) if side_effects else None
            order.update(copy.deepcopy(fields))
            for name in DATE_FIELDS:        # one half of a date pair given: the other half follows it
                if (name in fields) != (name + "_gmt" in fields):
                    order[name if name + "_gmt" in fields else name + "_gmt"] = None
            for item in meta or []:
                self._upsert_meta(order, item)
            if status is not None and status != order.get("status"):
                self._set_status(order, status)
            if only_if_changed and order == old:
                return copy.deepcopy(order)
            if bump and not any(k.startswith("date_modified") for k in fields):
                order["date_modified"], order["date_modified_gmt"] = self.now_pair()
            self._pair_dates(order)
            self.store.put(order)
            return copy.deepcopy(order)

    def _set_status(self, order: dict, status: str) -> None:
        """Status transition side effects of WC_Order: date_paid, date_completed, flags, customer mail."""
        order["status"] = status
        local, gmt = self.now_pair()
        if status in ("processing", "completed") and not order.get("date_paid"):
            order["date_paid"], order["date_paid_gmt"] = local, gmt         # WC_Order::maybe_set_date_paid()
        if status == "completed" and not order.get("date_completed"):
            order["date_completed"], order["date_completed_gmt"] = local, gmt
        order["is_editable"] = status in ("pending", "on-hold", "auto-draft")
        order["needs_payment"] = status in ("pending", "failed") and to_cents(order.get("total")) > 0
        if status == "refunded":
            refunds.refund_the_rest(self, order)        # hooked to woocommerce_order_status_refunded
        mail = status_mail(order, status, self.site_title)
        if mail:
            self.mails.append(mail)

    def _upsert_meta(self, order: dict, item: dict) -> None:
        meta = order.setdefault("meta_data", [])
        for entry in meta:
            same = entry.get("id") == item["id"] if item.get("id") else entry.get("key") == item["key"]
            if same:
                entry["value"] = item.get("value")
                return
        meta.append({"id": self.next_meta_id(), "key": item["key"], "value": item.get("value")})

    def next_meta_id(self) -> int:
        self._meta_id += 1
        return self._meta_id

    def refund(self, order_id: int, amount: str, reason: str = "") -> dict:
        """Refund like the merchant in wp-admin (wc_create_refund(), as POST /orders/{id}/refunds does) and return
        the order's new `refunds` entry; refunding what is left makes it 'refunded'. Unlike WooCommerce it takes
        any amount, even more than is left, so tests can build any state."""
        return refunds.summary(refunds.create_refund(self, order_id, str(amount), reason, check=False))

    def trash(self, order_id: int) -> dict:
        """Move to the trash: listed only with status=trash, still readable by id."""
        with self.lock:
            return self.change(order_id, {"status": "trash"}, bump=True, side_effects=False)

    def delete(self, order_id: int) -> None:
        """Delete for good: 404 from then on."""
        with self.lock:
            order = self.store.get(order_id)
            if order is None:
                raise KeyError(order_id)
            self.refunds.forget(order)
            self.store.remove(order_id)
            self.notes.remove(order_id)
