"""Incoming payments into the store: every credit of a statement file or a provider poll becomes one `payments` row
waiting to be matched (sync/payments/reconcile.py), once, however often the file is imported; the entries that
cannot be read are collected as problems, with their position, and the rest is stored."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.mirror import ensure_shop
from mahnwerk.sync.store.bulk import bulk_insert, chunked, for_ids
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import IncomingPaymentRow, PaymentState, table_of

PAYMENTS = table_of(IncomingPaymentRow)
CHUNK = 2000
SEEN = for_ids(lambda among: select(PAYMENTS.c.source, PAYMENTS.c.ref).where(
    PAYMENTS.c.shop_id == bindparam("shop"), among), PAYMENTS.c.ref)


@dataclass
class Imported:
    """What one file or provider poll brought: new payments, ones seen before, entries that were not credits."""

    origin: str
    error: str = ""  # not a statement: refused as a whole
    new: int = 0
    duplicates: int = 0
    problems: list[SourceProblem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        if self.error:
            return {"origin": self.origin, "error": self.error}
        return {"origin": self.origin, "new": self.new, "duplicates": self.duplicates, "skipped": dict(self.skipped),
                "problems": [{"position": p.position, "reason": p.reason} for p in self.problems]}


def import_payments(store: Store, shop: ShopConfig, items: Iterable[IncomingPayment | SourceProblem], *,
                    origin: str, now: datetime) -> Imported:
    """Store every credit not seen before (same shop, source and reference); problems are collected, not raised."""
    ensure_shop(store, shop, now)
    result = Imported(origin)
    recent: deque[set[tuple[str, str]]] = deque(maxlen=2)
    for chunk in chunked(items, CHUNK):
        result.problems += [p for p in chunk if isinstance(p, SourceProblem)]
        rows = new_rows(store, shop, [p for p in chunk if isinstance(p, IncomingPayment)], recent, origin=origin,
                        now=now, imported=result)
        if rows:
            with store.connection() as conn:
                bulk_insert(conn, PAYMENTS, rows)
                conn.commit()
    return result


def new_rows(store: Store, shop: ShopConfig, payments: list[IncomingPayment], recent: deque[set[tuple[str, str]]],
             *, origin: str, now: datetime, imported: Imported) -> list[dict[str, Any]]:
    """Payments rows for the credits not stored before (same shop, source and reference) nor among `recent`,
    the keys of the chunks just before (this chunk's keys are added)."""
    rows = [payment_row(shop.id, p, origin, now) for p in payments]
    mine: set[tuple[str, str]] = set()
    stored: set[tuple[str, str]] = set()
    if rows:
        with store.connection() as conn:
            refs = list({row["ref"] for row in rows})
            stored = {(source, ref) for source, ref in conn.execute(SEEN(conn), {"shop": shop.id, "ids": refs})}
    new = []
    for row in rows:
        key = (row["source"], row["ref"])
        if key in stored or key in mine or any(key in chunk for chunk in recent):
            imported.duplicates += 1
        else:
            mine.add(key)
            new.append(row)
    recent.append(mine)
    imported.new += len(new)
    return new


def payment_row(shop_id: str, p: IncomingPayment, origin: str, now: datetime) -> dict[str, Any]:
    return {"shop_id": shop_id, "source": p.source, "ref": p.ref[:140], "origin": origin[:500],
            "position": p.position[:200], "account": p.account[:64], "booked_on": p.booked_on, "amount": p.amount,
            "currency": p.currency, "charges": p.charges, "original_amount": p.original_amount,
            "original_currency": p.original_currency, "payer_name": p.payer_name[:300],
            "payer_account": p.payer_account[:64], "remittance": p.remittance[:2000],
            "end_to_end_id": p.end_to_end_id[:140], "creditor_ref": p.creditor_ref[:140],
            "order_hint": p.order_hint[:64], "provider_ids": list(p.provider_ids), "state": PaymentState.UNMATCHED,
            "rule": "", "confidence": None, "reason": "", "candidates": [], "unallocated": p.amount,
            "imported_at": now, "decided_at": None, "decided_by": ""}
