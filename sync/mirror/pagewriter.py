"""Writes one page of shop orders into claims, ledger, quarantine and cursor, on one connection and transaction.

Core statements, not ORM objects: a backfill writes 100,000 claims and the ORM's per-object bookkeeping would
cost more than fetching them. Only the rows that changed are written; a re-seen order costs one SELECT row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.sql.expression import bindparam

from mahnwerk.connectors.records import Page, Rejected, ShopOrder
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.claimdata import changes, claim_fields, claim_state, is_new_claim
from mahnwerk.sync.store.bulk import bulk_insert, for_ids, insert_new
from mahnwerk.sync.store.models import (
    Claim,
    ClaimState,
    LedgerEntry,
    OutboxRow,
    OutboxState,
    Quarantine,
    Task,
    table_of,
)

CLAIMS, LEDGER = table_of(Claim), table_of(LedgerEntry)
QUARANTINE, TASKS = table_of(Quarantine), table_of(Task)
CONFIRM_AMOUNT = "confirm_amount"  # the task for an order the shop calls part-paid without saying how much
OUTBOX = table_of(OutboxRow)
# Built once: constructing a statement and its cache key on every page costs more than running it.
UPDATE_CLAIM = update(CLAIMS).where(CLAIMS.c.id == bindparam("claim_id"))
# `= ANY(:ids)` on PostgreSQL: one text for any number of ids, which psycopg parses once and prepares.
KNOWN_CLAIMS = for_ids(lambda among: select(CLAIMS).where(CLAIMS.c.shop_id == bindparam("shop"), among),
                       CLAIMS.c.order_id)


@dataclass
class PageResult:
    """What writing one page did."""

    new: int = 0
    updated: int = 0
    closed: int = 0
    quarantined: set[str] = field(default_factory=set)


class PageWriter:
    """Applies pages of one shop's orders; `unresolved` is the shop's open quarantine, kept current."""

    def __init__(self, shop: ShopConfig, *, now: datetime, unresolved: set[str]) -> None:
        self.shop, self.now, self.unresolved = shop, now, unresolved

    def apply(self, conn: Connection, page: Page[ShopOrder]) -> PageResult:
        """Upsert the page's orders, close claims of missing orders, quarantine bad records (no commit)."""
        ids = [o.order_id for o in page.records] + [r.record_id for r in page.rejected] + page.missing
        known = self._known(conn, ids)
        result = self._upsert(conn, page.records, known)
        self._flag_part_paid(conn, [o.order_id for o in page.records if o.part_paid])
        result.closed += self._mark_deleted(conn, [known[i] for i in page.missing if i in known])
        result.quarantined = self._quarantine(conn, page.rejected, known)
        self._resolve_quarantine(conn, [o.order_id for o in page.records])
        return result

    def _known(self, conn: Connection, order_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not order_ids:
            return {}
        rows = conn.execute(KNOWN_CLAIMS(conn), {"shop": self.shop.id, "ids": order_ids})
        return {row.order_id: row._asdict() for row in rows}

    def _upsert(self, conn: Connection, orders: list[ShopOrder], known: dict[str, dict[str, Any]]) -> PageResult:
        result, inserts, updates, entries = PageResult(), [], [], []
        agency_updates: list[dict[str, Any]] = []
        for order in {o.order_id: o for o in orders}.values():  # a page may repeat an id; the last one wins
            old = known.get(order.order_id)
            if old is None:
                if is_new_claim(order, self.shop):
                    inserts.append(claim_fields(order, self.shop, state=ClaimState.OPEN)
                                   | {"shop_id": self.shop.id, "first_seen_at": self.now, "updated_at": self.now})
                continue
            state = claim_state(order) or old["state"]  # an unmapped status keeps the claim as it is
            if old["settled_at"] is not None and state == ClaimState.OPEN:
                state = old["state"]  # paid in full by payments recorded here; the shop has not caught up yet
            if old["state"] == ClaimState.IN_COLLECTION and state == ClaimState.OPEN:
                state = old["state"]  # with the agency until the shop says paid, cancelled or refunded
            new = claim_fields(order, self.shop, state=state)
            diff = changes(old, new)
            if not diff:
                continue
            if old["state"] == ClaimState.IN_COLLECTION:
                agency_updates += agency_update(self.shop.id, order, old, new, self.now)
            was_open, is_open = old["state"] == ClaimState.OPEN, state == ClaimState.OPEN
            kind = "closed" if was_open and not is_open else "reopened" if is_open and not was_open else "changed"
            result.closed += kind == "closed"
            closed_at = self.now if kind == "closed" else None if is_open else old["closed_at"]
            updates.append(new | {"claim_id": old["id"], "updated_at": self.now, "closed_at": closed_at})
            entries.append(self._entry(old["id"], kind, {"changes": diff, "shop_status": order.status}))
        if inserts:
            # A claim another process mirrored first is left to it (its "opened" entry is its own).
            ids = dict(insert_new(conn, CLAIMS, inserts, key=("shop_id", "order_id"), returning=("order_id", "id")))
            entries += [self._entry(ids[row["order_id"]], "opened", opened_data(row)) for row in inserts
                        if row["order_id"] in ids]
            result.new = len(ids)
        if updates:
            conn.execute(UPDATE_CLAIM, updates)
        written = set(insert_new(conn, OUTBOX, agency_updates, key="key"))
        for update_row in agency_updates:  # the agency learns of it with the next export (outbox/handover.py)
            if update_row["key"] in written:
                entries.append(self._entry(update_row["claim_id"], "agency_update", update_row["payload"]))
        bulk_insert(conn, LEDGER, entries)
        result.updated = len(updates)
        return result

    def _flag_part_paid(self, conn: Connection, order_ids: list[str]) -> None:
        """Open claims whose order the shop calls part-paid, with no payment booked here: the shop does not say how
        much came in, so a person confirms the amount (`mahnwerk mark-paid --amount`) before dunning asks too much.
        One open task per claim."""
        if not order_ids:
            return
        claims = conn.execute(select(CLAIMS.c.id, CLAIMS.c.order_number).where(
            CLAIMS.c.shop_id == self.shop.id, CLAIMS.c.order_id.in_(order_ids), CLAIMS.c.state == ClaimState.OPEN,
            ~CLAIMS.c.id.in_(select(LEDGER.c.claim_id).where(LEDGER.c.kind == "payment")),
            ~CLAIMS.c.id.in_(select(TASKS.c.claim_id).where(TASKS.c.kind == CONFIRM_AMOUNT,
                                                             TASKS.c.done_at.is_(None))))).all()
        if claims:
            bulk_insert(conn, TASKS, [{
                "claim_id": c.id, "kind": CONFIRM_AMOUNT, "created_at": self.now, "done_at": None, "done_by": "",
                "text": f"The shop marks order {c.order_number} as paid in part without the amount: record what "
                        f"came in (mahnwerk mark-paid {self.shop.id}:{c.order_number} --amount X), then "
                        f"mahnwerk tasks done {self.shop.id}:{c.order_number}."}
                for c in claims])

    def _mark_deleted(self, conn: Connection, claims: list[dict[str, Any]]) -> int:
        """Orders the shop no longer has at all: their open claims close as deleted."""
        gone = [c for c in claims if c["state"] == ClaimState.OPEN]
        if gone:
            conn.execute(UPDATE_CLAIM, [{"claim_id": c["id"], "state": ClaimState.DELETED, "closed_at": self.now,
                                         "updated_at": self.now} for c in gone])
            conn.execute(insert(LEDGER), [self._entry(c["id"], "closed", {
                "changes": {"state": [c["state"], ClaimState.DELETED]},
                "reason": "the shop no longer has this order"}) for c in gone])
        return len(gone)

    def _quarantine(self, conn: Connection, rejected: list[Rejected], known: dict[str, dict[str, Any]]) -> set[str]:
        """Keep bad records that matter (invoice orders, or orders already mirrored) with their reason."""
        relevant = [r for r in rejected
                    if r.record_id in known or r.payment_method in self.shop.invoice.payment_methods]
        for r in relevant:
            values = {"field": r.field, "reason": r.message[:1000], "raw": r.raw, "last_seen_at": self.now,
                      "resolved_at": None}
            where = (QUARANTINE.c.shop_id == self.shop.id) & (QUARANTINE.c.record_id == r.record_id)
            if conn.execute(update(QUARANTINE).where(where).values(values | {
                    "times_seen": QUARANTINE.c.times_seen + 1})).rowcount == 0:
                insert_new(conn, QUARANTINE, [values | {"shop_id": self.shop.id, "record_id": r.record_id,
                                                        "first_seen_at": self.now, "times_seen": 1}],
                           key=("shop_id", "record_id"))
            self.unresolved.add(r.record_id)
        return {r.record_id for r in relevant}

    def _resolve_quarantine(self, conn: Connection, order_ids: list[str]) -> None:
        """A record that parses again leaves quarantine; its row stays, marked resolved, for the record."""
        fixed = self.unresolved.intersection(order_ids)
        if fixed:
            conn.execute(update(QUARANTINE).where(
                QUARANTINE.c.shop_id == self.shop.id, QUARANTINE.c.record_id.in_(sorted(fixed)),
                QUARANTINE.c.resolved_at.is_(None)).values(resolved_at=self.now))
            self.unresolved -= fixed

    def _entry(self, claim_id: int, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"claim_id": claim_id, "at": self.now, "kind": kind, "source": "sync", "data": data}


def agency_update(shop_id: str, order: ShopOrder, old: dict[str, Any], new: dict[str, Any],
                  now: datetime) -> list[dict[str, Any]]:
    """An outbox row telling the agency about a claim it holds: paid (in part) in the shop, or withdrawn."""
    paid = new["state"] == ClaimState.PAID
    withdrawn = new["state"] in ClaimState.CLOSED and not paid
    reduced = old["open_amount"] - new["open_amount"]
    if not (paid or withdrawn or reduced > 0):
        return []
    kind = "recall" if withdrawn else "payment"
    amount = reduced if reduced > 0 and not paid else old["open_amount"]
    payload = {"update": kind, "amount": str(amount), "currency": new["currency"], "shop_status": order.status,
               "state": new["state"]}
    return [{"key": f"{shop_id}/{order.order_id}/agency_update/{order.modified_at.isoformat()}", "shop_id": shop_id,
             "claim_id": old["id"], "kind": "agency_update", "stage": "agency", "channel": "agency",
             "planned_on": now.date(), "state": OutboxState.PENDING, "attempts": 0, "next_attempt_at": now,
             "last_error": "", "payload": payload, "reference": "", "created_at": now, "updated_at": now}]


def opened_data(row: dict[str, Any]) -> dict[str, Any]:
    """The ledger's record of a new claim: what was owed, when due, in which shop status."""
    return {"order_number": row["order_number"], "gross_amount": str(row["gross_amount"]),
            "open_amount": str(row["open_amount"]), "currency": row["currency"],
            "due_date": row["due_date"].isoformat(), "shop_status": row["shop_status"]}


def unresolved_quarantine(conn: Connection, shop_id: str) -> set[str]:
    """Ids of the shop's records still in quarantine."""
    return set(conn.execute(select(QUARANTINE.c.record_id).where(
        QUARANTINE.c.shop_id == shop_id, QUARANTINE.c.resolved_at.is_(None))).scalars())
