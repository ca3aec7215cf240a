"""WooCommerce as the customer channel: customer notes (the shop mails them to the billing address with its own
mailer and branding), private notes for the merchant, order meta that shows the dunning state in the admin, and
the order status once the money is in.

Exactly once: a note POST is never retried blindly (a timed-out POST may have created the note). After an
interruption the order's meta `_mahnwerk_last_action` names the last action completed, and `find_message` looks
for a customer note with the same text (`same_text`) among the order's notes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mahnwerk.connectors.records import CustomerMessage, LineItem, LineItems, Page, PaidState, Progress, ShopOrder
from mahnwerk.connectors.woocommerce.orders import WooOrders
from mahnwerk.connectors.woocommerce.parse import MARKER_KEY, text
from mahnwerk.errors import ShopRejected

STAGE_KEY, NEXT_KEY, NEXT_DATE_KEY = "_mahnwerk_stage", "_mahnwerk_next_action", "_mahnwerk_next_date"
_TAG = re.compile(r"<[^>]*>")
_NOISE = re.compile(r"[\s\\]+")  # WordPress unslashes comment content and may re-wrap whitespace


@dataclass(frozen=True, slots=True)
class OrderNote:
    id: str
    text: str
    customer: bool


def note_text(message: CustomerMessage) -> str:
    """The customer note for a message: subject and text. WooCommerce puts a note into its HTML mail unescaped
    (wpautop, no kses), so it is escaped here; the newlines stay (wpautop makes paragraphs of them)."""
    return html.escape(f"{message.subject}\n\n{message.text}".rstrip("\n"), quote=False)


def same_text(sent: str, stored: str) -> bool:
    """True when a note the shop holds is the one we sent, despite WordPress's escaping and whitespace changes."""
    return fingerprint(sent) == fingerprint(stored)


def fingerprint(note: str) -> str:
    return _NOISE.sub("", html.unescape(_TAG.sub("", html.unescape(note))))


class WooActions:
    """Outbound calls to one WooCommerce shop, over the reading side's client."""

    def __init__(self, orders: WooOrders, *, paid_status: str = "processing") -> None:
        self.orders, self.http, self.paid_status = orders, orders.http, paid_status

    def current(self, order_id: str) -> Page[ShopOrder]:
        """The order as the shop has it now (trashed: deleted; gone: listed in `missing`)."""
        return next(iter(self.orders.orders_by_id([order_id])))

    def notes(self, order_id: str) -> list[OrderNote]:
        """All notes of the order, newest first."""
        data = self.http.get(f"orders/{order_id}/notes", params={"type": "any"}).data
        if not isinstance(data, list):
            raise ShopRejected(f"shop '{self.http.shop}': notes of order {order_id} are not a list",
                               shop=self.http.shop, method="GET", url=f"orders/{order_id}/notes")
        return [OrderNote(str(n.get("id")), str(n.get("note") or ""), bool(n.get("customer_note")))
                for n in data if isinstance(n, dict)]

    def send_message(self, order_id: str, message: CustomerMessage) -> str:
        """A customer note, which WooCommerce mails to the customer (attachments cannot go this way). Not retried."""
        return f"note {self._add_note(order_id, note_text(message), customer=True)}"

    def find_message(self, order_id: str, message: CustomerMessage) -> str | None:
        """The customer note an interrupted attempt created, if any (WooCommerce keeps them all)."""
        sent = note_text(message)
        found = next((n.id for n in self.notes(order_id) if n.customer and same_text(sent, n.text)), None)
        return f"note {found}" if found is not None else None

    def add_private_note(self, order_id: str, text: str) -> str:
        """Add a note only the merchant sees; the note's id."""
        return self._add_note(order_id, text, customer=False)

    def has_private_note(self, order_id: str, key: str) -> bool:
        return any(key in note.text for note in self.notes(order_id) if not note.customer)

    def record_progress(self, order_id: str, progress: Progress) -> None:
        """Order meta (upserted by key), the marker among them. Idempotent, so retried like a GET."""
        values = {STAGE_KEY: progress.stage, NEXT_KEY: progress.next_action,
                  NEXT_DATE_KEY: progress.next_on.isoformat() if progress.next_on else "", MARKER_KEY: progress.marker}
        meta = [{"key": key, "value": value} for key, value in values.items()]
        self.http.request("PUT", f"orders/{order_id}", json_body={"meta_data": meta},
                          params={"_fields": "id,meta_data"})

    def set_paid(self, order_id: str, *, in_full: bool) -> None:
        """Paid in full: the configured status (`set_paid` does nothing on an on-hold order, so the status itself is
        set), only while the order still waits for its money. WooCommerce has no "paid in part". Idempotent."""
        if not in_full or not self.paid_status:
            return
        page = self.current(order_id)
        order = page.records[0] if page.records else None
        if order is not None and order.paid_state == PaidState.OPEN:
            self.http.request("PUT", f"orders/{order_id}", json_body={"status": self.paid_status},
                              params={"_fields": "id,status"})

    def line_items(self, order_id: str) -> LineItems:
        """What the order consists of (products, shipping, fees), for an agency export."""
        data = self.http.get(f"orders/{order_id}", params={"_fields": "line_items,shipping_lines,fee_lines"}).data
        found = LineItems()
        for group, label in (("line_items", "name"), ("shipping_lines", "method_title"), ("fee_lines", "name")):
            for number, item in enumerate((data or {}).get(group) or (), 1):
                line = read_line(item, group, label)
                if isinstance(line, LineItem):
                    found.items.append(line)
                else:
                    found.problems.append(f"order {order_id} {group}[{number}]: {line}")
        return found

    def close(self) -> None:
        self.orders.close()

    def _add_note(self, order_id: str, note: str, *, customer: bool) -> str:
        response = self.http.request("POST", f"orders/{order_id}/notes", retry=False,
                                     json_body={"note": note, "customer_note": customer})
        return str((response.data or {}).get("id", ""))


def read_line(item: Any, group: str, label: str) -> LineItem | str:
    """One line item, or why it cannot be read."""
    if not isinstance(item, dict):
        return f"expected an object (got {type(item).__name__})"
    try:
        total = Decimal(str(item.get("total") or "0")) + Decimal(str(item.get("total_tax") or "0"))
        quantity = Decimal(str(item.get("quantity") or 1))
    except InvalidOperation:
        return f"total {item.get('total')!r}, tax {item.get('total_tax')!r} or quantity {item.get('quantity')!r} " \
               "is not a number"
    if not (total.is_finite() and quantity.is_finite()):
        return "total or quantity is not a finite number"
    return LineItem(text(item.get(label)) or group, quantity, total)
