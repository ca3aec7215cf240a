"""Commands around the policy: `plan`, `explain`, `tasks`, and the casework that writes the ledger (`hold`,
`release`, `instalments`, `mark-paid`, `note`). Registered on the `mahnwerk` group by sync/cli/main.py."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from mahnwerk.policy.model import HOLD_KINDS
from mahnwerk.sync.casework.acting import act_on_case
from mahnwerk.sync.casework.case import (
    Case,
    CaseError,
    hold,
    instalments,
    mark_paid,
    note,
    parse_amount,
    release,
)
from mahnwerk.sync.casework.fanout import in_order, usable_cpus
from mahnwerk.sync.casework.planner import PlanChunk, chunk_rows, plan_chunks, plan_rows
from mahnwerk.sync.casework.tasks import finish_tasks, open_tasks
from mahnwerk.sync.casework.timeline import explain as explain_case
from mahnwerk.sync.cli import views
from mahnwerk.sync.cli.main import Context, cli, command_name, pass_context, wait_option
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.store.engine import Store


def default_actor() -> str:
    """Who is at the keyboard: the sudo caller if any, else the login name."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


class Amount(click.ParamType):
    name = "amount"

    def convert(self, value: Any, param: Any, ctx: Any) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            return parse_amount(str(value))
        except CaseError as exc:
            self.fail(str(exc), param, ctx)


DATE = click.DateTime(formats=["%Y-%m-%d"])
MAX_JOBS = 4  # `plan --json` processes by default (as many as there are cores, up to this): ~110 MB RSS each
by_option = click.option("--by", "actor", default=default_actor, show_default="your login name",
                         help="Who makes this change (recorded in the ledger).")


def as_date(value: datetime | None) -> date | None:
    return value.date() if value else None


def write_plan_json(store: Store, shops: Sequence[ShopConfig], *, on: date | None, due: bool, jobs: int) -> None:
    """The plan as a JSON array, one row per line, chunk by chunk: a million rows never sit in memory at once.
    `jobs` processes plan the chunks (sync/casework/fanout.py), which come out in claim order all the same."""
    stdout = sys.stdout
    encoding, errors = stdout.encoding, stdout.errors or "strict"

    def text(part: PlanChunk) -> bytes:
        rows = chunk_rows(store, part)
        return views.dumps_joined((r for r in rows if r["status"] == "due") if due else rows,
                                  ",\n  ").encode(encoding, errors)

    parts = plan_chunks(store, shops, on=on, now=utcnow())
    out = getattr(stdout, "buffer", None)
    write = out.write if out is not None else (lambda data: stdout.write(data.decode(encoding, errors)))
    stdout.flush()
    write(b"[")
    if out is not None:
        out.flush()  # the children start with what is buffered here, and flush it again when they end
    separator = b"\n  "
    for chunk in in_order(parts, text, processes=jobs, forked=lambda: store.engine.dispose(close=False)):
        if chunk:
            write(separator)
            write(chunk)
            separator = b",\n  "
    write(b"\n]\n")
    if out is not None:
        out.flush()


@cli.command()
@click.option("--shop", "shop_id", help="Only this shop.")
@click.option("--date", "on", type=DATE, help="Plan for this day (default: today in each shop's timezone).")
@click.option("--due", is_flag=True, help="Only claims with an action due on that day.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (one object per open claim).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, show_default=f"the cores, at most {MAX_JOBS}",
              help="Processes that plan the claims for --json (each on a core of its own).")
@pass_context
def plan(ctx: Context, shop_id: str | None, on: datetime | None, due: bool, as_json: bool, jobs: int | None) -> None:
    """Dry run: for each open claim, the next action, its date, fee, interest and why. Sends nothing."""
    store = ctx.store()
    shops = ctx.shops(shop_id)
    try:
        if as_json:
            write_plan_json(store, shops, on=as_date(on), due=due, jobs=jobs or min(usable_cpus(), MAX_JOBS))
        else:
            rows = plan_rows(store, shops, on=as_date(on), now=utcnow())
            if due:
                rows = (r for r in rows if r["status"] == "due")
            counts = views.print_plan(ctx.out, rows)
            ctx.out.print(views.plan_summary(counts) if counts else "No open claims.")
    finally:
        store.close()


@cli.command()
@click.argument("claim")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline and assessment as JSON.")
@pass_context
def explain(ctx: Context, claim: str, as_json: bool) -> None:
    """A claim's whole story (synced changes, notices, payments, holds) and what happens next, and why."""
    report = with_case(ctx, claim, None, explain_case, write=False)
    if as_json:
        click.echo(views.dumps(report, indent=2))
    else:
        views.print_explanation(ctx.out, report)


def with_case(ctx: Context, ref: str, actor: str | None, work: Callable[[Case], Any], *, write: bool = True,
              wait: float = 30.0) -> Any:
    """Open the store and the claim, do `work` and commit it under the shop's lock (reading needs no lock)."""
    store = ctx.store()
    try:
        return act_on_case(store, ctx.config(), ref, work, by=actor or "", source="cli", now=utcnow(),
                           command=command_name(), wait=wait, write=write)
    finally:
        store.close()


