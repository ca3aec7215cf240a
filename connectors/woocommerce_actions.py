"""WooCommerce as the customer channel: customer notes (the shop mails them to the billing address with its own
mailer and branding), private notes for the merchant, and order meta that shows the dunning state in the admin.

Exactly once: a note POST is never retried blindly (a timeout may hide a created note). The caller looks first:
`_mahnwerk_last_action` in the order's meta names the last action completed, and `notes()` shows whether a note
of an interrupted attempt arrived (`same_text`). See sync/executor.py for the order of the steps.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from mahnwerk.connectors.records import Page, ShopOrder
from mahnwerk.connectors.woocommerce import WooCommerce
from mahnwerk.connectors.woocommerce_parse import MARKER_KEY, text
from mahnwerk.errors import ShopRejected

STAGE_KEY, NEXT_KEY, NEXT_DATE_KEY = "_mahnwerk_stage", "_mahnwerk_next_action", "_mahnwerk_next_date"
_TAG = re.compile(r"<[^>]*>")
_NOISE = re.compile(r"[\s\\]+")  # WordPress unslashes comment content and may re-wrap whitespace


@dataclass(frozen=True, slots=True)
class OrderNote:
    id: str
    text: str
    customer: bool


@dataclass(frozen=True, slots=True)
class LineItem:
    name: str
    quantity: Decimal
    total: Decimal


def same_text(sent: str, stored: str) -> bool:
    """True when a note the shop holds is the one we sent, despite WordPress's escaping and whitespace changes."""
    return fingerprint(sent) == fingerprint(stored)


def fingerprint(note: str) -> str:
    return _NOISE.sub("", html.unescape(_TAG.sub("", html.unescape(note))))


class WooActions:
    """Outbound calls to one WooCommerce shop, over the reading connector's session."""

    kind = "woocommerce"
    marker_key = MARKER_KEY

    def __init__(self, source: WooCommerce) -> None:
        self.source, self.http = source, source.http

    def current(self, order_id: str) -> Page[ShopOrder]:
        """The order as the shop has it now (trashed: status "trash"; gone: listed in `missing`)."""
        return next(iter(self.source.orders_by_id([order_id])))

    def notes(self, order_id: str) -> list[OrderNote]:
        """All notes of the order, newest first."""
        data = self.http.get(f"orders/{order_id}/notes", params={"type": "any"}).data
        if not isinstance(data, list):
            raise ShopRejected(f"shop '{self.http.shop}': notes of order {order_id} are not a list",
                               shop=self.http.shop, method="GET", url=f"orders/{order_id}/notes")
        return [OrderNote(str(n.get("id")), str(n.get("note") or ""), bool(n.get("customer_note")))
                for n in data if isinstance(n, dict)]

    def send_customer_message(self, order_id: str, note: str) -> str:
        """Add a customer note (WooCommerce mails it to the customer); the note's id. Not retried here."""
        return self._add_note(order_id, note, customer=True)

    def add_private_note(self, order_id: str, note: str) -> str:
        """Add a note only the merchant sees; the note's id."""
        return self._add_note(order_id, note, customer=False)

    def mark(self, order_id: str, values: Mapping[str, str]) -> None:
        """Set order meta (upserted by key). Idempotent, so retried like a GET."""
        meta = [{"key": key, "value": value} for key, value in values.items()]
        self.http.request("PUT", f"orders/{order_id}", json_body={"meta_data": meta},
                          params={"_fields": "id,meta_data"})

    def set_status(self, order_id: str, status: str) -> None:
        """Set the order's status (e.g. "processing" once paid). Idempotent, so retried like a GET."""
        self.http.request("PUT", f"orders/{order_id}", json_body={"status": status}, params={"_fields": "id,status"})

    def items(self, order_id: str) -> list[LineItem]:
        """What the order consists of (products, shipping, fees), for an agency export."""
        data = self.http.get(f"orders/{order_id}", params={"_fields": "line_items,shipping_lines,fee_lines"}).data
        found: list[LineItem] = []
        for group, label in (("line_items", "name"), ("shipping_lines", "method_title"), ("fee_lines", "name")):
            for item in (data or {}).get(group) or ():
                try:
                    total = Decimal(str(item.get("total") or "0")) + Decimal(str(item.get("total_tax") or "0"))
                    quantity = Decimal(str(item.get("quantity") or 1))
                except InvalidOperation:
                    continue
                found.append(LineItem(text(item.get(label)) or group, quantity, total))
        return found

    def close(self) -> None:
        self.source.close()

    def _add_note(self, order_id: str, note: str, *, customer: bool) -> str:
        response = self.http.request("POST", f"orders/{order_id}/notes", retry=False,
                                     json_body={"note": note, "customer_note": customer})
        return str((response.data or {}).get("id", ""))
