"""The `mahnwerk` command line. Each command is a few lines calling sync/ or policy/; errors become exit codes.

Exit codes: 0 ok, 1 a shop or the store failed, 2 usage or configuration error, 3 a shop was busy in another
mahnwerk process for longer than `--wait`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mahnwerk import __version__
from mahnwerk.connectors.kinds import kinds
from mahnwerk.errors import ConfigError, MahnwerkError
from mahnwerk.sync.casework.blocked import FIX
from mahnwerk.sync.casework.reports import aging, claim_rows, quarantine_rows
from mahnwerk.sync.cli import views
from mahnwerk.sync.cli.logs import configure_logging, error_text
from mahnwerk.sync.config import DEFAULT_CONFIG_DIR, Config, ShopConfig, load_config
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.service.baserates import config_with_rates
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.checks import check_shops, check_store
from mahnwerk.sync.service.syncing import sync_shops
from mahnwerk.sync.store.engine import Store


class Context:
    """What every command gets: where the configuration is, and how to talk to the person at the terminal."""

    def __init__(self, config_dir: Path, log_level: str | None, log_format: str | None) -> None:
        self.config_dir, self.log_level, self.log_format = config_dir, log_level, log_format
        # Piped output is read by people in pagers and logs too: wide enough that rows stay on one line.
        self.out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
        self._config: Config | None = None

    def config(self) -> Config:
        """The configuration, loaded once; logging is set up from it (command-line flags win)."""
        if self._config is None:
            self._config = load_config(self.config_dir)
            level = self.log_level or self._config.logging.level
            if not self.log_level and sys.stderr.isatty() and level in ("debug", "info"):
                level = "warning"  # a person at a terminal gets the progress bar and the summary, not every page
            configure_logging(level, self.log_format or self._config.logging.format)
        return self._config

    def store(self) -> Store:
        """The store, opened and migrated. From here on `config()` and `shops()` compute interest with the base
        rates fetched into it (`mahnwerk rates update`) besides the shipped and configured ones: every command that
        opens the store goes through here, so none forgets them."""
        store = open_store(self.config())
        try:
            self._config = config_with_rates(self.config(), store)
        except BaseException:
            store.close()
            raise
        return store

    def shops(self, shop_id: str | None) -> tuple[ShopConfig, ...]:
        """All configured shops, or the one asked for."""
        config = self.config()
        return (config.shop(shop_id),) if shop_id else config.shops


pass_context = click.make_pass_decorator(Context)
wait_option = click.option(
    "--wait", type=click.FloatRange(0, 86_400), default=30.0, show_default=True, metavar="SECONDS",
    help="How long to wait for a shop another mahnwerk process is working on (the daemon, say); then exit 3.")


def command_name() -> str:
    """The command being run, as a lock holder names itself ("payments import")."""
    context = click.get_current_context(silent=True)
    return context.command_path.removeprefix("mahnwerk").strip() or "mahnwerk" if context else "mahnwerk"


def exit_code(results: Sequence[Any]) -> int:
    """0 when every shop went well; else 2 for a configuration that forbids the work, 1 for a failure, 3 when the
    only trouble was a shop busy in another process."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return 0
    if any(getattr(r, "refused", False) for r in failed):
        return 2
    return 3 if all(r.busy for r in failed) else 1


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mahnwerk")
@click.option("--config-dir", type=click.Path(path_type=Path), envvar="MAHNWERK_CONFIG_DIR",
              default=DEFAULT_CONFIG_DIR, show_default=True, show_envvar=True,
              help="Folder with mahnwerk.toml and shops/*.toml.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default=None,
              help="Overrides logging.level.")
@click.option("--log-format", type=click.Choice(["auto", "console", "json"]), default=None,
              help="Overrides logging.format.")
@click.pass_context
def cli(ctx: click.Context, config_dir: Path, log_level: str | None, log_format: str | None) -> None:
    """Mahnwerk mirrors unpaid invoice orders from your shops and chases them, politely and lawfully."""
    configure_logging(log_level or "warning", log_format or "auto")
    ctx.obj = Context(config_dir, log_level, log_format)


