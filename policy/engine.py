"""The decision: what one claim needs on one day, and why. Pure: the claim, its history, the day and the policy in,
an Assessment out. `decide` is the short form that returns only the actions due today.

Rules, in order: a claim handed to an agency is left alone; a settled claim is closed; a held claim waits; a claim
in a running payment plan waits for its instalments; otherwise the next stage of the ladder is due `after_days`
after the deadline the previous stage actually gave (or after the due date, for the first), so a daemon that was
down fires one stage per claim and spaces the next from the real send date — never a burst of notices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from mahnwerk.policy.account import Balance, account
from mahnwerk.policy.calendar import ONE_DAY
from mahnwerk.policy.default import default_date, interest_from
from mahnwerk.policy.frozen import slot_init
from mahnwerk.policy.interest import InterestRule
from mahnwerk.policy.model import LETTER_KINDS, ZERO, ClaimFacts, Event, Offer, Payment, Policy, Stage, StageDone
from mahnwerk.policy.pauses import (
    HoldSpan,
    active_hold,
    deferrals,
    hold_spans,
    interest_pauses,
    last_resumption,
    plan_spans,
)
from mahnwerk.policy.rates import MissingRate

ACTION_KINDS = {"task": "task", "agency": "handover"}  # by stage kind; letters are "send"


@slot_init
@dataclass(frozen=True, slots=True)
class Action:
    """One thing to do for a claim: send a stage's letter, open a task, hand over, or close the claim."""

    kind: str  # "send", "task", "handover", "close"
    stage: str  # the stage's name; "" for close
    on: date
    code: str  # machine-readable reason
    reason: str  # the same for a person
    fee: Decimal = ZERO
    deadline: date | None = None
    template: str = ""
    channel: str = ""
    offer: Offer | None = None


NO_INTEREST = InterestRule("none")


@dataclass(frozen=True, slots=True)
class RateGap:
    """A base-rate table lacks the half-year a claim's interest needs: which table, from which day."""

    table: str  # the table's name, "Basiszinssatz (DE, §247 BGB)"
    since: date  # the first day of the missing half-year (1 January or 1 July)


def rate_gap(exc: MissingRate) -> RateGap:
    """The half-year a MissingRate names, for grouping claims per table and half-year."""
    day = exc.day
    return RateGap(exc.table, date(day.year, 1 if day.month <= 6 else 7, 1))


@slot_init
@dataclass(frozen=True, slots=True)
class Assessment:
    """Where a claim stands on `today`, and what comes next (due today, or later with its date, or nothing)."""

    claim: ClaimFacts
    today: date
    status: str  # due, waiting, on_hold, in_plan, settled, handed_over, finished, stopped, blocked
    code: str
    reason: str
    next: Action | None
    default_on: date | None
    balance: Balance | None  # today; None if blocked
    problem: str = ""
    next_balance: Balance | None = None  # on the next action's day (the same as `balance` when that is today)
    # While a base rate is missing (`gap`): what is owed without any interest (principal, fees, flat fee; payments
    # counted against these only). A reminder may leave interest out, so it is due with `balance` = `known`;
    # every other stage is blocked (`balance` None).
    gap: RateGap | None = None
    known: Balance | None = None

    @property
    def interest_unknown(self) -> bool:
        """Interest cannot be computed (a base rate is missing): no figure may be stated for it."""
        return self.gap is not None

    @property
    def actions(self) -> list[Action]:
        """The actions due today (at most one per claim): a stage, or closing a claim paid in full."""
        return [self.next] if self.next is not None and self.status in ("due", "settled") else []


def decide(claim: ClaimFacts, history: Sequence[Event], today: date, policy: Policy) -> list[Action]:
    """What this claim needs today; an empty list means nothing."""
    return assess(claim, history, today, policy).actions


def owed(claim: ClaimFacts, history: Sequence[Event], day: date, policy: Policy, *, interest: bool = True) -> Balance:
    """What the claim owes on `day` (fees, flat fee, interest, principal), without deciding anything; the cheap
    part of `assess` for callers that only need the figures (booking a payment). Raises MissingRate; with
    `interest=False` it is everything but interest, which needs no rate."""
    history = sorted((e for e in history if e.on <= day), key=lambda e: e.on)
    plans = plan_spans(history, policy.plan_grace_days, day, acceleration=policy.plan_acceleration)
    rule = policy.interest_rule(claim) if interest else NO_INTEREST
    default_on = default_date(claim, history, policy)
    return account(claim, history, day, rule, default_on, policy.b2b_flat_fee if claim.is_b2b else ZERO,
                   interest_pauses(hold_spans(history), plans), deferrals(plans),
                   interest_from=interest_from(default_on, plans))


