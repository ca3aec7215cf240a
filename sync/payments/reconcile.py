"""Incoming payments into the store, matched to claims and booked: every booking is a `payment` entry in the
claim's ledger with its split (costs, interest, principal: §367 BGB), a claim paid in full closes, and the shop
learns of it through the outbox (`writeback` rows, sync/outbox/writeback.py).

Built for statements of 100,000 entries: booking goes in chunks with one query per chunk for the claims and their
ledger, and bulk inserts for what is written. sync/payments/matchrun.py runs the import and the matching around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from mahnwerk.policy.account import HALF_CENT, Balance, allocate
from mahnwerk.policy.engine import owed as owed_on  # `owed` names the split below
from mahnwerk.policy.interest import cents
from mahnwerk.policy.matching import ClosedClaim, Credit, Match, OpenClaim, Share
from mahnwerk.policy.model import ClaimFacts, Payment, Policy
from mahnwerk.policy.rates import MissingRate
from mahnwerk.sync.casework.blocked import FIX
from mahnwerk.sync.casework.casefile import facts, histories
from mahnwerk.sync.casework.planner import PLAN_COLUMNS, open_chunks
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.store.bulk import bulk_insert, chunked, execute_many, for_ids
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import (
    Claim,
    ClaimState,
    IncomingPaymentRow,
    LedgerEntry,
    OutboxRow,
    OutboxState,
    PaymentEvent,
    PaymentState,
    table_of,
)

PAYMENTS, EVENTS, CLAIMS = table_of(IncomingPaymentRow), table_of(PaymentEvent), table_of(Claim)
LEDGER, OUTBOX = table_of(LedgerEntry), table_of(OutboxRow)
CHUNK = 2000
ZERO = Decimal(0)
ACTOR = "mahnwerk"
# What matching and booking read of a claim: the policy's facts, the numbers it is known by, names, state.
CLAIM_COLUMNS = (*PLAN_COLUMNS, CLAIMS.c.invoice_number, CLAIMS.c.customer_name, CLAIMS.c.company, CLAIMS.c.state)
# What matching and booking read of a waiting payment (not its origin, JSON lists or timestamps: 100,000 rows).
MATCHING = tuple(PAYMENTS.c[name] for name in (
    "id", "source", "ref", "booked_on", "currency", "unallocated", "remittance", "end_to_end_id", "creditor_ref",
    "payer_name", "order_hint", "original_amount", "original_currency"))
# Booking locks the claims it books to (PostgreSQL; SQLite has one writer anyway): whether one is still open is
# decided by the last writer, not by what this transaction read before another one closed it.
CLAIMS_BY_ID = for_ids(lambda among: select(*CLAIM_COLUMNS).where(among).order_by(CLAIMS.c.id)
                       .with_for_update(key_share=True), CLAIMS.c.id)
# A payment naming a claim closed this long ago is no longer recognised as "already paid" (memory: a shop's
# closed claims pile up over the years; a late second payment is rare after that).
CLOSED_WITHIN = timedelta(days=400)
UPDATE_PAYMENT = (update(PAYMENTS).where(PAYMENTS.c.id == bindparam("payment_id"))
                  .values(state=bindparam("state"), rule=bindparam("rule"), confidence=bindparam("confidence"),
                          reason=bindparam("reason"), candidates=bindparam("candidates"),
                          unallocated=bindparam("unallocated"), decided_at=bindparam("decided_at"),
                          decided_by=bindparam("decided_by")))
# The same for a payment stored earlier that matching sends to a person: only while it still waits with the amount
# matching saw. A payment booked meanwhile (in full: matched; in part: review with less unallocated) is left as it
# is, or it would go back to unmatched with its full amount and be booked again.
UPDATE_WAITING = UPDATE_PAYMENT.where(  # no IN (...): an expanding parameter cannot go to executemany()
    (PAYMENTS.c.state == PaymentState.UNMATCHED) | (PAYMENTS.c.state == PaymentState.REVIEW),
    PAYMENTS.c.unallocated == bindparam("unallocated"))
# Booking takes the payments it books first: the rows stay locked to this transaction (PostgreSQL), and one that
# no longer waits, or holds another amount than matching saw, is left to whoever changed it.
TAKE_WAITING = for_ids(lambda among: update(PAYMENTS).where(among, PAYMENTS.c.state.in_(PaymentState.WAITING))
                       .values(decided_at=bindparam("now")).returning(PAYMENTS.c.id, PAYMENTS.c.unallocated),
                       PAYMENTS.c.id)
# One statement for all the claims a chunk closes (per row, PostgreSQL would plan each of 2,000 updates).
CLOSE_CLAIMS = for_ids(lambda among: update(CLAIMS).where(among).values(
    state=ClaimState.PAID, settled_at=bindparam("now"), closed_at=bindparam("now"), updated_at=bindparam("now")),
    CLAIMS.c.id)


@dataclass
class Reconciled:
    """What matching did with the waiting payments of one shop."""

    shop: str
    booked: int = 0  # payments booked to claims
    closed: int = 0  # claims paid in full
    partial: int = 0  # claims paid in part
    credit: int = 0  # claims paid beyond what they owed
    review: int = 0  # a guess a person must confirm
    unmatched: int = 0
    lost: int = 0  # decided by another process while this one matched (nothing done twice)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, slots=True)
class Booking:
    """A decision to book one payment: the shares per claim and how it was decided."""

    payment: Any  # a payments row
    shares: tuple[Share, ...]
    rule: str
    confidence: Decimal
    reason: str
    candidates: tuple[int, ...] = ()
    whole: bool = False  # a person converted it: the shares, in their claims' currency, use up the whole payment


def balance(claim: ClaimFacts, history: list, day: date, policy: Policy) -> Balance | None:
    """What the claim owes on `day`, None when a base rate is missing (then only its principal is known)."""
    try:
        return owed_on(claim, history, day, policy)
    except MissingRate:
        return None


# --- matching ----------------------------------------------------------------------------------------------------


def open_claims(store: Store, shop: ShopConfig, today: date, *, chunk: int = 5000) -> Iterator[OpenClaim]:
    """The shop's open claims as matching sees them, streamed. A claim with notices or payments in its ledger owes
    what the policy says today (what the last notice asked for, with fees and interest); one without owes its
    invoice's open amount, the only figure its customer has seen. Both amounts are looked for."""
    for rows, events in open_chunks(store, shop, columns=CLAIM_COLUMNS, chunk=chunk):
        for row in rows:
            yield open_claim(row, owed_today(row, events[row[0]], today, shop) if row[0] in events else None)