@cli.command("hold")
@click.argument("claim")
@click.option("--reason", type=click.Choice(HOLD_KINDS), required=True, help="Why dunning pauses.")
@click.option("--until", type=DATE, help="The hold ends by itself on this day (default: until released).")
@click.option("--note", default="", help="Free text for the ledger, e.g. what the customer disputes.")
@by_option
@wait_option
@pass_context
def hold_command(ctx: Context, claim: str, reason: str, until: datetime | None, note: str, actor: str,
        wait: float) -> None:
    """Pause dunning for a claim (a dispute also stops default interest)."""
    with_case(ctx, claim, actor, lambda case: hold(case, reason, note=note, until=as_date(until)), wait=wait)
    ctx.out.print(views.plain(f"{claim}: on hold ({reason})" + (f" until {as_date(until)}" if until else
                                                                 " until released")))


@cli.command("release")
@click.argument("claim")
@click.option("--note", default="", help="Free text for the ledger.")
@by_option
@wait_option
@pass_context
def release_command(ctx: Context, claim: str, note: str, actor: str,
        wait: float) -> None:
    """End a hold or a payment plan; dunning resumes with a fresh deadline."""
    with_case(ctx, claim, actor, lambda case: release(case, note=note), wait=wait)
    ctx.out.print(views.plain(f"{claim}: released; `mahnwerk explain {claim}` shows what comes next"))


@cli.command("instalments")
@click.argument("claim")
@click.option("--count", type=click.IntRange(2, 60), required=True, help="Number of instalments.")
@click.option("--first", type=DATE, required=True, help="Due date of the first instalment.")
@click.option("--every", default="1m", show_default=True, help='Spacing: "1m" (months), "2w" (weeks), "14d" (days).')
@by_option
@wait_option
@pass_context
def instalments_command(ctx: Context, claim: str, count: int, first: datetime, every: str, actor: str,
        wait: float) -> None:
    """Agree a payment plan over what the claim owes today; dunning waits while instalments come in."""
    entry = with_case(ctx, claim, actor, lambda case: instalments(case, count, first.date(), every), wait=wait)
    ctx.out.print(views.plain(f"{claim}: payment plan over {entry.data['total']} {entry.data['currency']}"))
    for number, item in enumerate(entry.data["instalments"], 1):
        ctx.out.print(views.plain(f"  {number}. {item['due']}  {item['amount']}"))
    ctx.out.print(views.plain("  a missed instalment makes the whole remainder due ([policy] plan_acceleration)"
                              if entry.data["accelerates"] else
                              "  a missed instalment is dunned alone; later instalments stay due on their dates"))


@cli.command("mark-paid")
@click.argument("claim")
@click.option("--amount", type=Amount(), help="The amount received (default: everything owed today).")
@click.option("--on", "paid_on", type=DATE, help="The day it was received (default: today).")
@click.option("--note", default="", help="Free text for the ledger, e.g. the bank reference.")
@click.option("--json", "as_json", is_flag=True)
@by_option
@wait_option
@pass_context
def mark_paid_command(ctx: Context, claim: str, amount: Decimal | None, paid_on: datetime | None, note: str,
                      as_json: bool, actor: str,
        wait: float) -> None:
    """Record a payment; a claim paid in full closes (a surplus is recorded as a credit)."""
    outcome = with_case(ctx, claim, actor, lambda case: mark_paid(case, amount, on=as_date(paid_on), note=note),
                        wait=wait)
    if as_json:
        click.echo(json.dumps(outcome, indent=2))
        return
    ctx.out.print(f"{claim}: payment of {outcome['paid']} {outcome['currency']} recorded; " + (
        "paid in full, claim closed" + (f", credit {outcome['credit']}" if outcome["credit"] != "0.00" else "")
        if outcome["closed"] else f"still open: {outcome['open']}"))


@cli.command("note")
@click.argument("claim")
@click.argument("text")
@by_option
@wait_option
@pass_context
def note_command(ctx: Context, claim: str, text: str, actor: str,
        wait: float) -> None:
    """Add a note to a claim's history."""
    with_case(ctx, claim, actor, lambda case: note(case, text), wait=wait)
    ctx.out.print(views.plain(f"{claim}: note added"))


@cli.group("tasks", invoke_without_command=True)
@click.option("--shop", "shop_id", help="Only this shop.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tasks(click_ctx: click.Context, shop_id: str | None, as_json: bool) -> None:
    """Open manual tasks, such as calling the customer; `tasks done CLAIM` or `tasks skip CLAIM` when handled."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Context = click_ctx.obj
    store = ctx.store()
    shops = ctx.shops(shop_id)
    try:
        rows = open_tasks(store, shops, utcnow())
    finally:
        store.close()
    if as_json:
        click.echo(views.dumps(rows, indent=2))
    else:
        ctx.out.print(views.tasks_table(rows) if rows else "No open tasks.")


def task_command(verb: str, summary: str, note_help: str) -> None:
    """`tasks done` and `tasks skip`: the same command but for the word in the ledger."""

    @tasks.command(verb, help=summary)
    @click.argument("claim")
    @click.option("--note", default="", help=note_help)
    @by_option
    @wait_option
    @pass_context
    def finish(ctx: Context, claim: str, note: str, actor: str, wait: float) -> None:
        store = ctx.store()
        config = ctx.config()
        try:
            what = finish_tasks(store, config, claim, skipped=verb == "skip", note=note, by=actor, source="cli",
                                now=utcnow(), command=command_name(), wait=wait)
        finally:
            store.close()
        ctx.out.print(views.plain(f"{claim}: task {what} {'skipped' if verb == 'skip' else 'done'}"))


task_command("done", "Mark the claim's due task as done; the ladder goes on.", "What came of it, for the ledger.")
task_command("skip", "Skip the claim's due task; the ladder goes on.", "Why, for the ledger.")
