"""What every worker of a shop's outbox rows shares: the shop connection, the clock, the tally, and the bookkeeping
of a row's life (skip, retry with backoff, dead letter). The executor's sends, the agency hand-over and the payment
write-back each get one `RowWork` and use nothing else of each other."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlmodel import Session

from mahnwerk.connectors.records import ShopOrder
from mahnwerk.connectors.shop import ShopActions
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.pagewriter import PageWriter, unresolved_quarantine
from mahnwerk.sync.outbox.rows import backoff
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, OutboxRow, OutboxState, Task

log = structlog.get_logger("mahnwerk.outbox")
ACTOR = "mahnwerk"  # who the ledger names for what the executor does
SOURCE = "executor"  # the ledger's `source` of its entries (casework says "cli")
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL = "disk full"  # how a row's last_error starts while it waits for space (`status` looks for it)


@dataclass
class Outcome:
    """What one pass over a shop's outbox did, for `run`'s summary."""

    shop: str
    sent: int = 0  # customer messages and mails
    letters: int = 0
    recovered: int = 0  # delivered by an earlier, interrupted run and finished by this one
    written_back: int = 0  # payments the shop was told of
    exports: int = 0  # claims handed over
    closed: int = 0
    skipped_paid: int = 0
    skipped: int = 0  # no longer due: on hold, cancelled, changed
    retrying: int = 0
    dead: int = 0
    tasks: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)  # channel → why it sends nothing more in this pass

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RowWork:
    """One shop's outbox rows as the workers see them: load, re-read the order, and settle each row."""

    def __init__(self, store: Store, shop: ShopConfig, actions: ShopActions, *, now: Callable[[], datetime],
                 auth_hint: str = "") -> None:
        self.store, self.shop, self.actions, self.now = store, shop, actions, now
        self.auth_hint = auth_hint  # what to check when the shop refuses the credentials
        self.outcome = Outcome(shop.id)
        self._counted: set[int] = set()  # rows whose attempt this pass has counted

    def load(self, session: Session, row_id: int) -> tuple[OutboxRow, Claim]:
        """The row and its claim, in `session`."""
        row = session.get(OutboxRow, row_id)
        assert row is not None
        claim = session.get(Claim, row.claim_id)
        assert claim is not None
        return row, claim

    def reread(self, session: Session, claim: Claim) -> ShopOrder | None:
        """The order as the shop has it now, written into the store like a sync would; None if it is gone."""
        page = self.actions.current(claim.order_id)
        conn = session.connection()
        PageWriter(self.shop, now=self.now(), unresolved=unresolved_quarantine(conn, self.shop.id)).apply(conn, page)
        session.commit()
        session.refresh(claim)
        return page.records[0] if page.records else None

    def count_attempt(self, row: OutboxRow) -> None:
        """This pass tries the row once more (counted once however it ends)."""
        if row.id is not None and row.id not in self._counted:
            row.attempts += 1
            self._counted.add(row.id)

    def skip(self, session: Session, row: OutboxRow, reason: str, *, paid: bool = False) -> None:
        """The row's action is no longer due (paid, cancelled, on hold): nothing is sent."""
        # The key is freed: should the stage fall due again (a hold released), it gets a row of its own.
        row.key = f"{row.key}#skipped-{row.id}"
        row.state, row.last_error, row.updated_at, row.done_at = OutboxState.SKIPPED, reason[:2000], self.now(), \
            self.now()
        session.add(row)
        session.commit()
        if paid:
            self.outcome.skipped_paid += 1
        else:
            self.outcome.skipped += 1

    def failed(self, session: Session, row: OutboxRow, error: str, *, retry: bool, keep_sending: bool = False) -> None:
        """Retry later with backoff, or dead-letter: permanent errors, and transient ones after max_attempts."""
        self.count_attempt(row)  # an attempt that failed before it could send counts too
        if not retry or row.attempts >= self.shop.delivery.max_attempts:
            self.dead(session, row, error if not retry else f"gave up after {row.attempts} attempts: {error}")
            return
        if not keep_sending and row.state == OutboxState.SENDING and not row.reference:
            row.state = OutboxState.PENDING  # known not to have been sent
        row.last_error, row.updated_at = error[:2000], self.now()
        row.next_attempt_at = self.now() + backoff(row, self.shop.delivery.retry_after)
        session.add(row)
        session.commit()
        self.outcome.retrying += 1
        log.warning("outbox.retry", shop=self.shop.id, row=row.id, stage=row.stage, error=error)

    def blocked(self, session: Session, row: OutboxRow, error: str, *, tried: bool) -> None:
        """The machine's fault, not the row's (a full disk): the row waits with backoff like any transient fault but
        is never dead-lettered for it, since nothing a person decides about the row would help. `tried`: this pass
        attempted the row (counted), rather than leaving it untried behind a stopped channel."""
        if tried:
            self.count_attempt(row)
        if row.state == OutboxState.SENDING and not row.reference:
            row.state = OutboxState.PENDING  # known not to have been sent
        row.last_error, row.updated_at = error[:2000], self.now()
        row.next_attempt_at = self.now() + backoff(row, self.shop.delivery.retry_after)
        session.add(row)
        session.commit()
        self.outcome.retrying += 1
        log.warning("outbox.blocked", shop=self.shop.id, row=row.id, stage=row.stage, error=error)

    def dead(self, session: Session, row: OutboxRow, reason: str) -> None:
        """Give up on the row: a person decides (`outbox retry|done|skip`)."""
        row.state, row.last_error, row.updated_at = OutboxState.DEAD, reason[:2000], self.now()
        session.add(row)
        session.commit()
        self.outcome.dead += 1
        self.outcome.errors.append(f"outbox row {row.id} ({row.key}) dead-lettered: {reason}")
        log.error("outbox.dead", shop=self.shop.id, row=row.id, stage=row.stage, reason=reason)

    def postpone(self, session: Session, row: OutboxRow, reason: str) -> None:
        """Leave the row as it is for the next run, without counting an attempt (the cause is not the row's)."""
        row.last_error, row.updated_at, row.next_attempt_at = reason[:2000], self.now(), self.now()
        session.add(row)
        session.commit()

    def release(self, row_id: int) -> None:
        """The row is due again at once (its attempt was stopped by something that is not the row's fault)."""
        with self.store.session() as session:
            row = session.get(OutboxRow, row_id)
            if row is not None and row.state not in OutboxState.FINAL:
                row.next_attempt_at = self.now()
                session.add(row)
                session.commit()

    def task(self, session: Session, claim_id: int, kind: str, text: str) -> None:
        """Work for a person, shown by `mahnwerk tasks` (added to the session, committed with the caller's step)."""
        session.add(Task(claim_id=claim_id, kind=kind, text=text, created_at=self.now()))
        self.outcome.tasks += 1

    def login_refused(self, exc: Exception) -> None:
        """The shop refused the credentials: nothing more can be done for it in this pass."""
        self.outcome.errors.append(f"{exc} ({self.auth_hint})" if self.auth_hint else str(exc))
