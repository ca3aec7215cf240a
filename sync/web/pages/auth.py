"""Logging in and out, and the user's language."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from mahnwerk.sync.web import context, texts
from mahnwerk.sync.web.access import log_in, safe_next, throttle
from mahnwerk.sync.web.users import set_lang, verify

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The login form; POST checks the password (at most 5 failures per name and address in 5 minutes)."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target, name="")
    name = request.form.get("name", "").strip()
    address = request.remote_addr or ""
    if throttle().blocked(name, address):
        return render_template("login.html", next=target, name=name, error=texts._("login.throttled")), 429
    found = verify(context.store(), name, request.form.get("password", ""))
    if found is None:
        throttle().failed(name, address)
        return render_template("login.html", next=target, name=name, error=texts._("login.failed")), 401
    throttle().succeeded(name, address)
    log_in(found[0].name, found[1])
    return redirect(target or url_for("overview.index"))


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    session.clear()
    g.user = None
    flash(texts._("login.logged_out"))
    return redirect(url_for("auth.login"))


@bp.route("/lang", methods=["POST"])
def language() -> ResponseReturnValue:
    """Keep the user's language ("" for the browser's) and go back to the page."""
    found = context.user()
    lang = request.form.get("lang", "")
    if found is None or lang not in ("", *texts.LANGS):
        abort(400)
    set_lang(context.store(), found.name, lang)
    return redirect(safe_next(request.form.get("next")) or url_for("overview.index"))
