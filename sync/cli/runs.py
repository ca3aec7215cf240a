"""Commands that act: `run` (sync → decide → execute), `status` (what is waiting, what failed), and `outbox`
(the rows themselves; retry or settle a dead letter by hand). Registered on the `mahnwerk` group by sync/cli/main.py."""

from __future__ import annotations

from datetime import date
from typing import Any

import click
from rich.table import Table
from sqlalchemy import select
from sqlmodel import col

from mahnwerk.policy.engine import RateGap
from mahnwerk.sync.casework.acting import ActionRefused
from mahnwerk.sync.casework.blocked import count_blocked, message
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.casework.status import status_report
from mahnwerk.sync.cli.cases import by_option
from mahnwerk.sync.cli.logs import error_text
from mahnwerk.sync.cli.main import Context, cli, command_name, exit_code, pass_context, wait_option
from mahnwerk.sync.cli.views import dumps, plain, safe
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.outbox.settle import settle_dead_letter
from mahnwerk.sync.service.running import run_shops
from mahnwerk.sync.store.models import OutboxRow

SUMMARY = ("decided", "sent", "letters", "recovered", "exports", "closed", "written_back", "skipped_paid", "skipped",
           "retrying", "dead", "tasks")


@cli.command("run")
@click.option("--shop", "shop_id", help="Run only this shop.")
@click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing (no sync, no sends).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@wait_option
@pass_context
def run(ctx: Context, shop_id: str | None, dry_run: bool, as_json: bool, wait: float) -> None:
    """Sync, decide what each claim needs today, and do it: notes, mails, letters, agency exports."""
    store = ctx.store()
    config = ctx.config()
    shops = ctx.shops(shop_id)
    try:
        results = run_shops(store, config, shops, dry_run=dry_run, wait=wait)
    finally:
        store.close()
    if as_json:
        click.echo(dumps([r.as_dict() for r in results], indent=2))
    else:
        for r in results:
            print_run(ctx, r.as_dict(), dry_run=dry_run)
    if code := exit_code(results):
        raise click.exceptions.Exit(code)


def print_blocked(ctx: Context, shop: str, blocked: dict[str, Any]) -> None:
    """The claims that wait for a base rate, one line per table, with the command that fixes it."""
    for t in blocked["tables"]:
        line = message(RateGap(t["table"], date.fromisoformat(t["from"])), t["claims"], t["reminders_without_interest"])
        ctx.out.print(plain(f"  {shop}: {line}"), style="yellow", soft_wrap=True)


def print_run(ctx: Context, r: dict[str, Any], *, dry_run: bool) -> None:
    if dry_run:
        table = Table(title=f"{r['shop']}: what a run would do now (nothing was changed)", title_justify="left")
        for name in ("claim", "stage", "kind", "channel", "state"):
            table.add_column(name, overflow="fold")
        for w in r.get("would", []):
            table.add_row(*(plain(str(w[k])) for k in ("claim", "stage", "kind", "channel", "state")))
        ctx.out.print(table if r.get("would") else f"{r['shop']}: nothing to do today")
    else:
        ctx.out.print(plain(f"{r['shop']}: " + ", ".join(f"{r.get(k, 0)} {k.replace('_', ' ')}" for k in SUMMARY)))
    print_blocked(ctx, r["shop"], r["blocked"])
    for error in r["errors"]:
        click.echo(error_text(f"error: {safe(error)}"), err=True)


