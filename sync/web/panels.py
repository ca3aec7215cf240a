"""What the claim page shows: one function per panel, in order. Each gets (store, config, shop id, order id, now)
and returns a Panel (its template under templates/ and the context to render it with) or None to show nothing.
Other modules append their panel functions to CLAIM_PANELS when imported (pages are imported by app.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store


@dataclass(frozen=True)
class Panel:
    """A template name and the values it is rendered with."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)


PanelMaker = Callable[[Store, Config, str, str, datetime], Panel | None]
CLAIM_PANELS: list[PanelMaker] = []


def claim_panels(store: Store, config: Config, shop: str, order_id: str, now: datetime) -> list[Panel]:
    """The panels for one claim, in CLAIM_PANELS order, without the ones that have nothing to show."""
    return [panel for make in CLAIM_PANELS if (panel := make(store, config, shop, order_id, now)) is not None]
