"""How a page runs a clerk's action: through the shared casework functions (the command line's code, holding the
shop's lock), recorded with the user's name as `by` and "web" as the source; the outcome becomes a flashed message
for the page the browser is sent back to (POST/redirect/GET)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TypedDict

from flask import flash

from mahnwerk.sync.casework.acting import ActionRefused
from mahnwerk.sync.casework.case import CaseError
from mahnwerk.sync.store.locks import ShopBusy
from mahnwerk.sync.web import context, texts

# A web request waits this long for a shop another process works on (the daemon's run), then says so.
LOCK_WAIT = 5.0

texts.add({
    "action.busy": ("Der Shop {shop} ist gerade beschäftigt (ein Lauf?). Bitte gleich noch einmal versuchen.",
                    "Shop {shop} is busy right now (a run?). Please try again in a moment."),
    # why an action was refused (ActionRefused.code), in the reader's language
    "refused.payment_not_waiting": ("Zahlung {id} wartet nicht mehr (schon gebucht oder ignoriert).",
                                    "Payment {id} is no longer waiting (booked or ignored already)."),
    "refused.payment_other_shop": ("Zahlung {id} gehört zum Shop {shop}, nicht zu {claim}.",
                                   "Payment {id} belongs to shop {shop}, not to {claim}."),
    "refused.payment_used_up": ("Von Zahlung {id} ist nichts mehr zu buchen.",
                                "Payment {id} has nothing left to book."),
    "refused.payment_needs_amount": ("{claim} lautet auf {currency}: bitte angeben, was Zahlung {id} in {currency} "
                                     "wert ist (die ganze Zahlung wird gebucht).",
                                     "{claim} is in {currency}: please say what payment {id} is worth in {currency} "
                                     "(the whole payment is booked)."),
    "refused.payment_too_much": ("Höchstens {left} sind noch nicht gebucht.", "At most {left} is not yet booked."),
    "refused.payment_changed": ("Zahlung {id} oder {claim} wurde inzwischen geändert; nichts gebucht.",
                                "Payment {id} or {claim} changed meanwhile; nothing booked."),
    "refused.reason_missing": ("Bitte einen Grund angeben.", "Please give a reason."),
    "refused.not_dead_letter": ("Aktion {id} ist nicht (mehr) unzustellbar.", "Action {id} is not a dead letter (any "
                                "more)."),
    "refused.row_without_claim": ("Zu Aktion {id} gibt es keine Forderung mehr.", "Action {id} has no claim any more."),
})


class Acting(TypedDict):
    """Who acts, from where, when, named how for the shop's lock, waiting how long for it."""

    by: str
    source: str
    now: datetime
    command: str
    wait: float


def acting(command: str) -> Acting:
    """The keyword arguments every shared action takes: who (the logged-in clerk), from where, when, and how long
    to wait for the shop's lock; `command` names the action for whoever else waits for that lock."""
    me = context.user()
    assert me is not None and me.is_clerk  # the route is clerk_required
    return Acting(by=me.name, source="web", now=context.now(), command=f"web {command}", wait=LOCK_WAIT)


def perform(work: Callable[[], str], refused: str) -> bool:
    """Run `work` and flash the text it returns; a busy shop, or an action that cannot be done as asked, flashes
    why instead (text key `refused` with `{why}`). True when it was done."""
    try:
        done = work()
    except ShopBusy as busy:
        flash(texts._("action.busy", shop=busy.shop_id), "error")
        return False
    except CaseError as exc:  # ActionRefused too: no longer waiting, not a dead letter, no task due...
        flash(texts._(refused, why=refusal(exc)), "error")
        return False
    flash(done, "ok")
    return True


def refusal(error: CaseError) -> str:
    """Why an action was refused: in the reader's language when it says its `code`, else its (English) message."""
    if not isinstance(error, ActionRefused) or f"refused.{error.code}" not in texts.TEXTS:
        return str(error)
    currency = str(error.values.get("currency", "EUR"))
    return texts._(f"refused.{error.code}", **{name: texts.money(value, currency) if isinstance(value, Decimal)
                                                else value for name, value in error.values.items()})
