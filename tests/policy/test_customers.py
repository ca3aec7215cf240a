"""Business or consumer by `business_when`, and the reason `explain` prints."""

from __future__ import annotations

import pytest

from mahnwerk.policy.customers import Customer, classify


@pytest.mark.parametrize(("customer", "rules", "business", "reason"), [
    (Customer(vat_id="DE123456789"), ("vat_id",), True, "business: VAT id on the order (business_when = vat_id)"),
    (Customer(company="Kim's Laden"), ("vat_id",), False,
     "consumer: company name given, but business_when does not count it (business_when = vat_id)"),
    (Customer(company="Berg GmbH"), ("vat_id", "company"), True,
     "business: company name on the order (business_when = vat_id, company)"),
    (Customer(company="  "), ("company",), False,
     "consumer: nothing on the order makes it a business (business_when = company)"),
    (Customer(group="Händler"), ("customer_group:Händler",), True,
     'business: customer group "Händler" (business_when = customer_group:Händler)'),
    (Customer(group="Standard-Kundengruppe", vat_id="DE1"), ("customer_group:Händler",), False,
     'consumer: VAT id and customer group "Standard-Kundengruppe" given, but business_when does not count them '
     "(business_when = customer_group:Händler)"),
    (Customer(group="customer"), ("customer_role:wholesale_customer",), False,
     'consumer: customer role "customer" given, but business_when does not count it '
     "(business_when = customer_role:wholesale_customer)"),
    (Customer(group="wholesale_customer"), ("customer_role:wholesale_customer",), True,
     'business: customer role "wholesale_customer" (business_when = customer_role:wholesale_customer)'),
    (Customer(vat_id="DE1"), (), False, "consumer: VAT id given, but business_when does not count it "
                                        "(business_when = [])"),
])
def test_business_when_decides_and_says_why(customer: Customer, rules: tuple[str, ...], business: bool,
                                            reason: str) -> None:
    found = classify(customer, rules)
    assert (found.is_business, found.reason) == (business, reason)
