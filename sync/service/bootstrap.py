"""The composition root: configuration in, store, shop connections and payment sources out. Everything else gets
its parts here; which kind a shop is matters only in this module's one look-up in the registry."""

from __future__ import annotations

from typing import TypedDict

from mahnwerk.connectors.kinds import ShopSettings, not_supported
from mahnwerk.connectors.mollie_source import MollieSource, mollie_http
from mahnwerk.connectors.shop import ShopConnection
from mahnwerk.connectors.stripe_source import StripeSource, stripe_http
from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.config import Config, ShopConfig
from mahnwerk.sync.store.engine import Store


class UnsupportedKind(MahnwerkError):
    """Raised when a shop's kind is unknown to this version or cannot be connected to yet: that shop only fails."""


def open_store(config: Config) -> Store:
    """The configured database, migrated to this version's schema, with connections for `[daemon] workers`."""
    return Store(config.database.url, workers=config.daemon.workers)


def shop_settings(shop: ShopConfig) -> ShopSettings:
    """The neutral settings a kind connects with (credentials revealed: ConfigError names one that cannot be read)."""
    fields = {name: value for name, value in (("invoice_number", shop.invoice.number_meta_key),
                                              ("invoice_date", shop.invoice.date_meta_key),
                                              ("due_date", shop.invoice.due_date_meta_key)) if value}
    return ShopSettings(
        shop_id=shop.id, url=shop.url, credentials=shop.auth.revealed(), statuses=shop.statuses.by_status(),
        invoice_methods=shop.invoice.payment_methods, page_size=shop.sync.page_size,
        timeout=shop.http.timeout.total_seconds(), max_attempts=shop.http.max_attempts,
        max_backoff=shop.http.max_backoff.total_seconds(),
        ca_bundle=str(shop.http.ca_bundle) if shop.http.ca_bundle else None, fields=fields,
        mark_paid=shop.payments.mark_paid, paid_status=shop.payments.paid_status,
        customer_groups=any(rule.startswith(("customer_group:", "customer_role:"))
                            for rule in shop.policy.business_when))


def connect_shop(shop: ShopConfig) -> ShopConnection:
    """A connection to one shop with its own HTTP sessions and retry policy (close it after use); UnsupportedKind
    for a kind this version cannot connect to."""
    kind = shop.shop_kind
    if kind is None:
        from mahnwerk.connectors.kinds import kinds
        from mahnwerk.sync.config.schema import did_you_mean

        known = ", ".join(kinds())
        raise UnsupportedKind(f"shop '{shop.id}': unknown kind '{shop.kind}' in {shop.source.name}"
                              f"{did_you_mean(shop.kind, kinds()) or f'; known kinds: {known}'}")
    if kind.connect is None:
        raise UnsupportedKind(f"shop '{shop.id}': {not_supported(kind)}")
    return kind.connect(shop_settings(shop))


def auth_hint(shop: ShopConfig) -> str:
    """What to check when the shop refuses the credentials, naming the shop file."""
    kind = shop.shop_kind
    hint = kind.auth_hint if kind and kind.auth_hint else "check the credentials in [shop.auth]"
    return f"{hint} ({shop.source.name})"


class _HttpOptions(TypedDict):
    timeout: float
    max_attempts: int
    max_backoff: float


def build_payment_sources(shop: ShopConfig) -> list[StripeSource | MollieSource]:
    """The shop's configured payment providers, each with its own HTTP session (close them after use)."""
    http: _HttpOptions = {"timeout": shop.http.timeout.total_seconds(), "max_attempts": shop.http.max_attempts,
            "max_backoff": shop.http.max_backoff.total_seconds()}
    sources: list[StripeSource | MollieSource] = []
    stripe, mollie = shop.payments.stripe, shop.payments.mollie
    if stripe.api_key is not None:
        sources.append(StripeSource(stripe_http(stripe.api_key.reveal(), url=stripe.url, **http)))
    if mollie.api_key is not None:
        sources.append(MollieSource(mollie_http(mollie.api_key.reveal(), url=mollie.url, **http)))
    return sources
