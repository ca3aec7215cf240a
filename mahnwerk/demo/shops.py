"""The demo's sandbox shops, one per kind: how each is started, what its shop file says, and how the demo shows
what the shop sent to customers and noted for the merchant."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from contextlib import ExitStack
from typing import Protocol

from mahnwerk.sandbox import (
    SandboxServer,
    ShopwareSandbox,
    ShopwareServer,
    WooSandbox,
    generate_sw_orders,
    malformed_orders,
    malformed_sw_orders,
)

WOO_SECTION = """\
[shop]
id = "demo"
kind = "woocommerce"
url = "{url}"                     # plain http is fine on 127.0.0.1
timezone = "Europe/Berlin"

[shop.auth]
consumer_key = "{key}"
consumer_secret_file = "demo-secret.txt"   # relative to the config folder

[invoice]
payment_methods = ["bacs", "cheque", "invoice"]
payment_term_days = 14
number_meta_key = "_wcpdf_invoice_number"
date_meta_key = "_wcpdf_invoice_date"
"""


class DemoShop(Protocol):
    """A sandbox shop of one kind, as the demo drives it."""

    title: str  # "WooCommerce"
    secret: str  # written to demo-secret.txt

    def start(self, stack: ExitStack, orders: int) -> str:
        """Generate `orders` orders (a few malformed ones beside them), serve them; the shop's base URL."""
        ...

    def shop_section(self, url: str) -> str:
        """[shop], [shop.auth] and [invoice] of the demo's shop file."""
        ...

    def customer_mails(self) -> list[tuple[str, str]]:
        """(recipient, plain text) of every notice the shop sent to a customer for Mahnwerk, oldest first."""
        ...

    def private_notes(self, order_ids: Iterable[str]) -> list[str]:
        """The merchant-only notes Mahnwerk left on these orders."""
        ...


def plain_text(markup: str) -> str:
    """An HTML mail body as the lines a person reads."""
    text = re.sub(r"<[^>]+>", "\n", markup)
    return "\n".join(line.strip() for line in html.unescape(text).splitlines() if line.strip())


class WooDemo:
    """WooCommerce: notices are customer notes, which the shop mails with its own template."""

    title = "WooCommerce"

    def __init__(self) -> None:
        self.shop: WooSandbox | None = None
        self.secret = ""

    def start(self, stack: ExitStack, orders: int) -> str:
        self.shop = WooSandbox.generated(orders, seed=2026)  # orders are built when read: small even for 100,000
        for broken in malformed_orders():
            self.shop.add_order(broken)
        self.secret = self.shop.consumer_secret
        return stack.enter_context(SandboxServer(self.shop)).url

    def shop_section(self, url: str) -> str:
        assert self.shop is not None
        return WOO_SECTION.format(url=url, key=self.shop.consumer_key)

    def customer_mails(self) -> list[tuple[str, str]]:
        assert self.shop is not None
        return [(mail["to"], plain_text(mail["body"])) for mail in self.shop.mails
                if mail["subject"].startswith("A note has been added")]

    def private_notes(self, order_ids: Iterable[str]) -> list[str]:
        assert self.shop is not None
        shop = self.shop
        return [n["note"] for order_id in order_ids for n in shop.notes.of(shop.order(int(order_id)))
                if not n["customer_note"]]


SHOPWARE_SECTION = """\
[shop]
id = "demo"
kind = "shopware6"
url = "{url}"                     # without /api; plain http is fine on 127.0.0.1
timezone = "Europe/Berlin"

[shop.auth]
client_id = "{key}"               # the integration's access key id
client_secret_file = "demo-secret.txt"     # relative to the config folder

[invoice]
payment_methods = ["payment_invoicepayment"]
payment_term_days = 14
"""


class ShopwareDemo:
    """Shopware 6: notices are mails through the shop's own mailer (mail-template/send), the PDF attached."""

    title = "Shopware 6"

    def __init__(self) -> None:
        self.shop: ShopwareSandbox | None = None
        self.secret = ""

    def start(self, stack: ExitStack, orders: int) -> str:
        self.shop = ShopwareSandbox(orders=[*generate_sw_orders(orders, seed=2026), *malformed_sw_orders()])
        self.secret = self.shop.client_secret
        return stack.enter_context(ShopwareServer(self.shop)).url

    def shop_section(self, url: str) -> str:
        assert self.shop is not None
        return SHOPWARE_SECTION.format(url=url, key=self.shop.client_id)

    def customer_mails(self) -> list[tuple[str, str]]:
        assert self.shop is not None
        return [(", ".join(mail["recipients"]), mail["text"] + (f"\n[attached: {', '.join(mail['media'])}]"
                                                                if mail["media"] else ""))
                for mail in self.shop.mails if mail["kind"] == "api"]

    def private_notes(self, order_ids: Iterable[str]) -> list[str]:
        assert self.shop is not None
        shop = self.shop
        return [note["text"] for order_id in order_ids if order_id in shop.orders
                for note in shop.custom_fields(order_id).get("mahnwerk_notes", [])]


KINDS: dict[str, type[DemoShop]] = {"woocommerce": WooDemo, "shopware6": ShopwareDemo}
