"""Default interest: hand-computed cases per country, day count, refusal without a rate, additivity."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mahnwerk.policy.interest import Accrual, InterestPeriod, InterestRule, accrue, cents
from mahnwerk.policy.rates import AT_BASE_RATE, DE_BASE_RATE, MissingRate, RateRow

DE_CONSUMER = InterestRule("base_plus", points=Decimal(5), table=DE_BASE_RATE)
DE_B2B = InterestRule("base_plus", points=Decimal(9), table=DE_BASE_RATE)
AT_CONSUMER = InterestRule("fixed", rate=Decimal(4))
AT_B2B = InterestRule("base_plus", points=Decimal("9.2"), table=AT_BASE_RATE)
CH = InterestRule("fixed", rate=Decimal(5))


def d(text: str) -> date:
    return date.fromisoformat(text)


def test_de_consumer_across_1_july_2023() -> None:
    """€1,000 from 2023-05-15 to 2023-08-15 at base + 5, split at 2023-07-01.

    2023-05-15 … 06-30: 17 + 30 = 47 days at 1.62 + 5 = 6.62 %: 1000 × 6.62 × 47 / 36500 = 8.5243835…
    2023-07-01 … 08-14: 31 + 14 = 45 days at 3.12 + 5 = 8.12 %: 1000 × 8.12 × 45 / 36500 = 10.0109589…
    total 18.5353424… → €18.54
    """
    accrual = accrue(Decimal("1000.00"), d("2023-05-15"), d("2023-08-15"), DE_CONSUMER)
    assert [(p.start, p.end, p.days, p.annual_rate) for p in accrual.periods] == [
        (d("2023-05-15"), d("2023-07-01"), 47, Decimal("6.62")),
        (d("2023-07-01"), d("2023-08-15"), 45, Decimal("8.12"))]
    assert accrual.amount == sum(p.amount for p in accrual.periods)
    assert cents(accrual.periods[0].amount) == Decimal("8.52")
    assert cents(accrual.periods[1].amount) == Decimal("10.01")
    assert cents(accrual.amount) == Decimal("18.54")


def test_de_b2b_across_1_july_2024() -> None:
    """€2,500 from 2024-06-01 to 2024-08-01 at base + 9.

    June: 30 days at 3.62 + 9 = 12.62 %: 2500 × 12.62 × 30 / 36500 = 25.9315068…
    July: 31 days at 3.37 + 9 = 12.37 %: 2500 × 12.37 × 31 / 36500 = 26.2650684…
    total 52.1965753… → €52.20
    """
    accrual = accrue(Decimal("2500.00"), d("2024-06-01"), d("2024-08-01"), DE_B2B)
    assert [(p.days, p.annual_rate) for p in accrual.periods] == [(30, Decimal("12.62")), (31, Decimal("12.37"))]
    assert cents(accrual.amount) == Decimal("52.20")


def test_leap_day_counts_as_a_day_and_the_year_still_has_365() -> None:
    """February 2024 has 29 days, each 1/365: €1,000 × 8.62 % × 29 / 365 = 6.8487671… → €6.85."""
    accrual = accrue(Decimal("1000.00"), d("2024-02-01"), d("2024-03-01"), DE_CONSUMER)
    assert accrual.periods[0].days == 29
    assert cents(accrual.amount) == Decimal("6.85")


def test_a_whole_leap_year_is_366_days_of_365() -> None:
    """CHF 1,000 at 5 % for all of 2024: 1000 × 5 × 366 / 36500 = 50.1369863… → 50.14, not 50.00."""
    assert cents(accrue(Decimal("1000.00"), d("2024-01-01"), d("2025-01-01"), CH).amount) == Decimal("50.14")


def test_ch_five_percent() -> None:
    """CHF 1,000 at 5 % for 73 days: 1000 × 5 × 73 / 36500 = 10 exactly."""
    accrual = accrue(Decimal("1000.00"), d("2025-01-01"), d("2025-03-15"), CH)
    assert accrual.amount == Decimal(10)
    assert accrual.periods == (InterestPeriod(d("2025-01-01"), d("2025-03-15"), 73, Decimal(5),
                                              Decimal("1000.00"), accrual.amount),)


def test_at_consumer_four_percent_flat() -> None:
    """€500 at 4 % for 100 days (2025-03-10 … 06-17): 500 × 4 × 100 / 36500 = 5.4794520… → €5.48; no table needed."""
    accrual = accrue(Decimal("500.00"), d("2025-03-10"), d("2025-06-18"), AT_CONSUMER)
    assert [p.days for p in accrual.periods] == [100]
    assert cents(accrual.amount) == Decimal("5.48")


def test_at_b2b_from_1_january_2024() -> None:
    """€1,000 at 3.88 + 9.2 = 13.08 % for 100 days (2024-01-01 … 04-09): 1000 × 13.08 × 100 / 36500 → €35.84."""
    accrual = accrue(Decimal("1000.00"), d("2024-01-01"), d("2024-04-10"), AT_B2B)
    assert [(p.days, p.annual_rate) for p in accrual.periods] == [(100, Decimal("13.08"))]
    assert cents(accrual.amount) == Decimal("35.84")


def test_at_b2b_keeps_the_half_year_rate_after_an_oenb_change() -> None:
    """The OeNB cut to 3.03 % on 2024-09-18 does not apply before 2025; the rate of 2024-12-31 (2.53) applies after."""
    accrual = accrue(Decimal("1000.00"), d("2024-09-01"), d("2025-02-01"), AT_B2B)
    assert [(p.start, p.annual_rate) for p in accrual.periods] == [
        (d("2024-09-01"), Decimal("13.08")), (d("2025-01-01"), Decimal("11.73"))]


def test_negative_base_rate_lowers_the_rate() -> None:
    """2016: -0.83 + 5 = 4.17 %; €1,000 for 100 days (2016-01-01 … 04-09): 1000 × 4.17 × 100 / 36500 → €11.42."""
    accrual = accrue(Decimal("1000.00"), d("2016-01-01"), d("2016-04-10"), DE_CONSUMER)
    assert [(p.days, p.annual_rate) for p in accrual.periods] == [(100, Decimal("4.17"))]
    assert cents(accrual.amount) == Decimal("11.42")


def test_a_negative_total_rate_counts_as_zero() -> None:
    """Base rate alone (no points) in 2016 is -0.83 %: interest is nil, never negative; the period still shows."""
    accrual = accrue(Decimal("1000.00"), d("2016-01-01"), d("2016-04-10"),
                     InterestRule("base_plus", points=Decimal(0), table=DE_BASE_RATE))
    assert accrual.amount == 0
    assert [(p.days, p.annual_rate, p.amount) for p in accrual.periods] == [(100, Decimal(0), Decimal(0))]


def test_interest_past_the_table_is_refused() -> None:
    """From 2026-06-01 to 2026-08-01 the DE table has no rate for July: MissingRate names 2026-07-01."""
    with pytest.raises(MissingRate) as caught:
        accrue(Decimal("1000.00"), d("2026-06-01"), d("2026-08-01"), DE_CONSUMER)
    assert caught.value.day == d("2026-07-01")
    assert "2026-07-01" in str(caught.value) and "[[policy.base_rates]]" in str(caught.value)


def test_interest_before_2002_is_refused() -> None:
    """The BGB base rate exists from 2002-01-01; a span starting earlier is refused, not partly computed."""
    with pytest.raises(MissingRate, match="2001-12-01"):
        accrue(Decimal("1000.00"), d("2001-12-01"), d("2002-02-01"), DE_CONSUMER)


def test_a_merchant_row_makes_a_refused_period_computable() -> None:
    """With a config row for 2026-07-01 (say 1.02 %), July 2026 gets 6.02 %: 1000 × 6.02 × 31 / 36500 → €5.11."""
    rule = InterestRule("base_plus", points=Decimal(5),
                        table=DE_BASE_RATE.extended([RateRow(d("2026-07-01"), Decimal("1.02"))]))
    accrual = accrue(Decimal("1000.00"), d("2026-07-01"), d("2026-08-01"), rule)
    assert [(p.days, p.annual_rate) for p in accrual.periods] == [(31, Decimal("6.02"))]
    assert cents(accrual.amount) == Decimal("5.11")


def test_a_gap_in_the_rows_is_never_bridged_with_the_previous_rate() -> None:
    """Rows for 2026-01-01 (1.27, shipped) and 2027-01-01 (a merchant's 2.02) but none for 2026-07-01.

    Over 2026-H2 the interest is refused naming 2026-07-01 … 2026-12-31 (not computed at 1.27 + 9).
    Within 2026-H1 it is computed: €1,000 from 2026-03-01 to 2026-05-01 at base + 9 = 10.27 %,
    31 + 30 = 61 days: 1000 × 10.27 × 61 / 36500 = 17.1635616… → €17.16.
    And within 2027-H1: 2027-01-01 … 01-31, 31 days at 2.02 + 9 = 11.02 %: 1000 × 11.02 × 31 / 36500 = 9.3594… → €9.36.
    """
    rule = InterestRule("base_plus", points=Decimal(9),
                        table=DE_BASE_RATE.extended([RateRow(d("2027-01-01"), Decimal("2.02"), "config")]))
    with pytest.raises(MissingRate) as caught:
        accrue(Decimal("1000.00"), d("2026-06-01"), d("2027-02-01"), rule)
    assert caught.value.day == d("2026-07-01")
    assert "for 2026-07-01 … 2026-12-31" in str(caught.value)
    with pytest.raises(MissingRate, match="2026-07-01 … 2026-12-31"):
        accrue(Decimal("1000.00"), d("2026-08-01"), d("2026-09-01"), rule)
    first = accrue(Decimal("1000.00"), d("2026-03-01"), d("2026-05-01"), rule)
    assert [(p.days, p.annual_rate) for p in first.periods] == [(61, Decimal("10.27"))]
    assert cents(first.amount) == Decimal("17.16")
    later = accrue(Decimal("1000.00"), d("2027-01-01"), d("2027-02-01"), rule)
    assert [(p.days, p.annual_rate) for p in later.periods] == [(31, Decimal("11.02"))]
    assert cents(later.amount) == Decimal("9.36")


@pytest.mark.parametrize("rule", [DE_CONSUMER, AT_CONSUMER, InterestRule("none")], ids=["base_plus", "fixed", "none"])
@pytest.mark.parametrize("end", ["2024-03-01", "2024-02-28"])
def test_end_on_or_before_start_gives_zero(rule: InterestRule, end: str) -> None:
    """No days, no interest, no periods."""
    assert accrue(Decimal("1000.00"), d("2024-03-01"), d(end), rule) == Accrual(Decimal(0), ())


def test_rule_none_accrues_nothing() -> None:
    """A shop without statutory interest: zero and no periods, whatever the span."""
    assert accrue(Decimal("1000.00"), d("2020-01-01"), d("2030-01-01"), InterestRule("none")) == Accrual(Decimal(0), ())


@pytest.mark.parametrize(("rule", "text"), [
    (DE_CONSUMER, "base rate + 5 points (Basiszinssatz (DE, §247 BGB))"),
    (AT_B2B, "base rate + 9.2 points (Basiszinssatz der OeNB (AT))"),
    (AT_CONSUMER, "4 % p.a."),
    (InterestRule("fixed", rate=Decimal("5.00")), "5 % p.a."),
    (InterestRule("none"), "none"),
])
def test_describe(rule: InterestRule, text: str) -> None:
    """Rules read as a merchant would say them."""
    assert rule.describe() == text


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "percent"}, "must be one of"),
    ({"kind": "base_plus", "points": Decimal(5)}, "needs a base-rate table"),
    ({"kind": "fixed", "rate": Decimal(-1)}, "must not be negative"),
])
def test_invalid_rules_are_rejected(kwargs: dict, message: str) -> None:
    """A rule that cannot be computed fails when it is built, not when interest is due."""
    with pytest.raises(ValueError, match=message):
        InterestRule(**kwargs)


def test_cents_rounds_half_up() -> None:
    """Presentation rounding: 0.005 → 0.01, 0.0049… → 0.00, 2.675 → 2.68."""
    assert [cents(Decimal(x)) for x in ("0.005", "0.0049999", "2.675")] == [
        Decimal("0.01"), Decimal("0.00"), Decimal("2.68")]


spans = st.tuples(st.dates(min_value=date(2002, 1, 1), max_value=date(2026, 6, 30)),
                  st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=3000))


@given(principal=st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False),
       span=spans, rule=st.sampled_from([DE_CONSUMER, DE_B2B, CH, AT_CONSUMER]))
def test_splitting_a_span_does_not_change_the_total(principal: Decimal, span: tuple[date, int, int],
                                                     rule: InterestRule) -> None:
    """accrue(a, c) == accrue(a, b) + accrue(b, c) for any a <= b <= c (to the 28th significant digit), as Decimals."""
    a, first, second = span
    b = min(a + timedelta(days=first), DE_BASE_RATE.known_until + timedelta(days=1))
    c = min(b + timedelta(days=second), DE_BASE_RATE.known_until + timedelta(days=1))
    whole, left, right = accrue(principal, a, c, rule), accrue(principal, a, b, rule), accrue(principal, b, c, rule)
    assert all(isinstance(x, Decimal) for x in (whole.amount, left.amount, right.amount))
    assert all(isinstance(p.amount, Decimal) for p in whole.periods + left.periods + right.periods)
    assert abs(whole.amount - (left.amount + right.amount)) <= Decimal("1e-18")
    assert sum(p.days for p in whole.periods) == (c - a).days
