"""What a page needs for the request it serves: the store, the configuration, the clock and the logged-in user.

The application keeps them in `app.extensions["mahnwerk"]` (set by `create_app`); pages call these functions
instead of reaching for globals, so a test's clock and store are the ones every page sees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g

from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.web.users import User


@dataclass(frozen=True)
class WebContext:
    """What `create_app` was given."""

    config: Config
    store: Store
    now: Callable[[], datetime]


def web_context() -> WebContext:
    found = current_app.extensions["mahnwerk"]
    assert isinstance(found, WebContext)
    return found


def store() -> Store:
    """The store every command uses."""
    return web_context().store


def config() -> Config:
    """The loaded configuration (with the fetched base rates)."""
    return web_context().config


def now() -> datetime:
    """The current time, timezone-aware (a test's clock when it gave one)."""
    return web_context().now()


def user() -> User | None:
    """The logged-in user of this request, None on the login page."""
    found = g.get("user")
    return found if isinstance(found, User) else None