def owed_today(row: Any, events: list, today: date, shop: ShopConfig) -> Decimal | None:
    """What a claim (a row with CLAIM_COLUMNS) with notices or payments in its ledger owes today, None when the
    policy cannot say (a base rate missing)."""
    found = balance(facts(row), events, today, shop.policy)
    return cents(found.total) if found is not None else None


def open_claim(row: Any, owed: Decimal | None) -> OpenClaim:
    """A claims row (CLAIM_COLUMNS) as matching sees it: owing `owed` (`owed_today`), or its invoice's open amount."""
    # Unpacked in CLAIM_COLUMNS' order: 100,000 rows, and a Row's attributes cost more than its items.
    id_, _, order_id, order_number, currency, amount, invoiced, _, _, _, invoice_number, name, company, _ = row[:14]
    return OpenClaim(id_, invoice_number, order_number, order_id, currency, amount if owed is None else owed,
                     (name, company), invoiced, also=(amount,))


def closed_claims(store: Store, shop: ShopConfig, today: date) -> Iterator[ClosedClaim]:
    """The shop's claims closed in the last CLOSED_WITHIN (or at an unknown time), in id order: a payment naming one
    is money for a person to refund or assign."""
    with store.connection() as conn:
        rows = conn.execute(select(CLAIMS.c.id, CLAIMS.c.invoice_number, CLAIMS.c.order_number, CLAIMS.c.order_id,
                                   CLAIMS.c.state).where(
            CLAIMS.c.shop_id == shop.id, CLAIMS.c.state.in_(ClaimState.CLOSED),
            CLAIMS.c.closed_at.is_(None) | (CLAIMS.c.closed_at >= closed_since(shop, today))).order_by(CLAIMS.c.id))
        for row in rows:
            yield ClosedClaim(*row)


