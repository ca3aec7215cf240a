"""Business or consumer: which facts of an order make its customer a business, as the shop's `business_when` says.

The difference costs money: businesses owe the €40 flat fee and 9 points above the base rate (§288(2), (5) BGB),
consumers 5 points and no flat fee. A consumer who types anything into an optional company field is still a
consumer, so the default counts only a VAT id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BUSINESS_WHEN = ("vat_id",)  # the cautious default
RULES = ("vat_id", "company")  # and "customer_group:<name>" / "customer_role:<name>" where the shop kind has them
GROUP_RULES = ("customer_group", "customer_role")


@dataclass(frozen=True, slots=True)
class Customer:
    """What an order says about who bought: the company field, the VAT id, the shop's customer group or role."""

    company: str = ""
    vat_id: str = ""
    group: str = ""


@dataclass(frozen=True, slots=True)
class Classification:
    is_business: bool
    reason: str  # for `explain`: "business: VAT id on the order (business_when = vat_id)"


def classify(customer: Customer, business_when: Sequence[str]) -> Classification:
    """Business when any rule of `business_when` holds, else consumer; the reason names the rule or what was
    given but not counted."""
    setting = f"business_when = {', '.join(business_when) or '[]'}"
    given = {"vat_id": bool(customer.vat_id.strip()), "company": bool(customer.company.strip())}
    for rule in business_when:
        kind, _, name = rule.partition(":")
        if kind in GROUP_RULES and customer.group and customer.group == name:
            word = "group" if kind == "customer_group" else "role"
            return Classification(True, f'business: customer {word} "{name}" ({setting})')
        if given.get(rule):
            return Classification(True, f"business: {_WHAT[rule]} on the order ({setting})")
    unused = [_WHAT[rule] for rule in RULES if given[rule]]
    if customer.group:
        word = "role" if any(rule.startswith("customer_role:") for rule in business_when) else "group"
        unused.append(f'customer {word} "{customer.group}"')
    if unused:
        them = "it" if len(unused) == 1 else "them"
        return Classification(False, f"consumer: {' and '.join(unused)} given, but business_when does not count "
                                     f"{them} ({setting})")
    return Classification(False, f"consumer: nothing on the order makes it a business ({setting})")


_WHAT = {"vat_id": "VAT id", "company": "company name"}
