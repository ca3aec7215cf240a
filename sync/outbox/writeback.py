"""Tells the shop what payments did: `writeback` outbox rows written by sync/reconcile.py.

A claim paid in full gets the shop's paid status (WooCommerce: `set_paid` does nothing on an on-hold order, so the
status itself is set) and a private note naming the payment; a part payment gets the note only. Exactly once: the
note carries the row's key and is looked for before it is written again; setting a status is idempotent. Retries,
backoff and dead letters are the executor's (`failed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import structlog

from mahnwerk.errors import ShopAuthFailed, ShopError, ShopUnavailable
from mahnwerk.sync.outbox.executor import Executor
from mahnwerk.sync.store.models import OutboxRow, OutboxState
from mahnwerk.sync.outbox.decide import ready_rows

log = structlog.get_logger("mahnwerk.writeback")


class ShopWriter(Protocol):
    """What write-back needs from a shop connector. WooCommerce's is connectors/woocommerce_actions.WooActions;
    a Shopware 6 connector provides the same four calls (order state transition `pay` for `set_status`,
    an internal order comment for the private note)."""

    def current(self, order_id: str) -> Any: ...  # a Page with the order as the shop has it now

    def notes(self, order_id: str) -> Sequence[Any]: ...  # each with .text and .customer

    def add_private_note(self, order_id: str, note: str) -> str: ...

    def set_status(self, order_id: str, status: str) -> None: ...


class WriteBack:
    """Works off a shop's due `writeback` rows with the executor's shop connection, clock and retry policy."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def run(self) -> int:
        """Every due row, oldest first; how many were done. A failed login stops the shop."""
        ex, done = self.executor, 0
        for row_id in ready_rows(ex.store, ex.shop.id, ex.now(), kinds=("writeback",)):
            try:
                done += self.execute(row_id)
            except ShopAuthFailed as exc:
                ex.outcome.errors.append(f"{exc} (check the consumer key and secret in {ex.shop.source.name})")
                break
        return done

    def execute(self, row_id: int) -> bool:
        ex = self.executor
        with ex.store.session() as session:
            row, claim = ex.load(session, row_id)
            try:
                self._tell_shop(row, claim.order_id)
            except ShopAuthFailed:
                raise
            except ShopError as exc:
                ex.failed(session, row, str(exc), retry=isinstance(exc, ShopUnavailable))
                return False
            row.state, row.done_at, row.updated_at, row.last_error = OutboxState.DONE, ex.now(), ex.now(), ""
            row.reference = "note"
            session.add(row)
            session.commit()
            ex.outcome.written_back += 1
            log.info("writeback.done", shop=ex.shop.id, row=row.id, stage=row.stage)
            return True

    def _tell_shop(self, row: OutboxRow, order_id: str) -> None:
        actions: ShopWriter = self.executor.actions
        payload = row.payload
        status = payload.get("status") or ""
        if status:
            page = actions.current(order_id)
            order = page.records[0] if page.records else None
            # Only an order still waiting for its money changes status; cancelled, trashed or already paid stay.
            if order is not None and order.status in self.executor.shop.statuses.open:
                actions.set_status(order_id, status)
        if not any(row.key in note.text for note in actions.notes(order_id) if not note.customer):
            actions.add_private_note(order_id, f"{payload['note']} (key {row.key})")

