"""`explain`: a claim's whole story from the ledger (synced changes, stages, payments, holds, plans, notes) and
what comes next, with every amount broken down so it can be checked by hand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import col

from mahnwerk.policy.account import Balance
from mahnwerk.policy.engine import Assessment
from mahnwerk.policy.interest import cents
from mahnwerk.sync.casework.blocked import FIX
from mahnwerk.sync.casework.case import Case
from mahnwerk.sync.casework.reasons import reason_text
from mahnwerk.sync.casework.wording import summary, wording
from mahnwerk.sync.mirror.claimdata import classification, local_date
from mahnwerk.sync.store.models import ClaimState, LedgerEntry


def balance_dict(balance: Balance | None) -> dict[str, Any] | None:
    if balance is None:
        return None
    return {"on": balance.on.isoformat(), "principal": str(cents(balance.principal)), "fees": str(cents(balance.fees)),
            "flat_fee": str(cents(balance.flat_fee)), "interest": str(cents(balance.interest)),
            "paid": str(cents(balance.paid)), "credit": str(cents(balance.credit)), "total": str(cents(balance.total)),
            # a payment plan without acceleration: its instalments not yet due, and what is due today
            "deferred": str(cents(balance.deferred)), "due_now": str(cents(balance.due_now)),
            "interest_periods": [{"from": p.start.isoformat(), "to": p.end.isoformat(), "days": p.days,
                                  "annual_rate": str(p.annual_rate), "principal": str(cents(p.principal)),
                                  "amount": str(p.amount)} for p in balance.periods]}


def next_dict(result: Assessment) -> dict[str, Any] | None:
    action = result.next
    if action is None:
        return None
    return {"action": action.stage or action.kind, "kind": action.kind, "on": action.on.isoformat(),
            "deadline": action.deadline.isoformat() if action.deadline else None, "fee": str(cents(action.fee)),
            "code": action.code, "template": action.template or None, "channel": action.channel or None}


def explain(case: Case, lang: str = "en") -> dict[str, Any]:
    """The claim, its timeline and its assessment today, JSON-ready; the fixed texts in `lang` ("en", "de")."""
    claim, shop = case.claim, case.shop
    entries = case.session.execute(select(LedgerEntry).where(col(LedgerEntry.claim_id) == claim.id)
                                   .order_by(col(LedgerEntry.id))).scalars().all()
    result = case.assess()
    rule = shop.policy.interest_rule(result.claim)
    timeline = [{"at": e.at.isoformat(), "day": local_date(e.at, shop.timezone).isoformat(), "kind": e.kind,
                 "source": e.source, "actor": e.actor or None, "what": summary(e.kind, e.data, claim.currency, lang)}
                for e in entries]
    is_open = claim.state == ClaimState.OPEN
    kind = classification(claim, shop)
    words = wording(lang)
    why = reason_text(kind.reason, lang)
    if kind.is_business != claim.is_b2b:
        why = words("until_sync", was=words("business" if claim.is_b2b else "consumer"), reason=why)
    return {
        "claim": result.claim.key, "shop": shop.id, "order_id": claim.order_id, "invoice_number": claim.invoice_number,
        "invoice_date": claim.invoice_date.isoformat(), "due_date": claim.due_date.isoformat(),
        "customer": claim.customer_name, "email": claim.email, "customer_id": claim.customer_id or None,
        "b2b": claim.is_b2b, "b2b_reason": why,
        "customer_group": claim.customer_group or None, "currency": claim.currency,
        "gross_amount": str(claim.gross_amount), "state": claim.state, "today": result.today.isoformat(),
        "policy": shop.policy.preset, "interest_rule": reason_text(rule.describe(), lang),
        "rate_source": rule.table.source if rule.table is not None else None,
        "timeline": timeline,
        "status": result.status if is_open else claim.state,
        "reason": reason_text(result.reason, lang) if is_open else words("is_closed", state=words.word(claim.state)),
        "default_since": result.default_on.isoformat() if result.default_on else None,
        # while a base rate is missing no balance pretends to hold interest: `without_interest` has what is known
        "balance": balance_dict(result.balance) if result.gap is None else None,
        "next_balance": balance_dict(result.next_balance) if result.next is not None and result.gap is None else None,
        "next": next_dict(result) if is_open else None,
        "problem": result.problem or None,
        "without_interest": balance_dict(result.known) if result.gap is not None else None,
        "rate_gap": {"table": result.gap.table, "from": result.gap.since.isoformat(), "fix": FIX}
        if result.gap is not None else None,
    }

