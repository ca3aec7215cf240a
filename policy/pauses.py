"""Holds and payment plans over time: when each began and ended, which one is in force, and the spans in which
no default interest accrues. Pure; `history` is in ledger order (sorted by day, stable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from mahnwerk.policy.calendar import ONE_DAY
from mahnwerk.policy.model import ZERO, Event, Hold, Payment, PlanAgreed, Release

Span = tuple[date, date | None]  # [start, end); None: still open


@dataclass(frozen=True, slots=True)
class HoldSpan:
    hold: Hold
    end: date | None  # the hold's `until`, or the first Release after it, whichever comes first

    def in_force(self, day: date) -> bool:
        return self.hold.on <= day and (self.end is None or day < self.end)


@dataclass(frozen=True, slots=True)
class PlanSpan:
    plan: PlanAgreed
    ended: date | None  # a Release or a newer plan ended it
    broken_on: date | None  # the day after the grace period of the first instalment not paid in full
    next_instalment: int | None  # index of the first instalment not yet paid in full

    @property
    def end(self) -> date | None:
        """When the plan stopped deferring the claim."""
        ends = [d for d in (self.ended, self.broken_on) if d is not None]
        return min(ends) if ends else None


def _ended_by(history: Sequence[Event], position: int, kinds: tuple[type, ...]) -> date | None:
    return next((e.on for e in history[position + 1:] if isinstance(e, kinds)), None)


def hold_spans(history: Sequence[Event]) -> list[HoldSpan]:
    """Every hold with its end: a Release ends all holds before it; `until` ends a hold by itself."""
    spans = []
    for position, event in enumerate(history):
        if isinstance(event, Hold):
            ends = [d for d in (event.until, _ended_by(history, position, (Release,))) if d is not None]
            spans.append(HoldSpan(event, min(ends) if ends else None))
    return spans


def active_hold(holds: Sequence[HoldSpan], today: date) -> Hold | None:
    """The latest-begun hold in force on `today`, if any (overlapping holds all count)."""
    current = [span.hold for span in holds if span.in_force(today)]
    return current[-1] if current else None


def last_resumption(history: Sequence[Event], holds: Sequence[HoldSpan], after: date, today: date) -> date | None:
    """The latest day in (after, today] on which a hold or a plan stopped pausing the claim."""
    ends = [span.end for span in holds if span.end is not None and after < span.end <= today]
    ends += [e.on for e in history if isinstance(e, Release) and after < e.on <= today]
    return max(ends) if ends else None


def plan_status(plan: PlanAgreed, payments: Sequence[Payment], grace_days: int,
                today: date) -> tuple[date | None, int | None]:
    """(the day the plan broke or None, the index of the first instalment not yet fully paid or None)."""
    due_so_far = ZERO
    for index, instalment in enumerate(plan.instalments):
        due_so_far += instalment.amount
        check = instalment.due + timedelta(days=grace_days)
        paid_by = sum((p.amount for p in payments if plan.on <= p.on <= min(check, today)), ZERO)
        if paid_by < due_so_far:
            if check < today:
                return check + ONE_DAY, index
            return None, index
    return None, None


def plan_spans(history: Sequence[Event], grace_days: int, today: date) -> list[PlanSpan]:
    """Every payment plan, ended by a Release or a newer plan, or broken by a missed instalment."""
    payments = [e for e in history if isinstance(e, Payment)]
    spans = []
    for position, event in enumerate(history):
        if isinstance(event, PlanAgreed):
            ended = _ended_by(history, position, (Release, PlanAgreed))
            broken, index = plan_status(event, payments, grace_days, today if ended is None else ended)
            spans.append(PlanSpan(event, ended, broken, index))
    return spans


def interest_pauses(holds: Sequence[HoldSpan], plans: Sequence[PlanSpan]) -> list[Span]:
    """Spans without default interest: disputes (the debtor is not responsible, §286(4) BGB) and agreed payment
    plans until they ended or broke (a deferral suspends default)."""
    spans: list[Span] = [(s.hold.on, s.end) for s in holds if s.hold.kind == "dispute"]
    spans += [(p.plan.on, p.end) for p in plans]
    return sorted(spans, key=lambda span: span[0])
