"""Exactly once under SIGKILL: `mahnwerk run` is killed at every request it makes to the shop, once before the
shop sees the request and once after the shop applied it but before the answer arrives, then restarted. Afterwards
the shop holds exactly one customer note per (claim, stage), and the ledger agrees with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.models import Claim, LedgerEntry, OutboxRow
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT

pytestmark = pytest.mark.slow


def mahnwerk(etc: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mahnwerk", "--config-dir", str(etc), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class Killer:
    """Kills the child at its `target`-th request to the shop, in the given phase."""

    def __init__(self, target: int, phase: str) -> None:
        self.target, self.phase, self.seen, self.proc, self.killed = target, phase, 0, None, False

    def __call__(self, method: str, path: str, phase: str) -> bool:
        if phase == "before":
            self.seen += 1
        if self.proc is None or self.killed or self.seen != self.target or phase != self.phase:
            return False
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.killed = True
        return True


def sent_notes(shop: WooSandbox) -> Counter:
    """(order id, subject line) of every customer note the shop holds."""
    found: Counter = Counter()
    for mail in shop.mails:
        if mail["subject"].startswith("A note has been added"):
            found[mail["order_id"]] += 1
    return found


def one_crash(tmp_path: Path, target: int, phase: str) -> tuple[bool, Counter, list]:
    shop = WooSandbox(orders=generate_orders(5, seed=5))
    with SandboxServer(shop) as server:
        etc = write_config(tmp_path / f"etc-{phase}-{target}", f"sqlite:///{tmp_path / f'{phase}-{target}.db'}",
                           [{"shop_id": "acme", "url": server.url, "key": shop.consumer_key,
                             "secret": shop.consumer_secret, "extra": RATES + MERCHANT}])
        killer = Killer(target, phase)
        shop.on_request = killer
        killer.proc = mahnwerk(etc, "run")
        killer.proc.wait(timeout=120)
        shop.on_request = None
        before = sum(sent_notes(shop).values())
        restarted = mahnwerk(etc, "run", "--json")
        out, err = restarted.communicate(timeout=120)
        assert restarted.returncode == 0, err.decode()
        [summary] = json.loads(out)
        # what the restart mailed itself counts as sent; what the killed run had mailed counts as recovered
        assert summary["sent"] == sum(sent_notes(shop).values()) - before, (summary, target, phase)
        store = open_store(load_config(etc))
        try:
            with store.session() as session:
                ledger = session.execute(select(Claim.order_id, LedgerEntry.data).join(
                    Claim, Claim.id == LedgerEntry.claim_id).where(LedgerEntry.kind == "stage")).all()
                rows = session.execute(select(OutboxRow.state)).scalars().all()
        finally:
            store.close()
        assert "dead" not in rows, err.decode()
        return killer.killed, sent_notes(shop), ledger


@pytest.mark.parametrize("phase", ["before", "after"])
def test_killed_at_every_request_sends_each_stage_exactly_once(tmp_path: Path, phase: str) -> None:
    target, expected = 1, None
    while True:
        killed, notes, ledger = one_crash(tmp_path, target, phase)
        assert notes and all(n == 1 for n in notes.values()), (target, phase, notes)
        in_ledger = Counter(int(order_id) for order_id, data in ledger if data["stage"] == "reminder")
        assert in_ledger == notes, (target, phase)  # the ledger agrees with the shop, claim by claim
        expected = expected or set(notes)
        assert set(notes) == expected  # every crash point ends with the same claims reminded
        if not killed:  # the first run got through: every request has had its crash
            break
        target += 1
    assert len(expected) >= 2 and target > 8  # two claims; sync, re-reads, notes and meta writes were crash points
