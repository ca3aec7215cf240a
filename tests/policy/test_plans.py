"""Payment plans with and without acceleration ([policy] plan_acceleration), against hand-computed figures: a plan of
100/100/100 over a claim of 300.00 whose due date was agreed by the calendar (default from the day after it), agreed
on the due date itself, so nothing accrued before the plan. The consumer rate in 2026 is 1.27 + 5 = 6.27 % a year,
actual/365, interest for the days before the day asked about."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

from mahnwerk.policy.engine import Action, assess, owed
from mahnwerk.policy.interest import cents
from mahnwerk.policy.model import ClaimFacts, Instalment, Payment, PlanAgreed, Release
from mahnwerk.policy.notice import Addressee, Merchant, notice_for
from mahnwerk.policy.presets import PRESETS

DE = replace(PRESETS["de-b2c"], due_date_agreed=True, plan_grace_days=7)
ACCELERATING = replace(DE, plan_acceleration=True)
CLAIM = ClaimFacts("acme:1007", "EUR", D("300.00"), date(2026, 1, 10), date(2026, 1, 10), False)
PLAN = PlanAgreed(date(2026, 1, 10), (Instalment(date(2026, 2, 2), D("100.00")),
                                      Instalment(date(2026, 3, 2), D("100.00")),
                                      Instalment(date(2026, 4, 1), D("100.00"))))
FIRST_PAID = [PLAN, Payment(date(2026, 2, 2), D("100.00"))]
BROKEN = date(2026, 3, 10)  # the 2nd instalment, due Mon 2 March, unpaid after 7 days of grace (9 March)


def _notice_total(history: list, day: date, policy) -> tuple[D, list[tuple[str, D]]]:  # type: ignore[type-arg]
    result = assess(CLAIM, history, day, policy)
    assert result.next is not None and result.next_balance is not None
    notice = notice_for(result.next, result.next_balance, invoice_amount=CLAIM.principal,
                        default_on=result.default_on, language="de", merchant=Merchant("Shop GmbH", "a@b.example"),
                        customer=Addressee("Erika"), order_number="1007", invoice_number="1007",
                        invoice_date=CLAIM.invoice_date, due_date=CLAIM.due_date)
    return notice.total, notice.statement


def test_without_acceleration_a_missed_instalment_is_demanded_alone_with_its_interest() -> None:
    result = assess(CLAIM, FIRST_PAID, BROKEN, DE)
    assert (result.status, result.code, result.next.stage) == ("due", "plan_broken", "reminder")
    assert "later ones stay due" in result.reason
    # Interest on the missed 100.00 from 3 March (the day after its due date) to 9 March: 7 days.
    # 100 × 6.27 % × 7 / 365 = 0.120247 → 0.12. The 3rd instalment (1 April) is not due and not demanded.
    total, statement = _notice_total(FIRST_PAID, BROKEN, DE)
    assert total == D("100.12")
    assert statement == [("principal", D("300.00")), ("interest", D("0.12")), ("paid", D("-100.00")),
                         ("deferred", D("-100.00")), ("total", D("100.12"))]


def test_with_acceleration_the_whole_remainder_is_demanded() -> None:
    # The plan deferred everything until it broke on 10 March; from then on 200.00 bear interest (0 days so far).
    total, statement = _notice_total(FIRST_PAID, BROKEN, ACCELERATING)
    assert total == D("200.00")
    assert ("deferred", D("-100.00")) not in statement


def test_a_later_instalment_missed_joins_the_demanded_amount() -> None:
    balance = owed(CLAIM, FIRST_PAID, date(2026, 4, 10), DE)
    # 3 March – 1 April (30 days) on the 2nd instalment: 100 × 6.27 % × 30 / 365 = 0.515342;
    # 2 April – 9 April (8 days) on both: 200 × 6.27 % × 8 / 365 = 0.274849; together 0.790191 → 0.79.
    assert cents(balance.interest) == D("0.79")
    assert (balance.deferred, cents(balance.due_now)) == (D("0"), D("200.79"))
    # Before the 3rd instalment's due date it stays deferred: on 1 April only the 2nd bears interest, 29 days
    # (3 – 31 March): 100 × 6.27 % × 29 / 365 = 0.498164 → 0.50; 100.00 deferred.
    before = owed(CLAIM, FIRST_PAID, date(2026, 4, 1), DE)
    assert (cents(before.interest), before.deferred, cents(before.due_now)) == (D("0.50"), D("100.00"), D("100.50"))


def test_paying_the_missed_instalment_puts_the_plan_back_on_track() -> None:
    history = FIRST_PAID + [Payment(date(2026, 3, 12), D("100.12"))]
    result = assess(CLAIM, history, date(2026, 3, 20), DE)
    assert (result.status, result.code) == ("in_plan", "plan_running")
    assert "instalment 3 of 3" in result.reason
    # Interest 3 – 11 March (9 days) on 100: 0.154603; the payment pays it first (§367), then 99.965397 principal.
    # Afterwards nothing is in arrears: no more interest, and the 3rd instalment (100.00) is deferred.
    assert cents(result.balance.interest_accrued) == D("0.15")
    assert cents(result.balance.principal) == D("100.03")
    assert (result.balance.deferred, cents(result.balance.due_now)) == (D("100.00"), D("0.03"))
    # Missing the 3rd breaks it again, from the day after its grace period (1 April + 7 days → 9 April).
    again = assess(CLAIM, history, date(2026, 4, 9), DE)
    assert (again.status, again.code) == ("due", "plan_broken")
    assert again.next.on == date(2026, 4, 9)


def test_an_instalment_paid_within_its_grace_period_costs_nothing() -> None:
    history = FIRST_PAID + [Payment(date(2026, 3, 6), D("100.00"))]
    result = assess(CLAIM, history, date(2026, 3, 20), DE)
    assert (result.status, result.balance.interest_accrued) == ("in_plan", D("0"))


def test_a_release_ends_the_deferral_and_the_whole_rest_is_due() -> None:
    history = FIRST_PAID + [Release(date(2026, 3, 20))]
    balance = owed(CLAIM, history, date(2026, 3, 20), DE)
    # 3 – 19 March (17 days) on the missed 100: 100 × 6.27 % × 17 / 365 = 0.292027 → 0.29; nothing deferred.
    assert (balance.deferred, cents(balance.due_now)) == (D("0"), D("200.29"))


def test_a_plan_keeps_the_terms_it_was_agreed_with() -> None:
    agreed = [PlanAgreed(PLAN.on, PLAN.instalments, accelerates=True), FIRST_PAID[1]]
    total, _ = _notice_total(agreed, BROKEN, DE)  # the policy says no acceleration today; the plan said yes
    assert total == D("200.00")


def test_the_action_fee_adds_to_the_missed_amount_only() -> None:
    result = assess(CLAIM, FIRST_PAID, BROKEN, DE)
    assert result.next is not None
    action = replace(result.next, fee=D("2.50"))
    assert isinstance(action, Action)
    notice = notice_for(action, result.next_balance, invoice_amount=CLAIM.principal, default_on=result.default_on,
                        language="de", merchant=Merchant("Shop GmbH", "a@b.example"), customer=Addressee("Erika"),
                        order_number="1007", invoice_number="1007", invoice_date=CLAIM.invoice_date,
                        due_date=CLAIM.due_date)
    # 100.00 + 0.12 interest + 2.50 fee = 102.62.
    assert (notice.total, notice.fees, notice.deferred) == (D("102.62"), D("2.50"), D("100.00"))


def test_a_missed_instalment_bears_interest_even_before_the_claim_was_in_default() -> None:
    """A consumer never dunned is not in default on the claim, but an instalment's date is agreed by the calendar
    (§286(2) no. 1 BGB): the same 7 days on 100.00 as above, 0.12."""
    undunned = replace(DE, due_date_agreed=False)
    assert assess(CLAIM, FIRST_PAID, BROKEN, undunned).default_on is None
    total, _ = _notice_total(FIRST_PAID, BROKEN, undunned)
    assert total == D("100.12")
