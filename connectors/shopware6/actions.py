"""Shopware as the customer channel: the `remind` payment transition, the notice mailed through the shop's own mail
service with the letter attached, the dunning state in the order's custom fields, and the paid state.

Exactly once: the mail POST is never retried (a timed-out one may have gone out). Shopware keeps no mail log that
can be read back, so the order's custom fields say what happened: `mahnwerk_sending` is written before the mail,
`mahnwerk_sent` right after (docs/shopware6.md, "A notice").

Twig: Shopware renders subject, sender and both bodies as Twig templates. They are fixed strings here that print
variables; every text, the customer's name among them, travels only in `mailTemplateData`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import structlog

from mahnwerk.connectors.records import (
    Attachment,
    CustomerMessage,
    LineItem,
    LineItems,
    Page,
    Progress,
    ShopOrder,
)
from mahnwerk.connectors.shop import UNKNOWN
from mahnwerk.connectors.shopware6 import criteria
from mahnwerk.connectors.shopware6.orders import SEARCH_ORDERS, SwOrders, rows_of
from mahnwerk.connectors.shopware6.parse import MARKER_FIELD, latest_transaction, money, obj, text
from mahnwerk.errors import BadRecord, OrderChanged, ShopError, ShopRejected

log = structlog.get_logger("mahnwerk.shopware6")

SENDING, SENT, NOTES = "mahnwerk_sending", "mahnwerk_sent", "mahnwerk_notes"
STAGE, NEXT_ACTION, NEXT_DATE = "mahnwerk_stage", "mahnwerk_next_action", "mahnwerk_next_date"
KEEP_SENT, KEEP_NOTES = 50, 100
ILLEGAL_TRANSITION = "SYSTEM__ILLEGAL_STATE_TRANSITION"
# Rendered by Shopware as Twig with mailTemplateData: they print data and never contain any.
TEMPLATES = {"subject": "{{ mahnwerk.subject|raw }}", "senderName": "{{ mahnwerk.sender|raw }}",
             "contentHtml": "{{ mahnwerk.html|raw }}", "contentPlain": "{{ mahnwerk.text|raw }}"}
PAID_ACTIONS = {True: ("paid", "pay"), False: ("paid_partially", "pay_partially")}  # in full / in part
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def media_name(key: str, number: int) -> str:
    """The media file name of a message's attachment: the key made safe (Shopware file names are unique)."""
    return f"mahnwerk-{_UNSAFE.sub('-', key).strip('-')[:180]}" + (f"-{number}" if number > 1 else "")


def mail_body(order: dict[str, Any], message: CustomerMessage, *, sender: str, media_ids: list[str]) -> dict[str, Any]:
    """The `mail-template/send` body: fixed templates, the texts as data."""
    return {"recipients": {message.to: message.to_name}, "salesChannelId": order.get("salesChannelId"),
            **TEMPLATES,
            "mailTemplateData": {"mahnwerk": {"subject": message.subject, "sender": sender, "html": message.html,
                                              "text": message.text},
                                 "order": {"id": order.get("id")}},
            "mediaIds": media_ids}


