"""A claim's due action as a `Notice` for the templates (policy/notice.py), with the merchant and the customer as
the configuration and the mirror know them; and the mail server settings for the e-mail channel."""

from __future__ import annotations

from mahnwerk.connectors.smtp import SmtpSettings
from mahnwerk.policy.engine import Assessment
from mahnwerk.policy.languages import language_for
from mahnwerk.policy.notice import Addressee, Agency, Merchant, Notice, notice_for
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.store.models import Claim


def smtp_settings(shop: ShopConfig) -> SmtpSettings:
    """The shop's [smtp] table for connectors/smtp.py (the password revealed: ConfigError if it cannot be read)."""
    smtp = shop.smtp
    return SmtpSettings(host=smtp.host, port=smtp.port, security=smtp.security, username=smtp.username or None,
                        password=smtp.password.reveal() if smtp.password is not None else None, sender=smtp.sender,
                        sender_name=smtp.sender_name or shop.merchant.name, reply_to=smtp.reply_to or None,
                        timeout=smtp.timeout.total_seconds(), ca_bundle=smtp.ca_bundle)


def merchant(shop: ShopConfig) -> Merchant:
    """The sender every notice names, and the account to pay to."""
    m = shop.merchant
    return Merchant(name=m.name, email=m.email, street=m.street, postcode=m.postcode, city=m.city, country=m.country,
                    phone=m.phone, website=m.website, vat_id=m.vat_id, register_court=m.register_court,
                    register_number=m.register_number, managing_directors=m.managing_directors,
                    account_holder=m.account_holder or m.name,
                    iban=m.iban, bic=m.bic, bank_name=m.bank_name)


def addressee(claim: Claim) -> Addressee:
    """The customer as the claim's billing address holds them."""
    a = claim.billing_address or {}
    return Addressee(name=claim.customer_name, company=claim.company, address_1=a.get("address_1", ""),
                     address_2=a.get("address_2", ""), postcode=a.get("postcode", ""), city=a.get("city", ""),
                     state=a.get("state", ""), country=a.get("country", ""), email=claim.email,
                     phone=a.get("phone", ""))


def build_notice(shop: ShopConfig, claim: Claim, result: Assessment) -> Notice:
    """The notice for the claim's due action, in the customer's language."""
    action, balance = result.next, result.next_balance
    assert action is not None and balance is not None
    customer = addressee(claim)
    agency = Agency(shop.agency.name, shop.agency.address) if shop.agency.name else None
    rule = shop.policy.interest_b2b if claim.is_b2b else shop.policy.interest_b2c
    return notice_for(action, balance, invoice_amount=claim.open_amount, default_on=result.default_on,
                      language=language_for(customer.country, shop.delivery.language), merchant=merchant(shop),
                      customer=customer, order_number=claim.order_number, invoice_number=claim.invoice_number,
                      invoice_date=claim.invoice_date, due_date=claim.due_date,
                      interest_rule=rule if rule.kind != "none" else None, agency=agency,
                      plan_accelerates=shop.policy.plan_acceleration)
