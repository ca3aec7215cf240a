"""/letters: today's letters to print, downloaded as one merged PDF, and the tasks for a person (call the
customer, find an e-mail address, post a letter) with done/skip, through the same functions as `mahnwerk tasks
done|skip`."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.casework.tasks import finish_tasks, open_tasks
from mahnwerk.sync.outbox.printout import merge_letters, todays_letters
from mahnwerk.sync.web import context, texts
from mahnwerk.sync.web.access import clerk_required
from mahnwerk.sync.web.acting import acting, perform

bp = Blueprint("letters", __name__, url_prefix="/letters")
TASK_VERBS = ("done", "skip")
TASKS_SHOWN = 200  # a shop with a manual stage for every claim can have thousands; the command line lists them all

texts.add({
    "letters.title": ("Briefe und Aufgaben", "Letters and tasks"),
    "letters.today": ("Heutige Briefe zum Drucken", "Today's letters to print"),
    "letters.none": ("Heute wurden keine Briefe geschrieben.", "No letters were written today."),
    "letters.download": ("Alle als ein PDF herunterladen ({n})", "Download all as one PDF ({n})"),
    "letters.claim": ("Forderung", "Claim"),
    "letters.customer": ("Kunde", "Customer"),
    "letters.stage": ("Stufe", "Stage"),
    "letters.written": ("Geschrieben", "Written"),
    "letters.file": ("Datei", "File"),
    "letters.missing": ("fehlt", "missing"),
    "letters.nothing_to_print": ("Heute gibt es nichts zu drucken.", "There is nothing to print today."),
    "tasks.title": ("Aufgaben", "Tasks"),
    "tasks.none": ("Keine offenen Aufgaben.", "No open tasks."),
    "tasks.what": ("Aufgabe", "Task"),
    "tasks.since": ("Fällig seit", "Due since"),
    "tasks.open": ("Offen", "Open"),
    "tasks.why": ("Warum", "Why"),
    "tasks.note": ("Notiz", "Note"),
    "tasks.done": ("Erledigt", "Done"),
    "tasks.skip": ("Überspringen", "Skip"),
    "tasks.finished.done": ("{claim}: Aufgabe {what} erledigt.", "{claim}: task {what} done."),
    "tasks.finished.skip": ("{claim}: Aufgabe {what} übersprungen.", "{claim}: task {what} skipped."),
    "tasks.refused": ("Nicht erledigt: {why}", "Not done: {why}"),
    "tasks.more": ("… und {n} weitere (alle: `mahnwerk tasks`).", "… and {n} more (all of them: `mahnwerk tasks`)."),
})


@bp.route("")
def index() -> ResponseReturnValue:
    """Today's letters and the open tasks of every shop."""
    store, shops, now = context.store(), context.config().shops, context.now()
    letters = todays_letters(store, shops, now)
    tasks = open_tasks(store, shops, now)
    return render_template("letters.html", letters=letters, present=sum(1 for letter in letters if letter.present),
                           tasks=tasks[:TASKS_SHOWN], more=max(len(tasks) - TASKS_SHOWN, 0), verbs=TASK_VERBS)


@bp.route("/today.pdf")
def today_pdf() -> ResponseReturnValue:
    """Every letter written today, merged into one PDF in the order they were written."""
    shops, now = context.config().shops, context.now()
    paths = [letter.path for letter in todays_letters(context.store(), shops, now) if letter.present]
    if not paths:
        flash(texts._("letters.nothing_to_print"), "error")
        return redirect(url_for(".index"))
    day = shop_today(shops[0], now) if shops else now.date()
    return send_file(io.BytesIO(merge_letters(paths)), mimetype="application/pdf", as_attachment=True,
                     download_name=f"letters-{day.isoformat()}.pdf")


@bp.post("/tasks/<verb>")
@clerk_required
def finish(verb: str) -> ResponseReturnValue:
    """Mark the claim's open tasks done or skipped; the note goes into the ledger."""
    if verb not in TASK_VERBS:
        abort(404)
    ref = request.form.get("claim", "").strip()

    def work() -> str:
        what = finish_tasks(context.store(), context.config(), ref, skipped=verb == "skip",
                            note=request.form.get("note", "").strip(), **acting(f"tasks {verb}"))
        return texts._(f"tasks.finished.{verb}", claim=ref, what=what)

    perform(work, "tasks.refused")
    return redirect(url_for(".index"))
