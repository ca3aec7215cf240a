"""The decision against hand-computed cases, per preset: dates around weekends and public holidays, default,
interest across a base-rate change, the B2B flat fee, the fee cap, partial payments, holds, plans and go-live."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from mahnwerk.policy.engine import assess, decide
from mahnwerk.policy.interest import cents
from mahnwerk.policy.model import ClaimFacts, Hold, Instalment, Payment, PlanAgreed, Release, StageDone
from mahnwerk.policy.presets import PRESETS
from mahnwerk.sync.config.policy import calendar

BY = calendar("DE-BY")
DE = replace(PRESETS["de-b2c"], calendar=BY)
DE_B2B = replace(PRESETS["de-b2b"], calendar=BY)


def claim(due: date, amount: str = "100.00", *, b2b: bool = False, invoiced: date | None = None) -> ClaimFacts:
    return ClaimFacts("acme:1001", "EUR", D(amount), invoiced or due, due, b2b)


def test_the_reminder_comes_a_week_after_the_due_date_and_its_deadline_skips_christmas() -> None:
    c = claim(date(2025, 12, 8))  # a Monday
    waiting = assess(c, [], date(2025, 12, 14), DE)
    assert (waiting.status, waiting.next.stage, waiting.next.on) == ("waiting", "reminder", date(2025, 12, 15))
    assert waiting.reason == "due 2025-12-08 → reminder on 2025-12-15"
    [action] = decide(c, [], date(2025, 12, 15), DE)
    # 15 Dec + 10 days = Thu 25 Dec (Christmas), Fri 26 Dec (holiday), weekend: the deadline is Mon 29 Dec.
    assert (action.kind, action.stage, action.fee, action.deadline) == ("send", "reminder", 0, date(2025, 12, 29))
    assert (action.template, action.channel, action.code) == ("reminder", "shop", "due_date_passed")


def test_a_bavarian_holiday_moves_a_deadline_that_other_states_keep() -> None:
    c = claim(date(2025, 12, 20))
    # Sent Sat 27 Dec + 10 days = Tue 6 Jan: Epiphany is a holiday in Bavaria, not in Berlin.
    history = [StageDone(date(2025, 12, 27), "reminder", date(2025, 12, 27))]
    by = assess(c, history, date(2025, 12, 27), DE).next
    berlin = assess(c, history, date(2025, 12, 27), replace(DE, calendar=calendar("DE-BE"))).next
    assert by.on == berlin.on == date(2025, 12, 31)
    assert BY.deadline(date(2025, 12, 27), 10) == date(2026, 1, 7)
    assert calendar("DE-BE").deadline(date(2025, 12, 27), 10) == date(2026, 1, 6)


def test_the_next_stage_follows_the_deadline_the_customer_actually_got() -> None:
    c = claim(date(2025, 12, 8))
    history = [StageDone(date(2025, 12, 15), "reminder", date(2025, 12, 29))]
    result = assess(c, history, date(2026, 1, 2), DE)
    assert result.status == "due" and result.next.stage == "dunning_1"  # 29 Dec + 4 days
    assert result.reason == "due 2025-12-08, reminder sent 2025-12-15, deadline 2025-12-29 passed → dunning_1"
    assert result.default_on == date(2025, 12, 30)  # the day after the reminder's deadline (§286(1) BGB)
    # 100.00 × (1.27 + 5) % × 3 days (30 Dec, 31 Dec, 1 Jan) / 365 = 0.0515… → 0.05
    assert cents(result.balance.interest) == D("0.05")
    assert result.next.fee == 0  # dunning_1 is an e-mail in the preset: free
    assert assess(c, history, date(2026, 1, 1), DE).status == "waiting"


def test_interest_is_split_at_the_base_rate_change() -> None:
    c = claim(date(2025, 5, 14), "1000.00")
    history = [StageDone(date(2025, 5, 21), "reminder", date(2025, 5, 31))]
    result = assess(c, history, date(2025, 8, 1), DE)
    assert result.default_on == date(2025, 6, 1)
    # June: 1000 × 7.27 % × 30/365 = 5.9753…; July: 1000 × 6.27 % × 31/365 = 5.3252…; together 11.3005… → 11.30
    assert [(p.start, p.end, p.days, p.annual_rate) for p in result.balance.periods] == [
        (date(2025, 6, 1), date(2025, 7, 1), 30, D("7.27")), (date(2025, 7, 1), date(2025, 8, 1), 31, D("6.27"))]
    assert cents(result.balance.interest) == D("11.30")
    assert isinstance(result.balance.interest, D)


def test_businesses_owe_the_flat_fee_once_and_nine_points_from_day_31() -> None:
    c = claim(date(2025, 3, 15), "1000.00", b2b=True, invoiced=date(2025, 3, 1))
    result = assess(c, [], date(2025, 5, 15), DE_B2B)
    assert result.default_on == date(2025, 4, 15)  # 30 days after due date and receipt have passed (§286(3))
    # 1000 × (2.27 + 9) % × 30/365 = 9.2630… → 9.26
    assert (result.balance.flat_fee, cents(result.balance.interest)) == (D(40), D("9.26"))
    later = assess(c, [StageDone(date(2025, 5, 15), "reminder", date(2025, 5, 26)),
                       StageDone(date(2025, 5, 30), "dunning_1", date(2025, 6, 10))], date(2025, 6, 20), DE_B2B)
    assert later.balance.flat_fee == D(40)  # once per claim
    assert later.next.fee == 0  # de-b2b letters carry no fee: the flat fee covers collection costs


def test_consumers_owe_no_flat_fee_and_the_30_day_rule_only_if_the_invoice_said_so() -> None:
    c = claim(date(2025, 3, 15), "1000.00")
    assert assess(c, [], date(2025, 5, 15), DE).default_on is None
    told = replace(DE, invoice_states_default=True)
    result = assess(c, [], date(2025, 5, 15), told)
    assert result.default_on == date(2025, 4, 15) and result.balance.flat_fee == 0


def test_no_fee_for_the_notice_that_creates_default_and_the_per_claim_cap_holds() -> None:
    policy = replace(DE, claim_fee_cap=D("3.00"))
    c = claim(date(2025, 3, 3))
    sent = [StageDone(date(2025, 3, 10), "reminder", date(2025, 3, 20)),
            StageDone(date(2025, 3, 24), "dunning_1", date(2025, 4, 3)),
            StageDone(date(2025, 4, 7), "dunning_2", date(2025, 4, 17), D("2.50"))]
    assert assess(c, sent[:2], date(2025, 4, 7), policy).next.fee == D("2.50")
    final = assess(c, sent, date(2025, 4, 21), policy).next
    assert (final.stage, final.fee) == ("final_notice", D("0.50"))  # 2.50 + 0.50 = the cap of 3.00
    # The same letter before default costs nothing: without the reminder there is no default yet.
    early = assess(c, [StageDone(date(2025, 3, 10), "dunning_1", None)], date(2025, 3, 24), policy)
    assert early.default_on is None and early.next.fee == 0


def test_partial_payments_go_to_fees_then_interest_then_principal() -> None:
    c = claim(date(2025, 3, 3))
    history = [StageDone(date(2025, 3, 10), "reminder", date(2025, 3, 20)),
               StageDone(date(2025, 4, 7), "dunning_2", date(2025, 4, 17), D("2.50")),
               Payment(date(2025, 4, 10), D("2.00"))]
    b = assess(c, history, date(2025, 4, 10), DE).balance
    assert (b.fees, b.principal, b.paid) == (D("0.50"), D("100.00"), D("2.00"))
    result = assess(c, history + [Payment(date(2025, 4, 11), D("50.00"))], date(2025, 4, 11), DE)
    b = result.next_balance  # on the day of the next action, final_notice on 21 Apr
    assert (b.on, b.fees) == (date(2025, 4, 21), 0)
    # Interest 21 Mar – 10 Apr (21 days) on 100 at 7.27 % = 0.4182…; the 50.00 pay 0.50 fees, that interest, and
    # 49.08… of principal; then 10 days of interest on the rest.
    rest = D("100.00") - (D("50.00") - D("0.50") - D(100) * D("0.0727") * 21 / 365)
    assert b.principal == rest and cents(rest) == D("50.92")
    assert b.interest == rest * D("0.0727") * 10 / 365


def test_overpayment_settles_the_claim_and_keeps_the_surplus_as_credit() -> None:
    c = claim(date(2025, 3, 3))
    result = assess(c, [Payment(date(2025, 3, 5), D("120.00"))], date(2025, 3, 6), DE)
    assert (result.status, result.next.kind, result.balance.credit) == ("settled", "close", D("20.00"))


def test_a_held_claim_waits_and_a_released_dispute_gets_a_fresh_deadline() -> None:
    c = claim(date(2025, 12, 8))
    history = [StageDone(date(2025, 12, 15), "reminder", date(2025, 12, 29)),
               Hold(date(2026, 1, 5), "dispute", "parcel never arrived")]
    held = assess(c, history, date(2026, 1, 20), DE)
    assert (held.status, held.code, held.next) == ("on_hold", "hold_dispute", None)
    assert decide(c, history, date(2026, 1, 20), DE) == []
    released = history + [Release(date(2026, 2, 2))]
    result = assess(c, released, date(2026, 2, 2), DE)
    # Not an immediate dunning_1: the customer gets a fresh deadline (2 Feb + 10 = Thu 12 Feb), then + 4 days.
    assert (result.status, result.next.stage, result.next.on) == ("waiting", "dunning_1", date(2026, 2, 16))
    assert result.code == "resumed_after_hold"
    # A dispute also stops default interest: nothing accrues 5 Jan – 1 Feb.
    b = assess(c, released, date(2026, 2, 16), DE).balance
    assert [(p.start, p.end) for p in b.periods] == [(date(2025, 12, 30), date(2026, 1, 5)),
                                                      (date(2026, 2, 2), date(2026, 2, 16))]


def test_a_broken_payment_plan_resumes_at_the_configured_stage() -> None:
    policy = replace(DE, plan_resume_stage="final_notice", plan_grace_days=7, plan_acceleration=True)
    c = claim(date(2025, 12, 8))
    history = [StageDone(date(2025, 12, 15), "reminder", date(2025, 12, 29)),
               PlanAgreed(date(2026, 1, 5), (Instalment(date(2026, 2, 10), D("50.00")),
                                             Instalment(date(2026, 3, 10), D("50.10")))),
               Payment(date(2026, 2, 9), D("50.00"))]
    running = assess(c, history, date(2026, 3, 17), policy)
    assert (running.status, running.code) == ("in_plan", "plan_running")
    assert "instalment 2 of 2" in running.reason
    broken = assess(c, history, date(2026, 3, 18), policy)
    assert (broken.status, broken.code, broken.next.stage) == ("due", "plan_broken", "final_notice")
    # No interest while the plan ran (it deferred the claim), from the break on again.
    assert broken.balance.periods[-1].end == date(2026, 1, 5)
    # The plan's total, 100.10, is what was owed when it was agreed: 100 + 6 days of interest (0.103…).
    paid = history + [Payment(date(2026, 3, 12), D("50.10"))]
    assert assess(c, paid, date(2026, 3, 18), policy).status == "settled"


def test_after_downtime_one_stage_fires_and_the_next_is_spaced_from_the_real_send_date() -> None:
    c = claim(date(2025, 9, 1))
    assert [a.stage for a in decide(c, [], date(2025, 12, 1), DE)] == ["reminder"]
    history = [StageDone(date(2025, 12, 1), "reminder", date(2025, 12, 11))]
    assert decide(c, history, date(2025, 12, 1), DE) == []  # never two stages on one day
    assert assess(c, history, date(2025, 12, 2), DE).next.on == date(2025, 12, 15)


def test_go_live_starts_old_claims_at_the_reminder_on_the_go_live_day() -> None:
    policy = replace(DE, go_live=date(2026, 3, 2))
    c = claim(date(2025, 1, 10))
    before = assess(c, [], date(2026, 2, 1), policy)
    assert (before.status, before.next.stage, before.next.on) == ("waiting", "reminder", date(2026, 3, 2))
    assert [a.stage for a in decide(c, [], date(2026, 3, 2), policy)] == ["reminder"]


def test_small_claims_stop_after_the_reminder() -> None:
    policy = replace(DE, min_amount=D("5.00"))
    c = claim(date(2025, 3, 3), "3.00")
    assert [a.stage for a in decide(c, [], date(2025, 3, 10), policy)] == ["reminder"]
    after = assess(c, [StageDone(date(2025, 3, 10), "reminder", date(2025, 3, 20))], date(2025, 4, 1), policy)
    assert (after.status, after.code, after.next) == ("stopped", "below_minimum", None)


def test_the_ladder_ends_with_the_hand_over() -> None:
    c = claim(date(2025, 1, 6))
    history = [StageDone(date(2025, 1, 13), "reminder", date(2025, 1, 23)),
               StageDone(date(2025, 1, 27), "dunning_1", date(2025, 2, 6)),
               StageDone(date(2025, 2, 10), "dunning_2", date(2025, 2, 20), D("2.50")),
               StageDone(date(2025, 2, 24), "final_notice", date(2025, 3, 6), D("2.50"))]
    handover = assess(c, history, date(2025, 3, 10), DE).next
    assert (handover.kind, handover.stage, handover.deadline, handover.fee) == ("handover", "agency", None, 0)
    done = assess(c, history + [StageDone(date(2025, 3, 10), "agency")], date(2025, 4, 1), DE)
    assert (done.status, done.next) == ("handed_over", None)


def test_a_task_stage_waits_for_the_merchant() -> None:
    policy = replace(DE, stages=DE.stages[:2] + (replace(DE.stages[0], name="call", kind="task", after_days=3,
                                                         deadline_days=7, template="", channel="none"),)
                     + DE.stages[2:])
    c = claim(date(2025, 1, 6))
    history = [StageDone(date(2025, 1, 13), "reminder", date(2025, 1, 23)),
               StageDone(date(2025, 1, 27), "dunning_1", date(2025, 2, 6))]
    task = assess(c, history, date(2025, 2, 9), policy).next
    assert (task.kind, task.stage, task.on, task.deadline) == ("task", "call", date(2025, 2, 9), date(2025, 2, 17))
    after = assess(c, history + [StageDone(date(2025, 2, 10), "call", date(2025, 2, 17))], date(2025, 2, 10), policy)
    assert (after.next.stage, after.next.on) == ("dunning_2", date(2025, 2, 21))  # the task's deadline + 4 days


@pytest.mark.parametrize(("b2b", "expected"), [(False, D("3.40")), (True, D("9.96"))])
def test_austria_four_percent_for_consumers_and_nine_point_two_over_the_oenb_rate_for_businesses(
        b2b: bool, expected: D) -> None:
    policy = replace(PRESETS["at"], calendar=calendar("AT"))
    c = claim(date(2025, 2, 3), "1000.00", b2b=b2b)
    history = [StageDone(date(2025, 2, 10), "reminder", date(2025, 2, 28))]
    result = assess(c, history, date(2025, 4, 1), policy)
    # Default from 1 March (the reminder's deadline came before day 31), 31 days to 1 April:
    # consumers 1000 × 4 % × 31/365 = 3.397…; businesses 1000 × (2.53 + 9.2) % × 31/365 = 9.962…
    assert cents(result.balance.interest) == expected
    assert result.balance.flat_fee == (D(40) if b2b else 0)


def test_switzerland_five_percent_and_no_fees_unless_the_terms_allow_them() -> None:
    policy = replace(PRESETS["ch"], calendar=calendar("CH-ZH"))
    c = replace(claim(date(2025, 2, 3), "500.00"), currency="CHF")
    history = [StageDone(date(2025, 2, 10), "reminder", date(2025, 2, 28)),
               StageDone(date(2025, 3, 4), "dunning_1", date(2025, 3, 14))]
    result = assess(c, history, date(2025, 3, 31), policy)
    assert cents(result.balance.interest) == cents(D(500) * D("0.05") * 30 / 365) == D("2.05")
    assert result.next.fee == 0
    allowed = replace(policy, fees_allowed=True, stages=tuple(replace(s, fee=D("2.00")) if s.name == "dunning_2"
                                                              else s for s in policy.stages))
    assert assess(c, history, date(2025, 3, 31), allowed).next.fee == D("2.00")


def test_a_period_without_a_base_rate_is_refused_not_guessed() -> None:
    c = claim(date(2026, 6, 1))
    history = [StageDone(date(2026, 6, 8), "reminder", date(2026, 6, 18))]
    result = assess(c, history, date(2026, 7, 15), DE)
    assert (result.status, result.code, result.balance) == ("blocked", "rate_missing", None)
    assert decide(c, history, date(2026, 7, 15), DE) == []
    assert "2026-07-01" in result.problem and "[[policy.base_rates]]" in result.problem


def test_a_kept_plan_that_leaves_a_remainder_goes_on_after_its_grace_period() -> None:
    c = claim(date(2025, 12, 8))
    history = [StageDone(date(2025, 12, 15), "reminder", date(2025, 12, 29)),
               PlanAgreed(date(2026, 1, 5), (Instalment(date(2026, 2, 10), D("50.00")),
                                             Instalment(date(2026, 3, 10), D("50.00")))),
               Payment(date(2026, 2, 9), D("50.00")), Payment(date(2026, 3, 9), D("50.00"))]
    waiting = assess(c, history, date(2026, 3, 12), DE)  # 0.10 of interest from before the plan is still open
    assert (waiting.status, waiting.code, waiting.next.on) == ("waiting", "plan_remainder", date(2026, 3, 18))
    assert assess(c, history, date(2026, 3, 18), DE).actions[0].stage == "dunning_1"
