"""Incoming money as every payment source reports it: bank statements (camt.05x, MT940) and providers (Stripe,
Mollie). Sources turn their wire format into these records; matching and booking happen in sync/.

A bank booking reaches us up to three times (the intraday camt.052, the day's camt.053, an MT940 of the same day);
`booking_id()` names it the same in each, so that it is stored once."""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

BANK_SOURCES = frozenset({"camt.052", "camt.053", "camt.054", "mt940"})
PROVISIONAL = frozenset({"camt.052", "camt.054"})  # reports a statement (camt.053, MT940) confirms later
FALLBACK = "h:"  # a ref made of the entry (`fallback_ref`): the bank gave none


@dataclass(frozen=True, slots=True)
class IncomingPayment:
    """One incoming credit, before it is matched to a claim. Amounts are positive Decimals with their currency."""

    source: str  # "camt.053", "camt.052", "camt.054", "mt940", "stripe", "mollie"
    ref: str  # unique within the source: the bank's reference or the provider's id, else `fallback_ref()`
    booked_on: date
    amount: Decimal  # what arrived, after any charges the bank deducted
    currency: str  # ISO 4217, upper case
    account: str = ""  # the merchant's account that received it (IBAN), "" for providers
    payer_name: str = ""
    payer_account: str = ""  # the payer's IBAN or account
    remittance: str = ""  # the payer's text (camt Ustrd / MT940 SVWZ+ joined; provider description)
    end_to_end_id: str = ""  # "" for NOTPROVIDED
    creditor_ref: str = ""  # structured reference (ISO 11649 "RF..."), or a provider's transfer reference
    order_hint: str = ""  # the shop order id a provider carries in its metadata
    provider_ids: tuple[str, ...] = ()  # ids the provider knows the payment by (invoice, payment, transaction)
    charges: Decimal = Decimal(0)  # fees the bank or provider deducted from what the payer sent
    original_amount: Decimal | None = None  # what the payer sent in another currency, if the source says so
    original_currency: str = ""
    position: str = ""  # where it came from, for people: "entry 17 (line 345)", "event evt_..."
    occurrence: int = 1  # the n-th entry of its file identical to this one (both without a bank reference)

    @property
    def booking(self) -> str:
        return booking_id(self)


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """A record the source could not read: where it is and why. The rest of the file or page goes on."""

    position: str
    reason: str


def fallback_ref(account: str, booked_on: date, amount: Decimal, currency: str, remittance: str) -> str:
    """A stable id for an entry without a bank reference: the same entry imported twice gets the same id."""
    key = "|".join((account.replace(" ", "").upper(), booked_on.isoformat(), f"{amount:.2f}", currency.upper(),
                    " ".join(remittance.split())))
    return "h:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def booking_id(p: IncomingPayment) -> str:
    """The payment's identity, unique per shop: for a bank booking the merchant's account and the bank's reference,
    or without one the account, day, amount, currency, payer and text, the same in camt.052/053/054 and MT940;
    for a provider its source and id."""
    if p.source not in BANK_SOURCES:
        parts = ["provider", p.source, p.ref]
    elif not p.ref.startswith(FALLBACK):  # the bank's reference (camt AcctSvcrRef, MT940 "//")
        parts = ["bank", _account(p.account), p.ref.strip()]
    else:
        # The payer's IBAN, else the name, and the text compared as letters and digits only: MT940 cuts them into
        # 27-character lines (and names after 54), a legacy charset loses accents, and the DK format puts the
        # creditor reference into the purpose text, in front.
        payer = _account(p.payer_account) or _plain(p.payer_name)[:27]
        parts = ["entry", _account(p.account), p.booked_on.isoformat(), format(p.amount.normalize(), "f"),
                 p.currency.upper(), payer, _plain(p.creditor_ref + p.remittance)[:140], str(p.occurrence)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


class Twins:
    """Numbers the entries of one file that have no bank reference and are otherwise identical: two equal transfers
    on one day stay two, and the second is the second in every format."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def number(self, payment: IncomingPayment) -> IncomingPayment:
        if not payment.ref.startswith(FALLBACK):
            return payment
        key = booking_id(payment)
        self.seen[key] += 1
        return payment if self.seen[key] == 1 else replace(payment, occurrence=self.seen[key])


def _account(text: str) -> str:
    return "".join(text.split()).upper()


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(c for c in folded if c.isalnum())
