"""The Shopware 6 kind: the Admin API under <url>/api/, an integration's access key and secret.

    auth.py      OAuth2 client credentials, the token cache, the client that renews once on 401
    criteria.py  pure builders of the Criteria search bodies
    parse.py     pure parsing of order JSON into `ShopOrder` records
    orders.py    reading: changed orders, re-reads by id, the `check` probe
    actions.py   acting: the `remind` transition and the notice by the shop's mail service, custom fields, paid

See shared/reference/shopware6.md for the wire format and its traps, docs/shopware6.md for the choices made here.
Statuses are the order transaction's states; invoice methods are payment methods' technical names.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from mahnwerk.connectors.http import ShopHttp
from mahnwerk.connectors.kinds import ShopKind, ShopSettings
from mahnwerk.connectors.records import CustomerMessage, LineItems, Page, Progress, ShopOrder, ShopProbe
from mahnwerk.connectors.shopware6.actions import SwActions
from mahnwerk.connectors.shopware6.auth import AUTH_HINT, AdminApi, Tokens
from mahnwerk.connectors.shopware6.criteria import MAX_LIMIT
from mahnwerk.connectors.shopware6.orders import SwOrders
from mahnwerk.connectors.shopware6.parse import CustomFieldNames, Reading

API_PATH = "api/"


class ShopwareShop:
    """One Shopware 6 shop, both sides (connectors/shop.ShopConnection)."""

    def __init__(self, orders: SwOrders, actions: SwActions) -> None:
        self.orders, self.actions = orders, actions

    @property
    def requests_made(self) -> int:
        return self.orders.requests_made

    def changed_pages(self, since: datetime | None) -> Iterator[Page[ShopOrder]]:
        return self.orders.changed_pages(since)

    def orders_by_id(self, ids: Sequence[str]) -> Iterator[Page[ShopOrder]]:
        return self.orders.orders_by_id(ids)

    def probe(self) -> ShopProbe:
        return self.orders.probe()

    def current(self, order_id: str) -> Page[ShopOrder]:
        return self.actions.current(order_id)

    def send_message(self, order_id: str, message: CustomerMessage) -> str:
        return self.actions.send_message(order_id, message)

    def find_message(self, order_id: str, message: CustomerMessage) -> str | None:
        return self.actions.find_message(order_id, message)

    def record_progress(self, order_id: str, progress: Progress) -> None:
        self.actions.record_progress(order_id, progress)

    def add_private_note(self, order_id: str, text: str) -> str:
        return self.actions.add_private_note(order_id, text)

    def has_private_note(self, order_id: str, key: str) -> bool:
        return self.actions.has_private_note(order_id, key)

    def set_paid(self, order_id: str, *, in_full: bool) -> None:
        self.actions.set_paid(order_id, in_full=in_full)

    def line_items(self, order_id: str) -> LineItems:
        return self.actions.line_items(order_id)

    def close(self) -> None:
        self.orders.close()


def connect(settings: ShopSettings) -> ShopwareShop:
    """A Shopware shop with its own HTTP clients (one for the token endpoint, one for the API)."""
    def client() -> ShopHttp:
        return ShopHttp(shop=settings.shop_id, base_url=f"{settings.url}/{API_PATH}", timeout=settings.timeout,
                        max_attempts=settings.max_attempts, max_backoff=settings.max_backoff,
                        ca_bundle=settings.ca_bundle, headers={"Content-Type": "application/json"})

    client_id = settings.credentials["client_id"]
    tokens = Tokens(client(), client_id=client_id, client_secret=settings.credentials["client_secret"])
    fields = settings.fields
    reading = Reading(CustomFieldNames(invoice_number=fields.get("invoice_number"),
                                       invoice_date=fields.get("invoice_date"), due_date=fields.get("due_date")),
                      dict(settings.statuses), customer_groups=settings.customer_groups)
    orders = SwOrders(AdminApi(client(), tokens), reading=reading, invoice_methods=settings.invoice_methods,
                      page_size=settings.page_size, client_id=client_id)
    return ShopwareShop(orders, SwActions(orders, mark_paid=settings.mark_paid, sender=settings.shop_id))


KIND = ShopKind(
    name="shopware6",
    title="Shopware 6",
    auth_keys=("client_id", "client_secret"),
    max_page_size=MAX_LIMIT,
    default_statuses={"open": ("open", "reminded", "paid_partially"), "paid": ("paid",),
                      "cancelled": ("cancelled", "failed", "chargeback"), "refunded": ("refunded",)},
    default_invoice_methods=("payment_invoicepayment",),
    auth_hint=AUTH_HINT,
    attachments=True,
    customer_groups="group",  # orderCustomer.customer.group.name, read with the order
    connect=connect,
)
