"""Where payments come from for one shop: statement files (`payments import`, the shop's inbox folder) and the
payment providers of `[payments.stripe]` / `[payments.mollie]`; then matching (sync/reconcile.py).

The sync calls `collect()` after the mirror, so a payment that arrives between planning and sending is booked
before the executor's re-check of the claim sees it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from mahnwerk.connectors.statements import StatementSummary, read_statement
from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.models import PaymentCursor
from mahnwerk.sync.reconcile import Imported, Reconciled, import_payments, reconcile
from mahnwerk.sync.store import Store

log = structlog.get_logger("mahnwerk.payments")


@dataclass
class Collected:
    """One shop's payment round: what each file or provider brought, what was rejected, what matching did."""

    shop: str
    imported: list[Imported] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    errors: list[str] = field(default_factory=list)
    reconciled: Reconciled | None = None

    @property
    def new(self) -> int:
        return sum(i.new for i in self.imported)

    def as_dict(self) -> dict[str, Any]:
        return {"shop": self.shop, "new": self.new, "imported": [i.as_dict() for i in self.imported],
                "rejected": [{"file": f, "reason": r} for f, r in self.rejected], "errors": self.errors,
                **(self.reconciled.as_dict() if self.reconciled else {})}


def import_file(store: Store, shop: ShopConfig, path: Path, *, now: datetime) -> Imported:
    """One statement file into the shop's payments (raises StatementError for a file that is not a statement)."""
    summary = StatementSummary()
    imported = import_payments(store, shop, read_statement(path, summary), origin=str(path), now=now)
    imported.skipped.update(summary.skipped)
    for problem in imported.problems:  # positions only: the entries themselves hold customer data
        log.warning("payments.bad_entry", shop=shop.id, file=path.name, position=problem.position,
                    reason=problem.reason)
    return imported


def inbox_files(inbox: Path) -> Iterator[Path]:
    """Statement files waiting in the inbox, oldest first (sub-folders and hidden or partial files are not)."""
    if not inbox.is_dir():
        return iter(())
    files = [p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".") and not p.name.endswith(
        (".part", ".tmp", ".reason.txt"))]
    return iter(sorted(files, key=lambda p: (p.stat().st_mtime, p.name)))


def move_aside(path: Path, folder: Path) -> Path:
    """Move a processed or rejected file into `folder`, never overwriting an earlier one of the same name."""
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists():
        target, n = folder / f"{path.stem}.{n}{path.suffix}", n + 1
    shutil.move(str(path), target)
    return target


def collect(store: Store, shop: ShopConfig, *, now: datetime, providers: list[Any] | None = None,
            match: bool = True) -> Collected:
    """Import the inbox and poll the providers, then match every waiting payment (when anything came in, or when
    `match` says the claims changed)."""
    result = Collected(shop.id)
    inbox = shop.payments.inbox
    if inbox is not None:
        for path in inbox_files(inbox):
            try:
                result.imported.append(import_file(store, shop, path, now=now))
                move_aside(path, inbox / "processed")
            except MahnwerkError as exc:
                target = move_aside(path, inbox / "rejected")
                target.with_name(target.name + ".reason.txt").write_text(f"{exc}\n", encoding="utf-8")
                result.rejected.append((path.name, str(exc)))
                log.error("payments.file_rejected", shop=shop.id, file=path.name, reason=str(exc))
    for provider in providers or ():
        try:
            result.imported.append(poll_provider(store, shop, provider, now=now))
        except MahnwerkError as exc:
            result.errors.append(f"{provider.source}: {exc}")
            log.error("payments.provider_failed", shop=shop.id, source=provider.source, error=str(exc))
    if match or result.new:
        result.reconciled = reconcile(store, shop, now=now)
    return result


def poll_provider(store: Store, shop: ShopConfig, provider: Any, *, now: datetime) -> Imported:
    """New payments from one provider since its cursor; the cursor moves only after they are stored."""
    with store.session() as session:
        cursor = session.get(PaymentCursor, (shop.id, provider.source))
        polled = provider.poll(cursor.value if cursor else None)
    imported = import_payments(store, shop, [*polled.payments, *polled.problems], origin=provider.source, now=now)
    with store.session() as session:
        row = session.get(PaymentCursor, (shop.id, provider.source)) or PaymentCursor(
            shop_id=shop.id, source=provider.source, value="", updated_at=now)
        row.value, row.updated_at = polled.cursor, now
        session.add(row)
        session.commit()
    return imported
