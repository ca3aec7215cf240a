"""`mahnwerk run`: sync → decide → execute for each shop, and what it did. The daemon calls the same function."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from mahnwerk.connectors.smtp import valid_email
from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.casework.blocked import Blocked
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.config import Config, ShopConfig
from mahnwerk.sync.config.delivery import sending_refusal
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.outbox.decide import decide_shop
from mahnwerk.sync.outbox.executor import Executor
from mahnwerk.sync.outbox.handover import Handover, export_folder
from mahnwerk.sync.outbox.letters import letters_folder
from mahnwerk.sync.outbox.rows import ROW_KINDS, ready_rows
from mahnwerk.sync.outbox.templates import Templates
from mahnwerk.sync.outbox.work import Outcome, RowWork
from mahnwerk.sync.outbox.writeback import WriteBack
from mahnwerk.sync.service.bootstrap import auth_hint, connect_shop
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.locks import ShopBusy, shop_lock
from mahnwerk.sync.store.models import Claim, OutboxRow, OutboxState


@dataclass
class RunResult:
    """One shop's run: the sync, the actions decided, and what the executor did with them."""

    shop: str
    synced: bool = True
    decided: int = 0
    outcome: Outcome | None = None
    would: list[dict[str, Any]] = field(default_factory=list)  # --dry-run: what would be done
    error: str = ""
    busy: bool = False  # another process had the shop longer than we would wait: nothing was done
    refused: bool = False  # the configuration forbids sending (an incomplete [merchant]): exit code 2
    blocked: Blocked = field(default_factory=Blocked)  # claims that wait for a base rate

    @property
    def ok(self) -> bool:
        return not self.error and not (self.outcome and (self.outcome.dead or self.outcome.stopped))

    def as_dict(self) -> dict[str, Any]:
        done = self.outcome.as_dict() if self.outcome else {}
        errors = ([self.error] if self.error else []) + done.pop("errors", [])
        return {"shop": self.shop, "ok": self.ok, "busy": self.busy, "synced": self.synced, "decided": self.decided,
                **{k: v for k, v in done.items() if k != "shop"}, "errors": errors,
                **({"would": self.would} if self.would or not self.outcome else {}),
                "blocked": self.blocked.as_dict()}


def data_dir(config: Config) -> Path:
    """Where letters and exports go unless configured: next to a SQLite database, else /var/lib/mahnwerk."""
    url = config.database.url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).parent
    return Path("/var/lib/mahnwerk")


def run_shops(store: Store, config: Config, shops: Sequence[ShopConfig], *, dry_run: bool = False,
              sync: bool = True, now: Callable[[], datetime] = utcnow,
              sleep: Callable[[float], None] | None = None, wait: float = 30.0,
              progress: Callable[[int, int], None] | None = None) -> list[RunResult]:
    """Each shop in turn; one shop's failure (or another process holding it) does not stop the others. `progress`
    is told (rows done, rows due) as each shop's outbox is worked off."""
    return [run_shop(store, config, shop, dry_run=dry_run, sync=sync, now=now, sleep=sleep, wait=wait,
                     progress=progress) for shop in shops]


def run_shop(store: Store, config: Config, shop: ShopConfig, *, dry_run: bool = False, sync: bool = True,
             decide: bool = True, now: Callable[[], datetime] = utcnow,
             sleep: Callable[[float], None] | None = None, wait: float = 30.0, command: str = "run",
             progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Sync, decide (write today's outbox rows), execute every due row, under the shop's lock (a dry run changes
    nothing and takes no lock). `decide=False` only works off the rows already waiting (retries between daily
    runs)."""
    if dry_run:
        decided = decide_shop(store, shop, shop_today(shop, now()), now=now(), dry_run=True)
        return RunResult(shop.id, decided=len(decided.new), would=would_do(store, shop, decided.new),
                         blocked=decided.blocked)
    try:
        with shop_lock(store, shop.id, command=command, wait=wait):
            return _run_locked(store, config, shop, sync=sync, decide=decide, now=now, sleep=sleep, progress=progress)
    except ShopBusy as exc:
        return RunResult(shop.id, synced=False, error=str(exc), busy=True)


def _run_locked(store: Store, config: Config, shop: ShopConfig, *, sync: bool, decide: bool,
                now: Callable[[], datetime], sleep: Callable[[float], None] | None,
                progress: Callable[[int, int], None] | None = None) -> RunResult:
    result = RunResult(shop.id)
    if decide:
        refusal = sending_refusal(shop.merchant, shop.source.name)
        if refusal:  # refuse before anything is written: no outbox rows to dead-letter by the hundred
            result.error, result.refused = f"shop '{shop.id}': `run` sends nothing: {refusal}", True
            return result
    if sync:
        synced = sync_one(store, shop)
        result.synced = synced.ok
        if synced.auth_failed:  # nothing can be sent either
            result.error = synced.error
            return result
    if decide:
        decided = decide_shop(store, shop, shop_today(shop, now()), now=now())
        result.decided, result.blocked = len(decided.new), decided.blocked
    elif not ready_rows(store, shop.id, now(), kinds=ROW_KINDS):
        return result  # between daily runs with nothing to retry: no connection, templates or letters for nothing
    execute(store, config, shop, result, now=now, sleep=sleep, progress=progress)
    return result


def execute(store: Store, config: Config, shop: ShopConfig, result: RunResult, *, now: Callable[[], datetime],
            sleep: Callable[[float], None] | None, progress: Callable[[int, int], None] | None = None) -> None:
    """The executor's sends, then the agency batch, then the payment write-back, with one shop connection."""
    try:
        actions = connect_shop(shop)
    except MahnwerkError as exc:
        result.error = str(exc)
        return
    try:
        work = RowWork(store, shop, actions, now=now, auth_hint=auth_hint(shop))
        result.outcome = work.outcome
        executor = Executor(work, templates=Templates(config.config_dir / "templates"),
                            letters_dir=letters_folder(shop, data_dir(config)), progress=progress,
                            **({"sleep": sleep} if sleep else {}))
        executor.run()
        Handover(work, export_folder(shop, data_dir(config))).run()
        WriteBack(work).run()
    except MahnwerkError as exc:
        result.error = str(exc)
    finally:
        actions.close()


def would_do(store: Store, shop: ShopConfig, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`run --dry-run`: the new actions and the rows waiting for a retry, with the channel each would use."""
    with store.session() as session:
        waiting = session.execute(select(OutboxRow).where(
            col(OutboxRow.shop_id) == shop.id, col(OutboxRow.state).in_((OutboxState.PENDING, OutboxState.SENDING))
        )).scalars()
        rows = [{"key": r.key, "claim_id": r.claim_id, "kind": r.kind, "stage": r.stage, "channel": r.channel,
                 "state": r.state, "attempts": r.attempts} for r in waiting]
        rows += [{"key": n["key"], "claim_id": n["claim_id"], "kind": n["kind"], "stage": n["stage"],
                  "channel": n["channel"], "state": "new", "attempts": 0} for n in new]
        for row in rows:
            claim = session.get(Claim, row["claim_id"])
            row["claim"] = f"{shop.id}:{claim.order_number}" if claim else "?"
            if row["channel"] in ("shop", "email") and claim is not None and not valid_email(claim.email):
                row["channel"] = "letter (no usable e-mail; a task is opened)"
            del row["claim_id"]
    return rows
