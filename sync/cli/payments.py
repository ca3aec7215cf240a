"""`mahnwerk payments`: import statement files, list the payments waiting for a person, assign or ignore them.
Registered on the `mahnwerk` group by sync/cli/main.py."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from mahnwerk.connectors.payment_records import IncomingPayment
from mahnwerk.connectors.statements import read_statement
from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.casework.acting import ActionRefused
from mahnwerk.sync.cli import views
from mahnwerk.sync.cli.cases import Amount, by_option
from mahnwerk.sync.cli.main import Context, cli, command_name, pass_context, wait_option
from mahnwerk.sync.cli.views import plain
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.payments.matchrun import run
from mahnwerk.sync.payments.queue import assign_payment, ignore_payment, waiting_payments
from mahnwerk.sync.payments.reconcile import Reconciled
from mahnwerk.sync.store.locks import shop_lock


@cli.group("payments")
def payments() -> None:
    """Incoming payments: import bank statements, see what waits for you, assign or ignore a payment."""


@payments.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--shop", "shop_id", help="The shop whose account the statements are of (needed with several shops).")
@click.option("--json", "as_json", is_flag=True, help="Print what was imported and matched as JSON.")
@wait_option
@pass_context
def import_command(ctx: Context, files: tuple[Path, ...], shop_id: str | None, as_json: bool, wait: float) -> None:
    """Import camt.052/053/054 or MT940 files; the same entry imported twice counts once. Then match."""
    store = ctx.store()
    shop = one_shop(ctx, shop_id, files)
    try:
        with shop_lock(store, shop.id, command=command_name(), wait=wait):
            imported, matched = run(store, shop, files, now=utcnow())
    finally:
        store.close()
    results, failed = [i.as_dict() for i in imported], any(i.error for i in imported)
    if as_json:
        click.echo(views.dumps({"shop": shop.id, "files": results, **matched.as_dict()}, indent=2))
    else:
        print_import(ctx, results, matched)
    if failed:
        raise click.exceptions.Exit(1)


def one_shop(ctx: Context, shop_id: str | None, files: tuple[Path, ...]) -> ShopConfig:
    """The shop the statements belong to: --shop, the only one, or the one whose [merchant] iban they are of."""
    shops = ctx.shops(shop_id)
    if len(shops) == 1:
        return shops[0]
    accounts = {statement_account(path) for path in files} - {""}
    owners = [s for s in shops if s.merchant.iban and s.merchant.iban in accounts]
    if len(owners) == 1 and len(accounts) == 1:
        return owners[0]
    raise click.UsageError(f"several shops are configured ({', '.join(s.id for s in shops)}) and the statements' "
                           f"account ({', '.join(sorted(accounts)) or 'unknown'}) is no single shop's "
                           "[merchant] iban: name the shop with --shop")


def statement_account(path: Path) -> str:
    """The IBAN a statement file is of (its first credit's account), "" when it cannot be told."""
    try:
        return next((r.account for r in read_statement(path) if isinstance(r, IncomingPayment) and r.account), "")
    except MahnwerkError:
        return ""


def print_import(ctx: Context, results: list[dict[str, Any]], matched: Reconciled) -> None:
    for r in results:
        if "error" in r:
            ctx.out.print(plain(f"{r['origin']}: REJECTED: {r['error']}"))
            continue
        skipped = ", ".join(f"{n} {why}" for why, n in r["skipped"].items())
        confirmed = f", {r['confirmed']} confirmed" if r["confirmed"] else ""
        ctx.out.print(plain(f"{r['origin']}: {r['new']} new{confirmed}, {r['duplicates']} already imported"
                            + (f", skipped: {skipped}" if skipped else "")
                            + (f", {len(r['problems'])} bad entries:" if r["problems"] else "")))
        for problem in r["problems"]:
            ctx.out.print(plain(f"  {problem['position']}: {problem['reason']}"))
    ctx.out.print(plain(f"{matched.shop}: {matched.booked} payments booked, {matched.closed} claims paid in full, "
                        f"{matched.partial} paid in part, {matched.credit} with a credit; {matched.review} to review, "
                        f"{matched.unmatched} unmatched (mahnwerk payments unmatched)"
                        + (f"; {matched.lost} decided by another process meanwhile, left as they are"
                           if matched.lost else "")))


@payments.command("unmatched")
@click.option("--shop", "shop_id", help="Only this shop.")
@click.option("--json", "as_json", is_flag=True, help="Print the queue as JSON.")
@pass_context
def unmatched_command(ctx: Context, shop_id: str | None, as_json: bool) -> None:
    """Payments waiting for a person: no claim found, or a guess below the shop's confidence threshold."""
    store = ctx.store()
    try:
        queue = waiting_payments(store, [s.id for s in ctx.shops(shop_id)])
    finally:
        store.close()
    if as_json:
        click.echo(views.dumps(queue, indent=2))
        return
    if not queue:
        ctx.out.print("no payments are waiting")
        return
    table = Table(title="Payments waiting for you (assign: mahnwerk payments assign ID SHOP:ORDER)",
                  title_justify="left")
    for name in ("id", "booked", "amount", "payer", "text", "state", "suggested", "why"):
        table.add_column(name, overflow="fold", justify="right" if name in ("id", "amount") else "left")
    for p in queue:
        table.add_row(str(p["id"]), p["booked_on"], plain(f"{p['unallocated']} {p['currency']}"),
                      plain(p["payer_name"]), plain(p["remittance"][:60]), p["state"],
                      plain(", ".join(p["candidates"])), plain(p["reason"]))
    ctx.out.print(table)


def usage_error(refused: ActionRefused) -> click.ClickException:
    """Click's own usage error for a refused action, as the commands raised before the web console shared them."""
    if refused.param:
        return click.BadParameter(str(refused), param_hint=refused.param)
    return click.UsageError(str(refused))


@payments.command("assign")
@click.argument("payment_id", type=int)
@click.argument("claim")
@click.option("--amount", type=Amount(), help="Book only this much of the payment to the claim (the rest waits); "
              "for a claim in another currency: what the whole payment is worth in the claim's currency.")
@by_option
@wait_option
@pass_context
def assign_command(ctx: Context, payment_id: int, claim: str, amount: Decimal | None, actor: str,
                   wait: float) -> None:
    """Book a waiting payment (or part of it) to a claim, named SHOP:ORDER_NUMBER; the ledger records who did.

    A payment in another currency than the claim's is only booked with --amount in the claim's currency (what the
    bank converted, as the statement or the customer says): the whole payment is then used up by that booking."""
    store = ctx.store()
    config = ctx.config()
    try:
        # The ledger has always said "payments" for a booking from the command line (the web console's say "web").
        done = assign_payment(store, config, payment_id, claim, amount, by=actor, source="payments", now=utcnow(),
                              command=command_name(), wait=wait)
    except ActionRefused as refused:
        raise usage_error(refused) from refused
    finally:
        store.close()
    ctx.out.print(plain(f"payment {payment_id}: {done.share} {done.currency} booked to {claim}"
                        + (" (paid in full, closed)" if done.closed else "")
                        + (f"; {done.left} {done.payment_currency} still waiting" if done.left else "")))


@payments.command("ignore")
@click.argument("payment_id", type=int)
@click.option("--reason", required=True, help="Why this is not a customer's payment (kept with it).")
@by_option
@wait_option
@pass_context
def ignore_command(ctx: Context, payment_id: int, reason: str, actor: str, wait: float) -> None:
    """Take a payment out of the queue for good: not a customer's (a refund from a supplier, a transfer...)."""
    store = ctx.store()
    try:
        ignore_payment(store, payment_id, reason, by=actor, source="cli", now=utcnow(), command=command_name(),
                       wait=wait)
    except ActionRefused as refused:
        raise usage_error(refused) from refused
    finally:
        store.close()
    ctx.out.print(plain(f"payment {payment_id}: ignored ({reason})"))