def closed_since(shop: ShopConfig, today: date) -> datetime:
    """Claims closed before this are no longer recognised as "already paid" (CLOSED_WITHIN)."""
    return datetime.combine(today - CLOSED_WITHIN, datetime.min.time(), tzinfo=shop.timezone)


def credit_of(row: Mapping[str, Any]) -> Credit:
    """A payments row (stored, or about to be) as matching sees it; the end-to-end id and structured reference
    count as text too."""
    # An ISO 11649 reference is "RF" + two check digits + the creditor's own reference: the number we printed.
    structured = row["creditor_ref"].replace(" ", "")
    rf = structured[4:] if re.fullmatch(r"RF\d\d\w+", structured) else ""
    # Fields are kept apart by a blank line: only the lines of one field may be a number the bank cut in two.
    text = "\n\n".join(t for t in (row["remittance"], row["end_to_end_id"], rf or row["creditor_ref"]) if t)
    return Credit(row["unallocated"], row["currency"], row["booked_on"], text, row["payer_name"], row["order_hint"],
                  row["original_amount"], row["original_currency"])


def wait_update(payment_id: int | None, unallocated: Decimal, match: Match | None) -> dict[str, Any]:
    """A payment no rule is sure of: review when there is a guess, else it stays unmatched."""
    state = PaymentState.REVIEW if match is not None else PaymentState.UNMATCHED
    reason = (f"{match.reason} (confidence {match.confidence}, below the shop's threshold)" if match and match.shares
              else match.reason if match else "no claim names this payment's reference, order or amount")
    return {"payment_id": payment_id, "state": state, "rule": match.rule if match else "",
            "confidence": match.confidence if match else None, "reason": reason[:500],
            "candidates": list(match.candidates) if match else [], "unallocated": unallocated,
            "decided_at": None, "decided_by": ""}


# --- booking -----------------------------------------------------------------------------------------------------


