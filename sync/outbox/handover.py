"""Hand-over to a collection agency: due `agency` stages and the updates on claims the agency holds (payments the
shop saw, withdrawn claims) go out together, one export file per run with its manifest.

Exactly once: rows are marked `sending` with the batch id before the file is written; after a crash, the manifests
in the export folder say which claims a batch holds, and only the rest is exported again.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mahnwerk.connectors.agency_export import (ExportError, ExportFormat, ExportItem, ExportRecord, HistoryLine,
                                               exported_claims, run_hook, write_batch)
from mahnwerk.errors import ShopAuthFailed, ShopError, ShopUnavailable
from mahnwerk.policy.interest import cents
from mahnwerk.sync.casework.casefile import claim_key
from mahnwerk.sync.casework.case import Case
from mahnwerk.sync.config.shop import ShopConfig
from mahnwerk.sync.outbox.executor import ACTOR, Executor
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry, OutboxRow, OutboxState, Task
from mahnwerk.sync.outbox.decide import ready_rows
from mahnwerk.connectors.woocommerce_actions import NEXT_DATE_KEY, NEXT_KEY, STAGE_KEY

ZERO = Decimal("0.00")


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

    def __init__(self, executor: Executor, folder: Path) -> None:
        self.x, self.folder = executor, folder
        self.shop: ShopConfig = executor.shop
        self._manifests: dict[str, str] | None = None

    def run(self) -> None:
        now = self.x.now()
        ids = ready_rows(self.x.store, self.shop.id, now, kinds=("handover", "agency_update"))
        if not ids:
            return
        batch_id = f"{self.shop.id}-{now.strftime('%Y%m%dT%H%M%S')}-{ids[0]}"
        with self.x.store.session() as session:
            records, rows, fresh = [], [], []
            for row_id in ids:
                try:
                    prepared = self._prepare(session, row_id)
                except ShopAuthFailed as exc:
                    self.x.outcome.errors.append(str(exc))
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
                except ExportError as exc:
                    for row in rows:
                        self.x.failed(session, row, str(exc), retry=True)
                    return
                self._hook(session, rows[0].claim_id, batch)
            for row in rows:
                self._finish(session, row)

    def _prepare(self, session: Any, row_id: int) -> tuple[OutboxRow, ExportRecord | None] | None:
        """The row with its export record (None: exported by an interrupted run already); None to leave it."""
        row, claim = self.x.load(session, row_id)
        what = row.payload.get("update", "handover")
        if row.state == OutboxState.SENDING:
            earlier = self._exported().get(f"{claim_key(self.shop.id, claim.order_number)}/{what}")
            if earlier is not None:
                row.payload = {**row.payload, "batch": earlier}
                return row, None
        if row.kind == "agency_update":
            return row, self._record(session, claim, what, amount=cents(Decimal(row.payload["amount"])))
        try:
            order = self.x.reread(session, claim)
            items = self.x.actions.items(claim.order_id) if order is not None else []
        except ShopAuthFailed:
            raise
        except ShopError as exc:
            self.x.failed(session, row, str(exc), retry=isinstance(exc, ShopUnavailable))
            return None
        if claim.state != ClaimState.OPEN:
            self.x.skip(session, row, f"the order is {claim.state} in the shop", paid=claim.state == ClaimState.PAID)
            return None
        result = Case(session, self.shop, claim, ACTOR, self.x.now()).assess()
        if result.status != "due" or result.next is None or result.next.stage != row.stage or result.balance is None:
            self.x.skip(session, row, f"no longer due: {result.reason}")
            return None
        balance = result.balance
        row.payload = {**row.payload, "total": str(cents(balance.total)), "currency": claim.currency}
        record = self._record(session, claim, "handover", amount=cents(balance.total), balance=balance,
                              default_since=result.default_on,
                              items=tuple(ExportItem(i.name, i.quantity, i.total) for i in items))
        return row, record

    def _exported(self) -> dict[str, str]:
        """What the export folder's manifests hold, read once per run and only when a crash left rows behind."""
        if self._manifests is None:
            self._manifests = exported_claims(self.folder) if self.folder.is_dir() else {}
        return self._manifests

    def _record(self, session: Any, claim: Claim, kind: str, *, amount: Any, balance: Any = None,
                default_since: date | None = None, items: tuple[ExportItem, ...] = ()) -> ExportRecord:
        address = claim.billing_address or {}
        history = tuple(HistoryLine(e.at.date(), e.data.get("stage", e.kind), e.data.get("channel", ""))
                        for e in session.execute(select(LedgerEntry).where(
                            LedgerEntry.claim_id == claim.id, LedgerEntry.kind == "stage").order_by(LedgerEntry.id))
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
            handed_over_on=self.x.now().date(), items=items, history=history)

    def _hook(self, session: Any, claim_id: int, batch: Any) -> None:
        command = self.shop.agency.command
        if not command:
            return
        try:
            run_hook(command, batch, timeout=self.shop.agency.command_timeout.total_seconds())
        except ExportError as exc:  # the file is written and the claims are with the agency's folder: a person uploads
            session.add(Task(claim_id=claim_id, kind="upload_export",
                             text=f"export {batch.file} was written but the upload command failed: {exc}",
                             created_at=self.x.now()))
            session.commit()
            self.x.outcome.tasks += 1
            self.x.outcome.errors.append(f"agency export {batch.file}: {exc}")

    def _finish(self, session: Any, row: OutboxRow) -> None:
        """The claim is with the agency: no more dunning, the ledger and the shop say so."""
        claim = session.get(Claim, row.claim_id)
        case = Case(session, self.shop, claim, ACTOR, self.x.now())
        batch = row.payload.get("batch", "")
        if row.kind == "handover":
            case.record("stage", {"stage": row.stage, "kind": "agency", "deadline": None, "fee": "0",
                                  "channel": "agency", "reference": batch, "key": row.key})
            claim.state, claim.updated_at = ClaimState.IN_COLLECTION, self.x.now()
            session.add(claim)
            note = (f"Mahnwerk: handed over to {self.shop.agency.name or 'the collection agency'} in export "
                    f"{batch} ({row.payload.get('total', '?')} {row.payload.get('currency', '')}); dunning stops. "
                    f"Key {row.key}")
            try:
                self.x.actions.add_private_note(claim.order_id, note)
                self.x.actions.mark(claim.order_id, {STAGE_KEY: row.stage, NEXT_KEY: "", NEXT_DATE_KEY: "",
                                                     self.x.actions.marker_key: row.key})
            except ShopError as exc:  # the export holds it; the admin's note is a courtesy
                self.x.outcome.errors.append(f"{claim_key(self.shop.id, claim.order_number)}: handed over, but "
                                             f"the shop's note failed: {exc}")
            self.x.outcome.exports += 1
        else:
            case.record("agency_reported", {"update": row.payload.get("update"), "amount": row.payload.get("amount"),
                                            "batch": batch})
        row.state, row.reference, row.done_at, row.updated_at = OutboxState.DONE, batch, self.x.now(), self.x.now()
        session.add(row)
        session.commit()
