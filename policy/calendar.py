"""Business days of a shop's region: weekends and public holidays, given as data (sync/ builds the holiday set)."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days count as business days; `holidays` holds the region's public holidays (any years)."""

    region: str = ""  # "DE-BY", "AT", ... for messages; empty: weekends only
    holidays: Container[date] = frozenset()  # only asked `day in`: sync/ passes a `holidays` calendar
    weekend: frozenset[int] = frozenset({5, 6})  # date.weekday(): Saturday, Sunday

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def roll_forward(self, day: date) -> date:
        """`day` itself if it is a business day, else the next one (a deadline never ends on a holiday)."""
        while not self.is_business_day(day):
            day += ONE_DAY
        return day

    def deadline(self, start: date, days: int) -> date:
        """The payment deadline `days` calendar days after `start`, rolled forward to a business day."""
        return self.roll_forward(start + timedelta(days=days))
