"""Statutory base-rate tables (Basiszinssatz, DE and AT), shipped as data with their sources. Pure.

A table answers "which base rate applies on this day" and refuses to answer for a day it does not cover: a rate is
never guessed. Merchants add newer rows in their shop file (`[[policy.base_rates]]`), see `RateTable.extended`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal


class MissingRate(ValueError):
    """Raised when a day lies outside a rate table; names the table, the day and how to add the row."""

    def __init__(self, message: str, *, table: str, day: date) -> None:
        super().__init__(message)
        self.table = table
        self.day = day


@dataclass(frozen=True, slots=True)
class RateRow:
    """A base rate in percent per year (may be negative), valid from `valid_from` until the next row."""

    valid_from: date
    rate: Decimal


def _half_year_start(day: date) -> date:
    return date(day.year, 1, 1) if day.month <= 6 else date(day.year, 7, 1)


def _half_year_end(day: date) -> date:
    return date(day.year, 6, 30) if day.month <= 6 else date(day.year, 12, 31)


@dataclass(frozen=True)
class RateTable:
    """A base-rate series: rows sorted by `valid_from`, covering every day from the first row to `known_until`."""

    key: str
    name: str
    source: str
    rows: tuple[RateRow, ...]
    known_until: date
    _starts: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError(f"{self.name}: a rate table needs at least one row")
        starts = tuple(row.valid_from for row in self.rows)
        if list(starts) != sorted(set(starts)):
            raise ValueError(f"{self.name}: rows must be sorted by valid_from, one row per date")
        # Both statutes fix the dates: §247(1) BGB changes the rate on 1 January and 1 July, and §456 UGB applies the
        # OeNB rate of the last day of a half-year to the whole next half-year. A row on another date is a mistake
        # (typically an OeNB announcement date) that would split interest at the wrong day.
        for start in starts:
            if (start.month, start.day) not in ((1, 1), (7, 1)):
                raise ValueError(f"{self.name}: a row must start on 1 January or 1 July (got valid_from = {start})")
        if self.known_until < starts[-1]:
            raise ValueError(f"{self.name}: known_until {self.known_until} lies before the newest row {starts[-1]}")
        object.__setattr__(self, "_starts", starts)

    def _missing(self, day: date) -> MissingRate:
        if day < self._starts[0]:
            where = f"the table starts {self._starts[0]}"
        else:
            where = f"the table ends {self.known_until}"
        return MissingRate(
            f"no {self.name} for {day}: {where}; add the rate as a row in [[policy.base_rates]] "
            f'(table = "{self.key}", valid_from = {_half_year_start(day)}, rate = "…") in the shop file',
            table=self.name, day=day)

    def rate_on(self, day: date) -> Decimal:
        """The base rate in force on `day`; MissingRate before the first row or after `known_until`."""
        if day < self._starts[0] or day > self.known_until:
            raise self._missing(day)
        return self.rows[bisect.bisect_right(self._starts, day) - 1].rate

    def periods(self, start: date, end: date) -> list[tuple[date, date, Decimal]]:
        """The days start <= day < end as (from, to, rate) with `to` exclusive, split where the rate changes.

        Adjacent rows with the same rate form one period. MissingRate names the first day the table does not cover.
        """
        if end <= start:
            return []
        if start < self._starts[0] or start > self.known_until:
            raise self._missing(start)
        if end - timedelta(days=1) > self.known_until:
            raise self._missing(self.known_until + timedelta(days=1))
        found: list[tuple[date, date, Decimal]] = []
        index = bisect.bisect_right(self._starts, start) - 1
        cursor = start
        while cursor < end:
            following = self._starts[index + 1] if index + 1 < len(self._starts) else end
            stop = min(end, following)
            rate = self.rows[index].rate
            if found and found[-1][2] == rate:
                found[-1] = (found[-1][0], stop, rate)
            else:
                found.append((cursor, stop, rate))
            cursor, index = stop, index + 1
        return found

    def extended(self, rows: Iterable[RateRow], known_until: date | None = None) -> RateTable:
        """This table with the merchant's rows added; a row on an existing date replaces the shipped one.

        Without `known_until` the table then covers the half-year of its newest row (the rate is fixed for a whole
        half-year in both countries), and never less than before.
        """
        merged = {row.valid_from: row for row in self.rows}
        merged.update((row.valid_from, row) for row in rows)
        ordered = tuple(merged[start] for start in sorted(merged))
        if known_until is None:
            known_until = max(self.known_until, _half_year_end(ordered[-1].valid_from))
        return RateTable(key=self.key, name=self.name, source=self.source, rows=ordered, known_until=known_until)


def _rows(*pairs: tuple[str, str]) -> tuple[RateRow, ...]:
    return tuple(RateRow(date.fromisoformat(start), Decimal(rate)) for start, rate in pairs)


# Verified on 2026-11-26 against: for 2002-01-01 … 2007-01-01 the footnote to §247 BGB in the official English
# translation of the BGB (each value with its Bundesanzeiger notice); for 2002 … 2023-01-01 the list in
# Prütting/Wegen/Weinreich, BGB, §247 Rn 3 (Haufe), which also confirms -0.88 for 2016-07-01 … 2022-12-31 (it prints
# "1,97 % (1.3.–1.6.03)", a misprint: the BGB footnote and every other source give 1.97 from 2003-01-01); Bundesbank
# notices for 2009-01-01, 2013-07-01, 2016-07-01 (Börsen-Zeitung), 2019-07-01, 2020-07-01, 2021-01-01; 2023-01-01 …
# 2026-01-01 from shared/domain/LAW.md, cross-checked with reports of the notices for 2023-01-01, 2025-07-01 and
# 2026-01-01 (unchanged at 1.27 because the ECB main refinancing rate stayed at 2.15 % since July 2025).
# No published value for 2026-07-01 could be found, so the table ends 2026-06-30 and refuses later days.
DE_BASE_RATE = RateTable(
    key="de",
    name="Basiszinssatz (DE, §247 BGB)",
    source="Deutsche Bundesbank, Basiszinssatz nach § 247 BGB, "
           "https://www.bundesbank.de/de/bundesbank/organisation/agb-und-regelungen/basiszinssatz-607820",
    rows=_rows(
        ("2002-01-01", "2.57"),
        ("2002-07-01", "2.47"),
        ("2003-01-01", "1.97"),
        ("2003-07-01", "1.22"),
        ("2004-01-01", "1.14"),
        ("2004-07-01", "1.13"),
        ("2005-01-01", "1.21"),
        ("2005-07-01", "1.17"),
        ("2006-01-01", "1.37"),
        ("2006-07-01", "1.95"),
        ("2007-01-01", "2.70"),
        ("2007-07-01", "3.19"),
        ("2008-01-01", "3.32"),
        ("2008-07-01", "3.19"),
        ("2009-01-01", "1.62"),
        ("2009-07-01", "0.12"),
        ("2010-01-01", "0.12"),
        ("2010-07-01", "0.12"),
        ("2011-01-01", "0.12"),
        ("2011-07-01", "0.37"),
        ("2012-01-01", "0.12"),
        ("2012-07-01", "0.12"),
        ("2013-01-01", "-0.13"),
        ("2013-07-01", "-0.38"),
        ("2014-01-01", "-0.63"),
        ("2014-07-01", "-0.73"),
        ("2015-01-01", "-0.83"),
        ("2015-07-01", "-0.83"),
        ("2016-01-01", "-0.83"),
        ("2016-07-01", "-0.88"),
        ("2017-01-01", "-0.88"),
        ("2017-07-01", "-0.88"),
        ("2018-01-01", "-0.88"),
        ("2018-07-01", "-0.88"),
        ("2019-01-01", "-0.88"),
        ("2019-07-01", "-0.88"),
        ("2020-01-01", "-0.88"),
        ("2020-07-01", "-0.88"),
        ("2021-01-01", "-0.88"),
        ("2021-07-01", "-0.88"),
        ("2022-01-01", "-0.88"),
        ("2022-07-01", "-0.88"),
        ("2023-01-01", "1.62"),
        ("2023-07-01", "3.12"),
        ("2024-01-01", "3.62"),
        ("2024-07-01", "3.37"),
        ("2025-01-01", "2.27"),
        ("2025-07-01", "1.27"),
        ("2026-01-01", "1.27"),
    ),
    known_until=date(2026, 6, 30),
)

# The OeNB base rate (Art. I §1 1. Euro-Justiz-Begleitgesetz, BGBl. I Nr. 125/1998) itself changes on irregular
# dates, but §456 UGB applies "the base rate in force on the last calendar day of a half-year" to the whole next
# half-year (the OeNB publishes this rate separately). So each row here is that half-year rate, on 1 January or
# 1 July; merchants extending the table add the OeNB rate of 30 June / 31 December as the row for 1 July / 1 January.
# Verified on 2026-11-26: 3.88 in force from 2023-09-20 (OeNB press release of 2023-09-14) until 2024-09-18 (OeNB
# press release of 2024-09-12: "von derzeit 3,88 % auf 3,03 %"); 2.53 from 2024-12-18 (OeNB notice on evi.gv.at);
# 1.53 from 2025-06-11 (report of the OeNB decision: 2.03 → 1.53); unchanged through 2025-12-31 because the ECB main
# refinancing rate stayed at 2.15 % (Bundesbank notice for 2026-01-01). Older half-years are documented (-0.62 for
# 2016-07-01 … 2022-12-31, 1.88 for 2023-01-01) but 2023-07-01 could not be confirmed by a source, so the table
# starts 2024-01-01. The rate on 2026-06-30 is unknown here: the table ends 2026-06-30.
AT_BASE_RATE = RateTable(
    key="at",
    name="Basiszinssatz der OeNB (AT)",
    source="Oesterreichische Nationalbank, Basis- und Referenzzinssätze (1. Euro-Justiz-Begleitgesetz; the rate on the "
           "last day of a half-year applies to the next half-year, §456 UGB), https://www.oenb.at",
    rows=_rows(
        ("2024-01-01", "3.88"),
        ("2024-07-01", "3.88"),
        ("2025-01-01", "2.53"),
        ("2025-07-01", "1.53"),
        ("2026-01-01", "1.53"),
    ),
    known_until=date(2026, 6, 30),
)

TABLES: dict[str, RateTable] = {table.key: table for table in (DE_BASE_RATE, AT_BASE_RATE)}
