"""Base-rate tables: complete half-year series, lookups, splitting, refusal outside the table, merchant rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mahnwerk.policy.rates import AT_BASE_RATE, DE_BASE_RATE, TABLES, MissingRate, RateRow


def half_years(first: date, last: date) -> list[date]:
    """Every 1 January and 1 July from `first` to `last`, both included."""
    found, day = [], first
    while day <= last:
        found.append(day)
        day = date(day.year, 7, 1) if day.month == 1 else date(day.year + 1, 1, 1)
    return found


def test_de_table_has_every_half_year_since_2002_exactly_once() -> None:
    """One row per 1 January / 1 July from 2002-01-01 to the newest row, no gaps, no duplicates."""
    starts = [row.valid_from for row in DE_BASE_RATE.rows]
    assert starts == half_years(date(2002, 1, 1), starts[-1])
    assert all(isinstance(row.rate, Decimal) for row in DE_BASE_RATE.rows)


def test_de_table_ends_with_the_half_year_of_its_newest_row() -> None:
    """Nothing beyond the newest published rate: the table covers exactly the newest row's half-year."""
    newest = DE_BASE_RATE.rows[-1].valid_from
    assert DE_BASE_RATE.known_until == (date(newest.year, 6, 30) if newest.month == 1 else date(newest.year, 12, 31))


@pytest.mark.parametrize(("day", "rate"), [
    ("2002-01-01", "2.57"), ("2003-01-01", "1.97"), ("2009-07-01", "0.12"), ("2013-01-01", "-0.13"),
    ("2016-06-30", "-0.83"), ("2016-07-01", "-0.88"), ("2022-12-31", "-0.88"), ("2023-01-01", "1.62"),
    ("2023-07-01", "3.12"), ("2024-01-01", "3.62"), ("2024-07-01", "3.37"), ("2025-01-01", "2.27"),
    ("2025-07-01", "1.27"), ("2026-01-01", "1.27"), ("2026-06-30", "1.27"),
])
def test_de_rate_on_matches_the_published_values(day: str, rate: str) -> None:
    """Spot checks against the Bundesbank values (LAW.md for 2023 on)."""
    assert DE_BASE_RATE.rate_on(date.fromisoformat(day)) == Decimal(rate)


def test_at_table_holds_the_half_year_rates_of_456_ugb() -> None:
    """3.88 % applies to the first half of 2024 (LAW.md); rows only on 1 January / 1 July."""
    assert AT_BASE_RATE.rate_on(date(2024, 1, 1)) == Decimal("3.88")
    assert all((r.valid_from.month, r.valid_from.day) in ((1, 1), (7, 1)) for r in AT_BASE_RATE.rows)
    assert TABLES == {"de": DE_BASE_RATE, "at": AT_BASE_RATE}


def test_rate_after_known_until_is_refused_with_a_hint_for_the_config() -> None:
    """The day after the table ends has no rate: the error names table, day and the config section."""
    with pytest.raises(MissingRate) as caught:
        DE_BASE_RATE.rate_on(date(2026, 7, 1))
    message = str(caught.value)
    assert caught.value.day == date(2026, 7, 1) and caught.value.table == DE_BASE_RATE.name
    assert "2026-07-01" in message and "2026-06-30" in message and "[[policy.base_rates]]" in message
    assert DE_BASE_RATE.name in message and 'table = "de", valid_from = 2026-07-01' in message


def test_the_hint_names_the_half_year_the_missing_day_falls_in() -> None:
    """Rows start a half-year, so for 2026-11-26 the row to add is the one for 2026-07-01."""
    with pytest.raises(MissingRate, match="valid_from = 2026-07-01") as caught:
        DE_BASE_RATE.rate_on(date(2026, 11, 26))
    assert caught.value.day == date(2026, 11, 26)


def test_rate_before_the_first_row_is_refused() -> None:
    """The BGB base rate starts 2002-01-01; the day before has no row."""
    with pytest.raises(MissingRate, match="2001-12-31"):
        DE_BASE_RATE.rate_on(date(2001, 12, 31))


def test_periods_split_at_each_rate_change_with_exclusive_ends() -> None:
    """[2023-05-15, 2024-02-01) crosses two changes: three periods, each end the next start."""
    assert DE_BASE_RATE.periods(date(2023, 5, 15), date(2024, 2, 1)) == [
        (date(2023, 5, 15), date(2023, 7, 1), Decimal("1.62")),
        (date(2023, 7, 1), date(2024, 1, 1), Decimal("3.12")),
        (date(2024, 1, 1), date(2024, 2, 1), Decimal("3.62")),
    ]


def test_periods_merge_half_years_with_an_unchanged_rate() -> None:
    """-0.88 % from 2016-07-01 to 2022-12-31 is one period, not thirteen."""
    assert DE_BASE_RATE.periods(date(2016, 7, 1), date(2023, 1, 1)) == [
        (date(2016, 7, 1), date(2023, 1, 1), Decimal("-0.88"))]


def test_periods_may_end_on_the_day_after_known_until() -> None:
    """End is exclusive: [.., 2026-07-01) only needs rates up to 2026-06-30."""
    assert DE_BASE_RATE.periods(date(2026, 6, 1), date(2026, 7, 1)) == [
        (date(2026, 6, 1), date(2026, 7, 1), Decimal("1.27"))]


