"""The Flask application: `create_app(config, store)` wires access control, texts, filters and every page module
of sync/web/pages/ that has a Blueprint `bp`."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType

from flask import Flask, render_template
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.web import access, pages, texts
from mahnwerk.sync.web.context import WebContext, user
from mahnwerk.sync.web.nav import link, nav_items
from mahnwerk.sync.web.users import dummy_hash, secret_key


class SessionCookies(SecureCookieSessionInterface):
    """Signed cookies, Secure when configured or when the request came over HTTPS (through a trusted proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        from flask import has_request_context, request

        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def create_app(config: Config, store: Store, *, now: Callable[[], datetime] | None = None) -> Flask:
    """The console for this configuration and store; `now` is a clock for tests (default: the real time)."""
    app = Flask(__name__)  # templates/ and static/ beside this module
    app.extensions["mahnwerk"] = WebContext(config, store, now or (lambda: datetime.now(UTC)))
    app.config.update(
        SECRET_KEY=secret_key(store, config.web.secret_key_file),
        SESSION_COOKIE_NAME="mahnwerk_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.web.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.session_interface = SessionCookies()
    dummy_hash()  # now, so the first login with an unknown name takes no longer than the others
    if config.web.behind_proxy:  # one proxy in front: its X-Forwarded-* say the client's address and scheme
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    access.install(app)
    app.jinja_env.filters.update(texts.FILTERS)
    app.jinja_env.globals.update(_=texts._, csrf_field=access.csrf_field, nav_items=nav_items, link=link,
                                 current_user=user, current_lang=texts.current_lang, word=texts.word)
    app.register_error_handler(HTTPException, error_page)
    for module in pages_modules():
        if (blueprint := getattr(module, "bp", None)) is not None:
            app.register_blueprint(blueprint)
    return app


def pages_modules() -> list[ModuleType]:
    """Every module of sync/web/pages/, imported, in name order."""
    return [importlib.import_module(f"{pages.__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda i: i.name)]


def error_page(error: HTTPException) -> ResponseReturnValue:
    """4xx/5xx as a page in the layout, with the status kept."""
    code = error.code or 500
    message = texts._(f"error.{code}") if f"error.{code}" in texts.TEXTS else (error.description or "")
    return render_template("error.html", code=code, message=message), code