def assess(claim: ClaimFacts, history: Sequence[Event], today: date, policy: Policy) -> Assessment:
    """Where the claim stands on `today` and its next action, with a machine-readable code and a reason."""
    history = sorted((e for e in history if e.on <= today), key=lambda e: e.on) if history else []
    done = [e for e in history if isinstance(e, StageDone)]
    payments = [e for e in history if isinstance(e, Payment)]
    last = done[-1] if done else None
    last_stage = policy.stage(last.stage) if last else None
    default_on = default_date(claim, history, policy)
    rule = policy.interest_rule(claim)
    flat = policy.b2b_flat_fee if claim.is_b2b else ZERO
    if history:
        plans = plan_spans(history, policy.plan_grace_days, today, acceleration=policy.plan_acceleration)
        holds = hold_spans(history)
        pauses, deferred = interest_pauses(holds, plans), deferrals(plans)
    else:  # most claims, before anything happened: what the lines above come to, without the work
        plans, holds, pauses, deferred = [], [], [], []
    current = plans[-1] if plans and plans[-1].ended is None else None
    plan, broken_on, instalment = (current.plan, current.broken_on, current.next_instalment) if current else (
        None, None, None)
    starts = interest_from(default_on, plans)

    def balance_on(day: date) -> tuple[Balance | None, MissingRate | None]:
        if day > today and now is not None and starts is None and not deferred:
            return now.carried_to(day), None  # no default, no interest, no plan: a later day changes nothing
        try:
            return account(claim, history, day, rule, default_on, flat, pauses, deferred, interest_from=starts), None
        except MissingRate as exc:
            return None, exc

    now, missing = balance_on(today)

    def state(status: str, code: str, reason: str, nxt: Action | None = None, *, at: date = today) -> Assessment:
        later, why = (now, missing) if at == today else balance_on(at)
        if now is None or later is None:
            exc = missing or why
            assert exc is not None
            known = account(claim, history, today, NO_INTEREST, default_on, flat, pauses, deferred)
            stage = policy.stage(nxt.stage) if nxt is not None and nxt.kind == "send" else None
            if status in ("due", "waiting") and stage is not None and stage.kind == "reminder":
                # A reminder demands no interest (§286(1) BGB asks only for a Mahnung): it goes out without any
                # interest figure rather than not at all; the notices after it wait for the rate.
                ahead = known if at == today else account(claim, history, at, NO_INTEREST, default_on, flat, pauses,
                                                                          deferred)
                return Assessment(claim, today, status, code, f"{reason} (without interest: no base rate)", nxt,
                                  default_on, known, str(exc), ahead, rate_gap(exc), known)
            return Assessment(claim, today, "blocked", "rate_missing", f"{reason} (blocked: no interest rate)", nxt,
                              default_on, None, str(exc), gap=rate_gap(exc), known=known)
        return Assessment(claim, today, status, code, reason, nxt, default_on, now, next_balance=later)

    if last is not None and last_stage is not None and last_stage.kind == "agency":
        return state("handed_over", "handed_over", f"handed over to the agency on {last.on}")
    paid = sum((p.amount for p in payments), ZERO)
    if (now.settled if now else paid >= claim.principal):
        return state("settled", "paid_in_full", f"paid in full ({paid} {claim.currency} received)",
                     Action("close", "", today, "paid_in_full", "paid in full: close the claim"))
    if (hold := active_hold(holds, today)) is not None:
        until = f" until {hold.until}" if hold.until else " until released"
        why = f": {hold.reason}" if hold.reason else ""
        return state("on_hold", f"hold_{hold.kind}", f"on hold ({hold.kind}{why}) since {hold.on}{until}")
    resume = None
    if broken_on is not None:
        rest = "" if current is None or current.accelerates else " (the missed instalments; later ones stay due)"
        resume = (broken_on, "plan_broken", f"payment plan broken {broken_on}{rest}")
    if plan is not None and broken_on is None and instalment is None:
        # Every instalment is paid but something is still open (interest before the plan, a fee): once the grace
        # period after the last instalment is over, the ladder goes on for the rest instead of waiting forever.
        day = plan.instalments[-1].due + timedelta(days=policy.plan_grace_days + 1)
        resume = (day, "plan_remainder", f"payment plan paid, remainder open from {day}")
    elif plan is not None and broken_on is None and instalment is not None:
        due = plan.instalments[instalment]
        return state("in_plan", "plan_running", f"payment plan of {plan.on}: instalment {instalment + 1} of "
                     f"{len(plan.instalments)} ({due.amount} {claim.currency}) due {due.due}")
    return _next_stage(claim, history, holds, today, policy, state, last, last_stage, resume, now, default_on)


