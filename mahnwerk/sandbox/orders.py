"""Realistic WooCommerce v3 order objects, deterministic per seed, mixed like realshop/seed_orders.py.

Order i is a pure function of (seed, i), so a shop can index 100,000 orders cheaply and build an order's JSON
only when a client asks for it (OrderFactory); generate_orders() builds them all.
"""

from __future__ import annotations

import gc
import hashlib
import re
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from mahnwerk.sandbox import people as P
from mahnwerk.sandbox.dates import real_clock, wc_pair_ts

SITE_URL = "https://shop.example"
FIRST_ID = 1000
DAY = 86400

# Per 20 orders (payment method, status, paid), interleaved so that every id range has the same mix:
# 10 bacs on-hold (unpaid invoices), 3 completed + 1 processing paid, 1 cheque on-hold, 1 cod processing,
# 2 cancelled, 1 refunded (full refund), 1 pending.
PLAN = [
    ("bacs", "on-hold", False), ("bacs", "completed", True), ("bacs", "on-hold", False), ("cheque", "on-hold", False),
    ("bacs", "on-hold", False), ("bacs", "cancelled", False), ("bacs", "on-hold", False), ("bacs", "completed", True),
    ("cod", "processing", False), ("bacs", "on-hold", False), ("bacs", "refunded", True), ("bacs", "on-hold", False),
    ("bacs", "processing", True), ("bacs", "on-hold", False), ("bacs", "pending", False), ("bacs", "on-hold", False),
    ("bacs", "completed", True), ("bacs", "on-hold", False), ("bacs", "cancelled", False), ("bacs", "on-hold", False),
]
FULL_REFUND, PARTIAL_REFUND = (10, 20), (2, 40)      # i % 20 == 10 is refunded; i % 40 == 2 partly refunded on-hold
TIE_GROUP = (47, 48, 49)        # per 50 orders, three changed in the same second (a bulk action in wp-admin)
_MONEY: dict[int, str] = {}
NUMERIC = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")     # PHP's is_numeric()


def later(start: int, limit: int, delay: float) -> int:
    """`start` plus `delay`, squeezed proportionally into [start, limit] when it would pass `limit`."""
    room = limit - start
    if room <= 0:
        return start
    return start + int(delay if delay <= room else room * (delay % DAY) / DAY)


def money(cents: int) -> str:
    """Cents as WooCommerce's decimal string, e.g. 11900 -> '119.00' (cached: amounts repeat, strings are shared)."""
    text = _MONEY.get(cents)
    if text is None:
        sign, value = ("-", -cents) if cents < 0 else ("", cents)
        text = f"{sign}{value // 100}.{value % 100:02d}"
        if len(_MONEY) < 200_000:
            _MONEY[cents] = text
    return text


def to_cents(amount: object) -> int:
    """Cents of a decimal string, 0 for anything unparseable (a broken total is no reason to crash the shop)."""
    try:
        return int((Decimal(str(amount)) * 100).to_integral_value())
    except (InvalidOperation, ValueError, OverflowError):
        return 0


def php_number(raw: str) -> Decimal | None:
    """The value of a string PHP's is_numeric() accepts (blanks around it allowed), None for any other string."""
    return Decimal(raw.strip()) if NUMERIC.match(raw) else None