@pytest.mark.parametrize(("start", "end", "first_uncovered"), [
    ("2026-06-01", "2026-07-02", "2026-07-01"),
    ("2026-08-01", "2026-09-01", "2026-08-01"),
    ("2001-11-01", "2002-02-01", "2001-11-01"),
])
def test_periods_name_the_first_uncovered_day(start: str, end: str, first_uncovered: str) -> None:
    """A span reaching outside the table is refused as a whole, naming the first day without a rate."""
    with pytest.raises(MissingRate) as caught:
        DE_BASE_RATE.periods(date.fromisoformat(start), date.fromisoformat(end))
    assert caught.value.day == date.fromisoformat(first_uncovered)


def test_empty_span_has_no_periods() -> None:
    """end <= start: nothing to split, and no rate needed (even outside the table)."""
    assert DE_BASE_RATE.periods(date(2030, 1, 1), date(2030, 1, 1)) == []
    assert DE_BASE_RATE.periods(date(2030, 1, 2), date(2030, 1, 1)) == []


def test_a_merchant_row_extends_the_table_by_its_half_year() -> None:
    """A row for 2026-07-01 makes the second half of 2026 computable, and no further."""
    table = DE_BASE_RATE.extended([RateRow(date(2026, 7, 1), Decimal("1.02"))])
    assert table.known_until == date(2026, 12, 31)
    assert table.rate_on(date(2026, 11, 26)) == Decimal("1.02")
    with pytest.raises(MissingRate):
        table.rate_on(date(2027, 1, 1))
    assert DE_BASE_RATE.known_until == date(2026, 6, 30)  # the shipped table is unchanged


def test_a_merchant_row_overrides_a_shipped_row() -> None:
    """Same valid_from: the merchant's rate wins; the table still ends with its newest row's half-year."""
    table = AT_BASE_RATE.extended([RateRow(date(2026, 1, 1), Decimal("1.50"))])
    assert table.rate_on(date(2026, 2, 1)) == Decimal("1.50")
    assert len(table.rows) == len(AT_BASE_RATE.rows) and table.known_until == date(2026, 6, 30)


def test_a_row_on_another_day_than_1_january_or_1_july_is_rejected() -> None:
    """Both statutes fix the rate per half-year; an OeNB announcement date as valid_from would split wrongly."""
    with pytest.raises(ValueError, match="1 January or 1 July"):
        AT_BASE_RATE.extended([RateRow(date(2026, 6, 11), Decimal("1.03"))])


# A table with rows for 2026-01-01 and 2027-01-01 but none for 2026-07-01: the gap is never bridged with 1.27.
GAPPED = DE_BASE_RATE.extended([RateRow(date(2027, 1, 1), Decimal("2.02"))])


def test_a_gap_left_by_merchant_rows_is_listed_and_known_until_is_the_newest_half_year() -> None:
    """Rows for 2026-01-01 and 2027-01-01 only: 2026-07-01 is the gap, the table is known until 2027-06-30."""
    assert GAPPED.gaps() == [date(2026, 7, 1)]
    assert GAPPED.known_until == date(2027, 6, 30)
    assert DE_BASE_RATE.gaps() == [] and AT_BASE_RATE.gaps() == []


def test_interest_over_a_gap_half_year_is_refused_naming_it() -> None:
    """2026-H2 has no row: a rate on 2026-09-15 or a span across 2026-07-01 names 2026-07-01 … 2026-12-31."""
    with pytest.raises(MissingRate) as caught:
        GAPPED.rate_on(date(2026, 9, 15))
    assert caught.value.half_year == (date(2026, 7, 1), date(2026, 12, 31)) and caught.value.key == "de"
    assert "for 2026-07-01 … 2026-12-31" in str(caught.value) and "valid_from = 2026-07-01" in str(caught.value)
    assert "no row for this half-year" in str(caught.value)
    with pytest.raises(MissingRate) as caught:
        GAPPED.periods(date(2026, 6, 1), date(2027, 2, 1))
    assert caught.value.day == date(2026, 7, 1)


def test_periods_within_and_after_the_gap_are_still_computed() -> None:
    """2026-H1 (1.27) and 2027-H1 (2.02) each have their row: spans inside them are fine."""
    assert GAPPED.periods(date(2026, 3, 1), date(2026, 7, 1)) == [(date(2026, 3, 1), date(2026, 7, 1), Decimal("1.27"))]
    assert GAPPED.periods(date(2027, 1, 1), date(2027, 3, 1)) == [(date(2027, 1, 1), date(2027, 3, 1), Decimal("2.02"))]


def test_the_missing_newest_half_year_suggests_rates_update_for_germany_only() -> None:
    """After the DE table ends the message names `mahnwerk rates update`; the OeNB table has no such command."""
    with pytest.raises(MissingRate, match="run `mahnwerk rates update` or add"):
        DE_BASE_RATE.rate_on(date(2026, 7, 1))
    with pytest.raises(MissingRate) as caught:
        AT_BASE_RATE.rate_on(date(2026, 7, 1))
    assert "rates update" not in str(caught.value)
