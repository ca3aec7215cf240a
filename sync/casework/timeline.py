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
from mahnwerk.sync.mirror.claimdata import classification, local_date
from mahnwerk.sync.store.models import ClaimState, LedgerEntry


def summary(kind: str, data: dict[str, Any], currency: str) -> str:
    """One line for a ledger entry, for people."""
    if kind == "opened":
        return (f"claim opened: {data.get('open_amount')} {currency} due {data.get('due_date')} "
                f"(shop status {data.get('shop_status')})")
    if kind in ("changed", "closed", "reopened"):
        changes = "; ".join(f"{name} {old} → {new}" for name, (old, new) in data.get("changes", {}).items()
                            if name not in ("billing_address",))
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return f"{kind}: {changes or 'address changed'}{reason}"
    if kind == "stage":
        if data.get("kind") == "task":
            return f"task {data['stage']} {'skipped' if data.get('skipped') else 'done'}" + (
                f": {data['note']}" if data.get("note") else "")
        fee = f", fee {data['fee']} {currency}" if data.get("fee") not in (None, "0", "0.00") else ""
        deadline = f", deadline {data['deadline']}" if data.get("deadline") else ""
        return f"{data['stage']} sent{deadline}{fee}"
    if kind == "payment":
        how = f", {data['rule']} match, confidence {data['confidence']}" if data.get("rule") else ""
        applied = data.get("applied") or {}
        split = ", ".join(f"{name.replace('_', ' ')} {applied[name]}" for name in
                          ("fees", "flat_fee", "interest", "principal", "credit") if applied.get(name) not in
                          (None, "0", "0.00"))
        return (f"payment of {data['amount']} {currency} on {data.get('on')} ({data.get('source') or 'recorded'}"
                f"{how})" + (f" settles {split}" if split else "") + (f": {data['note']}" if data.get("note") else ""))
    if kind == "hold":
        until = f" until {data['until']}" if data.get("until") else " until released"
        return f"hold ({data['kind']}){until}" + (f": {data['reason']}" if data.get("reason") else "")
    if kind == "release":
        return "released" + (f": {data['reason']}" if data.get("reason") else "")
    if kind == "plan":
        parts = ", ".join(f"{i['due']} {i['amount']}" for i in data["instalments"])
        accelerates = data.get("accelerates")  # older plans do not say: the policy decides
        terms = ("" if accelerates is None else "; a missed instalment makes the rest due" if accelerates
                 else "; a missed instalment is dunned alone")
        return f"payment plan over {data.get('total')} {currency}: {parts}{terms}"
    if kind == "credit":
        return f"credit of {data['amount']} {currency}: {data.get('reason', '')}"
    if kind == "note":
        return f"note: {data['text']}"
    return kind


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


def explain(case: Case) -> dict[str, Any]:
    """The claim, its timeline and its assessment today, JSON-ready."""
    claim, shop = case.claim, case.shop
    entries = case.session.execute(select(LedgerEntry).where(col(LedgerEntry.claim_id) == claim.id)
                                   .order_by(col(LedgerEntry.id))).scalars().all()
    result = case.assess()
    rule = shop.policy.interest_rule(result.claim)
    timeline = [{"at": e.at.isoformat(), "day": local_date(e.at, shop.timezone).isoformat(), "kind": e.kind,
                 "source": e.source, "actor": e.actor or None, "what": summary(e.kind, e.data, claim.currency)}
                for e in entries]
    is_open = claim.state == ClaimState.OPEN
    kind = classification(claim, shop)
    why = kind.reason if kind.is_business == claim.is_b2b else (
        f"{'business' if claim.is_b2b else 'consumer'} until the next sync, then {kind.reason}")
    return {
        "claim": result.claim.key, "shop": shop.id, "order_id": claim.order_id, "invoice_number": claim.invoice_number,
        "invoice_date": claim.invoice_date.isoformat(), "due_date": claim.due_date.isoformat(),
        "customer": claim.customer_name, "b2b": claim.is_b2b, "b2b_reason": why,
        "customer_group": claim.customer_group or None, "currency": claim.currency,
        "gross_amount": str(claim.gross_amount), "state": claim.state, "today": result.today.isoformat(),
        "policy": shop.policy.preset, "interest_rule": rule.describe(),
        "rate_source": rule.table.source if rule.table is not None else None,
        "timeline": timeline,
        "status": result.status if is_open else claim.state,
        "reason": result.reason if is_open else f"the claim is {claim.state}: nothing more happens",
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