class _State(Protocol):
    """assess()'s closure that makes the Assessment: the balance today and, for an action on a later day, then."""

    def __call__(self, status: str, code: str, reason: str, nxt: Action | None = None, *,
                 at: date = ...) -> Assessment: ...


def _next_stage(claim: ClaimFacts, history: Sequence[Event], holds: Sequence[HoldSpan], today: date, policy: Policy,
                state: _State, last: StageDone | None, last_stage: Stage | None, resume: tuple[date, str, str] | None,
                now: Balance | None, default_on: date | None) -> Assessment:
    stages = policy.stages
    names = [s.name for s in stages] if last or resume else []
    index = names.index(last.stage) + 1 if last and last.stage in names else len([e for e in history
                                                                                 if isinstance(e, StageDone)])
    if resume is not None and resume[1] == "plan_broken" and policy.plan_resume_stage in names:
        index = max(index, names.index(policy.plan_resume_stage))  # stages never go backwards
    open_principal = now.principal if now else claim.principal
    if last is not None and open_principal < policy.min_amount:
        return state("stopped", "below_minimum", f"open amount below the minimum of {policy.min_amount} "
                                                 f"{claim.currency}: no further stages after {last.stage}")
    while index < len(stages) and not stages[index].applies_to(claim, open_principal):
        index += 1
    if index >= len(stages):
        done = f"; last: {last.stage} on {last.on}" if last else ""
        return state("finished", "ladder_complete", f"no further stage in the policy{done}")
    stage = stages[index]
    story = [f"due {claim.due_date}"]
    if last is None:
        # From the last day to pay: a due date on a weekend or holiday moves to the next business day (§193 BGB).
        payable = policy.calendar.roll_forward(claim.due_date)
        if payable != claim.due_date:
            story[0] += f" (payable until {payable})"
        due, code = payable + timedelta(days=stage.after_days), "due_date_passed"
    else:
        anchor = last.deadline or last.on
        verb = "skipped" if last.skipped else "done" if last_stage and last_stage.kind == "task" else "sent"
        story.append(f"{last.stage} {verb} {last.on}" + (f", deadline {last.deadline}" if last.deadline else ""))
        code = "deadline_passed"
        resumed = last_resumption(history, holds, last.on, today)
        if resumed is not None and last_stage is not None:
            anchor = max(anchor, policy.calendar.deadline(resumed, last_stage.deadline_days))
            story.append(f"hold ended {resumed}, fresh deadline {anchor}")
            code = "resumed_after_hold"
        due = anchor + timedelta(days=stage.after_days)
    if resume is not None:
        due, code = resume[0], resume[1]
        story.append(resume[2])
    if policy.go_live is not None and due < policy.go_live:
        due, code = policy.go_live, "go_live"
        story.append(f"go-live {policy.go_live}")
    if last is not None:
        due = max(due, last.on + ONE_DAY)  # never two stages on one day
    on = max(due, today)
    status = "due" if due <= today else "waiting"
    story[-1] += (" passed" if status == "due" and code == "deadline_passed" else "")
    reason = ", ".join(story) + f" → {stage.name}" + ("" if status == "due" else f" on {due}")
    action = _action(claim, stage, on, code, reason, history, policy, default_on)
    return state(status, code, reason, action, at=on)


def _action(claim: ClaimFacts, stage: Stage, on: date, code: str, reason: str, history: Sequence[Event],
            policy: Policy, default_on: date | None) -> Action:
    kind = ACTION_KINDS.get(stage.kind, "send")
    deadline = None
    if stage.kind != "agency":
        extra = stage.offer.extra_days if stage.offer and stage.offer.kind == "deferral" else 0
        deadline = policy.calendar.deadline(on, stage.deadline_days + extra)
    fee = stage_fee(claim, stage, on, history, policy, default_on)
    return Action(kind, stage.name, on, code, reason, fee, deadline, stage.template, stage.channel, stage.offer)


def stage_fee(claim: ClaimFacts, stage: Stage, on: date, history: Sequence[Event], policy: Policy,
              default_on: date | None) -> Decimal:
    """The fee a stage may charge when carried out on `on`: letters only, only once the customer is in default
    (the notice that creates default is free), only where fees are allowed, not from businesses that owe the flat
    fee, within the per-claim cap."""
    if stage.kind not in LETTER_KINDS or stage.fee <= 0 or not policy.fees_allowed:
        return ZERO
    if claim.is_b2b and policy.b2b_flat_fee > 0:
        return ZERO  # businesses owe the flat fee instead; it is set off against collection costs (§288(5) BGB)
    if default_on is None or on < default_on:
        return ZERO
    charged = sum((e.fee for e in history if isinstance(e, StageDone) and not e.skipped), ZERO)
    return max(ZERO, min(stage.fee, policy.claim_fee_cap - charged))
