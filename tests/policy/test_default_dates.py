"""When default starts, against hand-computed calendars: §193 BGB for an agreed due date and the 30th day of
§286(3), invoice receipt days, and the 30-day notice on the invoice per payment method."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from mahnwerk.policy.engine import assess, default_date
from mahnwerk.policy.interest import cents
from mahnwerk.policy.model import ClaimFacts, StageDone
from mahnwerk.policy.presets import PRESETS
from mahnwerk.sync.config.policy import calendar

DE = replace(PRESETS["de-b2c"], calendar=calendar("DE"))
BY = replace(PRESETS["de-b2c"], calendar=calendar("DE-BY"))


def claim(invoiced: date, due: date | None = None, *, b2b: bool = False, method: str = "invoice",
          amount: str = "1000.00") -> ClaimFacts:
    return ClaimFacts("acme:1001", "EUR", D(amount), invoiced, due or invoiced, b2b, payment_method=method)


def test_a_thirtieth_day_on_a_saturday_gives_the_customer_until_monday() -> None:
    c = claim(date(2026, 2, 5), b2b=True)  # a Thursday; received the same day (receipt_days = 0)
    # 5 Feb + 30 days = Sat 7 Mar (23 days to 28 Feb, 7 more) → last day to pay Mon 9 Mar → default from Tue 10 Mar.
    assert default_date(c, [], DE) == date(2026, 3, 10)
    result = assess(c, [], date(2026, 3, 20), DE)
    # Interest from 10 Mar up to 20 Mar: 10 days; 1000 × (1.27 + 9) % × 10/365 = 2.8136… → 2.81; flat fee €40.
    assert (cents(result.balance.interest), result.balance.flat_fee) == (D("2.81"), D(40))
    assert cents(assess(c, [], date(2026, 3, 10), DE).balance.interest) == 0  # nothing owed before its first day


def test_an_agreed_due_date_on_a_saturday_moves_default_to_tuesday() -> None:
    agreed = replace(DE, due_date_agreed=True)
    c = claim(date(2026, 2, 28), date(2026, 3, 14))  # Sat 14 Mar → last day Mon 16 Mar → default from Tue 17 Mar
    assert default_date(c, [], agreed) == date(2026, 3, 17)
    weekday = claim(date(2026, 2, 28), date(2026, 3, 12))  # Thu 12 Mar: a business day, default from Fri 13 Mar
    assert default_date(weekday, [], agreed) == date(2026, 3, 13)


@pytest.mark.parametrize(("invoiced", "expected", "why"), [
    # 4 Mar + 30 = Good Friday 3 Apr; Sat, Sun, Easter Monday 6 Apr → last day Tue 7 Apr → default from Wed 8 Apr.
    (date(2026, 3, 4), date(2026, 4, 8), "Easter"),
    # 1 Apr + 30 = Fri 1 May (Labour Day); Sat, Sun → last day Mon 4 May → default from Tue 5 May.
    (date(2026, 4, 1), date(2026, 5, 5), "1 May"),
])
def test_a_thirtieth_day_on_a_public_holiday_moves_to_the_next_business_day(invoiced: date, expected: date,
                                                                            why: str) -> None:
    assert default_date(claim(invoiced, b2b=True), [], DE) == expected, why


def test_a_regional_holiday_moves_default_only_in_its_region() -> None:
    # 5 May + 30 = Thu 4 Jun 2026, Corpus Christi: a holiday in Bavaria, not nationwide.
    c = claim(date(2026, 5, 5), b2b=True)
    assert default_date(c, [], BY) == date(2026, 6, 6)  # last day Fri 5 Jun
    assert default_date(c, [], DE) == date(2026, 6, 5)  # last day Thu 4 Jun
    # An agreed due date on Epiphany (Tue 6 Jan 2026): Bavaria pays on Wed 7 Jan.
    agreed = claim(date(2025, 12, 23), date(2026, 1, 6))
    assert default_date(agreed, [], replace(BY, due_date_agreed=True)) == date(2026, 1, 8)
    assert default_date(agreed, [], replace(DE, due_date_agreed=True)) == date(2026, 1, 7)


def test_a_notice_deadline_still_decides_when_it_comes_first() -> None:
    c = claim(date(2026, 2, 5), b2b=True)
    history = [StageDone(date(2026, 2, 20), "reminder", date(2026, 3, 2))]  # deadline Mon 2 Mar, before 9 Mar
    assert default_date(c, history, DE) == date(2026, 3, 3)


def test_receipt_days_shift_the_start_of_the_thirty_days() -> None:
    posted = replace(DE, receipt_days=3)
    c = claim(date(2026, 2, 2), b2b=True)  # Mon 2 Feb, due on receipt
    # Sent by e-mail: 2 Feb + 30 = Wed 4 Mar → default from Thu 5 Mar.
    assert default_date(c, [], DE) == date(2026, 3, 5)
    # By post: received 2 Feb + 3 = Thu 5 Feb; + 30 = Sat 7 Mar → Mon 9 Mar → default from Tue 10 Mar.
    assert default_date(c, [], posted) == date(2026, 3, 10)
    # A due date after the receipt decides: due Mon 16 Feb + 30 = Wed 18 Mar → default from Thu 19 Mar.
    later = claim(date(2026, 2, 2), date(2026, 2, 16), b2b=True)
    assert default_date(later, [], posted) == default_date(later, [], DE) == date(2026, 3, 19)


def test_the_thirty_day_notice_can_be_on_the_invoices_of_some_payment_methods_only() -> None:
    some = replace(DE, invoice_states_default=frozenset({"invoice"}))
    told = claim(date(2026, 2, 5), method="invoice")
    untold = claim(date(2026, 2, 5), method="paylater")
    # The consumer's invoice said so: 5 Feb + 30 = Sat 7 Mar → Mon 9 Mar → default from Tue 10 Mar.
    assert default_date(told, [], some) == date(2026, 3, 10)
    assert default_date(untold, [], some) is None  # only a notice puts this consumer in default
    assert default_date(untold, [], replace(DE, invoice_states_default=True)) == date(2026, 3, 10)
    assert default_date(told, [], DE) is None  # the preset: invoices do not say so
    assert default_date(replace(untold, is_b2b=True), [], some) == date(2026, 3, 10)  # businesses: always
    # Consumer interest from 10 Mar to 20 Mar: 1000 × (1.27 + 5) % × 10/365 = 1.7178… → 1.72, no flat fee.
    result = assess(told, [], date(2026, 3, 20), some)
    assert (cents(result.balance.interest), result.balance.flat_fee) == (D("1.72"), 0)


def test_the_first_stage_counts_from_the_last_day_to_pay() -> None:
    c = claim(date(2026, 2, 28), date(2026, 3, 14))  # due Sat 14 Mar: payable until Mon 16 Mar
    result = assess(c, [], date(2026, 3, 20), DE)
    # The reminder comes 7 days after the last day to pay: 16 Mar + 7 = Mon 23 Mar (not Sat 21 Mar).
    assert (result.status, result.next.stage, result.next.on) == ("waiting", "reminder", date(2026, 3, 23))
    assert result.reason == "due 2026-03-14 (payable until 2026-03-16) → reminder on 2026-03-23"
