"""Business or consumer for claims already mirrored: when `[policy] business_when` changes, open claims whose
orders did not change in the shop are classified again from their stored company, VAT id and customer group."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.claimdata import classification
from mahnwerk.sync.store.bulk import bulk_insert
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry, table_of

CLAIMS, LEDGER = table_of(Claim), table_of(LedgerEntry)
CHUNK = select(CLAIMS.c.id, CLAIMS.c.company, CLAIMS.c.vat_id, CLAIMS.c.customer_group, CLAIMS.c.is_b2b).where(
    CLAIMS.c.shop_id == bindparam("shop"), CLAIMS.c.state == ClaimState.OPEN, CLAIMS.c.id > bindparam("after")
).order_by(CLAIMS.c.id).limit(bindparam("size"))
SET_B2B = CLAIMS.update().where(CLAIMS.c.id == bindparam("claim_id"))


def reclassify(conn: Connection, shop: ShopConfig, *, now: datetime, chunk: int = 5000) -> int:
    """Set is_b2b anew on the shop's open claims where `business_when` now says otherwise, each with a ledger
    'changed' entry that gives the reason; returns how many changed (no commit)."""
    after, changed = 0, 0
    while rows := conn.execute(CHUNK, {"shop": shop.id, "after": after, "size": chunk}).all():
        updates: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        for row in rows:
            found = classification(row, shop)
            if found.is_business != bool(row.is_b2b):
                updates.append({"claim_id": row.id, "is_b2b": found.is_business, "updated_at": now})
                entries.append({"claim_id": row.id, "at": now, "kind": "changed", "source": "sync", "data": {
                    "changes": {"is_b2b": [bool(row.is_b2b), found.is_business]}, "reason": found.reason}})
        if updates:
            conn.execute(SET_B2B, updates)
            bulk_insert(conn, LEDGER, entries)
        changed += len(updates)
        after = rows[-1].id
    return changed
