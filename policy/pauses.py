"""Holds and payment plans over time: when each began and ended, which one is in force, and the spans in which
no default interest accrues. Pure; `history` is in ledger order (sorted by day, stable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from mahnwerk.policy.calendar import ONE_DAY
from mahnwerk.policy.model import ZERO, Event, Hold, Instalment, Payment, PlanAgreed, Release

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
    accelerates: bool = True  # a missed instalment makes the whole remainder due (the plan's terms say so)
    arrears: tuple[Span, ...] = ()  # without acceleration: from the day after each missed instalment's due date
    #                                 until the payments caught up with it

    @property
    def end(self) -> date | None:
        """When the plan stopped deferring the whole claim: a plan without acceleration defers its later
        instalments until a Release or a newer plan ends it, broken or not."""
        ends = [d for d in (self.ended, None if not self.accelerates else self.broken_on) if d is not None]
        return min(ends) if ends else None


@dataclass(frozen=True, slots=True)
class Deferral:
    """A payment plan without acceleration over [start, end): instalments not yet due are deferred, so no interest
    runs on them and a notice does not demand them. Interest runs only in the plan's arrears (a missed instalment,
    from the day after its due date, until the payments caught up), and then only on the principal of the
    instalments already due: payments go to costs and interest before principal (§367 BGB), so the instalments
    still to come are principal first, and whatever principal exceeds them is overdue (§289: no interest on the
    interest or the fees an instalment also covers)."""

    start: date
    end: date | None
    instalments: tuple[Instalment, ...]
    arrears: tuple[Span, ...]

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)

    def not_due(self, day: date) -> Decimal:
        """The instalments still to come on `day` (due on or after it)."""
        return sum((i.amount for i in self.instalments if i.due >= day), ZERO)

    def deferred(self, owed: Decimal, day: date) -> Decimal:
        """The part of `owed` (the open principal, or all that is owed) the plan still defers on `day`."""
        return min(owed, self.not_due(day)) if self.covers(day) else ZERO

    def interest_base(self, principal: Decimal, day: date) -> Decimal:
        """The principal that bears interest on `day` (the plan covers it)."""
        in_arrears = any(a <= day and (b is None or day < b) for a, b in self.arrears)
        return principal - self.deferred(principal, day) if in_arrears else ZERO

    def cuts(self) -> list[date]:
        """The days on which `interest_base` can change, payments aside."""
        days = [self.start] + [i.due + ONE_DAY for i in self.instalments]
        days += [d for span in self.arrears for d in span if d is not None]
        return days + ([self.end] if self.end is not None else [])


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


def plan_arrears(plan: PlanAgreed, payments: Sequence[Payment], grace_days: int, today: date) -> list[Span]:
    """A plan without acceleration: the spans in which it was in arrears. An instalment not paid in full by the end
    of its grace period puts the plan in arrears from the day after its due date (§286(2) no. 1 BGB: a date by the
    calendar) until the day the payments since the plan reach every instalment due before that day; an instalment
    paid within its grace period costs nothing."""
    spans: list[Span] = []
    received = sorted((p for p in payments if plan.on <= p.on <= today), key=lambda p: p.on)
    cumulative = ZERO
    for instalment in plan.instalments:
        cumulative += instalment.amount
        check = instalment.due + timedelta(days=grace_days)
        if check >= today or (spans and spans[-1][1] is None):
            continue
        paid, caught_up = ZERO, None
        for payment in received:
            paid += payment.amount
            if paid >= cumulative:
                caught_up = payment.on
                break
        if caught_up is not None and caught_up <= check:
            continue  # paid within the grace period
        start = instalment.due + ONE_DAY
        if spans and spans[-1][1] is not None and spans[-1][1] >= start:
            start = spans.pop()[0]  # still in arrears with an earlier one: one span
        spans.append((start, caught_up))
    return spans


def plan_spans(history: Sequence[Event], grace_days: int, today: date, *,
               acceleration: bool = True) -> list[PlanSpan]:
    """Every payment plan, ended by a Release or a newer plan, or broken by a missed instalment. A plan accelerates
    as its terms said when it was agreed (`PlanAgreed.accelerates`), else as `acceleration` says. Without
    acceleration a plan is broken only while it is in arrears: paying the missed instalments puts it back on track."""
    payments = [e for e in history if isinstance(e, Payment)]
    spans = []
    for position, event in enumerate(history):
        if isinstance(event, PlanAgreed):
            ended = _ended_by(history, position, (Release, PlanAgreed))
            until = today if ended is None else ended
            accelerates = acceleration if event.accelerates is None else event.accelerates
            broken, index = plan_status(event, payments, grace_days, until)
            arrears: tuple[Span, ...] = ()
            if not accelerates:
                arrears = tuple(plan_arrears(event, payments, grace_days, until))
                broken, index = _arrears_status(event, arrears, payments, grace_days, until)
            spans.append(PlanSpan(event, ended, broken, index, accelerates, arrears))
    return spans


def _arrears_status(plan: PlanAgreed, arrears: Sequence[Span], payments: Sequence[Payment], grace_days: int,
                    today: date) -> tuple[date | None, int | None]:
    """(the day the current arrears began to count as a break, or None; the first instalment not fully paid)."""
    paid = sum((p.amount for p in payments if plan.on <= p.on <= today), ZERO)
    cumulative, index = ZERO, None
    for position, instalment in enumerate(plan.instalments):
        cumulative += instalment.amount
        if cumulative > paid:
            index = position
            break
    if index is None or not arrears or arrears[-1][1] is not None:
        return None, index
    first_missed = next(i for i in plan.instalments if i.due + ONE_DAY >= arrears[-1][0])
    return first_missed.due + timedelta(days=grace_days) + ONE_DAY, index


def interest_pauses(holds: Sequence[HoldSpan], plans: Sequence[PlanSpan]) -> list[Span]:
    """Spans without default interest: disputes (the debtor is not responsible, §286(4) BGB) and agreed payment
    plans with acceleration until they ended or broke (a deferral suspends default). Plans without acceleration
    are `deferrals`."""
    spans: list[Span] = [(s.hold.on, s.end) for s in holds if s.hold.kind == "dispute"]
    spans += [(p.plan.on, p.end) for p in plans if p.accelerates]
    return sorted(spans, key=lambda span: span[0])


def deferrals(plans: Sequence[PlanSpan]) -> list[Deferral]:
    """The plans without acceleration, each deferring its instalments not yet due until it ended."""
    return [Deferral(p.plan.on, p.ended, p.plan.instalments, p.arrears) for p in plans if not p.accelerates]
