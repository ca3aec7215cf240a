"""`mahnwerk web`: serve the web console, and manage who may log in to it (adduser, passwd, deluser, users).
Registered on the `mahnwerk` group by sync/cli/main.py."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from mahnwerk.sync.cli.main import Context, cli, pass_context
from mahnwerk.sync.config.schema import Context as SchemaContext
from mahnwerk.sync.config.schema import Invalid, listen_address
from mahnwerk.sync.web.users import LANGS, ROLES, add_user, delete_user, list_users, set_password


def parse_listen(_ctx: Any, _param: Any, value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    try:
        parsed: tuple[str, int] = listen_address(value, SchemaContext(Path.cwd(), {}))
    except Invalid as exc:
        raise click.BadParameter(str(exc)) from None
    return parsed


def read_password() -> str:
    """The password: typed twice at a terminal (not shown), else the first line of standard input."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@cli.group("web", invoke_without_command=True)
@click.option("--listen", callback=parse_listen, metavar="HOST:PORT",
              help="Where to serve (default: web.listen, else 127.0.0.1:8420).")
@click.pass_context
def web(click_ctx: click.Context, listen: tuple[str, int] | None) -> None:
    """Serve the web console until Ctrl-C or SIGTERM (users: `mahnwerk web adduser`)."""
    if click_ctx.invoked_subcommand is not None:
        return
    from mahnwerk.sync.web.app import create_app
    from mahnwerk.sync.web.serve import DEFAULT_LISTEN, WebServer

    ctx: Context = click_ctx.obj
    store = ctx.store()
    try:
        address = listen or ctx.config().web.listen or DEFAULT_LISTEN
        server = WebServer(create_app(ctx.config(), store), address, key="--listen" if listen else "web.listen")
        if not list_users(store):
            click.echo("no users yet: add one with `mahnwerk web adduser NAME --role clerk`", err=True)
        click.echo(f"serving the console at {server.url}/ (Ctrl-C stops)", err=True)
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            server.run()
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        store.close()


@web.command("adduser")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="viewer reads; clerk also acts.")
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language of the pages (default: the browser's).")
@pass_context
def adduser(ctx: Context, name: str, role: str, lang: str | None) -> None:
    """Add a user; the password comes from standard input (typed twice at a terminal)."""
    password = read_password()
    store = ctx.store()
    try:
        add_user(store, name, role, password, lang=lang or "")
    finally:
        store.close()
    click.echo(f"added {role} {name}")


@web.command("passwd")
@click.argument("name")
@pass_context
def passwd(ctx: Context, name: str) -> None:
    """Set a user's password (from standard input); their open sessions end."""
    password = read_password()
    store = ctx.store()
    try:
        set_password(store, name, password)
    finally:
        store.close()
    click.echo(f"password of {name} changed")


@web.command("deluser")
@click.argument("name")
@pass_context
def deluser(ctx: Context, name: str) -> None:
    """Remove a user; their open sessions end."""
    store = ctx.store()
    try:
        delete_user(store, name)
    finally:
        store.close()
    click.echo(f"removed {name}")


@web.command("users")
@pass_context
def users(ctx: Context) -> None:
    """List the users with role, language and since when."""
    store = ctx.store()
    try:
        rows = list_users(store)
    finally:
        store.close()
    if not rows:
        click.echo("no users (mahnwerk web adduser NAME --role clerk|viewer)")
    for row in rows:
        click.echo(f"{row.name}\t{row.role}\t{row.lang or '-'}\t{row.created_at.date().isoformat()}")
