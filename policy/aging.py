"""Aging of open claims: which overdue bucket a claim falls in, and totals per currency and bucket. Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

NOT_DUE = "not yet due"
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("over 90", 91, None),
)
BUCKET_NAMES = (NOT_DUE,) + tuple(name for name, _, _ in BUCKETS)


def days_overdue(due: date, today: date) -> int:
    """Whole days past the due date; 0 on the due date and before it."""
    return max(0, (today - due).days)


def bucket(days: int) -> str:
    """The aging bucket for a number of days overdue."""
    for name, low, high in BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return NOT_DUE


@dataclass(frozen=True, slots=True)
class AgingLine:
    """Open amount and count of claims for one currency in one bucket."""

    currency: str
    bucket: str
    count: int
    amount: Decimal


def aging_totals(claims: Iterable[tuple[str, Decimal, int]]) -> list[AgingLine]:
    """Totals per (currency, bucket) from (currency, open amount, days overdue); currencies are never mixed."""
    counts: Counter[tuple[str, str]] = Counter()
    sums: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for currency, amount, days in claims:
        key = (currency, bucket(days))
        counts[key] += 1
        sums[key] += amount
    return [AgingLine(currency, name, counts[(currency, name)], sums[(currency, name)])
            for currency in sorted({c for c, _ in counts}) for name in BUCKET_NAMES if (currency, name) in counts]
