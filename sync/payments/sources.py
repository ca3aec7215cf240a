"""Where payments come from for one shop: statement files (`payments import`, the shop's inbox folder) and the
payment providers of `[payments.stripe]` / `[payments.mollie]`; then a matching run (sync/payments/matchrun.py).

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
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.payments.intake import Imported, import_payments
from mahnwerk.sync.payments.matchrun import run
from mahnwerk.sync.payments.reconcile import Reconciled
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import PaymentCursor

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


def inbox_files(inbox: Path) -> Iterator[Path]:
    """Statement files waiting in the inbox, oldest first (sub-folders and hidden or partial files are not)."""
    if not inbox.is_dir():
        return iter(())
    files = [p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".") and not p.name.endswith(
        (".part", ".tmp", ".reason.txt"))]
    return iter(sorted(files, key=lambda p: (p.stat().st_mtime, p.name)))


def move_aside(path: Path, folder: Path) -> Path | None:
    """Move a processed or rejected file into `folder`, never overwriting an earlier one of the same name; None when
    the file is gone already (moved by hand meanwhile)."""
    if not path.exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists():
        target, n = folder / f"{path.stem}.{n}{path.suffix}", n + 1
    shutil.move(str(path), target)
    return target


def collect(store: Store, shop: ShopConfig, *, now: datetime, providers: list[Any] | None = None,
            match: bool = True) -> Collected:
    """Poll the providers and import the inbox, then match every waiting payment (when anything came in, or when
    `match` says the claims changed). Inbox files are moved aside afterwards: a run that fails leaves them for the
    next one, which finds what was stored already."""
    result = Collected(shop.id)
    for provider in providers or ():
        try:
            result.imported.append(poll_provider(store, shop, provider, now=now))
        except MahnwerkError as exc:
            result.errors.append(f"{provider.source}: {exc}")
            log.error("payments.provider_failed", shop=shop.id, source=provider.source, error=str(exc))
    inbox = shop.payments.inbox
    files = list(inbox_files(inbox)) if inbox is not None else []
    if not (files or match or result.new):
        return result
    try:
        outcomes = list(zip(files, run_files(store, shop, files, now=now, result=result), strict=True))
    except (SQLAlchemyError, MahnwerkError) as exc:
        if not files or isinstance(exc, OperationalError):  # not a file's fault: the next round tries again
            result.errors.append(f"payments: {failure(exc)}")
            log.error("payments.run_failed", shop=shop.id, error=failure(exc))
            return result
        # Which file? Each on its own, so that one the store refuses does not hold up the others (whatever of it
        # was stored already is found as duplicates).
        log.error("payments.import_failed", shop=shop.id, error=failure(exc), files=len(files))
        outcomes = []
        for path in files:
            try:
                [outcome] = run_files(store, shop, [path], now=now, result=result)
            except OperationalError as exc:  # the database, not the file: it stays for the next round
                result.errors.append(f"{path.name}: {failure(exc)}")
                continue
            except (SQLAlchemyError, MahnwerkError) as exc:
                outcome = Imported(str(path), error=f"could not be stored: {failure(exc)}")
                log.error("payments.file_rejected", shop=shop.id, file=path.name, reason=outcome.error)
            outcomes.append((path, outcome))
    for path, outcome in outcomes:
        assert inbox is not None  # the files came from it
        if outcome.error:
            target = move_aside(path, inbox / "rejected")
            if target is not None:
                target.with_name(target.name + ".reason.txt").write_text(f"{outcome.error}\n", encoding="utf-8")
            result.rejected.append((path.name, outcome.error))
        else:
            move_aside(path, inbox / "processed")
            result.imported.append(outcome)
    return result


def run_files(store: Store, shop: ShopConfig, files: list[Path], *, now: datetime, result: Collected
              ) -> list[Imported]:
    """One matching run; what it matched is added to `result`."""
    imported, reconciled = run(store, shop, files, now=now)
    if result.reconciled is None:
        result.reconciled = reconciled
    else:
        for name, value in reconciled.as_dict().items():
            if isinstance(value, int):
                setattr(result.reconciled, name, getattr(result.reconciled, name) + value)
    return imported


def failure(exc: Exception) -> str:
    """What went wrong, without the statement's parameters (they hold customer data)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        first = str(exc.orig).strip().splitlines()
        return f"database error: {type(exc.orig).__name__}: {first[0] if first else ''}"[:300]
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {type(exc).__name__}"
    return str(exc)[:300]


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
