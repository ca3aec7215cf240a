"""Exactly once on Shopware under SIGKILL: `mahnwerk run` is killed at every request it makes to the shop (token,
searches, custom fields, transitions, the mail), once before the shop sees the request and once after the shop
applied it but before the answer arrives, then restarted. Shopware keeps no mail log Mahnwerk could ask, so the rule
is stricter than "once": no customer ever gets a stage twice, a mail that went out is in the ledger or waits as a
dead letter for a person, and nothing else is left for a person."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from mahnwerk.sandbox import ShopwareSandbox, ShopwareServer, generate_sw_orders
from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.models import Claim, LedgerEntry, OutboxRow
from tests.e2e.test_exactly_once import Killer, mahnwerk
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT

pytestmark = pytest.mark.slow


def one_crash(tmp_path: Path, target: int, phase: str) -> tuple[bool, Counter, Counter, list[str]]:
    """Kill at the `target`-th request in `phase`, restart; (killed?, mails per order, stages in the ledger per
    order, orders of the dead rows)."""
    shop = ShopwareSandbox(orders=generate_sw_orders(3, seed=5))  # two open invoice orders, overdue
    with ShopwareServer(shop) as server:
        etc = write_config(tmp_path / f"etc-{phase}-{target}", f"sqlite:///{tmp_path / f'{phase}-{target}.db'}",
                           [{"shop_id": "sw", "kind": "shopware6", "url": server.url, "key": shop.client_id,
                             "secret": shop.client_secret, "extra": RATES + MERCHANT}])
        killer = Killer(target, phase)
        shop.on_request = killer
        killer.proc = mahnwerk(etc, "run")
        killer.proc.wait(timeout=120)
        shop.on_request = None
        restarted = mahnwerk(etc, "run", "--json")
        out, err = restarted.communicate(timeout=120)
        assert restarted.returncode in (0, 1), err.decode()  # 1: a dead letter waits for a person
        [summary] = json.loads(out)
        assert not summary["errors"] or all("dead" in e or "outbox" in e for e in summary["errors"]), summary
        mails = Counter(m["order_id"] for m in shop.mails if m["kind"] == "api")
        assert not [m for m in shop.mails if m["kind"] == "flow"]  # the shop's own reminder flow never fired
        store = open_store(load_config(etc))
        try:
            with store.session() as session:
                staged = Counter(session.execute(select(Claim.order_id).join(
                    LedgerEntry, Claim.id == LedgerEntry.claim_id).where(LedgerEntry.kind == "stage")).scalars())
                dead = list(session.execute(select(Claim.order_id).join(OutboxRow, Claim.id == OutboxRow.claim_id)
                                            .where(OutboxRow.state == "dead")).scalars())
        finally:
            store.close()
    return killer.killed, mails, staged, dead


@pytest.mark.parametrize("phase", ["before", "after"])
def test_killed_at_every_request_never_mails_a_stage_twice(tmp_path: Path, phase: str) -> None:
    target, orders, dead_letters = 1, None, 0
    while True:
        killed, mails, staged, dead = one_crash(tmp_path, target, phase)
        assert all(n == 1 for n in mails.values()), (target, phase, mails)
        assert len(dead) <= 1, (target, phase, dead)  # only the row the kill interrupted
        for order_id in mails:  # a mail that went out is recorded, or waits for a person
            assert staged[order_id] == 1 or order_id in dead, (target, phase, order_id)
        assert all(order_id in mails for order_id in staged), (target, phase)  # recorded only when sent
        orders = orders or set(mails) | set(dead)
        assert set(mails) | set(dead) == orders, (target, phase)  # every crash point: the same claims handled
        dead_letters += len(dead)
        if not killed:  # the first run got through: every request has had its crash
            break
        target += 1
    assert len(orders) == 2 and target > 12, (orders, target)
    assert dead_letters >= 1  # the mail POST itself was a crash point, and nothing guessed
