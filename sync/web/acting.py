"""How a page runs a clerk's action: through the shared casework functions (the command line's code, holding the
shop's lock), recorded with the user's name as `by` and "web" as the source; the outcome becomes a flashed message
for the page the browser is sent back to (POST/redirect/GET)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TypedDict

from flask import flash

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
    # the claim page's actions (sync/casework/case.py's CaseError codes); the command line's wording names options
    "refused.not_an_amount": ("„{text}“ ist kein Betrag wie 49,90 (positiv, höchstens zwei Nachkommastellen).",
                              '"{text}" is not an amount like 49.90 (positive, at most two decimals).'),
    "refused.not_open": ("{claim} ist {state}, nicht offen.", "{claim} is {state}, not open."),
    "refused.until_past": ("„Bis“ ({until}) muss in der Zukunft liegen.", '"Until" ({until}) must lie in the future.'),
    "refused.not_held": ("{claim} ist weder angehalten noch in Ratenzahlung.",
                         "{claim} is neither on hold nor in a payment plan."),
    "refused.bad_period": ("„{every}“ ist kein Abstand wie 1m, 2w oder 14d.",
                           '"{every}" is not a period like 1m, 2w or 14d.'),
    "refused.bad_count": ("Eine Ratenzahlung hat 2 bis 60 Raten.", "A payment plan has 2 to 60 instalments."),
    "refused.first_past": ("Die erste Rate ({first}) liegt in der Vergangenheit.",
                           "The first instalment ({first}) lies in the past."),
    "refused.owed_unknown": ("Was {claim} schuldet, lässt sich nicht berechnen (ein Basiszinssatz fehlt?).",
                             "What {claim} owes cannot be computed (a base rate missing?)."),
    "refused.owed_unknown_amount": ("Was {claim} schuldet, lässt sich nicht berechnen: bitte den Betrag angeben.",
                                    "What {claim} owes cannot be computed: please give the amount."),
    "refused.on_future": ("Das Zahlungsdatum ({on}) liegt in der Zukunft.", "The payment date ({on}) lies in the "
                          "future."),
    "refused.above_limit": ("{amount} liegt über der Obergrenze von {limit} (payments.max_amount in der Datei des "
                            "Shops).", "{amount} is above the limit of {limit} (payments.max_amount in the shop's "
                            "file)."),
    "refused.not_a_date": ("„{text}“ ist kein Datum wie 2026-12-31.", '"{text}" is not a date like 2026-12-31.'),
    "refused.first_missing": ("Bitte das Datum der ersten Rate angeben.", "Please give the first instalment's date."),
    "refused.note_empty": ("Die Notiz ist leer.", "The note is empty."),
    "refused.no_task": ("Für {claim} ist keine Aufgabe fällig.", "{claim} has no task due."),
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
    if f"refused.{error.code}" not in texts.TEXTS:
        return str(error)
    currency = str(error.values.get("currency", "EUR"))
    return texts._(f"refused.{error.code}", **{name: shown(name, value, currency)
                                                for name, value in error.values.items()})


def shown(name: str, value: object, currency: str) -> object:
    """A value of a refusal as the page shows it: money and dates in the reader's format, a claim state in words."""
    if isinstance(value, Decimal):
        return texts.money(value, currency)
    if isinstance(value, date):
        return texts.as_date(value)
    return texts.word("state", str(value)) if name == "state" else value
