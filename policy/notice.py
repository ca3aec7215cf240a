"""What one customer message says, as plain typed data: who writes to whom about which claim, which amounts, which
deadline. Templates (mail, customer note) and the PDF letter are both rendered from a Notice, so they cannot
disagree; formatting for the customer's locale happens where they are rendered, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from mahnwerk.policy.account import Balance
from mahnwerk.policy.engine import Action
from mahnwerk.policy.interest import InterestRule, cents

ZERO = Decimal("0")
# What a transfer quotes: the invoice by name, so that the payer's bank statement says what was paid and the
# matcher finds a short number after its keyword (policy/matching.py). The EPC QR code allows 140 characters.
REFERENCE_WORDS = {"de": "Rechnung", "en": "Invoice"}
MAX_REFERENCE = 140


@dataclass(frozen=True, slots=True)
class Merchant:
    """The sender: the shop's legal name and postal address, how to reach it, and the account to pay to."""

    name: str
    email: str
    street: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""  # ISO 3166 alpha-2
    phone: str = ""
    website: str = ""
    vat_id: str = ""
    register_court: str = ""  # e.g. "Amtsgericht Charlottenburg"
    register_number: str = ""  # e.g. "HRB 12345 B"
    managing_directors: tuple[str, ...] = ()
    account_holder: str = ""
    iban: str = ""  # compact, upper case (DE89370400440532013000); templates show it grouped
    bic: str = ""
    bank_name: str = ""

    @property
    def address_line(self) -> str:
        """The sender line above the address window: "Gartenglück GmbH · Hauptstr. 1 · 10115 Berlin"."""
        place = " ".join(p for p in (self.postcode, self.city) if p)
        return " · ".join(p for p in (self.name, self.street, place) if p)


@dataclass(frozen=True, slots=True)
class Addressee:
    """The customer as the invoice names them (the shop's billing address)."""

    name: str
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    postcode: str = ""
    city: str = ""
    state: str = ""
    country: str = ""  # ISO 3166 alpha-2
    email: str = ""
    phone: str = ""

    def address_lines(self, home_country: str = "") -> list[str]:
        """The lines of the postal address; the country is written only for mail abroad."""
        lines = [self.company, self.name, self.address_1, self.address_2,
                 " ".join(p for p in (self.postcode, self.city) if p)]
        if self.country and self.country != home_country:
            lines.append(self.country)
        return [line for line in lines if line]


@dataclass(frozen=True, slots=True)
class PaymentLine:
    on: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InstalmentLine:
    number: int
    due: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """An offer made with a stage: settle for `discounted_total` by `until`, or a longer deadline until `until`."""

    kind: str  # "discount" or "deferral"
    until: date
    discount_percent: Decimal = ZERO
    discounted_total: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Agency:
    name: str
    address: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """One message about one claim. Optional amounts are None when there is nothing to itemise."""

    template: str  # reminder, dunning_1, ..., the file name under templates/<lang>/
    stage: str
    language: str  # "de" or "en"
    issued_on: date
    merchant: Merchant
    customer: Addressee
    order_number: str
    invoice_number: str
    invoice_date: date
    due_date: date
    currency: str
    principal: Decimal  # the invoice amount still open
    total: Decimal  # what the customer must pay by `deadline`
    fees: Decimal | None = None  # dunning fees, this notice's fee included
    interest: Decimal | None = None
    flat_fee: Decimal | None = None
    paid: Decimal | None = None
    interest_rule: InterestRule | None = None  # set when interest is itemised; put in words per language
    default_since: date | None = None
    deadline: date | None = None
    payments: tuple[PaymentLine, ...] = ()
    offer: OfferTerms | None = None
    agency: Agency | None = None
    instalments: tuple[InstalmentLine, ...] = ()
    missed: tuple[InstalmentLine, int] | None = None  # the late instalment and how many days late
    reference: str = ""  # what the customer quotes with the transfer: "Rechnung 1007" (`payment_reference`)
    deferred: Decimal | None = None  # instalments of a payment plan not yet due: not demanded (no acceleration)
    plan_accelerates: bool = False  # a payment plan's terms: a missed instalment makes the whole remainder due

    @property
    def statement(self) -> list[tuple[str, Decimal]]:
        """The itemised lines that add up to `total`: (key, amount), `paid` negative; keys are the template's
        amount names (principal, fees, interest, flat_fee, paid, deferred, total)."""
        lines = [("principal", self.principal)]
        lines += [(key, value) for key, value in (("fees", self.fees), ("interest", self.interest),
                                                   ("flat_fee", self.flat_fee)) if value is not None]
        if self.paid is not None:
            lines.append(("paid", -self.paid))
        if self.deferred is not None:
            lines.append(("deferred", -self.deferred))
        return lines + [("total", self.total)]


def payment_reference(invoice_number: str, language: str) -> str:
    """The Verwendungszweck a notice asks for: "Rechnung 1007" / "Invoice 1007"; the bare number when the words
    would not fit the EPC QR code's 140 characters."""
    reference = f"{REFERENCE_WORDS.get(language, REFERENCE_WORDS['en'])} {invoice_number}"
    return reference if len(reference) <= MAX_REFERENCE else invoice_number


def _some(amount: Decimal) -> Decimal | None:
    return amount if amount > ZERO else None


def notice_for(action: Action, balance: Balance, *, invoice_amount: Decimal, default_on: date | None,
               language: str, merchant: Merchant, customer: Addressee, order_number: str, invoice_number: str,
               invoice_date: date, due_date: date, interest_rule: InterestRule | None = None,
               agency: Agency | None = None, plan_accelerates: bool = False) -> Notice:
    """The notice a stage action sends: every charge so far plus this stage's fee, less payments, in cents that
    add up (`statement`). `invoice_amount` is the claim's principal as invoiced (before payments)."""
    fees = cents(balance.fees_charged + action.fee)
    interest = cents(balance.interest_accrued)
    paid = cents(balance.paid)
    deferred = cents(balance.deferred)
    total = cents(balance.due_now + action.fee)
    # What §288(5) charged is not kept apart once paid down; it is what remains when the rest is itemised.
    flat_fee = max(ZERO, total + deferred + paid - cents(balance.credit) - cents(invoice_amount) - fees - interest)
    offer = None
    if action.offer is not None and action.deadline is not None:
        if action.offer.kind == "discount":
            discounted = cents(total * (Decimal(100) - action.offer.discount_percent) / Decimal(100))
            offer = OfferTerms("discount", action.deadline, action.offer.discount_percent, discounted)
        else:
            offer = OfferTerms("deferral", action.deadline + timedelta(days=action.offer.extra_days))
    return Notice(
        template=action.template or action.stage, stage=action.stage, language=language, issued_on=action.on,
        merchant=merchant, customer=customer, order_number=order_number, invoice_number=invoice_number,
        invoice_date=invoice_date, due_date=due_date, currency=balance.currency, principal=cents(invoice_amount),
        total=total, fees=_some(fees), interest=_some(interest), flat_fee=_some(flat_fee), paid=_some(paid),
        interest_rule=interest_rule if interest > ZERO else None, default_since=default_on,
        deadline=action.deadline, payments=tuple(PaymentLine(p.on, p.amount) for p in balance.payments),
        offer=offer, agency=agency, reference=payment_reference(invoice_number, language), deferred=_some(deferred),
        plan_accelerates=plan_accelerates,
    )
