"""The claim page: what `mahnwerk explain` tells (timeline, what is owed with each interest period, the next step
and why), the panels (the next notice's preview first), and the clerk's actions, each through the same casework
function as its CLI command (sync/casework/acting.py), recorded with the user's name and source "web"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select
from sqlmodel import col

from mahnwerk.errors import MahnwerkError
from mahnwerk.policy.model import HOLD_KINDS
from mahnwerk.sync.casework.acting import act_on_case
from mahnwerk.sync.casework.case import (
    Case,
    CaseError,
    hold,
    instalments,
    mark_paid,
    note,
    order_ref,
    parse_amount,
    release,
)
from mahnwerk.sync.casework.preview import preview_claim
from mahnwerk.sync.casework.reasons import reason_text
from mahnwerk.sync.casework.timeline import explain
from mahnwerk.sync.casework.wording import wording
from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim
from mahnwerk.sync.web import context
from mahnwerk.sync.web.access import clerk_required
from mahnwerk.sync.web.acting import acting, perform, refusal
from mahnwerk.sync.web.claimtexts import TEXTS
from mahnwerk.sync.web.panels import CLAIM_PANELS, Panel, claim_panels
from mahnwerk.sync.web.texts import _, add, current_lang

bp = Blueprint("claim", __name__, url_prefix="/claims")
add(TEXTS)
PDF_POLICY = "default-src 'none'; object-src 'self'; frame-ancestors 'none'"
EVERY = ("1m", "2w", "14d")  # the payment plan's spacing choices: monthly, fortnightly, every 14 days


def ref_of(shop: str, order: str) -> str:
    """SHOP:ORDER_NUMBER of the claim on order id `order` (what the casework functions take); 404 if none."""
    if shop not in {s.id for s in context.config().shops}:
        abort(404)
    try:
        with context.store().session() as session:
            return order_ref(session, shop, order)
    except CaseError:
        abort(404)


def id_of_number(shop: str, order: str) -> str | None:
    """The order id of the claim whose order number is `order`, when no order has `order` as its id: pages that
    know a claim as SHOP:ORDER_NUMBER link by number, and the claim page sends them on to its own address."""
    with context.store().session() as session:
        if session.execute(select(col(Claim.id)).where(col(Claim.shop_id) == shop, col(Claim.order_id) == order)
                           ).first() is not None:
            return None
        found = session.execute(select(col(Claim.order_id)).where(
            col(Claim.shop_id) == shop, col(Claim.order_number) == order).order_by(col(Claim.id))).scalars().first()
    return str(found) if found is not None else None


@bp.route("/<shop>/<order>")
def show(shop: str, order: str) -> ResponseReturnValue:
    """The claim on the shop's order id `order`, with its story, its next notice and (for clerks) the forms that
    change it."""
    if (canonical := id_of_number(shop, order)) is not None:
        return redirect(url_for("claim.show", shop=shop, order=canonical))
    ref = ref_of(shop, order)
    report = act_on_case(context.store(), context.config(), ref, lambda case: explain(case, lang=current_lang()),
                         by="", source="web", now=context.now(), command="web", write=False)
    panels = [Markup(render_template(p.template, **p.context))  # each panel's HTML, autoescaped by its template
              for p in claim_panels(context.store(), context.config(), shop, order, context.now())]
    me = context.user()
    return render_template("claim.html", r=report, shop=shop, order=order, panels=panels,
                           clerk=me is not None and me.is_clerk, word=wording(current_lang()).word,
                           hold_kinds=HOLD_KINDS, every=EVERY, status_text=status_text)


def status_text(status: str) -> str:
    """A claim's status or state in the page's language; a status without words as it is."""
    return _(f"status.{status}") if f"status.{status}" in TEXTS else status


@bp.route("/<shop>/<order>/preview.pdf")
def preview_pdf(shop: str, order: str) -> ResponseReturnValue:
    """The next notice as a PDF letter (the customer's own when the notice goes with one); 404 without a notice."""
    try:
        shown = preview_claim(context.store(), context.config(), shop, order, context.now())
    except MahnwerkError:
        abort(404)
    if shown.pdf is None:
        abort(404)
    name = f"{order}-{shown.stage}-preview.pdf".replace('"', "")
    # The console's CSP says object-src 'none'; Chromium shows a PDF through its viewer plugin, which a PDF's own
    # object-src 'none' may block (not verifiable headless): the letter gets a policy that allows only itself.
    return Response(shown.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"',
                             "Content-Security-Policy": PDF_POLICY})


