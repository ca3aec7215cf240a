"""Tells the shop what payments did: `writeback` outbox rows written by the payment booking (sync/payments/).

A claim paid in full gets the shop's paid state (where the kind has one and the merchant wants it) and a private
note naming the payment; a part payment gets the note (and "paid in part" where the kind can say so). Exactly
once: the note carries the row's key and is looked for before it is written again; setting the paid state is
idempotent. Retries, backoff and dead letters are RowWork's.
"""

from __future__ import annotations

import structlog

from mahnwerk.errors import ShopAuthFailed, ShopError, ShopUnavailable
from mahnwerk.sync.outbox.rows import ready_rows
from mahnwerk.sync.outbox.work import RowWork
from mahnwerk.sync.store.models import OutboxRow, OutboxState

log = structlog.get_logger("mahnwerk.writeback")


class WriteBack:
    """Works off a shop's due `writeback` rows."""

    def __init__(self, work: RowWork) -> None:
        self.work = work

    def run(self) -> int:
        """Every due row, oldest first; how many were done. A refused login stops the shop."""
        done = 0
        for row_id in ready_rows(self.work.store, self.work.shop.id, self.work.now(), kinds=("writeback",)):
            try:
                done += self.execute(row_id)
            except ShopAuthFailed as exc:
                self.work.login_refused(exc)
                break
        return done

    def execute(self, row_id: int) -> bool:
        """One row; True when the shop was told."""
        work = self.work
        with work.store.session() as session:
            row, claim = work.load(session, row_id)
            if row.state in OutboxState.FINAL:
                return False
            try:
                self._tell_shop(row, claim.order_id)
            except ShopAuthFailed:
                raise
            except ShopError as exc:
                work.failed(session, row, str(exc), retry=isinstance(exc, ShopUnavailable))
                return False
            row.state, row.done_at, row.updated_at, row.last_error = OutboxState.DONE, work.now(), work.now(), ""
            row.reference = "note"
            session.add(row)
            session.commit()
            work.outcome.written_back += 1
            log.info("writeback.done", shop=work.shop.id, row=row.id, stage=row.stage)
            return True

    def _tell_shop(self, row: OutboxRow, order_id: str) -> None:
        actions, payload = self.work.actions, row.payload
        paid = payload.get("paid") or ("full" if payload.get("status") else "")  # rows before 0.2 named a status
        if paid:
            actions.set_paid(order_id, in_full=paid == "full")
        if not actions.has_private_note(order_id, row.key):
            actions.add_private_note(order_id, f"{payload['note']} (key {row.key})")
