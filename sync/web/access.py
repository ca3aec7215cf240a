"""Who may see and do what: every page needs a login, actions need a clerk, every POST carries the session's CSRF
token, failed logins are throttled, and every answer carries the security headers (a CSP without inline script)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, abort, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

from mahnwerk.sync.web import context
from mahnwerk.sync.web.users import load_user

PUBLIC = {"auth.login", "static"}  # endpoints served without a login
CSRF_FIELD = "csrf_token"
HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                                "form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

View = TypeVar("View", bound=Callable[..., Any])


def clerk_required(view: View) -> View:
    """For routes that change something: a viewer gets 403."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        found = context.user()
        if found is None or not found.is_clerk:
            abort(403)
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return str(session[CSRF_FIELD])


def csrf_field() -> Markup:
    """The hidden input every POST form includes: `{{ csrf_field() }}`."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(csrf_token()))


def safe_next(target: str | None) -> str | None:
    """A path on this site to go back to after the login; anything else (another host, "//x") is dropped."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


class LoginThrottle:
    """At most `limit` failed logins per (name, address) within `window` seconds; then 429 until the oldest
    failure ages out. Kept in memory: a restart forgives, which is fine against guessing at 5 tries per 5 min."""

    def __init__(self, limit: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.failures: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        found = self.failures[key]
        while found and found[0] <= self.clock() - self.window:
            found.popleft()
        return found

    def blocked(self, name: str, address: str) -> bool:
        with self.lock:
            return len(self._recent((name.casefold(), address))) >= self.limit

    def failed(self, name: str, address: str) -> None:
        with self.lock:
            self._recent((name.casefold(), address)).append(self.clock())

    def succeeded(self, name: str, address: str) -> None:
        with self.lock:
            self.failures.pop((name.casefold(), address), None)


def throttle() -> LoginThrottle:
    from flask import current_app

    found = current_app.extensions["mahnwerk.throttle"]
    assert isinstance(found, LoginThrottle)
    return found


def log_in(name: str, fingerprint: str) -> None:
    """A fresh session for the user (a new CSRF token too: nothing from before the login carries over)."""
    session.clear()
    session["user"], session["fp"] = name, fingerprint
    session.permanent = True


def _load_user() -> None:
    g.user = None
    if request.endpoint == "static":  # the stylesheet needs no user (and no database query)
        return
    if (name := session.get("user")) is not None:
        found = load_user(context.store(), str(name))
        if found is not None and found[1] == session.get("fp"):
            g.user, g.lang = found[0], found[0].lang
        else:  # deleted, or the password changed since: log out
            session.clear()


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    expected = session.get(CSRF_FIELD)
    if not expected or not secrets.compare_digest(str(sent), str(expected)):
        abort(400)


def _require_login() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC or g.user is not None:
        return None
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":  # customer data: not kept in shared or browser caches
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def install(app: Flask) -> None:
    """Wire the checks into `app`, in this order: who is it, is the form genuine, may they see the page."""
    app.extensions["mahnwerk.throttle"] = LoginThrottle()
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.before_request(_require_login)
    app.after_request(_headers)