@cli.command()
@click.option("--shop", "shop_id", help="Check only this shop.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@pass_context
def check(ctx: Context, shop_id: str | None, as_json: bool) -> None:
    """Validate the configuration and test each shop: reachable, credentials accepted, invoice methods."""
    config = ctx.config()
    store_line = check_store(config)
    store = ctx.store()  # the shops' policies now include the fetched base rates
    try:
        verdicts = check_shops(ctx.shops(shop_id), store)
    finally:
        store.close()
    if as_json:
        click.echo(views.dumps([v.as_dict() for v in verdicts], indent=2))
    else:
        ctx.out.print(views.plain(f"configuration: {config.config_dir} ok, {len(config.shops)} shop(s)"))
        for warning in config.warnings:
            ctx.out.print(views.plain(f"  warning: {warning}"))
        ctx.out.print(views.plain(store_line))
        if not config.shops:
            ctx.out.print(f"no shops configured: add one file per shop to {config.config_dir / 'shops'}/ "
                          "(see config.example.toml)")
        for verdict in verdicts:
            for line in verdict.lines():
                ctx.out.print(views.plain(line), soft_wrap=True)  # one line each, for grep and the journal
    if not verdicts or not all(v.ok for v in verdicts):
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--shop", "shop_id", help="Sync only this shop.")
@click.option("--reread/--no-reread", default=None,
              help="Re-read all open claims by id now (default: every sync.reread_interval).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@wait_option
@pass_context
def sync(ctx: Context, shop_id: str | None, reread: bool | None, as_json: bool, wait: float) -> None:
    """Mirror unpaid invoice orders from the shops into the local store."""
    store = ctx.store()
    shops = ctx.shops(shop_id)
    try:
        results = run_sync(ctx, store, shops, reread=reread, as_json=as_json, wait=wait)
    finally:
        store.close()
    if code := exit_code(results):
        raise click.exceptions.Exit(code)


def run_sync(ctx: Context, store: Any, shops: Sequence[ShopConfig], *, reread: bool | None = None,
             as_json: bool = False, wait: float = 30.0) -> list[Any]:
    """Sync with a progress bar on a terminal, then print the summary (table or JSON)."""
    with views.sync_progress(ctx.out, enabled=ctx.out.is_terminal and not as_json) as on_page:
        results = sync_shops(store, shops, reread=reread, on_page=on_page, wait=wait)
    if as_json:
        click.echo(views.dumps([r.as_dict() for r in results], indent=2))
    else:
        ctx.out.print(views.sync_table(results))
        for r in results:
            if r.error:
                click.echo(error_text(f"error: {r.error}"), err=True)
    return results


@cli.command()
@click.option("--shop", "shop_id", help="Only this shop.")
@click.option("--state", type=click.Choice(["open", "in_collection", "closed", "all"]), default="open",
              show_default=True, help="in_collection: handed to the agency.")
@click.option("--quarantine", is_flag=True, help="Show the quarantined records instead.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of tables.")
@pass_context
def claims(ctx: Context, shop_id: str | None, state: str, quarantine: bool, as_json: bool) -> None:
    """Who owes what since when, with aging buckets and totals per currency."""
    store = ctx.store()
    shops = ctx.shops(shop_id)
    try:
        show_claims(ctx, store, shops, state=state, quarantine=quarantine, as_json=as_json)
    finally:
        store.close()


def show_claims(ctx: Context, store: Any, shops: Sequence[ShopConfig], *, state: str = "open",
                quarantine: bool = False, as_json: bool = False, limit: int | None = None) -> None:
    """Print claims (or the quarantine) as tables with aging totals, or as JSON; `limit` caps the table rows."""
    rows = quarantine_rows(store, shops) if quarantine else claim_rows(store, shops, state=state, now=utcnow())
    if as_json:
        click.echo(views.dumps(rows, indent=2))
    elif quarantine:
        ctx.out.print(views.quarantine_table(rows) if rows else "No quarantined records.")
    else:
        shown = rows[:limit] if limit else rows
        ctx.out.print(views.claims_table(shown, title=f"Claims ({state})", width=ctx.out.width)
                      if rows else f"No {state} claims.")
        if len(shown) < len(rows):
            ctx.out.print(f"... and {len(rows) - len(shown)} more (mahnwerk claims lists them all)")
        if blocked := sum(1 for r in rows if r["owed"] is None):
            ctx.out.print(f"owed ?: interest blocked for {blocked} claim(s), a base rate is missing: run "
                          f"`{FIX}` (mahnwerk check names it)", soft_wrap=True)
        if any(r["state"] == "open" for r in rows):
            ctx.out.print(views.aging_table(aging(rows)))


@cli.command()
@click.option("--shop", "shop_id", help="Run only this shop.")
@pass_context
def daemon(ctx: Context, shop_id: str | None) -> None:
    """Run as a service until SIGTERM (for systemd): sync every shop every sync.interval, and once a day at
    delivery.run_at decide and send (like `mahnwerk run`)."""
    from mahnwerk.sync.service.daemon import run_daemon
    from mahnwerk.sync.store.locks import daemon_lock

    shops = ctx.shops(shop_id)
    if not shops:
        raise click.UsageError(f"no shops configured in {ctx.config().config_dir / 'shops'}")
    store = ctx.store()
    shops = ctx.shops(shop_id)  # with the fetched base rates; the daemon reads newer ones on every tick
    try:
        with daemon_lock(store):  # one daemon per SQLite file; any number on PostgreSQL
            run_daemon(store, shops, config=ctx.config(), workers=ctx.config().daemon.workers)
    finally:
        store.close()


@cli.command()
@click.option("--orders", default=120, show_default=True, type=click.IntRange(1, 100_000),
              help="How many orders the sandbox shop holds.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo's config and database in this folder instead of a temporary one.")
@click.option("--kind", type=click.Choice(list(kinds())), default=next(iter(kinds())), show_default=True,
              help="Which shop system the sandbox shop is.")
@click.pass_context
def demo(click_ctx: click.Context, orders: int, keep: Path | None, kind: str) -> None:
    """Sync a built-in sandbox shop on 127.0.0.1 and show its claims. No shop or network needed."""
    from mahnwerk.demo.run import run_demo

    run_demo(click_ctx.obj, orders=orders, keep=keep, kind=kind)


# Registers plan, explain, tasks and casework; payments; preview; rates; run, status and outbox; web on the `cli`
# group.
from mahnwerk.sync.cli import cases, payments, previews, rates, runs, web  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting (tests call this directly)."""
    try:
        code = cli.main(args=argv, prog_name="mahnwerk", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except MahnwerkError as exc:
        text = f"configuration error:\n{exc}" if isinstance(exc, ConfigError) else f"error: {views.safe(exc)}"
        click.echo(error_text(text), err=True)
        return exc.exit_code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
