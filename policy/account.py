"""A claim's account on a given day: principal, fees, flat fee and default interest, less payments (§367 BGB).

Everything is exact Decimal; rounding to cents happens only where amounts are shown. Every figure is derived from
the claim's facts and its history, so any amount on a notice can be reproduced from the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise

from mahnwerk.policy.frozen import slot_init
from mahnwerk.policy.interest import InterestPeriod, InterestRule, accrue
from mahnwerk.policy.model import ZERO, ClaimFacts, Event, Payment, StageDone
from mahnwerk.policy.pauses import Deferral, Span

HALF_CENT = Decimal("0.005")


@slot_init
@dataclass(frozen=True, slots=True)
class Balance:
    """What the customer owes on `on` (interest up to the day before), and how it came about."""

    on: date
    currency: str
    principal: Decimal  # still open
    fees: Decimal  # letter fees still open
    flat_fee: Decimal  # §288(5) flat fee still open
    interest: Decimal  # default interest still open
    fees_charged: Decimal  # all letter fees ever charged (the per-claim cap counts these)
    interest_accrued: Decimal
    paid: Decimal
    credit: Decimal  # paid beyond everything owed
    payments: tuple[Payment, ...]
    periods: tuple[InterestPeriod, ...]
    deferred: Decimal = ZERO  # principal a payment plan without acceleration does not make due yet

    def carried_to(self, day: date) -> Balance:
        """This balance on a later `day` when nothing falls due meanwhile (no default, so neither interest nor
        flat fee; no payment plan; no events after `on`): what `account` gives for that day, computed again."""
        return Balance(day, self.currency, self.principal, self.fees, self.flat_fee, self.interest, self.fees_charged,
                       self.interest_accrued, self.paid, self.credit, self.payments, self.periods, self.deferred)

    @property
    def total(self) -> Decimal:
        return self.principal + self.fees + self.flat_fee + self.interest

    @property
    def due_now(self) -> Decimal:
        """What a notice may demand on `on`: the total less instalments of a payment plan not yet due."""
        return self.total - self.deferred

    @property
    def settled(self) -> bool:
        """Nothing is owed any more, to the cent (interest is exact; what is owed is shown in cents)."""
        return self.total < HALF_CENT


def _accrue(principal: Decimal, start: date, end: date, rule: InterestRule,
            pauses: Sequence[Span]) -> list[InterestPeriod]:
    periods: list[InterestPeriod] = []
    cursor = start
    for pause_start, pause_end in pauses:
        if pause_end is not None and pause_end <= cursor:
            continue
        if pause_start >= end:
            break
        if pause_start > cursor:
            periods += accrue(principal, cursor, pause_start, rule).periods
        cursor = end if pause_end is None else max(cursor, pause_end)
        if cursor >= end:
            return periods
    if cursor < end:
        periods += accrue(principal, cursor, end, rule).periods
    return periods


def _interest(principal: Decimal, start: date, end: date, rule: InterestRule, pauses: Sequence[Span],
              deferrals: Sequence[Deferral]) -> list[InterestPeriod]:
    """Interest on `principal` over [start, end), on the part a payment plan has made due where one covers a day."""
    if not deferrals:  # the common case, and what the loop below comes to without any
        return _accrue(principal, start, end, rule, pauses)
    cuts = sorted({start, end} | {day for d in deferrals for day in d.cuts() if start < day < end})
    periods: list[InterestPeriod] = []
    for first, after in pairwise(cuts):
        base = min((d.interest_base(principal, first) for d in deferrals if d.covers(first)), default=principal)
        if base > 0:
            periods += _accrue(base, first, after, rule, pauses)
    return periods


def account(claim: ClaimFacts, history: Sequence[Event], on: date, rule: InterestRule, default_on: date | None,
            flat_fee: Decimal = ZERO, pauses: Sequence[Span] = (), deferrals: Sequence[Deferral] = (), *,
            interest_from: date | None = None) -> Balance:
    """The claim's balance on `on`: charges up to and including `on`, interest for the days before it.

    Payments are allocated to costs (letter fees, then the flat fee), then interest, then principal (§367 BGB).
    Interest runs on the open principal only, from the default date, never on interest or fees (§289 BGB); where a
    payment plan without acceleration covers a day, only on the principal of its overdue instalments (`Deferral`).
    `interest_from` starts interest earlier than default where an agreed instalment date was missed (§286(2) no. 1
    BGB); the flat fee still falls due with the claim's default only. Raises MissingRate if a rate the period needs
    is not in the table.
    """
    principal, fees, flat, interest = claim.principal, ZERO, ZERO, ZERO
    charged = paid = credit = ZERO
    payments: list[Payment] = []
    periods: list[InterestPeriod] = []
    events: list[tuple[date, int, Event | None]] = [(e.on, 1, e) for e in history if e.on <= on and (
        isinstance(e, Payment) or (isinstance(e, StageDone) and e.fee > 0 and not e.skipped))]
    if default_on is not None and flat_fee > 0 and default_on <= on:
        events.append((default_on, 0, None))  # the flat fee falls due with default, before that day's events
    cursor = default_on if interest_from is None else interest_from
    for day, order, event in sorted(events, key=lambda item: (item[0], item[1])) + [(on, 2, None)]:
        if cursor is not None and day > cursor:
            if principal > 0:
                new = _interest(principal, cursor, day, rule, pauses, deferrals)
                periods += new
                interest += sum((p.amount for p in new), ZERO)
            cursor = day
        if isinstance(event, Payment):
            payments.append(event)
            paid += event.amount
            (fees, flat, interest, principal), rest = allocate(event.amount, (fees, flat, interest, principal))
            credit += rest
        elif isinstance(event, StageDone) or (order == 0 and principal > 0):
            charge = event.fee if isinstance(event, StageDone) else flat_fee  # not due once the claim is paid
            taken = min(credit, charge)  # a surplus paid earlier settles later costs first
            credit -= taken
            if isinstance(event, StageDone):
                charged += charge
                fees += charge - taken
            else:
                flat += charge - taken
    accrued = sum((p.amount for p in periods), ZERO) if periods else ZERO
    # The instalments still to come cover whatever is owed up to their sum: costs and interest from before the plan
    # are in its first instalments, so they are deferred as well until those fall due.
    deferred = max((d.deferred(principal + fees + flat + interest, on) for d in deferrals), default=ZERO) \
        if deferrals else ZERO
    return Balance(on, claim.currency, principal, fees, flat, interest, charged, accrued, paid, credit,
                   tuple(payments), tuple(periods), deferred)


def allocate(amount: Decimal, owed: tuple[Decimal, ...]) -> tuple[tuple[Decimal, ...], Decimal]:
    """Pay `amount` into the debts in order (costs, interest, principal: §367 BGB); (what stays owed, surplus)."""
    left = []
    for debt in owed:
        take = min(amount, max(debt, ZERO))
        amount -= take
        left.append(debt - take)
    return tuple(left), amount