def book(conn: Connection, shop: ShopConfig, bookings: list[Booking], *, today: date, now: datetime, actor: str,
         result: Reconciled, stored: Set[int] = frozenset(), source: str = "payments") -> None:
    """Write the bookings: ledger entries with the §367 split, closed claims, write-back rows, payment states
    (`stored`: payments whose row was written as booked in full already; only a share not booked changes it).
    A share is not booked when its claim is no longer open (the money waits for a person to refund or assign it),
    is in another currency than the payment (unless a person converted it: `whole`), or is not a positive amount
    within what the payment has left; the payment then goes to review saying why. `source`: where the ledger says
    the bookings came from (a person in the web console: "web")."""
    bookings = still_waiting(conn, bookings, stored, now=now, result=result)
    if not bookings:
        return
    claim_ids = list({share.claim_id for b in bookings for share in b.shares})
    claims = {row.id: row for row in conn.execute(CLAIMS_BY_ID(conn), {"ids": claim_ids})}
    events = histories(conn, claim_ids, shop.timezone)
    ledger, outbox, payment_events, payments = [], [], [], []
    closing: dict[int, None] = {}  # in order
    for booking in bookings:
        p = booking.payment
        booked, used, refused = ZERO, False, []  # booked: in the payment's currency
        for share in booking.shares:
            claim = claims[share.claim_id]
            foreign = claim.currency != p.currency
            if claim.state != ClaimState.OPEN or claim.id in closing:  # closed meanwhile, or by this very run
                state = ClaimState.PAID if claim.id in closing else claim.state
                refused.append(f"{claim.invoice_number} is no longer open ({state}): already paid: refund or assign")
                continue
            if foreign and not booking.whole:
                refused.append(f"{claim.invoice_number} is in {claim.currency}, the payment in {p.currency}: a person "
                               f"books it with the amount in {claim.currency}")
                continue
            rest = p.unallocated - booked  # of the payment, before this share: also tells its write-back apart
            amount = share.amount if foreign else min(share.amount, rest)
            if amount <= 0:  # never book nothing or a negative amount: it would raise what the claim owes
                continue
            history = events.setdefault(claim.id, [])
            before = balance(facts(claim), history, p.booked_on, shop.policy)
            # No base rate: the split knows the costs and the principal, not the interest (the note says so).
            basis = before or owed_on(facts(claim), history, p.booked_on, shop.policy, interest=False)
            owed = (basis.fees, basis.flat_fee, basis.interest, basis.principal)
            (fees, flat, interest, principal), surplus = allocate(amount, owed)
            applied = {"fees": owed[0] - fees, "flat_fee": owed[1] - flat, "interest": owed[2] - interest,
                       "principal": owed[3] - principal, "credit": surplus}
            history.append(Payment(p.booked_on, amount, p.source))
            ledger.append({"claim_id": claim.id, "at": now, "kind": "payment", "source": source, "actor": actor,
                           "data": {"amount": str(amount), "currency": claim.currency,
                                    "on": p.booked_on.isoformat(), "source": p.source, "payment": p.id,
                                    "reference": p.ref, "rule": booking.rule, "confidence": str(booking.confidence),
                                    "applied": {k: str(cents(v)) for k, v in applied.items()}}})
            booked += ZERO if foreign else amount
            used = True
            left_owing = fees + flat + interest + principal
            unknown = before is None  # no base rate: the split above left interest out
            if any(e.on > p.booked_on for e in history):  # later notices or payments: ask the policy for today
                after = balance(facts(claim), history, today, shop.policy)
                settled = after is not None and after.settled
                unknown = after is None
                known = after or owed_on(facts(claim), history, today, shop.policy, interest=False)
                left_owing, surplus = known.total, known.credit
            else:  # nothing after the payment: what the split leaves is what is owed
                settled = before is not None and left_owing < HALF_CENT
            words = f"{cents(amount):,.2f} {claim.currency} by {p.source} ({p.ref}, {p.booked_on})"
            if settled:
                closing[claim.id] = None
                credit = cents(surplus)
                ledger.append({"claim_id": claim.id, "at": now, "kind": "closed", "source": source,
                               "actor": actor, "data": {"changes": {"state": [ClaimState.OPEN, ClaimState.PAID]},
                                                        "reason": f"paid in full: {words}"}})
                if credit > 0:
                    result.credit += 1
                    ledger.append({"claim_id": claim.id, "at": now, "kind": "credit", "source": source,
                                   "actor": actor, "data": {"amount": str(credit), "currency": claim.currency,
                                                            "reason": "paid beyond what was owed"}})
                result.closed += 1
                note = f"Mahnwerk: paid in full, {words}." + (
                    f" Credit: {credit:,.2f} {claim.currency}." if credit > 0 else "")
                outbox.append(writeback_row(shop, claim, "paid", p.id, rest, note, today, now, paid="full"))
            else:
                result.partial += 1
                # Without a base rate the figure leaves interest out: say so rather than pass it off as everything.
                still = f"{cents(left_owing):,.2f} {claim.currency}" + (
                    " without interest; interest not yet computable: a base rate is missing "
                    f"(`{FIX}`)" if unknown else "")
                outbox.append(writeback_row(shop, claim, "part_paid", p.id, rest, f"Mahnwerk: payment of {words}; "
                                            f"still open: {still}.", today, now, paid="part"))
        if booking.whole and used:
            booked = p.unallocated
        result.booked += used
        result.review += bool(refused)
        why = "; ".join(refused)
        if p.id not in stored or booked != sum(share.amount for share in booking.shares):
            payments.append(decided(p.id, p.unallocated, p.currency, booking, booked, now=now, actor=actor, why=why))
        if refused:
            payment_events.append({"payment_id": p.id, "at": now, "kind": PaymentState.REVIEW, "actor": actor,
                                   "data": {"reason": why[:500], "candidates": [s.claim_id for s in booking.shares]}})
        if booking.rule == "manual" and used:  # automatic bookings are on the payment row and in each claim's ledger
            payment_events.append({"payment_id": p.id, "at": now, "kind": "assigned", "actor": actor,
                                   "data": {"shares": [{"claim": s.claim_id, "amount": str(s.amount)}
                                                       for s in booking.shares], "source": source}})
    if closing:
        for ids in chunked(closing, 10_000):  # SQLite takes at most 32,766 parameters
            conn.execute(CLOSE_CLAIMS(conn), {"ids": ids, "now": now})
    execute_many(conn, UPDATE_PAYMENT, payments)  # taken by still_waiting, or inserted in this transaction
    bulk_insert(conn, LEDGER, ledger)
    bulk_insert(conn, OUTBOX, outbox)
    bulk_insert(conn, EVENTS, payment_events)


