"""What the Stripe and Mollie source tests share: one settable clock for a provider sandbox and the source."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)


class Clock:
    """One time for the sandbox and the source; tests move it forward."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now
