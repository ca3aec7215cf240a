"""Statutory base-rate tables (Basiszinssatz, DE and AT), shipped as data with their sources. Pure.

A table answers "which base rate applies on this day" and refuses to answer for a day whose half-year has no row of
its own: a rate is never guessed, not even across a gap the merchant left. Newer rows come from the shop file
(`[[policy.base_rates]]`) and, for Germany, from the Bundesbank (`mahnwerk rates update`); see `RateTable.extended`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal


class MissingRate(ValueError):
    """Raised when a day has no row of a rate table; names the table, the half-year and how to add the row.

    `day` is the first day without a rate, `half_year` the (first, last) day of its half-year, `key` the table's key.
    """

    def __init__(self, message: str, *, table: str, day: date, key: str = "",
                 half_year: tuple[date, date] | None = None) -> None:
        super().__init__(message)
        self.table = table
        self.day = day
        self.key = key
        self.half_year = half_year or (half_year_start(day), half_year_end(day))


@dataclass(frozen=True, slots=True)
class RateRow:
    """A base rate in percent per year (may be negative) for the half-year that starts on `valid_from`.

    `origin` says where it came from ("shipped", "config", "fetched") and `source` the file:line or URL; neither takes
    part in comparisons: two rows are equal when date and rate are.
    """

    valid_from: date
    rate: Decimal
    origin: str = field(default="shipped", compare=False)
    source: str = field(default="", compare=False)


def half_year_start(day: date) -> date:
    """1 January or 1 July: the first day of the half-year `day` falls in."""
    return date(day.year, 1, 1) if day.month <= 6 else date(day.year, 7, 1)


def half_year_end(day: date) -> date:
    """30 June or 31 December: the last day of the half-year `day` falls in."""
    return date(day.year, 6, 30) if day.month <= 6 else date(day.year, 12, 31)


def next_half_year(day: date) -> date:
    """The first day of the half-year after the one `day` falls in."""
    return half_year_end(day) + timedelta(days=1)


@dataclass(frozen=True)
class RateTable:
    """A base-rate series: one row per half-year, sorted by `valid_from`. A half-year without its own row has no rate
    (never the previous row's: that would be a guess), so a table extended by a merchant may have gaps.

    `known_until` is the last day of the newest row's half-year. `fetched_by` names the command that fetches newer
    rows, where there is one (the Bundesbank publishes the German rate as a machine-readable series).
    """

    key: str
    name: str
    source: str
    rows: tuple[RateRow, ...]
    fetched_by: str = ""
    known_until: date = field(init=False)
    _by_start: dict[date, RateRow] = field(init=False, repr=False, compare=False)

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
        object.__setattr__(self, "known_until", half_year_end(starts[-1]))
        object.__setattr__(self, "_by_start", {row.valid_from: row for row in self.rows})

    def gaps(self) -> list[date]:
        """The half-years (by first day) between the first and the newest row that have no row of their own."""
        missing, day = [], self.rows[0].valid_from
        while day <= self.rows[-1].valid_from:
            if day not in self._by_start:
                missing.append(day)
            day = next_half_year(day)
        return missing

    def _missing(self, day: date) -> MissingRate:
        first, last = half_year_start(day), half_year_end(day)
        if day < self.rows[0].valid_from:
            where = f"the table starts {self.rows[0].valid_from}"
        elif day > self.known_until:
            where = f"the table ends {self.known_until}"
        else:
            where = "the table has no row for this half-year"
        fetch = f"run `{self.fetched_by}` or " if self.fetched_by and day > self.known_until else ""
        return MissingRate(
            f"no {self.name} for {first} … {last} (needed from {day}): {where}; {fetch}add the rate as a row in "
            f'[[policy.base_rates]] (table = "{self.key}", valid_from = {first}, rate = "…") in the shop file',
            table=self.name, day=day, key=self.key, half_year=(first, last))

    def rate_on(self, day: date) -> Decimal:
        """The base rate of the half-year `day` falls in; MissingRate when that half-year has no row."""
        row = self._by_start.get(half_year_start(day))
        if row is None:
            raise self._missing(day)
        return row.rate

    def periods(self, start: date, end: date) -> list[tuple[date, date, Decimal]]:
        """The days start <= day < end as (from, to, rate) with `to` exclusive, split at each half-year.

        Adjacent half-years with the same rate form one period. Every half-year the span touches needs its own row:
        MissingRate names the first day (and its half-year) that has none.
        """
        found: list[tuple[date, date, Decimal]] = []
        cursor = start
        while cursor < end:
            stop = min(end, next_half_year(cursor))
            rate = self.rate_on(cursor)
            if found and found[-1][2] == rate:
                found[-1] = (found[-1][0], stop, rate)
            else:
                found.append((cursor, stop, rate))
            cursor = stop
        return found

    def extended(self, rows: Iterable[RateRow]) -> RateTable:
        """This table with further rows; a row on an existing date replaces that row (later arguments win).

        The result may have gaps (see `gaps`): a half-year without a row stays without a rate. `known_until` moves to
        the end of the newest row's half-year.
        """
        merged = {row.valid_from: row for row in self.rows}
        merged.update((row.valid_from, row) for row in rows)
        ordered = tuple(merged[start] for start in sorted(merged))
        return RateTable(key=self.key, name=self.name, source=self.source, rows=ordered, fetched_by=self.fetched_by)


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
    fetched_by="mahnwerk rates update",
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
)

TABLES: dict[str, RateTable] = {table.key: table for table in (DE_BASE_RATE, AT_BASE_RATE)}
