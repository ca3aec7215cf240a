"""Property tests of the dunning engine (`decide`/`assess`), driven by a simulated daemon (tests/policy/simulate.py).

Over every preset, B2B and B2C claims, principals in cents, due dates around weekends, 1 January / 1 July and public
holidays (real regional calendars), with payments, holds of every kind, payment plans, and policy variants (fees, fee
caps, customer and amount conditions, minimum amount, go-live date, deferral offers, a manual task stage):

 1. one stage action per claim and day, even if the daemon decides twice on a day;
 2. a claim paid in full only gets `close`; a held claim gets no stage action (holds of every kind, overlapping);
 3. letter fees: within the per-claim cap, never above the stage's fee, only on letters, never before default
    (the notice that creates default is free); deadlines fall on business days;
 4. stages never go backwards; a stage is skipped only when its conditions do not apply;
 5. cadence: a weekly daemon sends the same stages in the same order as a daily one, never earlier; `assess` has no
    hidden state, ignores the future and never mutates the history it is given;
 6. catch-up after 21 days of downtime: one stage, and the next one spaced from the real send date; a due stage
    stays due however long the daemon is down (only a new event changes that);
 7. every amount is a Decimal;
 8. payments go to costs, then interest, then principal, and nothing is lost (conservation);
 9. interest: none on days a dispute hold is in force, and past interest never changes when later events arrive.

Bugs these properties found are pinned as explicit examples (`@example`) and as small regression tests at the end
of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

import holidays
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from mahnwerk.policy.account import Balance, account
from mahnwerk.policy.engine import Assessment, assess, decide, default_date
from mahnwerk.policy.interest import InterestRule
from mahnwerk.policy.model import (
    HOLD_KINDS,
    LETTER_KINDS,
    ZERO,
    ClaimFacts,
    Event,
    Hold,
    Instalment,
    Offer,
    Payment,
    PlanAgreed,
    Policy,
    Release,
    Stage,
    StageDone,
)
from mahnwerk.policy.presets import PRESETS
from tests.policy.simulate import Run, region_calendar, simulate, stage_index, with_wide_rates

ONE_DAY = timedelta(days=1)
CENT = Decimal("0.01")
FIRST_DUE, LAST_DUE = date(2023, 1, 1), date(2026, 5, 31)
MAX_ANNUAL_RATE = Decimal(15)  # above every rate the presets (and the widened tables) can produce
STAGE_ACTIONS = ("send", "task", "handover")

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def days(n: int) -> timedelta:
    return timedelta(days=n)


# ---------------------------------------------------------------------------------------------------------- strategies

REGIONS = ("", "DE", "DE-BY", "DE-NW", "AT", "CH")
_SPECIAL = sorted({day for year in range(2023, 2027) for day in (date(year, 1, 1), date(year, 7, 1))}
                  | {day for country, sub in (("DE", "BY"), ("AT", None), ("CH", None))
                     for day in holidays.country_holidays(country, subdiv=sub, years=range(2023, 2027))})


def _in_range(day: date) -> date:
    return min(max(day, FIRST_DUE), LAST_DUE)


due_dates = st.one_of(
    st.dates(FIRST_DUE, LAST_DUE),
    st.builds(lambda anchor, shift: _in_range(anchor + days(shift)), st.sampled_from(_SPECIAL), st.integers(-12, 12)),
    # a Friday, Saturday or Sunday
    st.builds(lambda day, shift: _in_range(day + days((4 - day.weekday()) % 7 + shift)),
              st.dates(FIRST_DUE, LAST_DUE), st.integers(0, 2)),
)

amounts = st.integers(1, 500_000).map(lambda cents: Decimal(cents).scaleb(-2))  # 0.01 … 5000.00, always two places


@st.composite
def claims(draw, b2b: bool | None = None) -> ClaimFacts:
    due = draw(due_dates)
    invoice = due - days(draw(st.integers(0, 30)))
    is_b2b = draw(st.booleans()) if b2b is None else b2b
    return ClaimFacts("SHOP:10001", "EUR", draw(amounts), invoice, due, is_b2b)


MONEY = ("0", "1.20", "2.50", "5.00")


@st.composite
def policies(draw, *, amount_conditions: bool = True) -> Policy:
    """A preset with a real regional calendar, and (half of the time) a merchant's variations of its ladder."""
    policy = with_wide_rates(PRESETS[draw(st.sampled_from(sorted(PRESETS)))])
    policy = replace(policy, calendar=region_calendar(draw(st.sampled_from(REGIONS))))
    if not draw(st.booleans()):
        return policy
    stages: list[Stage] = []
    for stage in policy.stages:
        if stage.kind in LETTER_KINDS:
            stage = replace(
                stage,
                fee=Decimal(draw(st.sampled_from(MONEY))),
                customers=draw(st.sampled_from(("all", "all", "b2b", "b2c"))),
                min_open_amount=Decimal(draw(st.sampled_from(("0", "0", "50.00", "500.00")))) if amount_conditions
                else ZERO,
                offer=draw(st.sampled_from((None, None, Offer("deferral", extra_days=7)))),
                deadline_days=draw(st.integers(1, 14)),
                after_days=draw(st.integers(1, 10)),
            )
        stages.append(stage)
    if draw(st.booleans()):  # a manual task before the hand-over
        stages.insert(len(stages) - 1, Stage("call", "task", after_days=draw(st.integers(1, 5)),
                                             deadline_days=draw(st.integers(1, 7)), template="call", channel="none"))
    return replace(policy, stages=tuple(stages), claim_fee_cap=Decimal(draw(st.sampled_from(("0", "2.50", "4.00",
                                                                                                "10.00")))),
                   invoice_states_default=draw(st.booleans()), due_date_agreed=draw(st.booleans()),
                   min_amount=Decimal(draw(st.sampled_from(("0", "0", "20.00", "100.00")))) if amount_conditions
                   else ZERO)


