"""Incoming money as every payment source reports it: bank statements (camt.05x, MT940) and providers (Stripe,
Mollie). Sources turn their wire format into these records; matching and booking happen in sync/."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


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