def generate_orders(n: int, *, seed: int = 0, start: datetime | None = None, days: float = 120,
                    now: datetime | None = None, timezone: str = "Europe/Berlin",
                    site_url: str = SITE_URL) -> list[dict]:
    """`n` orders created between `start` (default now - `days`) and start + `days`; same seed, same orders."""
    factory = OrderFactory(n, seed=seed, start=start, days=days, now=now, timezone=timezone, site_url=site_url)
    with paused_gc():
        return [factory.build(i) for i in range(n)]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic GC while building many containers: 100,000 orders hold no cycles, yet their dicts would
    trigger hundreds of collections over an ever larger heap (5x slower)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _count_before(i: int, rest: int, modulus: int) -> int:
    return max(0, (i - rest + modulus - 1) // modulus)


def _has_invoice(i: int) -> bool:
    return PLAN[i % 20][1] in ("on-hold", "processing", "completed", "refunded") and i % 5 != 4


_INVOICES_BEFORE = [sum(_has_invoice(j) for j in range(k)) for k in range(21)]


class OrderFactory:
    """The orders of one generated shop: cheap index rows for all, full order dicts on demand."""

    def __init__(self, n: int, *, seed: int = 0, start: datetime | None = None, days: float = 120,
                 now: datetime | None = None, timezone: str = "Europe/Berlin", site_url: str = SITE_URL) -> None:
        self.n, self.seed, self.tz, self.site_url = n, seed, ZoneInfo(timezone), site_url.rstrip("/")
        t_now = int((now or real_clock()).timestamp())
        self.t0 = int(start.timestamp()) if start else t_now - int(days * DAY)
        t_end = self.t0 + int(days * DAY)
        self.t_now = t_now if now is not None else max(t_now, t_end)
        self.slot = (min(t_end, self.t_now) - self.t0) / max(n, 1)

    def __len__(self) -> int:
        return self.n

    def order_id(self, i: int) -> int:
        """Ids grow with creation time; every refund takes the next id, as refunds are orders too."""
        return FIRST_ID + i + _count_before(i, *FULL_REFUND) + _count_before(i, *PARTIAL_REFUND)

    def row(self, i: int) -> tuple[int, str, str, str]:
        """(id, status, date_created_gmt, date_modified_gmt) without building the order."""
        created, modified, _, _ = self.times(i, self._rng(i)[0])
        return self.order_id(i), PLAN[i % 20][1], wc_pair_ts(created, self.tz)[1], wc_pair_ts(modified, self.tz)[1]

    def _rng(self, i: int) -> tuple[Callable[[], float], str]:
        """Order i's random numbers (next-float callable) and order key: a hash of (seed, i), so any order can be
        built alone; cheaper than seeding a random.Random per order."""
        digest = hashlib.blake2b(b"%d:%d" % (self.seed, i), digest_size=64).digest()
        return iter([v * 2.3283064365386963e-10 for v in struct.unpack("12I", digest[:48])]).__next__, digest[48:].hex()

    def times(self, i: int, r: Callable[[], float]) -> tuple[int, int, int | None, int | None]:
        """(created, modified, paid, completed) as unix times; modified >= created (like realshop's backdate.php)."""
        created, modified, paid, completed = self._own_times(i, r)
        if i % 50 in TIE_GROUP:
            base = i - i % 50
            members = [j for j in (base + k for k in TIE_GROUP) if j < self.n]
            latest = max(modified if j == i else self._own_times(j, self._rng(j)[0])[1] for j in members)
            modified = min(latest + (base * 7919 + self.seed) % 91, max(self.t_now, latest))
        return created, modified, paid, completed

    def _own_times(self, i: int, r: Callable[[], float]) -> tuple[int, int, int | None, int | None]:
        _, status, paid_plan = PLAN[i % 20]
        now = self.t_now
        created = self.t0 + int((i + r()) * self.slot)
        modified, paid, completed = created + int(r() * 4), None, None
        if paid_plan:  # each later step lands between the one before and now, spread out, never clamped to one second
            paid = modified = later(created, now - 60, (1 + 19 * r()) * DAY)
            if status in ("completed", "refunded"):
                completed = modified = later(paid, now - 30, 3 * r() * DAY)
        if status == "cancelled":
            modified = later(created, now - 30, (7 + 23 * r()) * DAY)
        if status == "refunded" or i % 40 == 2:
            modified = later(modified, now - 10, (1 + 9 * r()) * DAY)
        return created, min(modified, max(now, created)), paid, completed

    def build(self, i: int) -> dict:
        """The full REST v3 order object number i."""
        r, key_chars = self._rng(i)
        created, modified, paid_at, completed_at = self.times(i, r)
        method, status, paid = PLAN[i % 20]
        order_id = self.order_id(i)
        checkout = i % 3 == 0
        customer_id, billing = self.billing(i, r)
        if checkout:        # observed: checkout input comes back HTML-escaped, REST input verbatim
            billing = {k: v if k in ("email", "phone", "country", "postcode") else P.esc_html(v)
                       for k, v in billing.items()}
        shipping = {k: v for k, v in billing.items() if k != "email"}
        country = billing["country"]
        currency = P.CURRENCY_BY_COUNTRY.get(country, "EUR")
        rate_id, label, code, bp = P.TAX[country]
        item_id = i * 4 + 1
        items, net, tax = self.line_items(item_id, rate_id, bp, r)
        ship_tax = (490 * bp + 5000) // 10000
        total = net + tax + 490 + ship_tax
        refunds = []
        if status == "refunded":
            refunds = [{"id": order_id + 1, "reason": "Kunde hat storniert (Rückerstattung)", "total": money(-total)}]
        elif i % 40 == 2:
            refunds = [{"id": order_id + 1, "reason": "Teilgutschrift: Ware beschädigt",
                        "total": money(-min(1000, total))}]
        dc, dcg = wc_pair_ts(created, self.tz)
        dm, dmg = wc_pair_ts(modified, self.tz)
        dp, dpg = wc_pair_ts(paid_at, self.tz) if paid_at else (None, None)
        dd, ddg = wc_pair_ts(completed_at, self.tz) if completed_at else (None, None)
        key = "wc_order_" + key_chars[:13]
        return {
            "id": order_id, "parent_id": 0, "status": status, "currency": currency, "version": "10.0.2",
            "prices_include_tax": False, "date_created": dc, "date_modified": dm,
            "discount_total": "0.00", "discount_tax": "0.00", "shipping_total": "4.90", "shipping_tax": money(ship_tax),
            "cart_tax": money(tax), "total": money(total), "total_tax": money(tax + ship_tax),
            "customer_id": customer_id, "order_key": key, "billing": billing, "shipping": shipping,
            "payment_method": method, "payment_method_title": P.TITLES[method],
            "transaction_id": f"BANK-{i:06d}" if paid else "",
            "customer_ip_address": f"203.0.113.{i % 250 + 1}" if checkout else "",
            "customer_user_agent": P.USER_AGENT if checkout else "",
            "created_via": "checkout" if checkout else "rest-api",
            "customer_note": (P.esc_html(P.CUSTOMER_NOTE) if checkout else P.CUSTOMER_NOTE) if i % 9 == 0 else "",
            "date_completed": dd, "date_paid": dp, "cart_hash": "",
            "number": f"{dc[:4]}-{order_id}" if i % 10 == 4 else str(order_id),   # a sequential-numbers plugin
            "meta_data": self.meta(i, order_id, billing, created),
            "line_items": items,
            "tax_lines": [{"id": item_id + 2, "rate_code": code, "rate_id": rate_id, "label": label,
                           "compound": False, "tax_total": money(tax), "shipping_tax_total": money(ship_tax),
                           "rate_percent": bp / 100, "meta_data": []}] if bp else [],
            "shipping_lines": [{"id": item_id + 3, "method_title": "Versand", "method_id": "flat_rate",
                                "instance_id": "1", "total": "4.90", "total_tax": money(ship_tax),
                                "taxes": [{"id": rate_id, "total": money(ship_tax), "subtotal": ""}] if bp else [],
                                "tax_status": "taxable", "meta_data": []}],
            "fee_lines": [], "coupon_lines": [], "refunds": refunds,
            "payment_url": f"{self.site_url}/checkout/order-pay/{order_id}/?pay_for_order=true&key={key}",
            "is_editable": status in ("pending", "on-hold"),
            "needs_payment": status in ("pending", "failed"),     # false for on-hold: observed on the real shop
            "needs_processing": True,
            "date_created_gmt": dcg, "date_modified_gmt": dmg, "date_completed_gmt": ddg, "date_paid_gmt": dpg,
            "currency_symbol": P.CURRENCY_SYMBOLS[currency],
        }

    def billing(self, i: int, r) -> tuple[int, dict]:
        if i % 7 == 3:
            cid, first, last, company, (city, postcode, country) = P.CUSTOMERS[i % len(P.CUSTOMERS)]
            email, street = f"customer{cid - 1}@example.com", f"Hauptstraße {cid - 1}"
            address_2 = "c/o Buchhaltung" if company else ""
        else:
            cid = 0
            first, last = P.HOSTILE[(i // 23) % len(P.HOSTILE)] if i % 23 == 5 else P.PEOPLE[i % len(P.PEOPLE)]
            city, postcode, country = P.CITIES[int(r() * (len(P.CITIES) if i % 5 == 2 else 3))]
            company = P.COMPANIES[i % len(P.COMPANIES)] if i % 4 == 1 else ""      # ~25 % B2B
            email = f"Buyer{i}@Example.com" if i % 17 == 0 else f"buyer{i}@example.com"
            street, address_2 = f"Hauptstraße {i % 200 + 1}", P.ADDRESS_2[i % len(P.ADDRESS_2)]
        return cid, {"first_name": first, "last_name": last, "company": company, "address_1": street,
                     "address_2": address_2, "city": city, "state": P.STATES[country], "postcode": postcode,
                     "country": country, "email": email, "phone": "+49 30 123456" if i % 3 else ""}

    @staticmethod
    def line_items(item_id: int, rate_id: int, bp: int, r) -> tuple[list[dict], int, int]:
        count = len(P.PRODUCTS)
        first = int(r() * count)
        picks = [first, (first + 1 + int(r() * (count - 1))) % count] if r() < 0.4 else [first]
        items, net, tax = [], 0, 0
        for n, pick in enumerate(picks):
            pid, name, sku, price = P.PRODUCTS[pick]
            qty = 1 + int(r() * 3)
            sub = price * qty
            sub_tax = (sub * bp + 5000) // 10000
            net, tax = net + sub, tax + sub_tax
            items.append({"id": item_id + n, "name": name, "product_id": pid, "variation_id": 0, "quantity": qty,
                          "tax_class": "", "subtotal": money(sub), "subtotal_tax": money(sub_tax), "total": money(sub),
                          "total_tax": money(sub_tax),
                          "taxes": [{"id": rate_id, "total": money(sub_tax), "subtotal": money(sub_tax)}] if bp else [],
                          "meta_data": [], "sku": sku, "price": price / 100, "image": {"id": "", "src": ""},
                          "parent_name": None})
        return items, net, tax

    def meta(self, i: int, order_id: int, billing: dict, created: int) -> list[dict]:
        meta_id = iter(range(i * 8 + 1, i * 8 + 9))
        meta = []
        if billing["company"] and billing["country"] in P.VAT_IDS:
            number = 100000000 + i * 7919 % 899999999
            meta.append({"id": next(meta_id), "key": "vat_id", "value": P.VAT_IDS[billing["country"]].format(number)})
        if _has_invoice(i):
            # WooCommerce PDF Invoices & Packing Slips writes the invoice when the order mail goes out.
            number = (i // 20) * _INVOICES_BEFORE[20] + _INVOICES_BEFORE[i % 20] + 1
            stamp = created + 5
            local = wc_pair_ts(stamp, self.tz)[0]
            formatted = f"RE-{local[:4]}-{number:05d}"
            data = {"number": number, "formatted_number": formatted, "prefix": formatted[:8], "suffix": "",
                    "document_type": "invoice", "order_id": order_id, "padding": 5}
            meta += [{"id": next(meta_id), "key": "_wcpdf_invoice_number", "value": str(number)},
                     {"id": next(meta_id), "key": "_wcpdf_invoice_number_data", "value": data},
                     {"id": next(meta_id), "key": "_wcpdf_invoice_date", "value": str(stamp)},
                     {"id": next(meta_id), "key": "_wcpdf_invoice_date_formatted", "value": local.replace("T", " ")}]
        if i % 3 == 0:
            meta.append({"id": next(meta_id), "key": "is_vat_exempt", "value": "no"})
        return meta


def malformed_orders(*, first_id: int = 9_000_001) -> list[dict]:
    """Bacs on-hold orders broken the ways real shops break them, for quarantine tests."""
    base = OrderFactory(1, seed=99).build(0)
    broken = []
    changes: list[dict[str, str | None]] = [
        {"total": None}, {"total": "12,50"}, {"date_created": "not a date", "date_created_gmt": "not a date"},
        {"currency": "XXX"}, {"currency": ""}, {},
    ]
    for n, change in enumerate(changes):
        order = {**base, **change, "id": first_id + n, "number": str(first_id + n), "status": "on-hold",
                 "payment_method": "bacs", "payment_method_title": P.TITLES["bacs"],
                 "billing": dict(base["billing"]), "meta_data": [], "refunds": []}
        if not change:
            del order["total"]              # total missing altogether
        broken.append(order)
    return broken