class SwActions:
    """Outbound calls to one Shopware shop, over the reading side's client."""

    def __init__(self, orders: SwOrders, *, mark_paid: bool = True, sender: str = "",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """`sender`: the mail's sender name when the order's sales channel has none."""
        self.orders, self.api, self.mark_paid, self.sender, self.clock = orders, orders.api, mark_paid, sender, clock
        self.open_statuses = frozenset(orders.open_statuses)

    def current(self, order_id: str) -> Page[ShopOrder]:
        """The order as the shop has it now (gone: listed in `missing`)."""
        return next(iter(self.orders.orders_by_id([order_id])))

    def send_message(self, order_id: str, message: CustomerMessage) -> str:
        """The notice by the shop's mail service, after the `remind` transition; `mail:<key>`. OrderChanged when
        the order no longer waits for its money (nothing sent); ShopUnavailable from the mail POST: ask
        `find_message`."""
        self._patch(order_id, {SENDING: message.key})
        order = self._order(order_id, criteria.order_for_sending(order_id))
        self._remind(order_id, order)
        media_ids = [self._upload(media_name(message.key, n), a) for n, a in enumerate(message.attachments, 1)]
        sender = text(obj(order.get("salesChannel")).get("name")) or self.sender
        self.api.request("POST", "_action/mail-template/send", retry=False, write=True,
                         json_body=mail_body(order, message, sender=sender, media_ids=media_ids))
        try:
            sent = [k for k in self._list(order_id, SENT) if k != message.key][-(KEEP_SENT - 1):]
            self._patch(order_id, {SENT: [*sent, message.key]})
        except ShopError as exc:  # the mail is out: say so; find_message would answer UNKNOWN, never "not sent"
            log.warning("shopware6.sent_not_recorded", shop=self.api.shop, order=order_id, error=str(exc))
        return f"mail:{message.key}"

    def find_message(self, order_id: str, message: CustomerMessage) -> str | None:
        """`mail:<key>` when recorded as sent, UNKNOWN when an attempt began and its end is not recorded (a
        timed-out mail POST), None when no attempt got as far as the mail."""
        fields = self._custom_fields(order_id)
        sent = fields.get(SENT)
        if isinstance(sent, list) and message.key in sent:
            return f"mail:{message.key}"
        return UNKNOWN if fields.get(SENDING) == message.key else None

    def record_progress(self, order_id: str, progress: Progress) -> None:
        """The stage, the next step and the marker in the order's custom fields: one PATCH, merged with the
        merchant's own keys. Idempotent."""
        self._patch(order_id, {STAGE: progress.stage, NEXT_ACTION: progress.next_action,
                               NEXT_DATE: progress.next_on.isoformat() if progress.next_on else "",
                               MARKER_FIELD: progress.marker})

    def add_private_note(self, order_id: str, text: str) -> str:
        """A note in the order's `mahnwerk_notes` (the last 100 kept); its time as the reference."""
        at = self.clock().astimezone(UTC).isoformat(timespec="seconds")
        notes = self._list(order_id, NOTES)[-(KEEP_NOTES - 1):]
        self._patch(order_id, {NOTES: [*notes, {"at": at, "text": text}]})
        return f"note:{at}"

    def has_private_note(self, order_id: str, key: str) -> bool:
        return any(isinstance(n, dict) and key in text(n.get("text")) for n in self._list(order_id, NOTES))

    def set_paid(self, order_id: str, *, in_full: bool) -> None:
        """The latest transaction to `paid` (or `paid_partially`) by the first allowed of the transitions that
        lead there, while it still waits for its money; already there: nothing. Idempotent."""
        if not self.mark_paid:
            return
        transaction = self._transaction(order_id, self._order(order_id, criteria.orders_by_id([order_id])))
        target = PAID_ACTIONS[in_full][0]
        state = transaction_state(transaction)
        if state == target or state not in self.open_statuses:
            return
        allowed = self._allowed(transaction)
        action = next((a for a in PAID_ACTIONS[in_full] if a in allowed), None)
        if action is None:
            raise ShopRejected(f"shop '{self.api.shop}': order {order_id}: the payment state '{state}' allows no "
                               f"transition to '{target}' (allowed: {', '.join(allowed) or 'none'})",
                               shop=self.api.shop, method="POST", url=self._transition_path(transaction, "…"))
        self._move(transaction, action)

    def line_items(self, order_id: str) -> LineItems:
        """Products, discounts and shipping, gross, for an agency export."""
        order = self._order(order_id, criteria.order_line_items(order_id))
        currency = text(obj(order.get("currency")).get("isoCode")) or "EUR"
        found = LineItems()
        for number, item in enumerate(order.get("lineItems") or (), 1):
            try:
                found.items.append(read_line(item, currency, order_id))
            except BadRecord as exc:
                found.problems.append(f"order {order_id} lineItems[{number}]: {exc}")
        try:
            shipping = money(order.get("shippingTotal") or 0, currency, record_id=order_id, field="shippingTotal")
        except BadRecord as exc:
            found.problems.append(str(exc))
        else:
            if shipping:
                found.items.append(LineItem("Shipping", Decimal(1), shipping))
        return found

    def close(self) -> None:
        self.orders.close()

    # -- the notice's steps --------------------------------------------------------------------------------------

    def _remind(self, order_id: str, order: dict[str, Any]) -> None:
        """Step 2: `remind` where allowed; OrderChanged when the order no longer waits for its money."""
        transaction = self._transaction(order_id, order)
        self._still_open(order_id, transaction)
        # From `open` only: `paid_partially` would become `reminded` and the shop would forget that part was paid.
        if transaction_state(transaction) != "open" or "remind" not in self._allowed(transaction):
            return  # already reminded, say: the notice still goes out
        try:
            self._move(transaction, "remind")
        except ShopRejected as exc:
            if exc.shop_code != ILLEGAL_TRANSITION:
                raise
            # moved meanwhile: the refusal names the state by id only, so read it again
            again = self._order(order_id, criteria.orders_by_id([order_id]))
            self._still_open(order_id, self._transaction(order_id, again))

    def _still_open(self, order_id: str, transaction: dict[str, Any]) -> None:
        state = transaction_state(transaction)
        if state not in self.open_statuses:
            raise OrderChanged(f"shop '{self.api.shop}': order {order_id}: the payment state is '{state}' now; "
                               "nothing was sent", shop=self.api.shop, shop_code=ILLEGAL_TRANSITION)

    def _upload(self, name: str, attachment: Attachment) -> str:
        """Step 3: a private media entity with the file; an earlier attempt's upload under the same name is used."""
        created = self.api.request("POST", "media", params={"_response": "true"}, json_body={"private": True},
                                   write=True).data
        media_id = text(obj(obj(created).get("data")).get("id"))
        if not media_id:
            raise ShopRejected(f"shop '{self.api.shop}' POST media: the answer names no media id",
                               shop=self.api.shop, method="POST", url="media")
        extension = PurePosixPath(attachment.filename).suffix.lstrip(".").lower() or "pdf"
        try:
            self.api.request("POST", f"_action/media/{media_id}/upload", write=True, content=attachment.content,
                             content_type=attachment.mime_type,
                             params={"extension": extension, "fileName": name})
        except ShopRejected as exc:
            if exc.status not in (400, 409) or "DUPLICATE" not in (exc.shop_code or "").upper():
                raise
            earlier = self._media_named(name)
            if earlier is None:
                raise
            media_id = earlier
        return media_id

    def _media_named(self, name: str) -> str | None:
        found = rows_of(self.api.post("search/media", criteria.media_by_file_name(name)))
        found.sort(key=lambda m: not m.get("hasFile"))  # one with its file first
        return text(found[0].get("id")) or None if found else None

    # -- transitions ---------------------------------------------------------------------------------------------

    def _transaction(self, order_id: str, order: dict[str, Any]) -> dict[str, Any]:
        try:
            return latest_transaction(order, order_id)
        except BadRecord as exc:
            raise ShopRejected(f"shop '{self.api.shop}': {exc}", shop=self.api.shop, method="POST",
                               url=SEARCH_ORDERS) from None

    def _allowed(self, transaction: dict[str, Any]) -> list[str]:
        """The actions the shop allows from the transaction's current state."""
        path = f"_action/state-machine/order_transaction/{text(transaction.get('id'))}/state"
        data = self.api.request("GET", path).data
        return [text(t.get("actionName")) for t in obj(data).get("transitions") or () if isinstance(t, dict)]

    def _move(self, transaction: dict[str, Any], action: str) -> None:
        """A transition with the shop's own mails off (its flows are skipped too, by the write header)."""
        self.api.request("POST", self._transition_path(transaction, action), json_body={"sendMail": False},
                         write=True)

    @staticmethod
    def _transition_path(transaction: dict[str, Any], action: str) -> str:
        return f"_action/order_transaction/{text(transaction.get('id'))}/state/{action}"

    # -- custom fields ---------------------------------------------------------------------------------------------

    def _order(self, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
        rows = self.orders.search(SEARCH_ORDERS, body).data["data"]
        if not rows or not isinstance(rows[0], dict):
            raise ShopRejected(f"shop '{self.api.shop}': order {order_id} not found", shop=self.api.shop,
                               method="POST", url=SEARCH_ORDERS, status=404)
        return dict(rows[0])

    def _custom_fields(self, order_id: str) -> dict[str, Any]:
        return obj(self._order(order_id, criteria.order_custom_fields(order_id)).get("customFields"))

    def _list(self, order_id: str, key: str) -> list[Any]:
        value = self._custom_fields(order_id).get(key)
        return list(value) if isinstance(value, list) else []

    def _patch(self, order_id: str, values: dict[str, Any]) -> None:
        """Merged into the order's custom fields: the keys sent change, the merchant's others stay."""
        self.api.request("PATCH", f"order/{order_id}", json_body={"customFields": values}, write=True)


def transaction_state(transaction: dict[str, Any]) -> str:
    return text(obj(transaction.get("stateMachineState")).get("technicalName"))


def read_line(item: Any, currency: str, order_id: str) -> LineItem:
    """One line item, gross; BadRecord naming what is wrong."""
    if not isinstance(item, dict):
        raise BadRecord(f"expected an object (got {type(item).__name__})", record_id=order_id, field="lineItems")
    total = money(item.get("totalPrice"), currency, record_id=order_id, field="lineItems.totalPrice")
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        raise BadRecord(f"must be a number (got {quantity!r})", record_id=order_id, field="lineItems.quantity")
    return LineItem(text(item.get("label")) or text(item.get("type")) or "item", Decimal(str(quantity)), total)
