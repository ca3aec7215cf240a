"""How a page runs a clerk's action: through the shared casework functions (the command line's code, holding the
shop's lock), recorded with the user's name as `by` and "web" as the source; the outcome becomes a flashed message
for the page the browser is sent back to (POST/redirect/GET)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash

from mahnwerk.sync.casework.case import CaseError
from mahnwerk.sync.store.locks import ShopBusy
from mahnwerk.sync.web import context, texts

# A web request waits this long for a shop another process works on (the daemon's run), then says so.
LOCK_WAIT = 5.0

texts.add({
    "action.busy": ("Der Shop {shop} ist gerade beschäftigt (ein Lauf?). Bitte gleich noch einmal versuchen.",
                    "Shop {shop} is busy right now (a run?). Please try again in a moment."),
})


def acting(command: str) -> dict[str, Any]:
    """The keyword arguments every shared action takes: who (the logged-in clerk), from where, when, and how long
    to wait for the shop's lock; `command` names the action for whoever else waits for that lock."""
    me = context.user()
    assert me is not None and me.is_clerk  # the route is clerk_required
    return {"by": me.name, "source": "web", "now": context.now(), "command": f"web {command}", "wait": LOCK_WAIT}


def perform(work: Callable[[], str], refused: str) -> bool:
    """Run `work` and flash the text it returns; a busy shop, or an action that cannot be done as asked, flashes
    why instead (text key `refused` with `{why}`). True when it was done."""
    try:
        done = work()
    except ShopBusy as busy:
        flash(texts._("action.busy", shop=busy.shop_id), "error")
        return False
    except CaseError as exc:  # ActionRefused too: no longer waiting, not a dead letter, no task due...
        flash(texts._(refused, why=str(exc)), "error")
        return False
    flash(done, "ok")
    return True
