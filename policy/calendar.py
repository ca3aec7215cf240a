"""Business days of a shop's region: weekends and public holidays, given as data (sync/ builds the holiday set)."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days count as business days; `holidays` holds the region's public holidays (any years)."""

    region: str = ""  # "DE-BY", "AT", ... for messages; empty: weekends only
    holidays: Container[date] = frozenset()  # only asked `day in`: sync/ passes a `holidays` calendar
    weekend: frozenset[int] = frozenset({5, 6})  # date.weekday(): Saturday, Sunday
    # roll_forward's answers: `plan` asks for the same few hundred days a million times, and a `holidays` lookup
    # costs a microsecond. A cache of a pure function of the fields above, so the calendar stays a value.
    _rolled: dict[date, date] = field(default_factory=dict, init=False, repr=False, compare=False)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def roll_forward(self, day: date) -> date:
        """`day` itself if it is a business day, else the next one (a deadline never ends on a holiday)."""
        rolled = self._rolled.get(day)
        if rolled is None:
            rolled = day
            while not self.is_business_day(rolled):
                rolled += ONE_DAY
            self._rolled[day] = rolled
        return rolled

    def deadline(self, start: date, days: int) -> date:
        """The payment deadline `days` calendar days after `start`, rolled forward to a business day."""
        return self.roll_forward(start + timedelta(days=days))
