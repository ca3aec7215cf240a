"""Order notes as WooCommerce keeps them, and the customer-note mail it sends in the same request."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from mahnwerk.sandbox.dates import wc_pair
from mahnwerk.sandbox.wptext import note_html

_SLASHED = re.compile(r"\\(.?)", re.DOTALL)
_BARE_AMP = re.compile(r"&(?!#?\w+;)")
# WooCommerce 10 answers "WooCommerce" as the author of every note it or an API call without added_by_user wrote.
SYSTEM_AUTHOR = "WooCommerce"
# The note WooCommerce writes when a bacs/cheque checkout puts the order on hold.
_CHECKOUT_NOTES = {
    "bacs": "Awaiting BACS payment Order status changed from Pending payment to On hold.",
    "cheque": "Awaiting check payment Order status changed from Pending payment to On hold.",
}


class NoteBook:
    """Notes per order id; orders that never had a note added show the note their checkout wrote."""

    FIRST_ID = 10_000_000

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._notes: dict[int, list[dict]] = {}
        self._next_id = self.FIRST_ID

    def of(self, order: dict) -> list[dict]:
        """The order's notes, oldest first (the list is the stored one; copy before handing it out)."""
        notes = self._notes.get(order["id"])
        if notes is None:
            notes = self._notes[order["id"]] = self._checkout_notes(order)
        return notes

    def _checkout_notes(self, order: dict) -> list[dict]:
        text = _CHECKOUT_NOTES.get(order.get("payment_method", ""))
        if text is None or order.get("created_via") != "checkout" or not isinstance(order.get("date_created"), str):
            return []
        return [{"id": order["id"] * 4 + 1, "author": SYSTEM_AUTHOR, "date_created": order["date_created"],
                 "date_created_gmt": order.get("date_created_gmt"), "note": text, "customer_note": False}]

    def add(self, order: dict, text: str, *, customer_note: bool, author: str, now: datetime) -> dict:
        local, gmt = wc_pair(now, self.tz)
        note = {"id": self._next_id, "author": author, "date_created": local, "date_created_gmt": gmt,
                "note": text, "customer_note": customer_note}
        self._next_id += 1
        self.of(order).append(note)
        return note

    def remove(self, order_id: int, note_id: int | None = None) -> None:
        """Forget one note, or all notes of a deleted order."""
        if note_id is None:
            self._notes.pop(order_id, None)
        else:
            self._notes[order_id] = [n for n in self._notes.get(order_id, []) if n["id"] != note_id]


def stripslashes(text: str) -> str:
    """PHP's stripslashes(): '\\x' becomes 'x', '\\\\' one backslash, '\\0' a NUL byte, a trailing '\\' goes.

    wp_insert_comment() runs wp_unslash() on what it stores, so a note sent over REST loses its backslashes.
    """
    return _SLASHED.sub(lambda m: "\0" if m.group(1) == "0" else m.group(1), text)


def _esc_html(text: str) -> str:
    """esc_html() as the mail shows it after its DOM round trip: <, > and bare & stay escaped, entities stay."""
    return _BARE_AMP.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def customer_note_mail(order: dict, text: str, site_title: str) -> dict:
    """The 'Customer note' mail: the note through wpautop(wptexturize(make_clickable())) in a blockquote."""
    billing = order.get("billing") or {}
    first_name = _esc_html(str(billing.get("first_name") or ""))
    body = (f"<p>{f'Hi {first_name},' if first_name else 'Hi,'}</p>"
            "<p>The following note has been added to your order:</p>"
            f"<blockquote>{note_html(text)}</blockquote>"
            "<p>As a reminder, here are your order details:</p>")
    return {"to": billing.get("email", ""), "subject": f"A note has been added to your order from {site_title}",
            "body": body, "order_id": order["id"]}


def status_mail(order: dict, status: str, site_title: str) -> dict | None:
    """The mail WooCommerce sends the customer when an order becomes processing or completed."""
    subjects = {"processing": f"Your {site_title} order has been received!",
                "completed": f"Your {site_title} order is now complete"}
    if status not in subjects:
        return None
    return {"to": (order.get("billing") or {}).get("email", ""), "subject": subjects[status],
            "body": f"<p>Order #{order.get('number', order['id'])}</p>", "order_id": order["id"]}
