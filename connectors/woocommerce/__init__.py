"""The WooCommerce kind: REST API v3 under /wp-json/wc/v3/, consumer key and secret.

    orders.py   reading: orders in modification order, re-reads by id, the `check` probe
    parse.py    pure parsing of order JSON into `ShopOrder` records
    actions.py  acting: customer notes (mailed by the shop), private notes, order meta, the paid status

See shared/reference/woocommerce.md for the wire format and its traps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from mahnwerk.connectors.http import ShopHttp
from mahnwerk.connectors.kinds import ShopKind, ShopSettings
from mahnwerk.connectors.records import CustomerMessage, LineItems, Page, Progress, ShopOrder, ShopProbe
from mahnwerk.connectors.woocommerce.actions import WooActions
from mahnwerk.connectors.woocommerce.orders import MAX_PAGE_SIZE, WooOrders
from mahnwerk.connectors.woocommerce.parse import MetaKeys, Reading

API_PATH = "wp-json/wc/v3/"


class WooCommerceShop:
    """One WooCommerce shop, both sides (connectors/shop.ShopConnection)."""

    def __init__(self, orders: WooOrders, actions: WooActions) -> None:
        self.orders, self.actions = orders, actions

    @property
    def requests_made(self) -> int:
        return self.orders.http.requests_made

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


def connect(settings: ShopSettings) -> WooCommerceShop:
    """A WooCommerce shop with its own HTTP client (Basic auth with the consumer key and secret)."""
    http = ShopHttp(shop=settings.shop_id, base_url=f"{settings.url}/{API_PATH}",
                    auth=(settings.credentials["consumer_key"], settings.credentials["consumer_secret"]),
                    timeout=settings.timeout, max_attempts=settings.max_attempts, max_backoff=settings.max_backoff,
                    ca_bundle=settings.ca_bundle)
    fields = settings.fields
    reading = Reading(MetaKeys(invoice_number=fields.get("invoice_number"), invoice_date=fields.get("invoice_date"),
                               due_date=fields.get("due_date")), dict(settings.statuses),
                      customer_roles=settings.customer_groups)
    orders = WooOrders(http, reading=reading, page_size=settings.page_size)
    return WooCommerceShop(orders, WooActions(orders, paid_status=settings.paid_status if settings.mark_paid else ""))


KIND = ShopKind(
    name="woocommerce",
    title="WooCommerce",
    auth_keys=("consumer_key", "consumer_secret"),
    max_page_size=MAX_PAGE_SIZE,
    default_statuses={"open": ("on-hold",), "paid": ("processing", "completed"), "cancelled": ("cancelled", "failed"),
                      "refunded": ("refunded",)},
    default_invoice_methods=("bacs", "cheque", "invoice"),
    default_paid_status="processing",
    customer_groups="role",  # the WordPress role of the order's customer: one customers request per page
    auth_hint="check consumer_key and consumer_secret in [shop.auth], and that the key has read/write permission",
    connect=connect,
)
