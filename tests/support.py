"""Helpers for tests and benchmarks: config folders that point at a sandbox shop."""

from __future__ import annotations

from pathlib import Path

SHOP_TOML = """\
[shop]
id = "{shop_id}"
kind = "woocommerce"
url = "{url}"
timezone = "Europe/Berlin"

[shop.auth]
consumer_key = "{key}"
consumer_secret = "{secret}"

[invoice]
payment_methods = {methods}
payment_term_days = 14
{extra}
"""


SHOPWARE_TOML = """\
[shop]
id = "{shop_id}"
kind = "shopware6"
url = "{url}"
timezone = "Europe/Berlin"

[shop.auth]
client_id = "{key}"
client_secret = "{secret}"

[invoice]
payment_methods = {methods}
payment_term_days = 14
{extra}
"""

TEMPLATES = {"woocommerce": (SHOP_TOML, '["bacs", "cheque", "invoice"]'),
             "shopware6": (SHOPWARE_TOML, '["payment_invoicepayment"]')}


def write_config(folder: Path, db_url: str, shops: list[dict]) -> Path:
    """A config folder with mahnwerk.toml and one shop file per entry of `shops` (keys of SHOP_TOML; `methods`,
    `extra` and `kind` ("woocommerce", "shopware6") are optional; `key`/`secret` are the kind's two credentials)."""
    (folder / "shops").mkdir(parents=True, exist_ok=True)
    (folder / "mahnwerk.toml").write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    for shop in shops:
        template, methods = TEMPLATES[shop.get("kind", "woocommerce")]
        values = {"extra": "", "methods": methods} | shop
        (folder / "shops" / f"{shop['shop_id']}.toml").write_text(template.format(**values), encoding="utf-8")
    return folder
