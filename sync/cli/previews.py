"""`mahnwerk preview SHOP:ORDER`: the claim's next notice as its customer will get it. Registered on the
`mahnwerk` group by sync/cli/main.py."""

from __future__ import annotations

from pathlib import Path

import click

from mahnwerk.connectors.files import write_private
from mahnwerk.sync.casework.case import parse_claim_ref
from mahnwerk.sync.casework.preview import Preview, preview_ref
from mahnwerk.sync.cli import views
from mahnwerk.sync.cli.logs import error_text
from mahnwerk.sync.cli.main import Context, cli, pass_context
from mahnwerk.sync.mirror.mirror import utcnow


@cli.command()
@click.argument("claim")
@click.option("--pdf", "pdf_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the notice as a PDF letter to this file (exit 1 if there is no notice).")
@click.option("--json", "as_json", is_flag=True, help="Print the preview as JSON.")
@pass_context
def preview(ctx: Context, claim: str, pdf_file: Path | None, as_json: bool) -> None:
    """The claim's next notice exactly as the customer will get it: channel, subject, text (and its letter).
    Sends and records nothing."""
    parse_claim_ref(claim)  # a malformed name fails before the store is opened
    store = ctx.store()
    try:
        shown = preview_ref(store, ctx.config(), claim, utcnow(), with_pdf=pdf_file is not None)
    finally:
        store.close()
    if as_json:
        click.echo(views.dumps(shown.as_dict(), indent=2))
    else:
        print_preview(ctx, shown)
    if pdf_file is not None:
        if shown.pdf is None:
            click.echo(error_text(f"no letter written: {shown.reason}"), err=True)
            raise click.exceptions.Exit(1)
        write_private(pdf_file, shown.pdf)
        if not as_json:
            sent = "" if shown.has_letter else f"; the customer gets the {shown.stage} without it, by {shown.channel}"
            ctx.out.print(views.plain(f"letter written to {pdf_file} ({len(shown.pdf)} bytes){sent}"))


def print_preview(ctx: Context, shown: Preview) -> None:
    """Header lines, then the mail text as the customer reads it (terminal controls made visible)."""
    out = ctx.out
    if not shown.found:
        out.print(views.plain(f"{shown.claim}: {shown.reason}"), soft_wrap=True)
        return
    on = shown.on.isoformat() if shown.on else "?"
    letter = ", with a PDF letter" if shown.has_letter else ""
    out.print(views.plain(f"{shown.claim}: {shown.stage} on {on} by {shown.channel}{letter} ({shown.language})"),
              soft_wrap=True)
    out.print(views.plain(f"why: {shown.reason}"), soft_wrap=True)
    for warning in shown.warnings:
        out.print(views.plain(f"warning: {warning}"), soft_wrap=True)
    out.print(views.plain(f"subject: {shown.subject}"), soft_wrap=True)
    out.print()
    out.print(views.plain(shown.text, lines=True), soft_wrap=True)