def full_payment(claim: ClaimFacts, policy: Policy) -> Decimal:
    """More than the claim can ever cost within a year: principal, fees up to the cap, flat fee, interest < 15 %."""
    return (claim.principal * Decimal("1.15") + policy.claim_fee_cap + policy.b2b_flat_fee + 1).quantize(CENT)


@st.composite
def hold_events(draw, start: date, horizon: int, *, overlapping: bool | None = None) -> list[Event]:
    """Holds of every kind, one after the other or overlapping, ended by `until`, by a Release (which ends every
    hold begun before it), by either, or never."""
    if overlapping is None:
        overlapping = draw(st.booleans())
    events: list[Event] = []
    cursor = start + days(draw(st.integers(0, horizon)))
    for _ in range(draw(st.integers(1, 3))):
        on = cursor + days(draw(st.integers(1, 40)))
        kind = draw(st.sampled_from(HOLD_KINDS))
        reason = draw(st.sampled_from(("", "customer disputes the delivery")))
        length = draw(st.integers(1, 45))
        ending = draw(st.sampled_from(("until", "release", "both", "never")))
        if ending == "until":
            events.append(Hold(on, kind, reason, until=on + days(length)))
        elif ending == "release":
            events += [Hold(on, kind, reason), Release(on + days(length))]
        elif ending == "both":
            events += [Hold(on, kind, reason, until=on + days(length)),
                       Release(on + days(draw(st.integers(1, length))))]
        else:
            events.append(Hold(on, kind, reason))
            break
        cursor = on + (days(draw(st.integers(0, length))) if overlapping else days(length))
    return events


