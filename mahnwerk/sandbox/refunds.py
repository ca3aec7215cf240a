"""Refunds as WooCommerce 10 makes them: wc_create_refund(), wc_refund_payment(), wc_order_fully_refunded().

A refund is an order of its own (it takes the next id); its parent shows it in `refunds` as {id, reason, total},
newest first (WC_Order::get_refunds()). The REST endpoints live in refund_endpoints.py.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mahnwerk.sandbox.notes import SYSTEM_AUTHOR
from mahnwerk.sandbox.orders import money, php_number, to_cents

if TYPE_CHECKING:
    from mahnwerk.sandbox.shop import WooSandbox

# get_current_user_id() of a request with the admin's API key; wc_create_refund() falls back to 1 as well.
ADMIN_ID = 1
FULLY_REFUNDED_NOTE = ("Order status set to refunded. To return funds to the customer you will need to issue a "
                       "refund through your payment gateway.")
_NOT_DECIMAL = re.compile(r"\.(?![^.]+$)|[^0-9.-]")
_LEADING_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)")


class RefundError(Exception):
    """The WP_Error('error', message) of wc_create_refund()."""


class RefundBook:
    """Refund objects by id. A refund the shop was loaded with exists only as its parent's summary; its object is
    built from that summary when first read, dated like the order's last change."""

    def __init__(self) -> None:
        self._objects: dict[int, dict] = {}
        self._parents: dict[int, int] = {}

    def of(self, order: dict) -> list[dict]:
        """The order's refund objects, newest first (stored dicts: copy before handing them out)."""
        found = []
        for entry in order.get("refunds") or []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), int):
                if entry["id"] not in self._objects:
                    self.add(_from_summary(order, entry), order["id"])
                found.append(self._objects[entry["id"]])
        return found

    def add(self, refund: dict, order_id: int) -> None:
        self._objects[refund["id"]] = refund
        self._parents[refund["id"]] = order_id

    def find(self, refund_id: int) -> tuple[dict, int] | None:
        """(refund, parent order id) of a refund this book has seen."""
        refund = self._objects.get(refund_id)
        return None if refund is None else (refund, self._parents[refund_id])

    def forget(self, order: dict) -> None:
        """Drop the refunds of a deleted order (deleting an order deletes its refunds)."""
        for entry in order.get("refunds") or []:
            refund_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(refund_id, int):
                self._objects.pop(refund_id, None)
                self._parents.pop(refund_id, None)


def refund_object(refund_id: int, dates: tuple[str | None, str | None], cents: int, reason: str, *,
                  payment: bool = False, meta: list[dict] | None = None) -> dict:
    """A refund as GET /orders/{id}/refunds/{refund_id} shows it, keys in the controller's order."""
    return {"id": refund_id, "date_created": dates[0], "date_created_gmt": dates[1], "amount": money(cents),
            "reason": reason, "refunded_by": ADMIN_ID, "refunded_payment": payment, "meta_data": meta or [],
            "line_items": [], "shipping_lines": [], "tax_lines": [], "fee_lines": []}


def summary(refund: dict) -> dict:
    """The parent's `refunds` entry: total is '-' . wc_format_decimal(amount), so a zero refund says "-0.00"."""
    return {"id": refund["id"], "reason": refund["reason"], "total": "-" + refund["amount"]}


def _from_summary(order: dict, entry: dict) -> dict:
    dates = (order.get("date_modified"), order.get("date_modified_gmt"))
    return refund_object(entry["id"], dates, -to_cents(entry.get("total")), str(entry.get("reason") or ""))


def remaining(order: dict) -> int:
    """get_remaining_refund_amount() in cents: the total less every refund."""
    return to_cents(order.get("total")) + sum(to_cents(r.get("total")) for r in order.get("refunds") or []
                                              if isinstance(r, dict))


def below_zero(amount: str) -> bool:
    """PHP 8's `0 > $amount`: numeric strings compare as numbers, others as strings (so "" is below zero)."""
    number = php_number(amount)
    return number < 0 if number is not None else amount < "0"


def _above(amount: str, left: int) -> bool:
    """PHP 8's `$amount > $remaining_refund_amount` with the remainder as wc_format_decimal() writes it."""
    number = php_number(amount)
    return number * 100 > left if number is not None else amount > money(left)


