"""The shipped policies. A merchant picks one per shop (`[policy] preset = "de-b2c"`) and overrides stage by stage.

The ladder follows the domain texts: a friendly payment reminder without a fee, a 1st and a 2nd dunning notice,
a final notice announcing the hand-over, and the hand-over to a collection agency, two weeks apart each (a
deadline of 10 days plus 4 days for a bank transfer to arrive). Fees: nothing for the reminder and for the notice
that creates default, e-mails free, letters at most €2.50 of material costs (LAW.md); businesses pay the €40
flat fee instead of letter fees.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from mahnwerk.policy.calendar import BusinessCalendar
from mahnwerk.policy.interest import InterestRule
from mahnwerk.policy.model import Policy, Stage
from mahnwerk.policy.rates import AT_BASE_RATE, DE_BASE_RATE

LETTER_FEE = Decimal("2.50")


def ladder(letter_fee: Decimal) -> tuple[Stage, ...]:
    """reminder → dunning_1 → dunning_2 → final_notice → agency, 14 days apart."""
    return (
        Stage("reminder", "reminder", after_days=7, deadline_days=10, template="reminder", channel="shop"),
        Stage("dunning_1", "dunning", after_days=4, deadline_days=10, template="dunning_1", channel="shop"),
        Stage("dunning_2", "dunning", after_days=4, deadline_days=10, fee=letter_fee, template="dunning_2",
              channel="letter"),
        Stage("final_notice", "final_notice", after_days=4, deadline_days=10, fee=letter_fee,
              template="final_notice", channel="letter"),
        Stage("agency", "agency", after_days=4, deadline_days=0, template="agency_handover", channel="agency"),
    )


NO_INTEREST = InterestRule("none")
DE_B2C_INTEREST = InterestRule("base_plus", points=Decimal(5), table=DE_BASE_RATE)  # §288(1) BGB
DE_B2B_INTEREST = InterestRule("base_plus", points=Decimal(9), table=DE_BASE_RATE)  # §288(2) BGB

_DE = Policy(
    preset="de-b2c",
    stages=ladder(LETTER_FEE),
    interest_b2c=DE_B2C_INTEREST,
    interest_b2b=DE_B2B_INTEREST,
    calendar=BusinessCalendar("DE"),
    b2b_flat_fee=Decimal(40),
    rate_notes=(DE_BASE_RATE.source,),
)

PRESETS: dict[str, Policy] = {
    "de-b2c": _DE,
    # Between businesses the €40 flat fee covers the costs of collection, so letters carry no fee.
    "de-b2b": replace(_DE, preset="de-b2b", stages=ladder(Decimal(0))),
    "at": replace(
        _DE, preset="at",
        interest_b2c=InterestRule("fixed", rate=Decimal(4)),  # §1000 ABGB
        interest_b2b=InterestRule("base_plus", points=Decimal("9.2"), table=AT_BASE_RATE),  # §456 UGB
        calendar=BusinessCalendar("AT"), rate_notes=(AT_BASE_RATE.source,)),  # €40 B2B: §458 UGB
    "ch": replace(
        _DE, preset="ch", stages=ladder(Decimal(0)),
        interest_b2c=InterestRule("fixed", rate=Decimal(5)), interest_b2b=InterestRule("fixed", rate=Decimal(5)),
        calendar=BusinessCalendar("CH"), b2b_flat_fee=Decimal(0), fees_allowed=False, rate_notes=()),  # Art. 104 OR
    "generic-en": replace(
        _DE, preset="generic-en", stages=ladder(Decimal(0)), interest_b2c=NO_INTEREST, interest_b2b=NO_INTEREST,
        calendar=BusinessCalendar(""), b2b_flat_fee=Decimal(0), language="en", rate_notes=()),
}
