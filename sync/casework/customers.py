"""One customer's claims in a shop, found by their e-mail address or their account id in the shop, with totals per
currency: what the web console's customer page shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from mahnwerk.sync.casework.case import CaseError
from mahnwerk.sync.casework.reports import OWING, claim_rows
from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store


@dataclass
class Total:
    """What one customer owes in one currency, over their claims that are open or with the agency."""

    currency: str
    claims: int = 0
    open_amount: Decimal = Decimal("0.00")  # principal still open
    owed: Decimal | None = Decimal("0.00")  # with fees and interest; None when a claim's interest is blocked


@dataclass
class CustomerClaims:
    """The claims (rows of `claim_rows`, every state) and the totals per currency, in currency order."""

    shop: str
    key: str  # the e-mail address or the customer id it was found by
    name: str = ""
    email: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: list[Total] = field(default_factory=list)


def customer_claims(store: Store, config: Config, shop: str, key: str, now: datetime) -> CustomerClaims:
    """All claims in the shop of the customer `key` names: an e-mail address (any case) when it has an "@", else
    the customer's id in the shop; CaseError for an unknown shop."""
    shops = [s for s in config.shops if s.id == shop]
    if not shops:
        raise CaseError(f'unknown shop "{shop}"')
    rows = claim_rows(store, shops, state="all", now=now, email=key if "@" in key else None,
                      customer_id=None if "@" in key else key) if key.strip() else []
    totals: dict[str, Total] = {}
    for row in rows:
        if row["state"] not in OWING:
            continue
        total = totals.setdefault(row["currency"], Total(row["currency"]))
        total.claims += 1
        total.open_amount += Decimal(row["open_amount"])
        total.owed = None if total.owed is None or row["owed"] is None else total.owed + Decimal(row["owed"])
    name, email = (rows[-1]["customer"], rows[-1]["email"]) if rows else ("", "")
    return CustomerClaims(shop, key, name, email, rows, [totals[c] for c in sorted(totals)])