def stored_cents(amount: str) -> int:
    """Cents of set_amount(wc_format_decimal($amount)): everything but digits, '-' and the last '.' is dropped,
    so "10,00" is stored as 1000.00 (the comparisons before it saw a string, not a number)."""
    match = _LEADING_NUMBER.match(_NOT_DECIMAL.sub("", amount.strip()))
    return to_cents(match.group(0)) if match else 0


def _refund_payment(shop: WooSandbox, order: dict) -> None:
    """wc_refund_payment(): the order's gateway must be installed and support refunds. PayPal Standard, the only
    core gateway that does, still fails without API credentials (can_refund_order()), and a sandbox has none."""
    gateway = next((g for g in shop.gateways if g.get("id") == order.get("payment_method")), None)
    if gateway is None:
        raise RefundError("The payment gateway for this order does not exist.")
    if "refunds" not in (gateway.get("method_supports") or []):
        raise RefundError("The payment gateway for this order does not support automatic refunds.")
    if gateway["id"] == "paypal":
        raise RefundError("Refund failed.")


def refund_mail(order: dict, partial: bool, site_title: str) -> dict:
    """WC_Email_Customer_Refunded_Order, which WooCommerce sends for every refund, partial or full."""
    kind = "partially refunded" if partial else "refunded"
    return {"to": (order.get("billing") or {}).get("email", ""),
            "subject": f"Your {site_title} order #{order.get('number', order['id'])} has been {kind}",
            "body": f"<p>Order #{order.get('number', order['id'])}</p>", "order_id": order["id"]}


def create_refund(shop: WooSandbox, order_id: int, amount: str, reason: str | None = None, *,
                  api_refund: bool = False, meta: list[dict] | None = None, check: bool = True) -> dict:
    """wc_create_refund(): store the refund, list it first in the order, mail the customer; refunding what is left
    makes the order 'refunded'. Returns the stored refund object; KeyError for an unknown order.

    RefundError for an amount below zero or above what is left (unless check=False, for states built behind the
    API's back) or a gateway that cannot refund; the refund was saved before the gateway was asked, so its id is
    used up even then.
    """
    with shop.lock:
        order = shop.store.get(order_id)
        if order is None:
            raise KeyError(order_id)
        left = remaining(order)
        if check and (below_zero(amount) or _above(amount, left)):
            raise RefundError("Invalid refund amount.")
        refund_id = shop.take_id()
        if api_refund:
            _refund_payment(shop, order)
        entries: list[dict[str, Any]] = []
        for item in meta or []:        # update_meta_data(): a key given twice keeps its last value
            entry = next((e for e in entries if e["key"] == item["key"]), None)
            if entry is None:
                entries.append({"id": shop.next_meta_id(), "key": item["key"], "value": item.get("value")})
            else:
                entry["value"] = item.get("value")
        cents = stored_cents(amount)
        refund = refund_object(refund_id, shop.now_pair(), cents, reason or "", payment=api_refund, meta=entries)
        fields: dict[str, Any] = {"refunds": [summary(refund), *(order.get("refunds") or [])]}
        partial = left - cents > 0
        if not partial:
            fields["status"] = "refunded"
        shop.refunds.add(refund, order_id)
        if (order.get("billing") or {}).get("email"):
            shop.mails.append(refund_mail(order, partial, shop.site_title))
        shop.change(order_id, fields, bump=True)
        return refund


def refund_the_rest(shop: WooSandbox, order: dict) -> None:
    """wc_order_fully_refunded(), run when an order becomes 'refunded': refund what is left and say so in a note.
    `order` is the copy being saved; a refund that empties the order leaves nothing to do."""
    left = remaining(order)
    if left <= 0:
        return
    refund = refund_object(shop.take_id(), shop.now_pair(), left, "Order fully refunded.")
    shop.refunds.add(refund, order["id"])
    order["refunds"] = [summary(refund), *(order.get("refunds") or [])]
    if (order.get("billing") or {}).get("email"):
        shop.mails.append(refund_mail(order, False, shop.site_title))
    shop.notes.add(order, FULLY_REFUNDED_NOTE, customer_note=False, author=SYSTEM_AUTHOR, now=shop.clock())
