"""Charts as inline SVG, computed here and drawn by a template: no script, no library, nothing from elsewhere.
Every bar is scaled into the plot area, so the tallest one ends at its top and none leaves the box."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from mahnwerk.policy.aging import BUCKET_NAMES, AgingLine

WIDTH, HEIGHT = 640, 240
TOP, BOTTOM, SIDE = 28, 44, 16  # room for the amount above a bar, two label lines below
GAP = 18


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    bucket: str  # policy.aging's bucket name (the template translates it)
    count: int
    amount: Decimal

    @property
    def middle(self) -> float:
        """Where the bar's labels are centred."""
        return round(self.x + self.width / 2, 1)


@dataclass(frozen=True)
class BarChart:
    currency: str
    width: int
    height: int
    baseline: float  # y of the axis
    bars: tuple[Bar, ...]


def aging_chart(lines: Sequence[AgingLine], currency: str) -> BarChart:
    """One bar per aging bucket (all of them, empty ones flat) for one currency; height by amount."""
    amounts = {line.bucket: (line.count, line.amount) for line in lines if line.currency == currency}
    top = max((amount for _, amount in amounts.values()), default=Decimal(0))
    plot = HEIGHT - TOP - BOTTOM
    step = (WIDTH - 2 * SIDE) / len(BUCKET_NAMES)
    bars = []
    for index, name in enumerate(BUCKET_NAMES):
        count, amount = amounts.get(name, (0, Decimal(0)))
        height = float(amount / top) * plot if top > 0 and amount > 0 else 0.0
        height = min(max(height, 1.0 if amount > 0 else 0.0), plot)  # a small amount still shows; never above
        bars.append(Bar(x=round(SIDE + index * step + GAP / 2, 1), y=round(TOP + plot - height, 1),
                        width=round(step - GAP, 1), height=round(height, 1), bucket=name, count=count,
                        amount=amount))
    return BarChart(currency, WIDTH, HEIGHT, TOP + plot, tuple(bars))