def preview_panel(store: Store, config: Config, shop: str, order: str, now: datetime) -> Panel | None:
    """The next notice exactly as the customer gets it (the text escaped), with a link to its letter."""
    try:
        shown = preview_claim(store, config, shop, order, now, with_pdf=False)
    except MahnwerkError:
        return None
    pdf = url_for("claim.preview_pdf", shop=shop, order=order) if shown.found else None
    return Panel("claim_preview.html", {"preview": shown, "pdf_url": pdf, "word": wording(current_lang()).word,
                                        "reason": reason_text(shown.policy_reason, current_lang())})


CLAIM_PANELS.insert(0, preview_panel)


def act(shop: str, order: str, work: Callable[[Case], Any], done: str) -> ResponseReturnValue:
    """Run a clerk's change through casework under the shop's lock, flash what happened, back to the claim."""
    key = ref_of(shop, order)

    def run() -> str:
        act_on_case(context.store(), context.config(), key, work, **acting(key))
        return done

    perform(run, "claim.failed")
    return redirect(url_for("claim.show", shop=shop, order=order))


def form_date(name: str) -> date | None:
    """An optional YYYY-MM-DD field; CaseError naming the field otherwise."""
    text = request.form.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CaseError(f'{name}: "{text}" is not a date like 2026-12-31', code="not_a_date", text=text) from None


def checked(shop: str, order: str, read: Callable[[], Callable[[Case], Any]], done: str) -> ResponseReturnValue:
    """`act` with the form read first: a malformed field is flashed like a refusal, nothing is written."""
    try:
        work = read()
    except CaseError as exc:
        flash(_("claim.failed", why=refusal(exc)), "error")
        return redirect(url_for("claim.show", shop=shop, order=order))
    return act(shop, order, work, done)


@bp.post("/<shop>/<order>/hold")
@clerk_required
def hold_claim(shop: str, order: str) -> ResponseReturnValue:
    def read() -> Callable[[Case], Any]:
        kind, until, text = request.form.get("reason", ""), form_date("until"), request.form.get("note", "")
        return lambda case: hold(case, kind, note=text, until=until)

    return checked(shop, order, read, _("claim.held"))


@bp.post("/<shop>/<order>/release")
@clerk_required
def release_claim(shop: str, order: str) -> ResponseReturnValue:
    text = request.form.get("note", "")
    return act(shop, order, lambda case: release(case, note=text), _("claim.released"))


@bp.post("/<shop>/<order>/note")
@clerk_required
def note_claim(shop: str, order: str) -> ResponseReturnValue:
    text = request.form.get("text", "")
    return act(shop, order, lambda case: note(case, text), _("claim.noted"))


@bp.post("/<shop>/<order>/paid")
@clerk_required
def mark_paid_claim(shop: str, order: str) -> ResponseReturnValue:
    def read() -> Callable[[Case], Any]:
        typed = request.form.get("amount", "").strip()
        amount, on, text = parse_amount(typed) if typed else None, form_date("on"), request.form.get("note", "")
        return lambda case: mark_paid(case, amount, on=on, note=text)

    return checked(shop, order, read, _("claim.paid"))


@bp.post("/<shop>/<order>/instalments")
@clerk_required
def instalments_claim(shop: str, order: str) -> ResponseReturnValue:
    def read() -> Callable[[Case], Any]:
        count, first, every = request.form.get("count", ""), form_date("first"), request.form.get("every", "1m")
        if not count.strip().isdigit():
            raise CaseError(f'count: "{count}" is not a number of instalments', code="bad_count")
        if first is None:
            raise CaseError("first: the first instalment's due date is missing", code="first_missing")
        return lambda case: instalments(case, int(count), first, every)

    return checked(shop, order, read, _("claim.planned"))
