"""The Shopware 6 kind as the configuration knows it: its `[shop.auth]` keys, page size limit and defaults.
Connecting to one comes with the Shopware connector; until then `check` and `sync` say so for that shop only.

Statuses are the order transaction's states (shared/reference/shopware6.md); invoice methods are payment methods'
technical names.
"""

from __future__ import annotations

from mahnwerk.connectors.kinds import ShopKind

KIND = ShopKind(
    name="shopware6",
    title="Shopware 6",
    auth_keys=("client_id", "client_secret"),
    max_page_size=500,
    default_statuses={"open": ("open", "reminded", "paid_partially"), "paid": ("paid",),
                      "cancelled": ("cancelled", "failed", "chargeback"), "refunded": ("refunded",)},
    default_invoice_methods=("payment_invoicepayment",),
    auth_hint="check client_id and client_secret in [shop.auth] (an integration's access key and secret)",
    connect=None,
)
