"""/outbox: the dead letters (actions the executor gave up on) with the reason each stopped; a clerk retries one,
records it as done (it did reach the customer) or skips it, through the same function as `mahnwerk outbox
retry|done|skip`."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from mahnwerk.sync.outbox.settle import VERBS, count_dead, dead_letters, settle_dead_letter
from mahnwerk.sync.web import context, texts
from mahnwerk.sync.web.access import clerk_required
from mahnwerk.sync.web.acting import acting, perform

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
PAGE = 200  # dead letters shown at once: a shop that fails for a day can leave thousands; settled ones make room

texts.add({
    "outbox.title": ("Postausgang", "Outbox"),
    "outbox.dead": ("Unzustellbare Aktionen", "Dead letters"),
    "outbox.none_dead": ("Keine – alles ist zugestellt oder wartet auf den nächsten Lauf.",
                         "None – everything was delivered or waits for the next run."),
    "outbox.claim": ("Forderung", "Claim"),
    "outbox.customer": ("Kunde", "Customer"),
    "outbox.stage": ("Stufe", "Stage"),
    "outbox.channel": ("Kanal", "Channel"),
    "outbox.planned_on": ("Geplant für", "Planned for"),
    "outbox.attempts": ("Versuche", "Attempts"),
    "outbox.reason": ("Grund", "Reason"),
    "outbox.note": ("Notiz", "Note"),
    "outbox.retry": ("Erneut versuchen", "Retry"),
    "outbox.done": ("Als zugestellt vermerken", "Mark done"),
    "outbox.skip": ("Überspringen", "Skip"),
    "outbox.settled.retry": ("Aktion {id} ({claim}) wird im nächsten Lauf erneut versucht.",
                             "Action {id} ({claim}) is queued for the next run."),
    "outbox.settled.done": ("Aktion {id} ({claim}) ist als zugestellt vermerkt; das Verfahren geht weiter.",
                            "Action {id} ({claim}) is recorded as sent; the ladder goes on."),
    "outbox.settled.skip": ("Aktion {id} ({claim}) ist übersprungen; das Verfahren geht weiter.",
                            "Action {id} ({claim}) is skipped; the ladder goes on."),
    "outbox.refused": ("Nicht erledigt: {why}", "Not done: {why}"),
    "outbox.more": ("… und {n} weitere (die ältesten stehen oben; erledigte machen Platz; alle: "
                    "`mahnwerk outbox --state dead --limit 100000`).",
                    "… and {n} more (the oldest come first; settled ones make room; all of them: "
                    "`mahnwerk outbox --state dead --limit 100000`)."),
})


@bp.route("")
def index() -> ResponseReturnValue:
    """Every shop's dead letters, oldest first."""
    store, shop_ids = context.store(), [shop.id for shop in context.config().shops]
    rows = dead_letters(store, shop_ids, limit=PAGE)
    more = count_dead(store, shop_ids) - len(rows) if len(rows) == PAGE else 0
    return render_template("outbox.html", rows=rows, verbs=VERBS, more=more)


@bp.post("/<int:row_id>/<verb>")
@clerk_required
def settle(row_id: int, verb: str) -> ResponseReturnValue:
    """Retry, mark done or skip one dead letter; the note goes into the ledger."""
    if verb not in VERBS:
        abort(404)
    claim = request.form.get("claim", "")

    def work() -> str:
        settle_dead_letter(context.store(), context.config(), row_id, verb, note=request.form.get("note", "").strip(),
                           **acting(f"outbox {verb}"))
        return texts._(f"outbox.settled.{verb}", id=row_id, claim=claim)

    perform(work, "outbox.refused")
    return redirect(url_for(".index"))
