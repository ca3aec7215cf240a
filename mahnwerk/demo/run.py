"""`mahnwerk demo`: the whole mirror against the built-in sandbox shop, with a throw-away config and database."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack, closing
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from mahnwerk.demo.payments import show_payments
from mahnwerk.demo.shops import KINDS, DemoShop
from mahnwerk.sync.casework.timeline import explain
from mahnwerk.sync.cli import views
from mahnwerk.sync.mirror.mirror import utcnow

DEMO_SHOP = """\
# Written by `mahnwerk demo`: a shop file as a merchant would write one (see config.example.toml).
{shop_section}
[policy]
preset = "de-b2c"
region = "DE-BY"

# The shipped Basiszinssatz table ends with the last rate published when this version was released. The demo
# assumes the rate stayed at 1.27 % so that it can show interest; a merchant copies the published value from
# https://www.bundesbank.de (Mahnwerk refuses to compute interest for a half-year it has no rate for).
[[policy.base_rates]]
table = "de"
valid_from = 2026-07-01
rate = "1.27"

[[policy.base_rates]]             # the same assumption for the half-year the demo's simulated calendar reaches
table = "de"
valid_from = 2027-01-01
rate = "1.27"

# Who the notices come from and where customers pay (a made-up merchant).
[merchant]
name = "Gartenglück GmbH"
street = "Hauptstraße 1"
postcode = "10115"
city = "Berlin"
email = "buchhaltung@gartenglueck.test"
phone = "+49 30 1234567"
iban = "DE14 3704 0044 1234 5678 90"
bic = "COBADEFFXXX"
bank_name = "Commerzbank"

[letters]
folder = "letters"              # the print folder, relative to this config folder

[agency]
name = "Beispiel Inkasso GmbH"
address = "Musterweg 1, 10115 Berlin"
folder = "exports"
"""


def write_demo_config(folder: Path, *, shop_section: str, secret: str) -> Path:
    """A complete config folder for the sandbox shop: mahnwerk.toml, shops/demo.toml (`shop_section` is its
    [shop], [shop.auth] and [invoice]) and a secret file."""
    (folder / "shops").mkdir(parents=True, exist_ok=True)
    (folder / "mahnwerk.toml").write_text(
        f'[database]\nurl = "sqlite:///{folder / "mahnwerk.db"}"\n\n'
        '[logging]\nlevel = "error"   # the demo shows quarantined records in a table instead\n', encoding="utf-8")
    (folder / "demo-secret.txt").write_text(secret + "\n", encoding="utf-8")
    (folder / "demo-secret.txt").chmod(0o600)
    (folder / "shops" / "demo.toml").write_text(DEMO_SHOP.format(shop_section=shop_section), encoding="utf-8")
    return folder


def seed_story(store: Any, config: Any) -> list[str]:
    """Give three of the oldest claims a history, as casework would: a reminder sent 25 days ago, a dispute, and
    a payment plan. Returns their SHOP:ORDER_NUMBER."""
    from mahnwerk.sync.casework.case import hold, instalments, open_case
    from mahnwerk.sync.casework.casefile import claim_key

    shop = config.shops[0]
    refs = [claim_key(shop.id, number) for number in oldest_consumer_claims(store, shop)]
    now = utcnow()
    sent = now - timedelta(days=25)
    with store.session() as session:
        case = open_case(session, config, refs[0], actor="demo", now=sent)
        stage = shop.policy.stages[0]
        deadline = shop.policy.calendar.deadline(case.today, stage.deadline_days)
        case.record("stage", {"stage": stage.name, "kind": stage.kind, "deadline": deadline.isoformat(), "fee": "0",
                              "channel": stage.channel})
        hold(open_case(session, config, refs[1], actor="demo", now=now), "dispute",
             note="customer says the parcel never arrived")
        case = open_case(session, config, refs[2], actor="demo", now=now)
        instalments(case, 3, case.today + timedelta(days=7), "1m")
        session.commit()
    return refs


def _at(moment: datetime) -> datetime:
    """A clock that stands still at `moment`."""
    return moment


def oldest_consumer_claims(store: Any, shop: Any) -> list[str]:
    """Order numbers of the shop's open consumer claims, oldest due date first."""
    from sqlalchemy import select
    from sqlmodel import col

    from mahnwerk.sync.store.models import Claim, ClaimState

    with store.session() as session:
        return list(session.execute(select(col(Claim.order_number)).where(
            col(Claim.shop_id) == shop.id, col(Claim.state) == ClaimState.OPEN, col(Claim.is_b2b).is_(False))
            .order_by(col(Claim.due_date), col(Claim.id)).limit(3)).scalars())


def with_session_case(store: Any, config: Any, ref: str, work: Any) -> Any:
    from mahnwerk.sync.casework.case import open_case

    with store.session() as session:
        return work(open_case(session, config, ref, actor="demo", now=utcnow()))


