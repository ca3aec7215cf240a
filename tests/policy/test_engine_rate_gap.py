"""While a half-year's base rate is missing (the shipped tables end 2026-06-30): a reminder, which demands no
interest, is still due with what is owed without interest; every notice that demands interest stays blocked."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

from mahnwerk.policy.engine import RateGap, assess, decide
from mahnwerk.policy.interest import cents
from mahnwerk.policy.model import ClaimFacts, Payment, StageDone
from mahnwerk.policy.notice import Addressee, Merchant, notice_for
from mahnwerk.policy.presets import PRESETS
from mahnwerk.sync.config.policy import calendar

BY = calendar("DE-BY")
DE = replace(PRESETS["de-b2c"], calendar=BY)
DE_B2B = replace(PRESETS["de-b2b"], calendar=BY)
AT = replace(PRESETS["at"], calendar=calendar("AT"))
DE_GAP = RateGap("Basiszinssatz (DE, §247 BGB)", date(2026, 7, 1))


def business(amount: str = "119.00") -> ClaimFacts:
    # Invoiced and due 2026-10-01: the 30th day (§286(3) BGB) is Sat 2026-10-31, the last day to pay Mon 2026-11-02
    # (§193 BGB), so default from 2026-11-03, deep in the missing 2026-H2.
    return ClaimFacts("acme:1001", "EUR", D(amount), date(2026, 10, 1), date(2026, 10, 1), True)


def test_a_blocked_business_claim_still_gets_its_reminder_without_interest() -> None:
    result = assess(business(), [], date(2026, 12, 7), DE_B2B)
    assert (result.status, result.next.stage, result.next.kind) == ("due", "reminder", "send")
    assert result.default_on == date(2026, 11, 3)
    assert result.interest_unknown and result.gap == DE_GAP
    # principal 119.00 + the €40 flat fee (§288(5) BGB, due with default, no rate needed) = 159.00; no interest
    assert (result.balance.principal, result.balance.flat_fee, result.balance.interest) == (D("119.00"), D(40), 0)
    assert cents(result.balance.total) == cents(result.next_balance.total) == D("159.00")
    assert result.balance.periods == ()
    # Mon 7 Dec + 10 days = Thu 17 Dec 2026, a working day in Bavaria
    assert result.next.deadline == date(2026, 12, 17) and result.next.fee == 0
    assert "2026-07-01" in result.problem and result.reason.endswith("(without interest: no base rate)")
    assert decide(business(), [], date(2026, 12, 7), DE_B2B) == [result.next]


def test_the_dunning_notice_after_it_stays_blocked() -> None:
    history = [StageDone(date(2026, 12, 7), "reminder", date(2026, 12, 17))]
    result = assess(business(), history, date(2026, 12, 21), DE_B2B)  # 17 Dec + 4 days → dunning_1
    assert (result.status, result.code, result.balance, result.next.stage) == (
        "blocked", "rate_missing", None, "dunning_1")
    assert decide(business(), history, date(2026, 12, 21), DE_B2B) == []
    assert result.gap == DE_GAP and cents(result.known.total) == D("159.00")  # 119.00 + 40.00, no interest


def test_payments_count_against_the_flat_fee_then_the_principal_while_interest_is_unknown() -> None:
    history = [Payment(date(2026, 11, 20), D("50.00"))]
    result = assess(business(), history, date(2026, 12, 7), DE_B2B)
    # §367 BGB without interest: 50.00 pays the €40 flat fee, 10.00 the principal: 109.00 open, 109.00 in all
    assert result.status == "due" and result.interest_unknown
    assert (cents(result.balance.principal), result.balance.flat_fee, cents(result.balance.total)) == (
        D("109.00"), 0, D("109.00"))


def test_a_consumer_in_default_by_the_invoice_gets_the_reminder_too() -> None:
    policy = replace(DE, invoice_states_default=True)  # the invoice pointed out default after 30 days
    c = replace(business("80.00"), is_b2b=False)
    result = assess(c, [], date(2026, 12, 7), policy)
    # no flat fee for consumers (§288(5) BGB): 80.00, no interest
    assert (result.status, result.next.stage, cents(result.balance.total)) == ("due", "reminder", D("80.00"))
    assert result.gap == DE_GAP


def test_austria_names_its_own_table() -> None:
    result = assess(business(), [], date(2026, 12, 7), AT)
    assert result.status == "due" and result.gap == RateGap("Basiszinssatz der OeNB (AT)", date(2026, 7, 1))
    assert cents(result.balance.total) == D("159.00")  # 119.00 + the €40 of §458 UGB


def test_a_claim_whose_interest_is_computable_has_no_gap() -> None:
    c = ClaimFacts("acme:1002", "EUR", D("100.00"), date(2026, 5, 4), date(2026, 5, 4), True)
    result = assess(c, [], date(2026, 5, 11), DE_B2B)  # reminder on due + 7, long before default (2026-06-04)
    assert (result.status, result.gap, result.known, result.interest_unknown) == ("due", None, None, False)


def test_the_reminders_notice_states_no_interest_figure_and_adds_up() -> None:
    result = assess(business(), [], date(2026, 12, 7), DE_B2B)
    sender, customer = Merchant("Gartenglück GmbH", "buchhaltung@gartenglueck.test"), Addressee("Erika Mustermann")
    notice = notice_for(result.next, result.next_balance, invoice_amount=D("119.00"), default_on=result.default_on,
                        language="de", merchant=sender, customer=customer, order_number="1001",
                        invoice_number="RE-1001", invoice_date=date(2026, 10, 1), due_date=date(2026, 10, 1),
                        interest_rule=DE_B2B.interest_b2b)
    assert (notice.interest, notice.interest_rule) == (None, None)  # no 0.00 that pretends to be a figure
    # 119.00 + 40.00 flat fee = 159.00, the letter's statement without an interest line
    assert notice.statement == [("principal", D("119.00")), ("flat_fee", D("40.00")), ("total", D("159.00"))]
