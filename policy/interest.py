"""Statutory default interest: split at every base-rate change, actual/365, no interest on interest. Pure.

Day count: interest runs for the days start <= day < end, so the first day counts and the end day (e.g. the day of
payment) does not; every day is 1/365 of a year, in leap years too. Amounts stay unrounded; `cents` rounds for
presentation only, so sums of periods and of claims are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from mahnwerk.policy.rates import RateTable

KINDS = ("base_plus", "fixed", "none")
DAYS_PER_YEAR = 365
ZERO = Decimal(0)
CENT = Decimal("0.01")


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


@dataclass(frozen=True, slots=True)
class InterestRule:
    """How default interest is computed: base rate + points (DE, AT B2B), a flat annual percent (AT, CH), or none."""

    kind: str
    points: Decimal = Decimal(0)
    rate: Decimal = Decimal(0)
    table: RateTable | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"interest kind must be one of {', '.join(KINDS)} (got {self.kind!r})")
        if self.kind == "base_plus" and self.table is None:
            raise ValueError("interest kind 'base_plus' needs a base-rate table")
        if self.kind == "fixed" and self.rate < 0:
            raise ValueError(f"a fixed interest rate must not be negative (got {self.rate})")

    def describe(self) -> str:
        """The rule in words, for `plan`/`explain` output and the audit trail."""
        if self.kind == "base_plus":
            assert self.table is not None
            return f"base rate + {_plain(self.points)} points ({self.table.name})"
        if self.kind == "fixed":
            return f"{_plain(self.rate)} % p.a."
        return "none"

    def annual_rates(self, start: date, end: date) -> list[tuple[date, date, Decimal]]:
        """The annual percent for each stretch of [start, end), never below 0; MissingRate from the table."""
        if self.kind == "none" or end <= start:
            return []
        if self.kind == "fixed":
            return [(start, end, self.rate)]
        assert self.table is not None
        # A negative base rate may pull the sum below zero (2013-2022 with few points): interest is then nil, never
        # a credit for the debtor (as Art. I §1(1a) 1. Euro-Justiz-Begleitgesetz states for AT).
        return [(frm, to, max(ZERO, base + self.points)) for frm, to, base in self.table.periods(start, end)]


@dataclass(frozen=True, slots=True)
class InterestPeriod:
    """Interest for the days start <= day < end at one annual rate."""

    start: date
    end: date
    days: int
    annual_rate: Decimal
    principal: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Accrual:
    """Interest over a span: the exact (unrounded) total and the periods it is made of."""

    amount: Decimal
    periods: tuple[InterestPeriod, ...]


def accrue(principal: Decimal, start: date, end: date, rule: InterestRule) -> Accrual:
    """Interest on `principal` for the days start <= day < end: the first day counts, the end day does not.

    Actual/365 (365 also in leap years); split at every rate change; a negative total annual rate counts as 0; no
    interest on interest (§289 BGB, Art. 105(3) OR: the caller passes the principal only). end <= start gives zero
    and no periods. MissingRate propagates from the base-rate table.
    """
    if principal < 0:
        raise ValueError(f"principal must not be negative (got {principal})")
    periods = []
    total = ZERO
    # A local context keeps the result independent of whatever precision the caller's thread has set.
    with localcontext() as context:
        context.prec = 28
        for frm, to, annual_rate in rule.annual_rates(start, end):
            days = (to - frm).days
            # One division only, so each period carries a single rounding at the 28th significant digit.
            amount = principal * annual_rate * days / (100 * DAYS_PER_YEAR)
            periods.append(InterestPeriod(frm, to, days, annual_rate, principal, amount))
            total += amount
    return Accrual(amount=total, periods=tuple(periods))


def cents(amount: Decimal) -> Decimal:
    """Presentation rounding: half up to whole cents (Rappen)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