def run_demo(ctx: Any, *, orders: int, keep: Path | None, kind: str = "woocommerce") -> None:
    """Start the sandbox shop of `kind`, write a config for it, sync, show the claims, run the ladder on a
    simulated calendar and import a bank statement."""
    from mahnwerk.sync.casework.planner import plan_rows
    from mahnwerk.sync.cli.main import run_sync, show_claims
    from mahnwerk.sync.service.bootstrap import open_store

    with ExitStack() as stack:
        folder = keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mahnwerk-demo-")))
        shop = KINDS[kind]()
        url = shop.start(stack, orders)
        write_demo_config(folder, shop_section=shop.shop_section(url), secret=shop.secret)
        ctx.config_dir = folder
        config = ctx.config()
        out = ctx.out
        out.print(f"[bold]Mahnwerk demo[/]: a sandbox {shop.title} shop with {orders} orders at {url}")
        out.print(f"config in {folder} (shops/demo.toml), database {folder / 'mahnwerk.db'}\n")
        store = stack.enter_context(closing(open_store(config)))
        run_sync(ctx, store, config.shops)
        out.print()
        show_claims(ctx, store, config.shops, state="open", limit=25)
        out.print()
        show_claims(ctx, store, config.shops, quarantine=True)
        out.print("\nA second sync is incremental: with nothing changed it costs one request.")
        run_sync(ctx, store, config.shops)
        story = seed_story(store, config)
        out.print("\n[bold]What the policy does today[/] (mahnwerk plan; the demo recorded a reminder sent 25 days "
                  f"ago for {story[0]}, a dispute for {story[1]} and a payment plan for {story[2]}):")
        counts = views.print_plan(out, plan_rows(store, config.shops, on=None, now=utcnow()), limit=12)
        out.print(views.plan_summary(counts))
        out.print(f"\n[bold]mahnwerk explain {story[0]}[/]")
        views.print_explanation(out, with_session_case(store, config, story[0], explain))
        last = act(ctx, store, config, shop)
        show_payments(ctx, store, config, shop, last + timedelta(days=2))
        if not keep:
            out.print("(this folder is removed when the demo ends; `mahnwerk demo --keep DIR` keeps the letters and "
                      "exports to open)")
        if keep:
            out.print(f"\nTry: mahnwerk --config-dir {folder} claims --json   (the sandbox shop has stopped; "
                      "the database stays)")



def act(ctx: Any, store: Any, config: Any, shop: DemoShop) -> datetime:
    """`mahnwerk run` on a simulated calendar: today, then every two weeks, so that every stage happens once;
    returns the last simulated moment."""
    from mahnwerk.sync.cli.runs import SUMMARY
    from mahnwerk.sync.service.running import run_shops

    out, start = ctx.out, utcnow()
    out.print("\n[bold]mahnwerk run[/] on a simulated calendar (each run: sync, decide, execute; the demo skips the "
              "pacing of messages_per_minute):")
    with views.row_progress(out, enabled=out.is_terminal) as bar:
        for days in range(0, 99, 14):
            moment = start + timedelta(days=days)
            [result] = run_shops(store, config, config.shops, now=partial(_at, moment), sleep=lambda seconds: None,
                                 progress=bar(f"  day +{days:<3}") if bar else None)
            summary = result.as_dict()
            done = ", ".join(f"{summary[k]} {k.replace('_', ' ')}" for k in SUMMARY if summary.get(k))
            out.print(views.plain(f"  day +{days:<3} {done or 'nothing due'}"))
            for error in summary["errors"][:3]:
                out.print(views.plain(f"    error: {error}"))
    mails = shop.customer_mails()
    out.print(f"\nThe sandbox shop mailed {len(mails)} notices to customers; the first, as {shop.title} sent it to "
              f"{mails[0][0]}:" if mails else "\nNo notices were mailed.")
    if mails:
        out.print(views.plain("\n".join("  " + line for line in mails[0][1].splitlines())[:1500], lines=True))
    folder = config.config_dir
    letters = sorted((folder / "letters").rglob("*.pdf"))
    exports = sorted((folder / "exports").glob("*.csv"))
    out.print(f"\nPDF letters for postal mail: {len(letters)}, e.g. {letters[0] if letters else '-'}")
    out.print(f"Agency exports: {len(exports)}, e.g. {exports[0] if exports else '-'} (with its .manifest.json)")
    out.print("mahnwerk status:")
    from mahnwerk.sync.cli.runs import status_report

    for line in status_report(store, [s.id for s in config.shops]):
        out.print(views.plain(f"  {line['shop']}: {line['open_claims']} open, {line['in_collection']} with the agency, "
                              f"outbox {line['outbox']}, {line['open_tasks']} open tasks"))
    return start + timedelta(days=98)
