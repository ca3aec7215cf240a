"""Claims that wait for a base rate: counted per table and missing half-year, with the one command that fixes it.

`run`, `status`, `check` and the daemon's log all say the same thing from here. A claim counts when its interest
cannot be computed (`Assessment.gap`): its notices that demand interest are blocked, a reminder goes out without
interest. The texts that state what such a claim owes (`owed_text`) say what is known and never print None or "?".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from mahnwerk.policy.engine import Assessment, RateGap
from mahnwerk.policy.interest import cents
from mahnwerk.sync.casework.planner import assessments
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.store.engine import Store

FIX = "mahnwerk rates update"


def half_year(since: date) -> str:
    """"2026-H2" for the half-year starting 2026-07-01."""
    return f"{since.year}-H{1 if since.month <= 6 else 2}"


@dataclass
class Blocked:
    """How many claims wait for which base rate: per (table, first missing day), and how many of them still get a
    reminder without interest."""

    claims: Counter[RateGap] = field(default_factory=Counter)
    reminders: Counter[RateGap] = field(default_factory=Counter)

    def add(self, result: Assessment) -> None:
        """Count the claim if its interest waits for a rate."""
        if result.gap is None:
            return
        self.claims[result.gap] += 1
        if result.status != "blocked":
            self.reminders[result.gap] += 1

    def __bool__(self) -> bool:
        return bool(self.claims)

    @property
    def total(self) -> int:
        return sum(self.claims.values())

    def as_dict(self) -> dict[str, Any]:
        """For `run --json` and `status --json`: {"rate_missing": N, "tables": [...]}."""
        return {"rate_missing": self.total, "tables": [
            {"table": gap.table, "from": gap.since.isoformat(), "half_year": half_year(gap.since), "claims": n,
             "reminders_without_interest": self.reminders[gap], "fix": FIX} for gap, n in self._ordered()]}

    def lines(self) -> list[str]:
        """One line per table and half-year for people and the journal."""
        return [message(gap, n, self.reminders[gap]) for gap, n in self._ordered()]

    def _ordered(self) -> list[tuple[RateGap, int]]:
        return sorted(self.claims.items(), key=lambda item: (item[0].table, item[0].since))


def message(gap: RateGap, count: int, reminders: int = 0) -> str:
    """"12 claims wait for the Basiszinssatz (DE, §247 BGB) from 2026-07-01: run `mahnwerk rates update`"."""
    claims = "1 claim waits" if count == 1 else f"{count} claims wait"
    without = f"; {reminders} of them get their reminder without interest" if reminders else ""
    return (f"{claims} for the {gap.table} from {gap.since} (no dunning notice with interest until then{without}): "
            f"run `{FIX}` (or add the rate as a [[policy.base_rates]] row in the shop file)")


def count_blocked(store: Store, shop: ShopConfig, today: date) -> Blocked:
    """The shop's open claims that wait for a base rate on `today` (one pass over them, as `plan` makes)."""
    blocked = Blocked()
    for _, result in assessments(store, shop, today):
        blocked.add(result)
    return blocked


def owed_text(result: Assessment, show: Callable[[Decimal], str]) -> str:
    """What the claim owes, for the merchant ("159.00 EUR" via `show`), or what is known while interest cannot be
    computed: "open principal and fees 159.00 EUR; interest not yet computable: base rate for 2026-H2 missing"."""
    if result.balance is not None and result.gap is None:
        return show(cents(result.balance.total))
    known = result.known or result.balance
    if result.gap is None or known is None:  # a balance is missing only for a missing rate: not reached
        return "not computable"
    part = "open principal" if known.total == known.principal else "open principal and fees"
    return (f"{part} {show(cents(known.total))}; interest not yet computable: base rate for "
            f"{half_year(result.gap.since)} missing (`{FIX}`)")
