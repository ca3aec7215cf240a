"""A shop's outlook for today, in one pass over its open claims with the planner `mahnwerk plan` uses: what the next
run sends (per stage or action), which claims wait for a base rate (with the fix), and the aging of what is open.
The web console's overview shows it; a million claims take as long as `plan` (its caller caches the result)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from mahnwerk.policy.aging import AgingLine, aging_totals, days_overdue
from mahnwerk.policy.interest import cents
from mahnwerk.sync.casework.blocked import Blocked
from mahnwerk.sync.casework.planner import assessments, plan_row, shop_today
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.store.engine import Store


@dataclass
class Outlook:
    """One shop on one day."""

    shop: str
    today: date
    next_run: Counter[str] = field(default_factory=Counter)  # plan's action (stage or kind) → claims due today
    blocked: Blocked = field(default_factory=Blocked)
    aging: list[AgingLine] = field(default_factory=list)  # open principal per currency and bucket

    def totals(self) -> dict[str, tuple[int, Decimal]]:
        """Open claims and their principal per currency."""
        found: dict[str, tuple[int, Decimal]] = {}
        for line in self.aging:
            count, amount = found.get(line.currency, (0, Decimal("0.00")))
            found[line.currency] = (count + line.count, amount + line.amount)
        return found


def outlook(store: Store, shop: ShopConfig, now: datetime) -> Outlook:
    """The shop's outlook on today (in its timezone)."""
    today = shop_today(shop, now)
    found = Outlook(shop.id, today)
    owed: list[tuple[str, Decimal, int]] = []
    for row, result in assessments(store, shop, today):
        found.blocked.add(result)
        planned = plan_row(shop.id, row, result)  # the very row `mahnwerk plan` prints
        if planned["status"] == "due":
            found.next_run[planned["action"]] += 1
        # The principal still open after the payments booked here, as `claims` lists it (interest aside).
        balance = result.balance or result.known
        principal = cents(balance.principal) if balance is not None else row.open_amount
        owed.append((row.currency, principal, days_overdue(row.due_date, today)))
    found.aging = aging_totals(owed)
    return found
