"""Aging buckets and totals: pure functions, tested with examples and properties."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mahnwerk.policy.aging import BUCKET_NAMES, aging_totals, bucket, days_overdue


@pytest.mark.parametrize(("days", "name"), [(0, "not yet due"), (1, "1-30"), (30, "1-30"), (31, "31-60"),
                                            (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "over 90"),
                                            (4000, "over 90")])
def test_bucket_edges(days: int, name: str) -> None:
    """Each bucket includes both of its edges."""
    assert bucket(days) == name


def test_days_overdue_is_zero_until_after_the_due_date() -> None:
    """On the due date and before it nothing is overdue; the day after, one day is."""
    due = date(2026, 3, 15)
    assert [days_overdue(due, date(2026, 3, d)) for d in (1, 15, 16)] == [0, 0, 1]


def test_totals_never_mix_currencies() -> None:
    """EUR and CHF claims in the same bucket are summed separately."""
    lines = aging_totals([("EUR", Decimal("10.00"), 5), ("CHF", Decimal("3.50"), 7), ("EUR", Decimal("0.01"), 30)])
    assert [(x.currency, x.bucket, x.count, x.amount) for x in lines] == [
        ("CHF", "1-30", 1, Decimal("3.50")), ("EUR", "1-30", 2, Decimal("10.01"))]


claims = st.lists(st.tuples(st.sampled_from(["EUR", "CHF", "GBP"]),
                            st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False),
                            st.integers(min_value=0, max_value=400)), max_size=60)


@given(claims)
def test_totals_add_up_to_the_claims(items: list[tuple[str, Decimal, int]]) -> None:
    """Per currency, bucket counts and amounts add up exactly to the claims that went in."""
    lines = aging_totals(items)
    for currency in {c for c, _, _ in items}:
        mine = [x for x in lines if x.currency == currency]
        assert sum(x.count for x in mine) == sum(1 for c, _, _ in items if c == currency)
        assert sum(x.amount for x in mine) == sum(a for c, a, _ in items if c == currency)
        assert [x.bucket for x in mine] == [b for b in BUCKET_NAMES if b in {x.bucket for x in mine}]
