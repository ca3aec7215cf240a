"""`mahnwerk rates`: the base-rate tables, where each row came from and the claims a missing row blocks; and
`mahnwerk rates update`, which fetches the German base rate from the Bundesbank."""

from __future__ import annotations

from typing import Any

import click
import structlog
from rich.table import Table

from mahnwerk.connectors.bundesbank import RatesUnavailable
from mahnwerk.sync.cli.logs import error_text
from mahnwerk.sync.cli.main import Context, cli, pass_context
from mahnwerk.sync.cli.views import dumps, plain, safe
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.service.baserates import rates_report, update_rates

log = structlog.get_logger("mahnwerk.rates")


@cli.group("rates", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the tables as JSON.")
@click.option("--all", "all_rows", is_flag=True, help="Every row since 2002, not only the newest six.")
@click.pass_context
def rates(click_ctx: click.Context, as_json: bool, all_rows: bool) -> None:
    """The base-rate tables (DE, AT): the last known half-year, where each row came from, the claims blocked by a
    missing half-year. `rates update` fetches the German rate."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Context = click_ctx.obj
    store = ctx.store()
    try:
        report = rates_report(store, ctx.config(), utcnow(), recent=None if all_rows else 6)
    finally:
        store.close()
    if as_json:
        click.echo(dumps({"tables": report}, indent=2))
        return
    for table in report:
        print_table(ctx, table)


def print_table(ctx: Context, table: dict[str, Any]) -> None:
    """One table: a headline with its end and the blocked claims, the fix, then its rows."""
    blocked = table["blocked_claims"]
    ctx.out.print(plain(f"{table['key'].upper()} {table['name']}: known until {table['known_until']}; "
                        f"{blocked} open claim(s) blocked"), soft_wrap=True)
    if table["gaps"]:
        gaps = ", ".join(table["gaps"])
        ctx.out.print(plain(f"  no row for the half-year(s) from {gaps}: interest there is refused"), soft_wrap=True)
    if blocked:
        fix = f"run `{table['fetch']}`, or add" if table["fetch"] else "add"
        ctx.out.print(plain(f"  to unblock them: {fix} the missing half-year as [[policy.base_rates]] "
                            f"(table = \"{table['key']}\") in the shop file"), soft_wrap=True)
    grid = Table(title_justify="left", show_edge=False)
    for name in ("valid_from", "rate %", "source", "fetched_at"):
        grid.add_column(name, overflow="fold")
    for row in table["rows"]:
        source = row["source"] if row["origin"] != "config" else f"config {row['source']} (shop {row['shop']})"
        grid.add_row(row["valid_from"], row["rate"], plain(source), row["fetched_at"] or "")
    ctx.out.print(grid)
    if len(table["rows"]) < table["row_count"]:
        ctx.out.print(f"  ... {table['row_count'] - len(table['rows'])} older rows (mahnwerk rates --all)")


@rates.command("update")
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@pass_context
def update(ctx: Context, as_json: bool) -> None:
    """Fetch the German base rate (Basiszinssatz) from the Bundesbank's statistics service into the store; the
    shops use it from the next command on (the daemon at its next tick)."""
    store = ctx.store()
    try:
        report = update_rates(store, ctx.config(), utcnow())
    except RatesUnavailable as exc:
        log.warning("rates.update_failed", reason=str(exc))
        click.echo(error_text(f"error: {safe(exc)}; nothing changed"), err=True)
        raise click.exceptions.Exit(1) from None
    finally:
        store.close()
    log.info("rates.updated", added=len(report.added), changed=len(report.changed), published=report.published)
    if as_json:
        click.echo(dumps(report.as_dict(), indent=2))
        return
    for line in report.lines():
        ctx.out.print(plain(line), soft_wrap=True)
