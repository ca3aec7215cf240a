"""/payments: the payments waiting for a person (no claim found, or a guess to confirm) with the suggested claims
and why; a clerk books one (or a part of it) to a claim or ignores it with a reason, through the same functions as
`mahnwerk payments assign|ignore`. Below, a search over the payments already booked."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from mahnwerk.sync.casework.case import CaseError, parse_amount
from mahnwerk.sync.payments.queue import (
    assign_payment,
    booked_payments,
    count_waiting,
    ignore_payment,
    waiting_payments,
)
from mahnwerk.sync.web import context, texts
from mahnwerk.sync.web.access import clerk_required
from mahnwerk.sync.web.acting import acting, perform

bp = Blueprint("payments", __name__, url_prefix="/payments")
QUEUE_PAGE = 200  # the oldest first; settled ones make room for the next

texts.add({
    "payments.title": ("Zahlungen", "Payments"),
    "payments.waiting": ("Zahlungen, die auf Sie warten", "Payments waiting for you"),
    "payments.none_waiting": ("Keine Zahlung wartet.", "No payment is waiting."),
    "payments.more": ("… und {n} weitere (die ältesten stehen oben; erledigte machen Platz).",
                      "… and {n} more (the oldest come first; settled ones make room)."),
    "payments.booked_on": ("Gebucht am", "Booked on"),
    "payments.amount": ("Betrag", "Amount"),
    "payments.open": ("noch offen", "not yet booked"),
    "payments.payer": ("Zahler", "Payer"),
    "payments.text": ("Verwendungszweck", "Remittance"),
    "payments.state": ("Status", "State"),
    "payments.state.review": ("prüfen", "to review"),
    "payments.state.unmatched": ("nicht zugeordnet", "unmatched"),
    "payments.state.matched": ("gebucht", "booked"),
    "payments.claim_closed": ("nicht mehr offen: {state}", "no longer open: {state}"),
    "payments.suggested": ("Vorschläge", "Suggested claims"),
    "payments.why": ("Warum", "Why"),
    "payments.claim": ("Forderung", "Claim"),
    "payments.other_claim": ("andere (SHOP:BESTELLNR.)", "other (SHOP:ORDER)"),
    "payments.part": ("Teilbetrag (leer: alles)", "Part amount (empty: all)"),
    "payments.assign": ("Zuordnen", "Assign"),
    "payments.reason": ("Grund", "Reason"),
    "payments.ignore": ("Ignorieren", "Ignore"),
    "payments.search": ("Gebuchte Zahlungen suchen", "Search booked payments"),
    "payments.search_hint": ("Zahler, Verwendungszweck, Referenz oder Betrag",
                             "Payer, remittance, reference or amount"),
    "payments.search_button": ("Suchen", "Search"),
    "payments.found_none": ("Keine gebuchte Zahlung gefunden.", "No booked payment found."),
    "payments.booked_to": ("Gebucht auf", "Booked to"),
    "payments.assigned": ("Zahlung {id}: {amount} auf {claim} gebucht.", "Payment {id}: {amount} booked to {claim}."),
    "payments.assigned_closed": ("Forderung {claim} ist bezahlt und geschlossen.", "Claim {claim} is paid and closed."),
    "payments.assigned_left": ("{left} warten noch.", "{left} still waiting."),
    "payments.ignored": ("Zahlung {id} ignoriert: {reason}", "Payment {id} ignored: {reason}"),
    "payments.need_reason": ("Bitte einen Grund angeben.", "Please give a reason."),
    "payments.need_claim": ("Bitte eine Forderung wählen oder als SHOP:BESTELLNR. eingeben.",
                            "Please pick a claim or type it as SHOP:ORDER."),
    "payments.bad_amount": ("„{value}“ ist kein Betrag wie 49,90.", '"{value}" is not an amount like 49.90.'),
    "payments.refused": ("Nicht gebucht: {why}", "Nothing booked: {why}"),
    "payments.not_ignored": ("Nicht ignoriert: {why}", "Not ignored: {why}"),
})


@bp.route("")
def index() -> ResponseReturnValue:
    """The queue (its oldest QUEUE_PAGE payments: each has its forms), and the booked payments matching `q` when a
    search was asked for."""
    shop_ids = [shop.id for shop in context.config().shops]
    store = context.store()
    search = request.args.get("q", "").strip()
    found = booked_payments(store, shop_ids, search) if search else None
    queue = waiting_payments(store, shop_ids, details=True, limit=QUEUE_PAGE)
    more = count_waiting(store, shop_ids) - len(queue) if len(queue) == QUEUE_PAGE else 0
    return render_template("payments.html", queue=queue, more=more, search=search, found=found)


@bp.post("/<int:payment_id>/assign")
@clerk_required
def assign(payment_id: int) -> ResponseReturnValue:
    """Book the payment (or the part amount given) to the claim picked or typed."""
    ref = request.form.get("claim_other", "").strip() or request.form.get("claim", "").strip()
    if not ref:
        flash(texts._("payments.need_claim"), "error")
        return redirect(url_for(".index"))
    typed = request.form.get("amount", "").strip()
    try:
        amount = parse_amount(typed) if typed else None  # empty: the whole payment
    except CaseError:
        flash(texts._("payments.bad_amount", value=typed), "error")
        return redirect(url_for(".index"))

    def work() -> str:
        done = assign_payment(context.store(), context.config(), payment_id, ref, amount,
                              **acting("payments assign"))
        words = [texts._("payments.assigned", id=payment_id, claim=done.claim,
                         amount=texts.money(done.share, done.currency))]
        if done.closed:
            words.append(texts._("payments.assigned_closed", claim=done.claim))
        if done.left:
            words.append(texts._("payments.assigned_left", left=texts.money(done.left, done.payment_currency)))
        return " ".join(words)

    perform(work, "payments.refused")
    return redirect(url_for(".index"))


@bp.post("/<int:payment_id>/ignore")
@clerk_required
def ignore(payment_id: int) -> ResponseReturnValue:
    """Take the payment out of the queue for good, with the reason given."""
    reason = request.form.get("reason", "").strip()
    if not reason:
        flash(texts._("payments.need_reason"), "error")
        return redirect(url_for(".index"))

    def work() -> str:
        ignore_payment(context.store(), payment_id, reason, **acting("payments ignore"))
        return texts._("payments.ignored", id=payment_id, reason=reason)

    perform(work, "payments.not_ignored")
    return redirect(url_for(".index"))