def still_waiting(conn: Connection, bookings: list[Booking], stored: Set[int], *, now: datetime,
                  result: Reconciled) -> list[Booking]:
    """The bookings whose payment still waits with the amount matching saw (`stored`: inserted in this transaction,
    so nobody else has them); the others were decided by another process meanwhile and are left as they are."""
    earlier = {b.payment.id: b.payment.unallocated for b in bookings if b.payment.id not in stored}
    if not earlier:
        return bookings
    taken: dict[int, Decimal] = {}
    for ids in chunked(earlier, 10_000):
        taken.update((id_, amount) for id_, amount in conn.execute(TAKE_WAITING(conn), {"ids": ids, "now": now}))
    kept = [b for b in bookings if b.payment.id in stored or taken.get(b.payment.id) == b.payment.unallocated]
    result.lost += len(bookings) - len(kept)
    return kept


def decided(payment_id: int | None, unallocated: Decimal, currency: str, how: Booking | Match, booked: Decimal, *,
            now: datetime, actor: str, why: str = "") -> dict[str, Any]:
    """A booked payment's row: matched, or in review with what no claim took (`why`: what was refused)."""
    left = unallocated - booked
    reason = how.reason if not left else f"{how.reason}; {why + '; ' if why else ''}{left} {currency} not booked yet"
    return {"payment_id": payment_id, "state": PaymentState.REVIEW if left else PaymentState.MATCHED,
            "rule": how.rule, "confidence": how.confidence, "reason": reason[:500],
            "candidates": list(how.candidates), "unallocated": left, "decided_at": now, "decided_by": actor}


def writeback_row(shop: ShopConfig, claim: Any, stage: str, payment_id: int, rest: Decimal, note: str, today: date,
                  now: datetime, *, paid: str) -> dict[str, Any]:
    """An outbox row that tells the shop: a private note, and the paid state ("full" or "part"). Its key names the
    payment and what it had left before this booking (`rest`): a second part of one payment booked to the same
    claim is a second row, and the same booking tried again (its transaction rolled back) the same key."""
    return {"key": f"{shop.id}/{claim.order_id}/{stage}/p{payment_id}@{rest}", "shop_id": shop.id, "claim_id": claim.id,
            "kind": "writeback", "stage": stage, "channel": "shop", "planned_on": today,
            "state": OutboxState.PENDING, "attempts": 0, "next_attempt_at": now, "last_error": "",
            "payload": {"note": note, "paid": paid, "payment": payment_id}, "reference": "",
            "created_at": now, "updated_at": now, "done_at": None}