@st.composite
def payment_events(draw, claim: ClaimFacts, policy: Policy, horizon: int, *, full: bool = True) -> list[Event]:
    events: list[Event] = []
    for _ in range(draw(st.integers(0, 3))):
        cap = max(1, int(claim.principal * 100) // 2)
        events.append(Payment(claim.due_date + days(draw(st.integers(0, horizon))),
                              Decimal(draw(st.integers(1, cap))).scaleb(-2), "bank"))
    if full and draw(st.booleans()):
        events.append(Payment(claim.due_date + days(draw(st.integers(0, horizon))), full_payment(claim, policy), "psp"))
    return events


@st.composite
def plan_events(draw, claim: ClaimFacts, horizon: int) -> list[Event]:
    """A payment plan over 1-4 instalments two weeks apart, kept, paid late, short, or not at all."""
    on = claim.due_date + days(draw(st.integers(0, horizon)))
    count = draw(st.integers(1, 4))
    share = max(CENT, (claim.principal / count).quantize(CENT, ROUND_DOWN))
    instalments = tuple(Instalment(on + days(14 * (n + 1)), share) for n in range(count))
    events: list[Event] = [PlanAgreed(on, instalments)]
    for instalment in instalments:
        how = draw(st.sampled_from(("kept", "kept", "late", "short", "missing")))
        if how == "kept":
            events.append(Payment(instalment.due - days(draw(st.integers(0, 3))), instalment.amount, "plan"))
        elif how == "late":
            events.append(Payment(instalment.due + days(draw(st.integers(1, 14))), instalment.amount, "plan"))
        elif how == "short":
            events.append(Payment(instalment.due, (instalment.amount / 2).quantize(CENT), "plan"))
    return events


@dataclass(frozen=True)
class Scenario:
    policy: Policy
    claim: ClaimFacts
    events: tuple[Event, ...]
    horizon: int = 200

    @property
    def start(self) -> date:
        return self.claim.due_date

    def run(self, runs=lambda offset: True, days_: int | None = None, on_run=None) -> Run:
        return simulate(self.claim, self.policy, self.start, days_ or self.horizon, self.events, runs, on_run)


def _sorted(events: Sequence[Event]) -> tuple[Event, ...]:
    return tuple(sorted(events, key=lambda e: e.on))


@st.composite
def scenarios(draw, *, holds: bool = True, payments: bool = True, plans: bool = True, amount_conditions: bool = True,
              overlapping_holds: bool | None = None, horizon: int = 200) -> Scenario:
    policy = draw(policies(amount_conditions=amount_conditions))
    claim = draw(claims())
    if draw(st.integers(0, 4)) == 0:  # the shop went live with Mahnwerk around this claim's due date
        policy = replace(policy, go_live=claim.due_date + days(draw(st.integers(-10, 60))))
    events: list[Event] = []
    if payments:
        events += draw(payment_events(claim, policy, horizon))
    if holds and draw(st.booleans()):
        events += draw(hold_events(claim.due_date, horizon // 2, overlapping=overlapping_holds))
    if plans and draw(st.integers(0, 3)) == 0:
        events += draw(plan_events(claim, horizon // 2))
    return Scenario(policy, claim, _sorted(events), horizon)


# ------------------------------------------------------------------------------------------------------------- oracles


def hold_in_force(events: Sequence[Event], day: date) -> Hold | None:
    """A hold is in force from its day until its `until` (exclusive) or a later Release, whichever comes first."""
    for hold in (e for e in events if isinstance(e, Hold) and e.on <= day):
        if hold.until is not None and hold.until <= day:
            continue
        if any(isinstance(r, Release) and hold.on < r.on <= day for r in events):
            continue
        return hold
    return None


def dispute_in_force(events: Sequence[Event], day: date) -> bool:
    """Whether any dispute hold is in force on `day` (each hold judged on its own)."""
    return any(isinstance(h, Hold) and h.kind == "dispute" and h.on <= day and (h.until is None or day < h.until)
               and not any(isinstance(r, Release) and h.on < r.on <= day for r in events) for h in events)


def default_begins(claim: ClaimFacts, policy: Policy, prior: Sequence[Event]) -> date | None:
    """§286 BGB, independently of the engine: the day after the first notice's deadline; the day after an agreed
    due date; 31 days after due date/invoice for businesses or when the invoice said so."""
    candidates = []
    letter = next((e for e in prior if isinstance(e, StageDone) and e.deadline is not None and not e.skipped
                   and policy.stage(e.stage) is not None and policy.stage(e.stage).kind in LETTER_KINDS), None)
    if letter is not None:
        candidates.append(letter.deadline + ONE_DAY)
    if policy.due_date_agreed:
        candidates.append(claim.due_date + ONE_DAY)
    if claim.is_b2b or policy.invoice_states_default:
        candidates.append(max(claim.due_date, claim.invoice_date) + days(31))
    return min(candidates, default=None)


def owed_at_most(claim: ClaimFacts, policy: Policy, history: Sequence[Event], day: date) -> Decimal:
    """An upper bound of what the claim can cost on `day`: principal, fees charged, flat fee, interest < 15 % p.a."""
    fees = sum((e.fee for e in history if isinstance(e, StageDone) and e.on <= day), ZERO)
    flat = policy.b2b_flat_fee if claim.is_b2b else ZERO
    interest = claim.principal * MAX_ANNUAL_RATE * max(0, (day - claim.due_date).days) / 36500
    return claim.principal + fees + flat + interest


def paid_by(history: Sequence[Event], day: date) -> Decimal:
    return sum((e.amount for e in history if isinstance(e, Payment) and e.on <= day), ZERO)


def stage_events(history: Sequence[Event]) -> list[tuple[int, StageDone]]:
    return [(i, e) for i, e in enumerate(history) if isinstance(e, StageDone)]


def flat_charged(claim: ClaimFacts, policy: Policy, history: Sequence[Event], balance: Balance,
                 default_on: date | None) -> Decimal:
    """The §288(5) flat fee falls due on the default date, for businesses whose principal is still open then."""
    if not claim.is_b2b or default_on is None or default_on > balance.on:
        return ZERO
    before = account(claim, [e for e in history if e.on < default_on], default_on, InterestRule("none"), None)
    return policy.b2b_flat_fee if before.principal > 0 else ZERO


def assert_decimals(value, where: str = "assessment") -> None:
    """Every money figure reachable from `value` is a Decimal: never a float, never an int."""
    money = {"principal", "fee", "fees", "flat_fee", "interest", "fees_charged", "interest_accrued", "paid", "credit",
             "amount", "annual_rate", "min_open_amount", "discount_percent"}
    assert not isinstance(value, float), f"{where} is a float: {value!r}"
    if is_dataclass(value):
        for f in fields(value):
            item = getattr(value, f.name)
            if f.name in money:
                assert type(item) is Decimal, f"{where}.{f.name} is {type(item).__name__}: {item!r}"
            assert_decimals(item, f"{where}.{f.name}")
    elif isinstance(value, (tuple, list)):
        for n, item in enumerate(value):
            assert_decimals(item, f"{where}[{n}]")
    if isinstance(value, Balance):
        assert type(value.total) is Decimal


# --------------------------------------------------------------------------------------------- 1. one stage per day


@FAST
@given(scenarios())
def test_never_two_stage_actions_on_one_day(s: Scenario) -> None:
    run = s.run()
    for assessment in run.assessments.values():
        assert len(assessment.actions) <= 1
    seen = [e.on for e in run.history if isinstance(e, StageDone)]
    assert len(seen) == len(set(seen)), run.stage_days
    # A daemon that decides a second time on the same day (a restart) gets nothing more for that claim.
    for index, done in stage_events(run.history):
        again = decide(s.claim, run.history[:index + 1], done.on, s.policy)
        assert [a for a in again if a.kind in STAGE_ACTIONS] == [], (done, again)


# ------------------------------------------------------------------------------------------- 2. paid, held: no dunning


@FAST
@given(scenarios())
def test_paid_in_full_gets_only_close_and_held_claims_get_nothing(s: Scenario) -> None:
    def check(day: date, assessment: Assessment, history: list[Event]) -> None:
        kinds = [a.kind for a in assessment.actions]
        paid = paid_by(history, day)
        if paid >= owed_at_most(s.claim, s.policy, history, day):
            seen.add("paid in full")
            assert set(kinds) <= {"close"}, (day, assessment.reason)
            if assessment.status != "handed_over":
                assert assessment.status == "settled" and kinds == ["close"], (day, assessment.status, kinds)
        if "close" in kinds:  # only once principal and every cost charged so far are paid
            fees = sum((e.fee for e in history if isinstance(e, StageDone)), ZERO)
            assert paid >= s.claim.principal + fees, (day, paid)
        if (hold := hold_in_force(history, day)) is not None:
            seen.add(f"held ({hold.kind})")
            assert not [k for k in kinds if k in STAGE_ACTIONS], (day, hold, assessment.reason)
            assert assessment.status in ("on_hold", "handed_over", "settled"), (day, hold, assessment.status)

    seen: set[str] = set()
    s.run(on_run=check)
    for what in seen:
        event(what)


@FAST
@given(st.data())
def test_every_hold_kind_stops_a_due_stage(data) -> None:
    """On a day a stage would be due, a hold of any kind (with a future `until` or none) turns it into a wait."""
    s = data.draw(scenarios(holds=False, payments=False, plans=False))
    run = s.run()
    assume_some = [(day, a) for day, a, _ in run.executed if a.kind in STAGE_ACTIONS]
    if not assume_some:
        event("no stage to hold")
        return
    day, _ = data.draw(st.sampled_from(assume_some))
    prior = [e for e in run.history if e.on < day]
    kind = data.draw(st.sampled_from(HOLD_KINDS))
    since = day - days(data.draw(st.integers(0, 30)))
    until = data.draw(st.sampled_from((None, day + ONE_DAY, day + days(30))))
    held = _sorted(prior + [Hold(since, kind, "x", until)])
    if any(isinstance(e, StageDone) and e.on >= since for e in prior):
        event("hold would have stopped an earlier stage")
        return  # the hold would have stopped an earlier stage: not the question here
    assessment = assess(s.claim, held, day, s.policy)
    assert assessment.actions == [] and assessment.status == "on_hold" and assessment.code == f"hold_{kind}"
    if until is not None:  # ... and the ladder resumes when the hold ends
        after = assess(s.claim, held, until, s.policy)
        assert after.status in ("due", "waiting", "finished", "stopped"), after


# ---------------------------------------------------------------------------------------------------------- 3. fees


@FAST
@given(scenarios())
def test_fees_within_caps_only_on_letters_and_only_after_default(s: Scenario) -> None:
    run = s.run()
    history = run.history
    total = ZERO
    for index, done in stage_events(history):
        stage = s.policy.stage(done.stage)
        assert stage is not None
        assert type(done.fee) is Decimal and done.fee >= 0
        assert done.fee <= stage.fee, (done, stage.fee)
        if done.fee > 0:
            assert stage.kind in LETTER_KINDS and s.policy.fees_allowed, done
            begins = default_begins(s.claim, s.policy, history[:index])
            assert begins is not None and begins <= done.on, (done, begins)
        total += done.fee
        assert total <= s.policy.claim_fee_cap, (total, run.stage_days)
        if done.deadline is not None:
            assert s.policy.calendar.is_business_day(done.deadline), done
            assert done.deadline > done.on
    first_letter = next((e for _, e in stage_events(history) if s.policy.stage(e.stage).kind in LETTER_KINDS), None)
    if first_letter is not None and not (s.claim.is_b2b or s.policy.invoice_states_default or s.policy.due_date_agreed):
        assert first_letter.fee == 0, "the notice that creates default is free"


# ---------------------------------------------------------------------------------------------- 4. stages go forwards


@FAST
@given(scenarios())
def test_stages_never_go_backwards_and_skip_only_what_does_not_apply(s: Scenario) -> None:
    run = s.run()
    previous = -1
    for day, action, assessment in run.executed:
        index = stage_index(s.policy, action.stage)
        assert index > previous, run.stage_days
        open_principal = assessment.balance.principal if assessment.balance else s.claim.principal
        for skipped in s.policy.stages[previous + 1:index]:
            assert not skipped.applies_to(s.claim, open_principal), (skipped.name, action.stage, open_principal)
        assert s.policy.stages[index].applies_to(s.claim, open_principal)
        if previous >= 0:  # claims below the minimum stop after the first stage
            assert open_principal >= s.policy.min_amount, (action.stage, open_principal, s.policy.min_amount)
        if s.policy.go_live is not None:  # nothing before go-live
            assert day >= s.policy.go_live, (day, s.policy.go_live)
        previous = index
    assert [stage_index(s.policy, n) for n in run.stages] == sorted({stage_index(s.policy, n) for n in run.stages})


# --------------------------------------------------------------------------------------------------------- 5. cadence


@SLOW
@given(st.data())
def test_weekly_daemon_sends_the_same_stages_never_earlier(data) -> None:
    s = data.draw(scenarios(payments=False, amount_conditions=False, horizon=200))
    events = list(s.events)
    # Plan instalments stay below the principal here: a payment that settles the claim only through a difference
    # in fees or interest (which do depend on when letters went out) would legitimately change the sequence.
    while sum((e.amount for e in events if isinstance(e, Payment)), ZERO) >= s.claim.principal:
        events.remove(next(e for e in reversed(events) if isinstance(e, Payment)))
    paid_off = data.draw(st.booleans())
    if paid_off:  # one payment of everything: both daemons close
        events.append(Payment(s.start + days(data.draw(st.integers(0, 200))), full_payment(s.claim, s.policy)))
    s = replace(s, events=_sorted(events))
    first_run = data.draw(st.integers(0, 6))
    daily = s.run(days_=420)
    weekly = s.run(runs=lambda offset: offset >= first_run and (offset - first_run) % 7 == 0, days_=420)
    d, w = daily.stage_days, weekly.stage_days
    assert [n for n, _ in w] == [n for n, _ in d][:len(w)], (d, w)
    # An open-ended hold, or a plan that never breaks (kept, or fully paid), stops a lagging daemon for good.
    frozen = assess(s.claim, weekly.history, s.start + days(420), s.policy).status in ("on_hold", "in_plan")
    event(f"{len(d)} stages daily, {len(w)} weekly")
    if not paid_off and not frozen:
        assert len(w) == len(d), (d, w)
    for (_, day_d), (_, day_w) in zip(d, w, strict=False):  # the same length unless paid off or frozen
        assert day_w >= day_d, (d, w)


@FAST
@given(scenarios(), st.integers(0, 199))
def test_assess_has_no_hidden_state_ignores_the_future_and_never_mutates(s: Scenario, offset: int) -> None:
    history = s.run().history
    snapshot = list(history)
    target = s.start + days(offset)
    alone = assess(s.claim, history, target, s.policy)
    for n in range(offset + 1):
        on_the_way = assess(s.claim, history, s.start + days(n), s.policy)
        assert history == snapshot and all(a is b for a, b in zip(history, snapshot, strict=True))
    assert on_the_way == alone
    assert assess(s.claim, history, target, s.policy) == alone
    newest_first = tuple(sorted(history, key=lambda e: -e.on.toordinal()))  # same-day events keep their order
    assert assess(s.claim, newest_first, target, s.policy) == alone
    assert assess(s.claim, [e for e in history if e.on <= target], target, s.policy) == alone
    assert decide(s.claim, history, target, s.policy) == alone.actions
    assert history == snapshot


# ------------------------------------------------------------------------------------------------------- 6. catch-up


@FAST
@given(st.data())
def test_catch_up_after_downtime_fires_one_stage_and_spaces_the_next_from_it(data) -> None:
    s = data.draw(scenarios(holds=False, payments=False, plans=False, amount_conditions=False))
    reference = s.run()
    sent = [day for day, _, _ in reference.executed]
    if len(sent) < 2:
        event("fewer than two stages")
        return
    k = data.draw(st.integers(0, len(sent) - 2))
    gap_from = (sent[k] - s.start).days + 1 + data.draw(st.integers(0, 3))  # down right after the k-th stage
    down = range(gap_from, gap_from + 21)
    run = s.run(runs=lambda offset: offset not in down)
    back = s.start + days(down.stop)
    assert run.stage_days[:k + 1] == reference.stage_days[:k + 1]
    at_back = [(day, a) for day, a, _ in run.executed if day == back]
    assert len(at_back) <= 1
    if s.start + days(down.start) <= reference.executed[k + 1][0] <= back:  # due in the downtime: fires on return
        assert len(at_back) == 1 and at_back[0][1].stage == reference.executed[k + 1][1].stage, (run.stage_days,
                                                                                                reference.stage_days)
    if not at_back or at_back[0][1].kind == "handover":
        event("nothing fired on return" if not at_back else "hand-over on return")
        return
    event("a stage fired on return")
    action = at_back[0][1]
    stage = s.policy.stage(action.stage)
    extra = stage.offer.extra_days if stage.offer and stage.offer.kind == "deferral" else 0
    assert action.deadline == s.policy.calendar.deadline(back, stage.deadline_days + extra)  # from the real send date
    later = [(day, a) for day, a, _ in run.executed if day > back]
    if later:
        event("and a later one was spaced from it")
        following = s.policy.stage(later[0][1].stage)
        assert later[0][0] == max(action.deadline + days(following.after_days), back + ONE_DAY), (run.stage_days,
                                                                                                   action.deadline)
        if later[0][0] > back + ONE_DAY:
            waiting = run.assessments[back + ONE_DAY]
            assert waiting.status == "waiting" and waiting.next.on == later[0][0], waiting


def check_due_stays_due(s: Scenario) -> None:
    run = s.run()
    for index, done in stage_events(run.history):
        before = run.history[:index]  # what the engine saw when it fired this stage
        for later in (1, 3, 8, 21):
            postponed = assess(s.claim, before, done.on + days(later), s.policy)
            assert postponed.status == "due" and postponed.next.stage == done.stage, (done, later, postponed.reason)


@FAST
@given(scenarios())
@example(Scenario(  # a hold released before its `until` (a stale `until` used to push the next stage back)
    with_wide_rates(PRESETS["generic-en"]),
    ClaimFacts("SHOP:1", "EUR", Decimal("100.00"), date(2024, 3, 1), date(2024, 3, 15)),
    (Hold(date(2024, 4, 2), "manual", "call back", until=date(2024, 4, 30)), Release(date(2024, 4, 5)))))
def test_a_due_stage_stays_due_while_the_daemon_is_down(s: Scenario) -> None:
    """Nothing but a new event can make a due stage wait again: a daemon that is down finds it due when it is back."""
    check_due_stays_due(s)


# --------------------------------------------------------------------------------------------------------- 7. Decimal


@FAST
@given(scenarios())
def test_every_amount_is_a_decimal(s: Scenario) -> None:
    run = s.run()
    for assessment in run.assessments.values():
        assert_decimals(assessment)
        if assessment.next is not None:
            assert type(assessment.next.fee) is Decimal
    for _, action, _ in run.executed:
        assert type(action.fee) is Decimal


# -------------------------------------------------------------------------------------------------------- 8. payments


@FAST
@given(scenarios())
def test_payments_go_to_costs_then_interest_then_principal_and_nothing_is_lost(s: Scenario) -> None:
    run = s.run()
    history = run.history
    rule = s.policy.interest_rule(s.claim)
    flat = s.policy.b2b_flat_fee if s.claim.is_b2b else ZERO
    tiny = Decimal("1e-18")
    for day, assessment in run.assessments.items():
        b = assessment.balance
        if b is None:
            continue
        reduced = ((s.claim.principal - b.principal) + (b.fees_charged - b.fees)
                   + (flat_charged(s.claim, s.policy, history, b, assessment.default_on) - b.flat_fee)
                   + (b.interest_accrued - b.interest) + b.credit)
        assert abs(b.paid - reduced) <= tiny, (day, b)
        assert b.principal >= 0 and b.fees >= 0 and b.flat_fee >= 0 and b.interest >= 0 and b.credit >= 0
        assert b.paid == paid_by(history, day)
    # Each payment on its own: it pays the costs, then interest, then principal, and only the rest is credit.
    for index, payment in enumerate(history):
        if not isinstance(payment, Payment):
            continue
        prior = history[:index]
        default_on = default_date(s.claim, history[:index + 1], s.policy)
        before = account(s.claim, prior, payment.on, rule, default_on, flat)
        after = account(s.claim, history[:index + 1], payment.on, rule, default_on, flat)
        rest = payment.amount
        for name in ("fees", "flat_fee", "interest", "principal"):
            take = min(rest, getattr(before, name))
            assert abs(getattr(after, name) - (getattr(before, name) - take)) <= tiny, (name, payment, before, after)
            rest -= take
        assert abs(after.credit - before.credit - rest) <= tiny
        if payment.amount <= before.fees:
            assert after.principal == before.principal and after.interest == before.interest


def test_a_payment_smaller_than_the_fees_leaves_the_principal_alone() -> None:
    policy = with_wide_rates(PRESETS["de-b2c"])
    claim = ClaimFacts("SHOP:1", "EUR", Decimal("100.00"), date(2024, 3, 1), date(2024, 3, 15))
    history: list[Event] = [StageDone(date(2024, 3, 22), "reminder", date(2024, 4, 2)),
                            StageDone(date(2024, 4, 6), "dunning_1", date(2024, 4, 16)),
                            StageDone(date(2024, 4, 20), "dunning_2", date(2024, 4, 30), Decimal("2.50")),
                            Payment(date(2024, 4, 22), Decimal("1.00"))]
    rule, default_on = policy.interest_b2c, date(2024, 4, 3)
    assert assess(claim, history, date(2024, 4, 22), policy).default_on == default_on
    balance = account(claim, history, date(2024, 4, 22), rule, default_on)
    assert balance.principal == Decimal("100.00")
    assert balance.fees == Decimal("1.50")
    assert balance.interest > 0  # interest since 2024-04-03 stays open too
    history.append(Payment(date(2024, 4, 23), Decimal("2.00")))  # 1.50 fees, then interest, then principal
    later = account(claim, history, date(2024, 4, 23), rule, default_on)
    assert later.fees == 0
    assert Decimal("0.40") < later.interest_accrued < Decimal("0.50")  # 100 × 8.62 % × 20/365 = 0.4723…
    assert later.interest == 0
    assert later.principal == Decimal("100.00") - (Decimal("0.50") - later.interest_accrued)
    assert later.paid == Decimal("3.00") and later.credit == 0


# -------------------------------------------------------------------------------------------------------- 9. interest


@FAST
@given(scenarios())
@example(Scenario(  # two disputes one after the other, the first ended by its `until` (the second used to accrue)
    with_wide_rates(PRESETS["de-b2c"]),
    ClaimFacts("SHOP:1", "EUR", Decimal("1000.00"), date(2024, 1, 2), date(2024, 1, 15)),
    (Hold(date(2024, 3, 1), "dispute", until=date(2024, 3, 10)), Hold(date(2024, 4, 1), "dispute"),
     Release(date(2024, 5, 1)))))
def test_no_interest_on_days_a_dispute_is_in_force(s: Scenario) -> None:
    history = s.run().history
    end = s.start + days(s.horizon)
    balance = assess(s.claim, history, end, s.policy).balance
    if balance is None:
        return
    for period in balance.periods:
        day = period.start
        while day < period.end:
            assert not dispute_in_force(history, day) or period.amount == 0, (day, period)
            day += ONE_DAY


def interest_before(balance: Balance, day: date) -> Decimal:
    """The interest of `balance` for the days before `day`."""
    total = ZERO
    for p in balance.periods:
        if p.start >= day:
            continue
        share = (min(p.end, day) - p.start).days
        total += p.amount * share / p.days if share < p.days else p.amount
    return total


_PLAN = (Instalment(date(2024, 3, 1), Decimal("300.00")), Instalment(date(2024, 4, 1), Decimal("300.00")))


@FAST
@given(scenarios())
@example(Scenario(with_wide_rates(PRESETS["de-b2c"]),  # a plan ended by a Release (its pause used to be dropped)
                  ClaimFacts("SHOP:1", "EUR", Decimal("600.00"), date(2024, 1, 2), date(2024, 1, 15)),
                  (PlanAgreed(date(2024, 2, 10), _PLAN), Payment(date(2024, 3, 1), Decimal("300.00")),
                   Release(date(2024, 3, 20)))))
def test_past_interest_never_changes_when_later_events_arrive(s: Scenario) -> None:
    run = s.run()
    assessments = [a for a in run.assessments.values() if a.balance is not None]
    final = assess(s.claim, run.history, s.start + days(s.horizon), s.policy).balance
    if final is None:
        return
    for a in assessments[::5]:
        if in_plan_grace(run.history, a.today, s.policy):
            continue  # a missed instalment bears interest from its due date once its grace period is over
        assert abs(interest_before(final, a.today) - interest_before(a.balance, a.today)) <= Decimal("1e-15"), a.today


def in_plan_grace(history: Sequence[Event], day: date, policy: Policy) -> bool:
    """Whether `day` lies after an instalment's due date and within its grace period, in a plan without
    acceleration: the one span whose interest is known only once the grace period has passed."""
    return any(not (policy.plan_acceleration if e.accelerates is None else e.accelerates)
               and i.due < day <= i.due + timedelta(days=policy.plan_grace_days)
               for e in history if isinstance(e, PlanAgreed) for i in e.instalments)


# ------------------------------------------------------------------------- regressions: bugs these properties found


def _two_holds_scenario() -> tuple[Policy, ClaimFacts, list[Event]]:
    policy = with_wide_rates(PRESETS["de-b2c"])
    claim = ClaimFacts("SHOP:1", "EUR", Decimal("250.00"), date(2024, 3, 1), date(2024, 3, 15))
    history: list[Event] = [
        StageDone(date(2024, 3, 22), "reminder", date(2024, 4, 2)),
        Hold(date(2024, 4, 1), "insolvency", "insolvency proceedings opened"),  # until released
        Hold(date(2024, 4, 10), "manual", "customer on holiday", until=date(2024, 4, 20)),
    ]
    return policy, claim, history


def test_an_expired_later_hold_does_not_end_an_earlier_open_hold() -> None:
    """The engine used to look at the latest hold only: when it expired, the insolvency hold was forgotten."""
    policy, claim, history = _two_holds_scenario()
    assert hold_in_force(history, date(2024, 5, 1)) is not None
    assessment = assess(claim, history, date(2024, 5, 1), policy)
    assert assessment.status == "on_hold", (assessment.status, assessment.reason)
    assert assessment.actions == []


@SLOW
@given(scenarios(payments=False, plans=False, overlapping_holds=True))
@example(Scenario(*_two_holds_scenario()[:2], tuple(_two_holds_scenario()[2][1:])))
def test_no_stage_action_while_any_of_overlapping_holds_is_in_force(s: Scenario) -> None:
    def check(day: date, assessment: Assessment, history: list[Event]) -> None:
        if hold_in_force(history, day) is not None:
            assert not [a for a in assessment.actions if a.kind in STAGE_ACTIONS], (day, assessment.reason)

    s.run(on_run=check)


def test_a_claim_paid_before_default_never_owes_the_flat_fee() -> None:
    policy = PRESETS["de-b2c"]
    claim = ClaimFacts("SHOP:1", "EUR", Decimal("100.00"), date(2024, 3, 1), date(2024, 3, 15), is_b2b=True)
    history = [Payment(date(2024, 3, 18), Decimal("100.00"))]  # three days late, before any notice
    assert assess(claim, history, date(2024, 3, 22), policy).status == "settled"
    later = assess(claim, history, date(2024, 4, 15), policy)  # day 31
    assert later.status == "settled", (later.status, later.reason, later.balance.flat_fee)
    assert [a.kind for a in decide(claim, history, date(2024, 4, 15), policy)] == ["close"]
    # The same with an overpayment before default: a customer who paid €51.01 on a €0.01 claim used to be dunned up
    # to the agency for the €40 flat fee, the credit untouched (found by the weekly-vs-daily property).
    policy = replace(PRESETS["at"], calendar=region_calendar(""))
    claim = ClaimFacts("SHOP:1", "EUR", Decimal("0.01"), date(2024, 1, 1), date(2024, 1, 1), is_b2b=True)
    history = [StageDone(date(2024, 1, 9), "reminder", date(2024, 1, 19)), Payment(date(2024, 1, 19), Decimal("51.01"))]
    assert assess(claim, history, date(2024, 1, 19), policy).status == "settled"
    later = assess(claim, history, date(2024, 1, 20), policy)
    assert later.status == "settled", (later.status, later.reason, later.balance.flat_fee, later.balance.credit)


def test_decide_closes_a_claim_paid_in_full() -> None:
    """`decide` used to pass on only actions of status "due", so the `close` the settled branch built never came."""
    policy = with_wide_rates(PRESETS["de-b2c"])
    claim = ClaimFacts("SHOP:1", "EUR", Decimal("80.00"), date(2024, 3, 1), date(2024, 3, 15))
    history = [Payment(date(2024, 3, 20), Decimal("80.00"))]
    assessment = assess(claim, history, date(2024, 3, 20), policy)
    assert assessment.status == "settled" and assessment.next.kind == "close"
    assert [a.kind for a in decide(claim, history, date(2024, 3, 20), policy)] == ["close"]


def test_business_claims_pay_the_flat_fee_instead_of_letter_fees() -> None:
    """LAW.md §288(5): the €40 is set off against later collection costs; letters used to charge on top of it."""
    policy = with_wide_rates(PRESETS["de-b2c"])
    claim = ClaimFacts("SHOP:1", "EUR", Decimal("500.00"), date(2024, 1, 2), date(2024, 1, 15), is_b2b=True)
    run = simulate(claim, policy, claim.due_date, 120)
    balance = run.assessments[max(run.assessments)].balance
    assert balance.flat_fee == Decimal(40)
    assert balance.fees_charged == 0, run.stage_days


def test_ending_a_plan_does_not_charge_interest_for_its_time_after_the_fact() -> None:
    policy = with_wide_rates(PRESETS["de-b2c"])
    claim = ClaimFacts("SHOP:1", "EUR", Decimal("600.00"), date(2024, 1, 2), date(2024, 1, 15))
    history: list[Event] = [
        StageDone(date(2024, 1, 22), "reminder", date(2024, 2, 1)),  # default from 2024-02-02
        PlanAgreed(date(2024, 2, 10), (Instalment(date(2024, 3, 1), Decimal("200.00")),
                                       Instalment(date(2024, 4, 1), Decimal("200.00")),
                                       Instalment(date(2024, 5, 1), Decimal("200.00")))),
        Payment(date(2024, 3, 1), Decimal("200.00")),
        Payment(date(2024, 4, 1), Decimal("200.00")),
    ]
    during = assess(claim, history, date(2024, 4, 15), policy).balance
    history.append(Release(date(2024, 4, 15)))  # the merchant ends the plan
    after = assess(claim, history, date(2024, 4, 15), policy).balance
    assert after.interest_accrued == during.interest_accrued, (during.interest_accrued, after.interest_accrued)
    # The same when a plan broke (no payment) and a new one is agreed: the first plan's pause stays.
    history = history[:2] + [PlanAgreed(date(2024, 4, 1), (Instalment(date(2024, 5, 1), Decimal("600.00")),))]
    broken = assess(claim, history[:2], date(2024, 4, 1), policy)
    renewed = assess(claim, history, date(2024, 4, 1), policy)
    assert broken.code == "plan_broken"  # interest paused 2024-02-10 … 2024-03-08, runs again from 2024-03-09
    assert renewed.balance.interest_accrued == broken.balance.interest_accrued, (broken.balance.interest_accrued,
                                                                                 renewed.balance.interest_accrued)
