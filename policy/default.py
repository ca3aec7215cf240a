"""When a customer is in default (Verzug, §286 BGB), and from when default interest runs. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from mahnwerk.policy.calendar import ONE_DAY
from mahnwerk.policy.model import LETTER_KINDS, ClaimFacts, Event, Policy, StageDone
from mahnwerk.policy.pauses import PlanSpan

THIRTY_DAYS = timedelta(days=30)  # §286(3) BGB: in default once 30 days after due date and receipt have passed


def default_date(claim: ClaimFacts, history: Sequence[Event], policy: Policy) -> date | None:
    """The first day of default (Verzug, §286 BGB), or None while the customer is not in default.

    A notice puts the customer in default from the day after its deadline. Without one: from the day after an
    agreed calendar due date; for businesses (and for consumers whose invoice said so) once 30 days have passed
    after the later of due date and receipt (invoice date + `receipt_days`), §286(3) BGB. A due date or 30th day
    on a Saturday, Sunday or public holiday of the shop's region moves to the next business day (§193 BGB), so
    default starts the day after that: 30th day Sat 2026-03-07 → last day to pay Mon 03-09 → default from 03-10.
    """
    last_days = []  # the last day the customer may pay without being in default
    for event in history:
        if isinstance(event, StageDone) and not event.skipped and event.deadline is not None:
            stage = policy.stage(event.stage)
            if stage is None or stage.kind in LETTER_KINDS:
                last_days.append(event.deadline)  # already a business day (BusinessCalendar.deadline)
                break
    if policy.due_date_agreed:
        last_days.append(policy.calendar.roll_forward(claim.due_date))
    if claim.is_b2b or policy.invoice_said_default(claim):
        received = claim.invoice_date + timedelta(days=policy.receipt_days)
        last_days.append(policy.calendar.roll_forward(max(claim.due_date, received) + THIRTY_DAYS))
    return min(last_days) + ONE_DAY if last_days else None


def interest_from(default_on: date | None, plans: Sequence[PlanSpan]) -> date | None:
    """When default interest may start: the claim's default, or earlier where a payment plan without acceleration
    fell into arrears, since an instalment's date is agreed by the calendar (§286(2) no. 1 BGB)."""
    if not plans:
        return default_on
    starts = [span[0] for plan in plans if not plan.accelerates for span in plan.arrears]
    return min([d for d in (default_on, *starts) if d is not None], default=None)
