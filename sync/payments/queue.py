"""The payments a person works off, the same for `mahnwerk payments unmatched|assign|ignore` and the web console:
the queue (no claim found, or a guess below the shop's threshold) with the suggested claims and why, booking a
payment or a part of it to a claim by hand, taking one out of the queue with a reason, and finding booked ones."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Connection, Numeric, String, cast, func, or_, select, update

from mahnwerk.policy.matching import Share
from mahnwerk.sync.casework.acting import ActionRefused
from mahnwerk.sync.casework.case import open_case, parse_claim_ref, require_open
from mahnwerk.sync.config import Config
from mahnwerk.sync.payments.reconcile import CLAIMS, LEDGER, PAYMENTS, ZERO, Booking, Reconciled, book
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.locks import shop_lock
from mahnwerk.sync.store.models import IncomingPaymentRow, PaymentEvent, PaymentState


def waiting_payments(store: Store, shop_ids: Sequence[str], *, details: bool = False,
                     limit: int | None = None) -> list[dict[str, Any]]:
    """The shops' payments waiting for a person, oldest first (the first `limit`), each with its suggested claims
    (SHOP:ORDER) and why it waits; `details` adds `suggested`: each suggested claim's customer, open amount,
    currency and state."""
    with store.connection() as conn:
        rows = conn.execute(select(PAYMENTS).where(*waiting(shop_ids)).order_by(
            PAYMENTS.c.booked_on, PAYMENTS.c.id).limit(limit)).all()
        suggested = {c for r in rows for c in r.candidates}
        keys = claim_keys(conn, suggested)
        claims = {c.id: c for c in conn.execute(select(
            CLAIMS.c.id, CLAIMS.c.customer_name, CLAIMS.c.open_amount, CLAIMS.c.currency, CLAIMS.c.state).where(
            CLAIMS.c.id.in_(suggested)))} if details and suggested else {}
    queue = [payment_dict(r, keys) for r in rows]
    if details:
        for entry, row in zip(queue, rows, strict=True):
            entry["suggested"] = [{"claim": keys[c], "customer": claims[c].customer_name,
                                   "open_amount": claims[c].open_amount, "currency": claims[c].currency,
                                   "state": claims[c].state} for c in row.candidates if c in claims]
    return queue


def waiting(shop_ids: Sequence[str]) -> tuple[ColumnElement[bool], ...]:
    """The WHERE conditions of the shops' waiting payments."""
    return PAYMENTS.c.shop_id.in_(shop_ids), PAYMENTS.c.state.in_(PaymentState.WAITING)


def count_waiting(store: Store, shop_ids: Sequence[str]) -> int:
    """How many of the shops' payments wait for a person."""
    with store.connection() as conn:
        return int(conn.execute(select(func.count()).select_from(PAYMENTS).where(*waiting(shop_ids))).scalar_one())


def claim_keys(conn: Connection, claim_ids: set[int]) -> dict[int, str]:
    """SHOP:ORDER for each claim id."""
    if not claim_ids:
        return {}
    return dict(conn.execute(select(CLAIMS.c.id, CLAIMS.c.shop_id + ":" + CLAIMS.c.order_number).where(
        CLAIMS.c.id.in_(claim_ids))).all())


def payment_dict(row: Any, keys: dict[int, str]) -> dict[str, Any]:
    """A payments row as `payments unmatched --json` prints it; `candidates` as SHOP:ORDER."""
    return {"id": row.id, "shop": row.shop_id, "source": row.source, "ref": row.ref, "booked_on":
            row.booked_on.isoformat(), "amount": str(row.amount), "unallocated": str(row.unallocated),
            "currency": row.currency, "payer_name": row.payer_name, "payer_account": row.payer_account,
            "remittance": row.remittance, "state": row.state, "rule": row.rule,
            "confidence": str(row.confidence) if row.confidence is not None else None, "reason": row.reason,
            "candidates": [keys[c] for c in row.candidates if c in keys], "origin": row.origin,
            "position": row.position}


@dataclass(frozen=True, slots=True)
class Assigned:
    """What a booking by hand did: `share` in the claim's currency; `left` of the payment still waits."""

    payment_id: int
    claim: str
    share: Decimal
    currency: str
    closed: bool
    left: Decimal
    payment_currency: str


def assign_payment(store: Store, config: Config, payment_id: int, ref: str, amount: Decimal | None, *, by: str,
                   source: str, now: datetime, command: str, wait: float = 30.0) -> Assigned:
    """Book a waiting payment (or `amount` of it) to the claim `ref` under the shop's lock; the ledger names `by`
    and `source`. A payment in another currency than the claim's needs `amount` in the claim's currency and is
    then used up whole. ActionRefused (or CaseError for the claim) when it cannot be booked as asked."""
    with shop_lock(store, parse_claim_ref(ref)[0], command=command, wait=wait), store.session() as session:
        conn = session.connection()
        payment = waiting_payment(conn, payment_id)
        case = open_case(session, config, ref, actor=by, now=now)
        require_open(case)
        shop, target = case.shop, case.claim
        if shop.id != payment.shop_id:
            raise ActionRefused(f"payment {payment_id} belongs to shop {payment.shop_id}, {ref} to {shop.id}",
                                code="payment_other_shop", id=payment_id, shop=payment.shop_id, claim=ref)
        converted = target.currency != payment.currency
        if payment.unallocated <= 0:  # never book nothing or a negative amount (it would raise the claim)
            raise ActionRefused(f"payment {payment_id} has nothing left to book", code="payment_used_up",
                                id=payment_id)
        if converted and amount is None:
            raise ActionRefused(
                f"{ref} is in {target.currency}, payment {payment_id} in {payment.currency}: say what the "
                f"payment is worth in {target.currency} with --amount (the whole payment is booked)",
                code="payment_needs_amount", id=payment_id, claim=ref, currency=target.currency)
        share = amount or payment.unallocated
        if share > payment.unallocated and not converted:
            raise ActionRefused(f"must be at most the {payment.unallocated} {payment.currency} not yet booked",
                                param="--amount", code="payment_too_much", left=payment.unallocated,
                                currency=payment.currency)
        result = Reconciled(shop.id)
        how = f"assigned by {by}" + (f" as {share} {target.currency}" if converted else "")
        book(conn, shop, [Booking(payment, (Share(case.claim_id, share),), "manual", Decimal(1), how,
                                  whole=converted)], today=case.today, now=now, actor=by, result=result,
             source=source)
        if not result.booked:  # the payment or the claim changed meanwhile: a lost race changes nothing
            raise ActionRefused(f"payment {payment_id} or {ref} changed meanwhile, nothing booked (see "
                                "mahnwerk payments unmatched)", code="payment_changed", id=payment_id, claim=ref)
        session.commit()
    return Assigned(payment_id, ref, share, target.currency, bool(result.closed),
                    ZERO if converted else payment.unallocated - share, payment.currency)


