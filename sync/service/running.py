"""`mahnwerk run`: sync → decide → execute for each shop, and what it did. The daemon calls the same function."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mahnwerk.connectors.smtp import valid_email
from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.service.bootstrap import build_actions
from mahnwerk.sync.config.shop import Config, ShopConfig
from mahnwerk.sync.outbox.executor import Executor, Outcome
from mahnwerk.sync.outbox.handover import Handover, export_folder
from mahnwerk.sync.outbox.letters import letters_folder
from mahnwerk.sync.outbox.templates import Templates
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.store.models import Claim, OutboxRow, OutboxState
from mahnwerk.sync.outbox.decide import ROW_KINDS, decide_shop, executor_lock, ready_rows
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.outbox.writeback import WriteBack


@dataclass
class RunResult:
    """One shop's run: the sync, the actions decided, and what the executor did with them."""

    shop: str
    synced: bool = True
    decided: int = 0
    outcome: Outcome | None = None
    would: list[dict[str, Any]] = field(default_factory=list)  # --dry-run: what would be done
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not (self.outcome and self.outcome.dead)

    def as_dict(self) -> dict[str, Any]:
        done = self.outcome.as_dict() if self.outcome else {}
        errors = ([self.error] if self.error else []) + done.pop("errors", [])
        return {"shop": self.shop, "ok": self.ok, "synced": self.synced, "decided": self.decided,
                **{k: v for k, v in done.items() if k != "shop"}, "errors": errors,
                **({"would": self.would} if self.would or not self.outcome else {})}


def data_dir(config: Config) -> Path:
    """Where letters and exports go unless configured: next to a SQLite database, else /var/lib/mahnwerk."""
    url = config.database.url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).parent
    return Path("/var/lib/mahnwerk")


def run_shops(store: Store, config: Config, shops: Sequence[ShopConfig], *, dry_run: bool = False,
              sync: bool = True, now: Callable[[], datetime] = utcnow,
              sleep: Callable[[float], None] | None = None) -> list[RunResult]:
    """Each shop in turn; one shop's failure does not stop the others."""
    return [run_shop(store, config, shop, dry_run=dry_run, sync=sync, now=now, sleep=sleep) for shop in shops]


def run_shop(store: Store, config: Config, shop: ShopConfig, *, dry_run: bool = False, sync: bool = True,
             decide: bool = True, now: Callable[[], datetime] = utcnow,
             sleep: Callable[[float], None] | None = None) -> RunResult:
    """Sync, decide (write today's outbox rows), execute every due row. `decide=False` only works off the rows
    already waiting (the daemon's retries between daily runs)."""
    result = RunResult(shop.id)
    if sync and not dry_run:
        synced = sync_one(store, shop)
        result.synced = synced.ok
        if synced.auth_failed:  # nothing can be sent either
            result.error = synced.error
            return result
    if decide:
        decided = decide_shop(store, shop, shop_today(shop, now()), now=now(), dry_run=dry_run)
        result.decided, new = len(decided.new), decided.new
    else:
        new = []
    if dry_run:
        result.would = would_do(store, shop, new)
        return result
    if not decide and not ready_rows(store, shop.id, now(), kinds=ROW_KINDS):
        return result  # the daemon's tick between daily runs: no session, templates or lock for nothing
    with executor_lock(store, shop.id) as mine:
        if not mine:
            result.error = (f"shop '{shop.id}': another mahnwerk process is executing its outbox (the daemon?); "
                            "its rows are left to it")
            return result
        execute(store, config, shop, result, now=now, sleep=sleep)
    return result


def execute(store: Store, config: Config, shop: ShopConfig, result: RunResult, *, now: Callable[[], datetime],
            sleep: Callable[[float], None] | None) -> None:
    """The executor's sends, then the agency batch, under the shop's executor lock."""
    actions = build_actions(shop)
    try:
        executor = Executor(store, shop, actions, templates=Templates(config.config_dir / "templates"),
                            letters_dir=letters_folder(shop, data_dir(config)), now=now,
                            **({"sleep": sleep} if sleep else {}))
        result.outcome = executor.run()
        Handover(executor, export_folder(shop, data_dir(config))).run()
        WriteBack(executor).run()
    except MahnwerkError as exc:
        result.error = str(exc)
    finally:
        actions.close()


def would_do(store: Store, shop: ShopConfig, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`run --dry-run`: the new actions and the rows waiting for a retry, with the channel each would use."""
    with store.session() as session:
        waiting = session.execute(select(OutboxRow).where(
            OutboxRow.shop_id == shop.id, OutboxRow.state.in_((OutboxState.PENDING, OutboxState.SENDING)))).scalars()
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