@cli.command("status")
@click.option("--shop", "shop_id", help="Only this shop.")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def status(ctx: Context, shop_id: str | None, as_json: bool) -> None:
    """Per shop: the last sync, open claims, the outbox (pending, dead letters) and open tasks."""
    store = ctx.store()
    shops = ctx.shops(shop_id)
    try:
        report = status_report(store, [s.id for s in shops])
        now = utcnow()
        for entry, shop in zip(report, shops, strict=True):
            entry["blocked"] = count_blocked(store, shop, shop_today(shop, now)).as_dict()
    finally:
        store.close()
    if as_json:
        click.echo(dumps(report, indent=2, default=str))
        return
    for s in report:
        ctx.out.print(plain(f"{s['shop']}: last sync {s['last_sync'] or 'never'} ({s['last_sync_outcome'] or '-'}); "
                            f"{s['open_claims']} open, {s['in_collection']} with the agency; outbox "
                            + ", ".join(f"{n} {state}" for state, n in s["outbox"].items())
                            + f"; {s['open_tasks']} open tasks"
                            + f"; {s['payments_waiting']} payments waiting (mahnwerk payments unmatched)"))
        if full := s["disk_full"]:
            ctx.out.print(plain(f"  {full['rows']} rows wait for disk space ({full['error']}); free space, the next "
                                "run sends them"), style="bold red")
        for dead in s["dead_letters"]:
            ctx.out.print(plain(f"  dead letter {dead['id']} {dead['key']}: {dead['error']}"))
        print_blocked(ctx, s["shop"], s["blocked"])


@cli.group("outbox", invoke_without_command=True)
@click.option("--shop", "shop_id", help="Only this shop.")
@click.option("--state", type=click.Choice(["pending", "sending", "done", "skipped", "dead", "all"]), default="all")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox(click_ctx: click.Context, shop_id: str | None, state: str, limit: int, as_json: bool) -> None:
    """Outbox rows, newest first; `outbox retry ID` or `outbox done ID` settles a dead letter."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Context = click_ctx.obj
    shops = [s.id for s in ctx.shops(shop_id)]
    store = ctx.store()
    try:
        with store.session() as session:
            query = (select(OutboxRow).where(col(OutboxRow.shop_id).in_(shops))
                     .order_by(col(OutboxRow.id).desc()).limit(limit))
            if state != "all":
                query = query.where(col(OutboxRow.state) == state)
            rows = [{"id": r.id, "key": r.key, "kind": r.kind, "stage": r.stage,
                     "channel": r.payload.get("channel_used", r.channel), "planned_on": r.planned_on.isoformat(),
                     "state": r.state, "attempts": r.attempts, "reference": r.reference, "error": r.last_error}
                    for r in session.execute(query).scalars()]
    finally:
        store.close()
    if as_json:
        click.echo(dumps(rows, indent=2))
        return
    table = Table(title="Outbox", title_justify="left")
    for name in ("id", "key", "channel", "planned_on", "state", "attempts", "reference / error"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(*(plain(str(v)) for v in (r["id"], r["key"], r["channel"], r["planned_on"], r["state"],
                                                r["attempts"], r["reference"] or r["error"])))
    ctx.out.print(table if rows else "The outbox is empty.")


def settle_command(verb: str, summary: str) -> None:
    """`outbox retry`, `outbox done` and `outbox skip`: a person's decision about a dead letter. Done and skip
    write the stage into the ledger (as sent, or as skipped) so the ladder goes on from it."""

    @outbox.command(verb, help=summary)
    @click.argument("row_id", type=int)
    @click.option("--note", default="", help="Why, for the ledger.")
    @by_option
    @wait_option
    @pass_context
    def settle(ctx: Context, row_id: int, note: str, actor: str, wait: float) -> None:
        store = ctx.store()
        config = ctx.config()
        try:
            outcome = settle_dead_letter(store, config, row_id, verb, note=note, by=actor, source="cli",
                                         now=utcnow(), command=command_name(), wait=wait)
        except ActionRefused as refused:  # click's own usage error, as before the web console shared this
            raise click.UsageError(str(refused)) from refused
        finally:
            store.close()
        ctx.out.print(f"outbox row {row_id}: {outcome}")


settle_command("retry", "Queue a dead letter again (after fixing its cause).")
settle_command("done", "The dead letter did reach the customer (e.g. the mail server's log shows it): record it.")
settle_command("skip", "Do not send this stage at all; the ladder goes on with the next one.")