def ignore_payment(store: Store, payment_id: int, reason: str, *, by: str, source: str, now: datetime,
                   command: str, wait: float = 30.0) -> None:
    """Take a waiting payment out of the queue for good (not a customer's: a refund from a supplier, a transfer),
    with the reason; ActionRefused without a reason or when it no longer waits."""
    if not reason.strip():
        raise ActionRefused("say why", param="--reason", code="reason_missing")
    with store.session() as session:
        found = session.get(IncomingPaymentRow, payment_id)
        shop_id = found.shop_id if found is not None else ""
    with shop_lock(store, shop_id, command=command, wait=wait), store.session() as session:
        # Only while it waits, in one statement: a payment booked meanwhile stays booked.
        taken = session.execute(update(PAYMENTS).where(
            PAYMENTS.c.id == payment_id, PAYMENTS.c.state.in_(PaymentState.WAITING)).values(
            state=PaymentState.IGNORED, reason=reason[:500], decided_at=now, decided_by=by)
            .returning(PAYMENTS.c.id)).first()
        if taken is None:
            raise ActionRefused(f"payment {payment_id} is not waiting (see mahnwerk payments unmatched)",
                                code="payment_not_waiting", id=payment_id)
        session.add(PaymentEvent(payment_id=payment_id, at=now, kind="ignored", actor=by,
                                 data={"reason": reason, "source": source}))
        session.commit()


def waiting_payment(conn: Connection, payment_id: int) -> Any:
    """The payments row, if it still waits; else ActionRefused."""
    row = conn.execute(select(PAYMENTS).where(PAYMENTS.c.id == payment_id)).first()
    if row is None or row.state not in PaymentState.WAITING:
        raise ActionRefused(f"payment {payment_id} is not waiting (see mahnwerk payments unmatched)",
                            code="payment_not_waiting", id=payment_id)
    return row


def booked_payments(store: Store, shop_ids: Sequence[str], search: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Payments booked to claims (in full or in part), newest first, whose payer, text, reference or amount holds
    `search`; each with the claims it was booked to (`booked_to`: SHOP:ORDER, amount, the claim's currency)."""
    # Money is text in SQLite: compared as numbers, not letter by letter ("95.00" < "100.00").
    amount, unallocated = cast(PAYMENTS.c.amount, Numeric), cast(PAYMENTS.c.unallocated, Numeric)
    query = select(PAYMENTS).where(PAYMENTS.c.shop_id.in_(shop_ids), PAYMENTS.c.state.in_(
        (PaymentState.MATCHED, PaymentState.REVIEW)), unallocated < amount)
    if words := search.strip():
        like = f"%{words.replace('%', '').replace('_', '')}%"
        wanted: list[ColumnElement[bool]] = [
            PAYMENTS.c.payer_name.ilike(like), PAYMENTS.c.remittance.ilike(like), PAYMENTS.c.ref.ilike(like),
            cast(PAYMENTS.c.amount, String).like(like)]
        with suppress(InvalidOperation):  # an amount typed with a comma finds the payment of that amount too
            wanted.append(amount == Decimal(words.replace(",", ".")))
        query = query.where(or_(*wanted))
    with store.connection() as conn:
        rows = conn.execute(query.order_by(PAYMENTS.c.booked_on.desc(), PAYMENTS.c.id.desc()).limit(limit)).all()
        shares = booked_shares(conn, rows)
        keys = claim_keys(conn, {claim for found in shares.values() for claim, _, _ in found})
    return [payment_dict(r, {}) | {"booked_to": [(keys.get(c, "?"), a, cur) for c, a, cur in shares.get(r.id, [])]}
            for r in rows]


def booked_shares(conn: Connection, rows: Sequence[Any]) -> dict[int, list[tuple[int, str, str]]]:
    """(claim id, amount, currency) of each payment's bookings, from the claims' ledgers (written after the import)."""
    if not rows:
        return {}
    ids = {r.id for r in rows}
    found: dict[int, list[tuple[int, str, str]]] = {}
    entries = conn.execute(select(LEDGER.c.claim_id, LEDGER.c.data).where(
        LEDGER.c.kind == "payment", LEDGER.c.at >= min(r.imported_at for r in rows),
        LEDGER.c.claim_id.in_(select(CLAIMS.c.id).where(CLAIMS.c.shop_id.in_({r.shop_id for r in rows})))))
    for claim_id, data in entries:
        if data.get("payment") in ids:
            found.setdefault(data["payment"], []).append((claim_id, data["amount"], data["currency"]))
    return found
