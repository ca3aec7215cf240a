"""Hand-over to a collection agency: due `agency` stages and the updates on claims the agency holds (payments the
shop saw, withdrawn claims) go out together, one export file per run with its manifest.

Exactly once: rows are marked `sending` with the batch id before the file is written; after a crash, the manifests
in the export folder say which claims a batch holds, and only the rest is exported again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select
from sqlmodel import Session, col

from mahnwerk.connectors.agency_export import (
    Batch,
    ExportError,
    ExportFormat,
    ExportItem,
    ExportRecord,
    HistoryLine,
    exported_claims,
    run_hook,
    write_batch,
)
from mahnwerk.connectors.records import LineItems, Progress
from mahnwerk.errors import ShopAuthFailed, ShopError, ShopUnavailable
from mahnwerk.policy.account import Balance
from mahnwerk.policy.interest import cents
from mahnwerk.sync.casework.case import Case
from mahnwerk.sync.casework.casefile import claim_key
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.outbox.rows import ready_rows
from mahnwerk.sync.outbox.work import ACTOR, SOURCE, RowWork
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry, OutboxRow, OutboxState

ZERO = Decimal("0.00")
log = structlog.get_logger("mahnwerk.handover")


def export_folder(shop: ShopConfig, database_dir: Path) -> Path:
    return shop.agency.folder or database_dir / "exports" / shop.id


def export_format(shop: ShopConfig) -> ExportFormat:
    agency = shop.agency
    options: dict[str, Any] = {"kind": agency.format, "delimiter": agency.delimiter, "encoding": agency.encoding,
                               "decimal_comma": agency.decimal_comma}
    if agency.columns:
        options["columns"] = agency.columns
    return ExportFormat(**options)


class Handover:
    """One export batch for one shop, run after the executor's sends."""

    def __init__(self, work: RowWork, folder: Path) -> None:
        self.work, self.folder = work, folder
        self.shop: ShopConfig = work.shop
        self._manifests: dict[str, str] | None = None

    def run(self) -> None:
        now = self.work.now()
        ids = ready_rows(self.work.store, self.shop.id, now, kinds=("handover", "agency_update"))
        if not ids:
            return
        batch_id = f"{self.shop.id}-{now.strftime('%Y%m%dT%H%M%S')}-{ids[0]}"
        with self.work.store.session() as session:
            records, rows, fresh = [], [], []
            for row_id in ids:
                try:
                    prepared = self._prepare(session, row_id)
                except ShopAuthFailed as exc:
                    self.work.login_refused(exc)
                    return
                if prepared is not None:
                    rows.append(prepared[0])
                    if prepared[1] is not None:
                        records.append(prepared[1])
                        fresh.append(prepared[0])
            if records:
                for row in fresh:
                    row.payload = {**row.payload, "batch": batch_id}
                    row.state, row.attempts = OutboxState.SENDING, row.attempts + 1
                    session.add(row)
                session.commit()
                try:
                    batch = write_batch(self.folder, records, export_format(self.shop), batch_id=batch_id,
                                        created_at=now)
                except ExportError as exc:  # only the rows of this batch failed; earlier batches hold the others
                    for row in fresh:
                        self.work.failed(session, row, str(exc), retry=True)
                    rows = [row for row in rows if row not in fresh]
                    fresh, records = [], []
                else:
                    self._hook(session, fresh[0].claim_id, batch)
            for row in rows:
                self._finish(session, row)

    def _prepare(self, session: Session, row_id: int) -> tuple[OutboxRow, ExportRecord | None] | None:
        """The row with its export record (None: exported by an interrupted run already); None to leave it."""
        row, claim = self.work.load(session, row_id)
        what = row.payload.get("update", "handover")
        if row.state == OutboxState.SENDING:
            earlier = self._exported().get(f"{claim_key(self.shop.id, claim.order_number)}/{what}")
            if earlier is not None:
                row.payload = {**row.payload, "batch": earlier}
                return row, None
        if row.kind == "agency_update":
            return row, self._record(session, claim, what, amount=cents(Decimal(row.payload["amount"])))
        try:
            order = self.work.reread(session, claim)
            lines = self.work.actions.line_items(claim.order_id) if order is not None else LineItems()
        except ShopAuthFailed:
            raise
        except ShopError as exc:
            self.work.failed(session, row, str(exc), retry=isinstance(exc, ShopUnavailable))
            return None
        if claim.state != ClaimState.OPEN:
            self.work.skip(session, row, f"the order is {claim.state} in the shop", paid=claim.state == ClaimState.PAID)
            return None
        result = Case(session, self.shop, claim, ACTOR, self.work.now(), source=SOURCE).assess()
        if result.status != "due" or result.next is None or result.next.stage != row.stage or result.balance is None:
            self.work.skip(session, row, f"no longer due: {result.reason}")
            return None
        balance = result.balance
        # A payment plan without acceleration: only what is due goes to the agency, the later instalments stay.
        due = cents(balance.due_now)
        row.payload = {**row.payload, "total": str(due), "currency": claim.currency}
        record = self._record(session, claim, "handover", amount=due, balance=balance,
                              default_since=result.default_on,
                              items=tuple(ExportItem(i.name, i.quantity, i.total) for i in lines.items))
        if balance.deferred > 0:
            record = replace(record, note=f"payment plan: instalments of {cents(balance.deferred)} {claim.currency} "
                                          "not yet due are not in total")
        for problem in lines.problems:  # the export goes out without that line; a person adds it if needed
            self.work.outcome.errors.append(f"{claim_key(self.shop.id, claim.order_number)}: a line item left out of "
                                            f"the agency export: {problem}")
            log.warning("handover.line_item_unreadable", shop=self.shop.id, order=claim.order_id, problem=problem)
        return row, record

    def _exported(self) -> dict[str, str]:
        """What the export folder's manifests hold, read once per run and only when a crash left rows behind."""
        if self._manifests is None:
            self._manifests = exported_claims(self.folder) if self.folder.is_dir() else {}
        return self._manifests

    def _record(self, session: Session, claim: Claim, kind: str, *, amount: Decimal, balance: Balance | None = None,
                default_since: date | None = None, items: tuple[ExportItem, ...] = ()) -> ExportRecord:
        address = claim.billing_address or {}
        history = tuple(HistoryLine(e.at.date(), e.data.get("stage", e.kind), e.data.get("channel", ""))
                        for e in session.execute(select(LedgerEntry).where(
                            col(LedgerEntry.claim_id) == claim.id, col(LedgerEntry.kind) == "stage"
                        ).order_by(col(LedgerEntry.id)))
                        .scalars())
        return ExportRecord(
            kind=kind, claim=claim_key(self.shop.id, claim.order_number), shop=self.shop.id,
            order_number=claim.order_number, invoice_number=claim.invoice_number, invoice_date=claim.invoice_date,
            due_date=claim.due_date, currency=claim.currency, principal=cents(claim.open_amount),
            fees=cents(balance.fees) if balance else ZERO, interest=cents(balance.interest) if balance else ZERO,
            flat_fee=cents(balance.flat_fee) if balance else ZERO, paid=cents(balance.paid) if balance else ZERO,
            total=amount, name=claim.customer_name, company=claim.company,
            street=" ".join(p for p in (address.get("address_1", ""), address.get("address_2", "")) if p),
            postcode=address.get("postcode", ""), city=address.get("city", ""), country=address.get("country", ""),
            email=claim.email, phone=address.get("phone", ""), default_since=default_since,
            handed_over_on=self.work.now().date(), items=items, history=history)

    def _hook(self, session: Session, claim_id: int, batch: Batch) -> None:
        command = self.shop.agency.command
        if not command:
            return
        try:
            run_hook(command, batch, timeout=self.shop.agency.command_timeout.total_seconds())
        except ExportError as exc:  # the file is written and the claims are with the agency's folder: a person uploads
            self.work.task(session, claim_id, "upload_export",
                           f"export {batch.file} was written but the upload command failed: {exc}")
            session.commit()
            self.work.outcome.errors.append(f"agency export {batch.file}: {exc}")

    def _finish(self, session: Session, row: OutboxRow) -> None:
        """The claim is with the agency: no more dunning, the ledger and the shop say so."""
        claim = session.get(Claim, row.claim_id)
        assert claim is not None  # an outbox row's claim stays (foreign key)
        case = Case(session, self.shop, claim, ACTOR, self.work.now(), source=SOURCE)
        batch = row.payload.get("batch", "")
        if row.kind == "handover":
            case.record("stage", {"stage": row.stage, "kind": "agency", "deadline": None, "fee": "0",
                                  "channel": "agency", "reference": batch, "key": row.key})
            claim.state, claim.updated_at = ClaimState.IN_COLLECTION, self.work.now()
            session.add(claim)
            note = (f"Mahnwerk: handed over to {self.shop.agency.name or 'the collection agency'} in export "
                    f"{batch} ({row.payload.get('total', '?')} {row.payload.get('currency', '')}); dunning stops. "
                    f"Key {row.key}")
            try:
                self.work.actions.add_private_note(claim.order_id, note)
                self.work.actions.record_progress(claim.order_id, Progress(row.stage, "", None, row.key))
            except ShopError as exc:  # the export holds it; the admin's note is a courtesy
                self.work.outcome.errors.append(f"{claim_key(self.shop.id, claim.order_number)}: handed over, but "
                                             f"the shop's note failed: {exc}")
            self.work.outcome.exports += 1
        else:
            case.record("agency_reported", {"update": row.payload.get("update"), "amount": row.payload.get("amount"),
                                            "batch": batch})
        now = self.work.now()
        row.state, row.reference, row.done_at, row.updated_at = OutboxState.DONE, batch, now, now
        session.add(row)
        session.commit()
