"""The composition root: configuration in, store and shop connectors out. Everything else gets its parts here."""

from __future__ import annotations

from mahnwerk.connectors.http import ShopHttp
from mahnwerk.connectors.mollie_source import MollieSource, mollie_http
from mahnwerk.connectors.stripe_source import StripeSource, stripe_http
from mahnwerk.connectors.woocommerce import WooCommerce
from mahnwerk.connectors.woocommerce_actions import WooActions
from mahnwerk.connectors.woocommerce_parse import MetaKeys
from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.config.shop import Config, ShopConfig, WooCommerceAuth
from mahnwerk.sync.store.engine import Store


def open_store(config: Config) -> Store:
    """The configured database, migrated to this version's schema."""
    return Store(config.database.url)


def build_source(shop: ShopConfig) -> WooCommerce:
    """The connector for one shop, with its own HTTP session and retry policy."""
    if shop.kind != "woocommerce" or not isinstance(shop.auth, WooCommerceAuth):
        raise MahnwerkError(f"shop '{shop.id}': kind '{shop.kind}' is not supported yet by this version "
                            "(WooCommerce is; Shopware 6 follows)")
    http = ShopHttp(
        shop=shop.id,
        base_url=f"{shop.url}/wp-json/wc/v3/",
        auth=(shop.auth.consumer_key.reveal(), shop.auth.consumer_secret.reveal()),
        timeout=shop.http.timeout.total_seconds(),
        max_attempts=shop.http.max_attempts,
        max_backoff=shop.http.max_backoff.total_seconds(),
        ca_bundle=str(shop.http.ca_bundle) if shop.http.ca_bundle else None,
    )
    meta = MetaKeys(invoice_number=shop.invoice.number_meta_key, invoice_date=shop.invoice.date_meta_key,
                    due_date=shop.invoice.due_date_meta_key)
    statuses = shop.statuses
    return WooCommerce(http, meta_keys=meta, page_size=shop.sync.page_size,
                       statuses=(*statuses.open, *statuses.paid, *statuses.cancelled, *statuses.refunded))


def build_payment_sources(shop: ShopConfig) -> list[StripeSource | MollieSource]:
    """The shop's configured payment providers, each with its own HTTP session (close them after use)."""
    http = {"timeout": shop.http.timeout.total_seconds(), "max_attempts": shop.http.max_attempts,
            "max_backoff": shop.http.max_backoff.total_seconds()}
    sources: list[StripeSource | MollieSource] = []
    stripe, mollie = shop.payments.stripe, shop.payments.mollie
    if stripe.api_key is not None:
        sources.append(StripeSource(stripe_http(stripe.api_key.reveal(), url=stripe.url, **http)))
    if mollie.api_key is not None:
        sources.append(MollieSource(mollie_http(mollie.api_key.reveal(), url=mollie.url, **http)))
    return sources


def build_actions(shop: ShopConfig) -> WooActions:
    """The shop's customer channel and order marker (its own session, separate from the mirror's)."""
    return WooActions(build_source(shop))
