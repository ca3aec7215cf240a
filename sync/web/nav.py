"""The navigation bar: (endpoint, text key) in order. An entry shows only when a page registered its endpoint, so
the list can name pages that are still being written."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

NAV: list[tuple[str, str]] = [
    ("overview.index", "nav.overview"),
    ("claims.index", "nav.claims"),
    ("payments.index", "nav.payments"),
    ("letters.index", "nav.letters"),
    ("outbox.index", "nav.outbox"),
]


def nav_items() -> list[tuple[str, str, str]]:
    """(endpoint, url, text key) of the entries whose page exists."""
    views = current_app.view_functions
    return [(endpoint, url_for(endpoint), key) for endpoint, key in NAV if endpoint in views]


def link(endpoint: str, **values: Any) -> str | None:
    """The URL of `endpoint`, None while no page registers it (`link('claim.show', shop=..., order=...)`)."""
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None
