"""`mahnwerk demo`: the whole mirror against the built-in sandbox shop, with a throw-away config and database."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from mahnwerk.sandbox import SandboxServer, WooSandbox, malformed_orders

DEMO_SHOP = """\
# Written by `mahnwerk demo`: a shop file as a merchant would write one (see config.example.toml).
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


def write_demo_config(folder: Path, *, url: str, key: str, secret: str) -> Path:
    """A complete config folder for the sandbox shop: mahnwerk.toml, shops/demo.toml and a secret file."""
    (folder / "shops").mkdir(parents=True, exist_ok=True)
    (folder / "mahnwerk.toml").write_text(
        f'[database]\nurl = "sqlite:///{folder / "mahnwerk.db"}"\n\n[logging]\nlevel = "error"   # the demo shows quarantined records in a table instead\n', encoding="utf-8")
    (folder / "demo-secret.txt").write_text(secret + "\n", encoding="utf-8")
    (folder / "demo-secret.txt").chmod(0o600)
    (folder / "shops" / "demo.toml").write_text(DEMO_SHOP.format(url=url, key=key), encoding="utf-8")
    return folder


def run_demo(ctx: Any, *, orders: int, keep: Path | None) -> None:
    """Start the sandbox, write a config for it, sync, and print the claims with aging and the quarantine."""
    from mahnwerk.sync.bootstrap import open_store
    from mahnwerk.sync.cli import run_sync, show_claims

    with ExitStack() as stack:
        folder = keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mahnwerk-demo-")))
        shop = WooSandbox.generated(orders, seed=2026)  # orders are built when read: small even for 100,000
        for broken in malformed_orders():
            shop.add_order(broken)
        server = stack.enter_context(SandboxServer(shop))
        write_demo_config(folder, url=server.url, key=shop.consumer_key, secret=shop.consumer_secret)
        ctx.config_dir = folder
        config = ctx.config()
        out = ctx.out
        out.print(f"[bold]Mahnwerk demo[/]: a sandbox WooCommerce shop with {orders} orders at {server.url}")
        out.print(f"config in {folder} (shops/demo.toml), database {folder / 'mahnwerk.db'}\n")
        store = stack.enter_context(closing(open_store(config)))
        run_sync(ctx, store, config.shops)
        out.print()
        show_claims(ctx, store, config.shops, state="open", limit=25)
        out.print()
        show_claims(ctx, store, config.shops, quarantine=True)
        out.print("\nA second sync is incremental: with nothing changed it costs one request.")
        run_sync(ctx, store, config.shops)
        if keep:
            out.print(f"\nTry: mahnwerk --config-dir {folder} claims --json   (the sandbox shop has stopped; "
                      "the database stays)")

