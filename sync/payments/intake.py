"""Incoming payments into the store: every credit of a statement file or a provider poll becomes one `payments` row
waiting to be matched (sync/payments/reconcile.py), once, however often the file is imported and whichever of the
bank's reports carries it (camt.052, camt.053, MT940: one `booking`); the entries that cannot be read or stored are
collected as problems, with their position, and the rest is stored."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from mahnwerk.connectors.payment_records import PROVISIONAL, IncomingPayment, SourceProblem
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.mirror import ensure_shop
from mahnwerk.sync.store.bulk import bulk_insert, chunked, execute_many, for_ids
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import IncomingPaymentRow, PaymentEvent, PaymentState, table_of

PAYMENTS = table_of(IncomingPaymentRow)
EVENTS = table_of(PaymentEvent)
CHUNK = 2000
SEEN = for_ids(lambda among: select(PAYMENTS.c.id, PAYMENTS.c.booking, PAYMENTS.c.source).where(
    PAYMENTS.c.shop_id == bindparam("shop"), among), PAYMENTS.c.booking)
CONFIRM = update(PAYMENTS).where(PAYMENTS.c.id == bindparam("payment_id")).values(
    source=bindparam("new_source"), ref=bindparam("new_ref"), origin=bindparam("new_origin"),
    position=bindparam("new_position"))
# The Money column (sync/store/coltypes.py) is NUMERIC(20, 6) on PostgreSQL: 14 digits before the point, 6 after.
MONEY_PLACES = 6
MONEY_LIMIT = Decimal(10) ** (20 - MONEY_PLACES)
ACTOR = "import"


@dataclass
class Imported:
    """What one file or provider poll brought: new payments, ones a statement confirmed (stored from an intraday
    report before), ones seen before, entries that were not credits."""

    origin: str
    error: str = ""  # not a statement, or it could not be stored: refused as a whole
    new: int = 0
    confirmed: int = 0
    duplicates: int = 0
    problems: list[SourceProblem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        if self.error:
            return {"origin": self.origin, "error": self.error}
        return {"origin": self.origin, "new": self.new, "confirmed": self.confirmed, "duplicates": self.duplicates,
                "skipped": dict(self.skipped),
                "problems": [{"position": p.position, "reason": p.reason} for p in self.problems]}


def import_payments(store: Store, shop: ShopConfig, items: Iterable[IncomingPayment | SourceProblem], *,
                    origin: str, now: datetime) -> Imported:
    """Store every credit not seen before (same shop and booking); problems are collected, not raised."""
    ensure_shop(store, shop, now)
    result = Imported(origin)
    recent: deque[set[Any]] = deque(maxlen=2)
    for chunk in chunked(items, CHUNK):
        result.problems += [p for p in chunk if isinstance(p, SourceProblem)]
        rows = new_rows(store, shop, [p for p in chunk if isinstance(p, IncomingPayment)], recent, origin=origin,
                        now=now, imported=result)
        if rows:
            with store.connection() as conn:
                bulk_insert(conn, PAYMENTS, rows)
                conn.commit()
    return result


def new_rows(store: Store, shop: ShopConfig, payments: list[IncomingPayment], recent: deque[set[Any]],
             *, origin: str, now: datetime, imported: Imported) -> list[dict[str, Any]]:
    """Payments rows to match and store: the credits whose booking is neither stored nor among `recent`, the
    bookings of the chunks just before (this chunk's are added). On the way, in the store: an intraday report's
    row that a statement confirms takes the statement's source and position; a credit above the shop's sanity
    limit is stored for review, not matched. A credit whose amount the store cannot hold is a problem."""
    rows = []
    for p in payments:
        if not all(storable(a) for a in (p.amount, p.charges, p.original_amount) if a is not None):
            imported.problems.append(SourceProblem(p.position, f"the amount {str(p.amount)[:24]} cannot be stored "
                                                   "(at most 14 digits before the point and 6 after)"))
        else:
            rows.append(payment_row(shop.id, p, origin, now, limit=shop.payments.max_amount))
    stored: dict[str, tuple[int, str]] = {}
    if rows:
        with store.connection() as conn:
            found = conn.execute(SEEN(conn), {"shop": shop.id, "ids": list({row["booking"] for row in rows})})
            stored = {booking: (id_, source) for id_, booking, source in found}
    mine: set[str] = set()
    new: list[dict[str, Any]] = []
    confirms: list[dict[str, Any]] = []
    aside: list[dict[str, Any]] = []
    for row in rows:
        key = row["booking"]
        if key in mine or any(key in chunk for chunk in recent):
            imported.duplicates += 1
        elif key in stored:
            id_, source = stored[key]
            if source in PROVISIONAL and row["source"] not in PROVISIONAL:
                confirms.append({"payment_id": id_, "new_source": row["source"], "new_ref": row["ref"],
                                 "new_origin": row["origin"], "new_position": row["position"], "was": source})
                stored[key] = (id_, row["source"])
            else:
                imported.duplicates += 1
        else:
            mine.add(key)
            (aside if row["state"] == PaymentState.REVIEW else new).append(row)
    recent.append(mine)
    if confirms or aside:
        with store.connection() as conn:
            execute_many(conn, CONFIRM, [{k: v for k, v in c.items() if k != "was"} for c in confirms])
            if aside:  # stored here, never matched: a person looks at an absurd amount first
                bulk_insert(conn, PAYMENTS, aside)
            bulk_insert(conn, EVENTS, history(conn, shop, confirms, aside, now))
            conn.commit()
    imported.new += len(new) + len(aside)
    imported.confirmed += len(confirms)
    return new


def history(conn: Connection, shop: ShopConfig, confirms: list[dict[str, Any]], aside: list[dict[str, Any]],
            now: datetime) -> list[dict[str, Any]]:
    """The payments' events: confirmed by a statement, sent to review for the sanity limit."""
    events = [{"payment_id": c["payment_id"], "at": now, "kind": "confirmed", "actor": ACTOR,
               "data": {"by": c["new_source"], "was": c["was"], "position": c["new_position"]}} for c in confirms]
    if aside:
        events += [{"payment_id": id_, "at": now, "kind": PaymentState.REVIEW, "actor": ACTOR,
                    "data": {"reason": reason, "candidates": []}} for id_, reason in conn.execute(
            select(PAYMENTS.c.id, PAYMENTS.c.reason).where(
                PAYMENTS.c.shop_id == shop.id, PAYMENTS.c.booking.in_([row["booking"] for row in aside])))]
    return events


def storable(amount: Decimal) -> bool:
    """Whether the store's Money column holds `amount` exactly."""
    return amount.is_finite() and abs(amount) < MONEY_LIMIT and amount == round(amount, MONEY_PLACES)


def payment_row(shop_id: str, p: IncomingPayment, origin: str, now: datetime, *, limit: Decimal | None = None
                ) -> dict[str, Any]:
    """The payments row of a credit; above `limit` (the sanity limit) it waits for review instead of matching."""
    absurd = limit is not None and p.amount > limit
    return {"shop_id": shop_id, "source": p.source, "ref": p.ref[:140], "booking": p.booking, "origin": origin[:500],
            "position": p.position[:200], "account": p.account[:64], "booked_on": p.booked_on, "amount": p.amount,
            "currency": p.currency, "charges": p.charges, "original_amount": p.original_amount,
            "original_currency": p.original_currency, "payer_name": p.payer_name[:300],
            "payer_account": p.payer_account[:64], "remittance": p.remittance[:2000],
            "end_to_end_id": p.end_to_end_id[:140], "creditor_ref": p.creditor_ref[:140],
            "order_hint": p.order_hint[:64], "provider_ids": list(p.provider_ids),
            "state": PaymentState.REVIEW if absurd else PaymentState.UNMATCHED, "rule": "", "confidence": None,
            "reason": f"above the sanity limit of {limit} (payments.max_amount): check it before booking" if absurd
            else "", "candidates": [], "unallocated": p.amount, "imported_at": now, "decided_at": None,
            "decided_by": ""}
