"""A tiny stand-in for the daemon, for property tests of the policy engine.

Each run day it first takes in the events of that day (payments, holds, plans arrive through the sync before the
decision), then asks the engine what is due and "executes" it by appending to the claim's history what sync/ would
record: a letter or a task as a StageDone with the deadline and fee the action carried, a hand-over as a StageDone,
and a `close` ends the claim's life.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from mahnwerk.policy.engine import Action, Assessment, assess
from mahnwerk.policy.model import ClaimFacts, Event, Policy, StageDone
from mahnwerk.policy.rates import RateRow
from mahnwerk.sync.config.policy import calendar

ONE_DAY = timedelta(days=1)
STAGE_KINDS_OF_ACTION = ("send", "task", "handover")


@dataclass
class Run:
    """What a simulated daemon did to one claim."""

    history: list[Event]
    executed: list[tuple[date, Action, Assessment]] = field(default_factory=list)  # (run day, action, assessment)
    assessments: dict[date, Assessment] = field(default_factory=dict)  # the assessment of every run day
    closed_on: date | None = None

    @property
    def stages(self) -> list[str]:
        return [e.stage for e in self.history if isinstance(e, StageDone)]

    @property
    def stage_days(self) -> list[tuple[str, date]]:
        return [(e.stage, e.on) for e in self.history if isinstance(e, StageDone)]


def execute(history: list[Event], action: Action, day: date) -> bool:
    """Record what sync/ would record for `action` carried out on `day`; False for `close` (the claim ends)."""
    if action.kind == "send":
        history.append(StageDone(day, action.stage, deadline=action.deadline, fee=action.fee))
    elif action.kind == "task":
        history.append(StageDone(day, action.stage, deadline=action.deadline))
    elif action.kind == "handover":
        history.append(StageDone(day, action.stage))
    elif action.kind == "close":
        return False
    else:  # pragma: no cover - a new action kind needs a decision here
        raise AssertionError(f"unknown action kind {action.kind!r}")
    return True


def simulate(claim: ClaimFacts, policy: Policy, start: date, days: int, events: Iterable[Event] = (),
             runs: Callable[[int], bool] = lambda offset: True,
             on_run: Callable[[date, Assessment, list[Event]], None] | None = None) -> Run:
    """Walk `days` calendar days from `start`; on the days `runs(offset)` is true the daemon decides and executes.

    `events` arrive on their day, before that day's decision. `on_run(day, assessment, history)` is called after
    every decision, before the action is executed (for checks that need the state the engine saw).
    """
    pending = sorted(events, key=lambda e: e.on)  # stable: same-day events keep their order
    history: list[Event] = [e for e in pending if e.on < start]
    pending = pending[len(history):]
    run = Run(history)
    for offset in range(days):
        day = start + timedelta(days=offset)
        while pending and pending[0].on <= day:
            history.append(pending.pop(0))
        if not runs(offset):
            continue
        assessment = assess(claim, history, day, policy)
        run.assessments[day] = assessment
        if on_run is not None:
            on_run(day, assessment, history)
        for action in assessment.actions:
            if not execute(history, action, day):
                run.closed_on = day
                return run
            run.executed.append((day, action, assessment))
    history.extend(pending)  # events after the horizon, so the history is complete
    return run


# Rate tables wide enough for every simulated day: the shipped ones end 2026-06-30 (and AT starts 2024-01-01).
# The values past the shipped rows are test values, not published rates.
_EXTRA_DE = [RateRow(date(2026, 7, 1), Decimal("1.27")), RateRow(date(2027, 1, 1), Decimal("1.52")),
             RateRow(date(2027, 7, 1), Decimal("2.02")), RateRow(date(2028, 1, 1), Decimal("2.02"))]
_EXTRA_AT = [RateRow(date(2023, 1, 1), Decimal("1.88")), RateRow(date(2023, 7, 1), Decimal("3.38")),
             RateRow(date(2026, 7, 1), Decimal("1.53")), RateRow(date(2027, 1, 1), Decimal("1.78")),
             RateRow(date(2027, 7, 1), Decimal("2.28")), RateRow(date(2028, 1, 1), Decimal("2.28"))]


def with_wide_rates(policy: Policy) -> Policy:
    """`policy` with its base-rate tables extended to 2028 (and AT back to 2023), so no day is MissingRate."""

    def widen(rule):
        if rule.table is None:
            return rule
        extra = _EXTRA_AT if rule.table.key == "at" else _EXTRA_DE
        return replace(rule, table=rule.table.extended(extra))

    return replace(policy, interest_b2c=widen(policy.interest_b2c), interest_b2b=widen(policy.interest_b2b))


@cache
def region_calendar(code: str):
    """A real holiday calendar (weekends and public holidays of the region), cached per region."""
    return calendar(code)


def stage_index(policy: Policy, name: str) -> int:
    return [s.name for s in policy.stages].index(name)


def fees_of(history: Sequence[Event]) -> list[Decimal]:
    return [e.fee for e in history if isinstance(e, StageDone)]
