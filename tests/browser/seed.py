"""A store as a merchant's console sees it after weeks of work, built through the real code paths.

A sandbox WooCommerce shop on 127.0.0.1 is synced and run for real on a simulated calendar (eight, six, four and two
weeks ago, then today), with the orders of each fortnight added before its run, so claims stand at every stage of the
ladder (and fresh ones at none yet) and the shop has mailed the notices. Then a customer disputes one claim, a bank
statement brings a payment whose amount fits a claim but whose payer does not (it waits in the review queue) and
one that fits nothing (unmatched), and the console gets its users through `mahnwerk web adduser`. One customer is
named `<script>alert(1)</script>`, as a shop's REST API would hand it over.

    with seeded_store(tmp_path) as seeded:
        seeded.config_dir, seeded.claim_ref(seeded.script_order), seeded.review_payment_id ...
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlmodel import col

from mahnwerk.connectors.payment_records import IncomingPayment
from mahnwerk.policy.interest import cents
from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sandbox.dates import real_clock
from mahnwerk.sync.casework.case import hold, open_case
from mahnwerk.sync.casework.planner import assessments, shop_today
from mahnwerk.sync.config import load_config
from mahnwerk.sync.mirror.mirror import Mirror
from mahnwerk.sync.payments.intake import import_payments
from mahnwerk.sync.payments.matchrun import run as match_payments
from mahnwerk.sync.service.bootstrap import connect_shop, open_store
from mahnwerk.sync.service.running import run_shops
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, ClaimState, IncomingPaymentRow, LedgerEntry, PaymentState
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT

SHOP_ID = "gartenglueck"
SCRIPT_NAME = "<script>alert(1)</script>"
ORDERS_PER_BATCH = 25
# (days ago the run happens, days ago its batch of orders began): each run finds the orders created since the last.
BATCHES = ((56, 130), (42, 56), (28, 42), (14, 28), (0, 14))
USERS = {"clara": ("clerk", "clerk-password-1"), "viktor": ("viewer", "viewer-password-1")}
ACCOUNT = "DE14370400441234567890"


@dataclass
class SeededStore:
    """What was seeded, for the tests to look for."""

    config_dir: Path
    db_url: str
    shop: WooSandbox
    script_order: str  # the order number of the <script> customer's claim
    disputed_order: str  # a claim on hold (dispute)
    review_payment_id: int  # a payment waiting in the review queue, suggested for review_order
    review_order: str  # ... which it pays in full
    review_amount: Decimal
    unmatched_payment_id: int
    by_stage: dict[str, list[str]] = field(default_factory=dict)  # open claims' order numbers by the last stage
    # sent ("" for none yet), consumers first, oldest due date first
    order_ids: dict[str, str] = field(default_factory=dict)  # order number: the shop's order id, of every claim
    users: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(USERS))  # name: (role, password)

    @property
    def stages(self) -> Counter:
        """How many open claims stand at each stage."""
        return Counter({stage: len(orders) for stage, orders in self.by_stage.items()})

    def at_stage(self, stage: str) -> str:
        """The order number of an open claim at `stage` (a consumer's if there is one) that the seed gave no other
        part to play."""
        taken = {self.script_order, self.disputed_order, self.review_order}
        found = [order for order in self.by_stage.get(stage, []) if order not in taken]
        assert found, f"no open claim at stage {stage!r} in the seeded store: {dict(self.stages)}"
        return found[0]

    @property
    def numbered(self) -> dict[str, str]:
        """Order number: id, of the open claims whose number is not their id (a sequential-numbers plugin:
        "2026-1005" for order 1005)."""
        open_orders = {order for orders in self.by_stage.values() for order in orders}
        return {number: order_id for number, order_id in self.order_ids.items()
                if number != order_id and number in open_orders}

    def claim_path(self, order_number: str) -> str:
        """The claim page's address: by the shop's order id."""
        return f"/claims/{SHOP_ID}/{self.order_ids[order_number]}"

    def claim_ref(self, order_number: str) -> str:
        return f"{SHOP_ID}:{order_number}"

    def store(self) -> Store:
        return Store(self.db_url)


def batch(number: int, now: datetime) -> list[dict]:
    """The orders created between BATCHES[number] days ago and its run (as the shop had them on the run's day).
    The first batch keeps its generated ids; later ones get new ids and numbers from the shop."""
    runs_ago, created_from = BATCHES[number]
    orders = generate_orders(ORDERS_PER_BATCH, seed=18 + number, start=now - timedelta(days=created_from),
                             days=created_from - runs_ago - 1, now=now - timedelta(days=runs_ago))
    if number == 0:
        return [script_customer(orders)] + orders[1:]
    return [{k: v for k, v in o.items() if k not in ("id", "number", "order_key")} for o in orders if not o["refunds"]]


def script_customer(orders: list[dict]) -> dict:
    """The youngest unpaid invoice order of the batch entered over the REST API (its billing name is stored
    verbatim, as the shop's API returns it) becomes the <script> customer's; it is moved to the front."""
    script = next(o for o in reversed(orders) if o["status"] == "on-hold" and o["created_via"] == "rest-api"
                  and o["payment_method"] in ("bacs", "invoice") and not o["refunds"])
    orders.remove(script)
    billing = {**script["billing"], "first_name": SCRIPT_NAME, "last_name": "", "company": "",
               "email": "script@example.com"}
    return {**script, "billing": billing, "shipping": {k: v for k, v in billing.items() if k != "email"}}


@contextmanager
def seeded_store(folder: Path, db_url: str | None = None) -> Iterator[SeededStore]:
    """The seeded store with its sandbox shop serving on 127.0.0.1 until the block ends (the console's actions may
    tell the shop)."""
    now = datetime.now(UTC)
    db_url = db_url or f"sqlite:///{folder / 'mahnwerk.db'}"
    shop = WooSandbox(orders=batch(0, now))
    with SandboxServer(shop) as server:
        shop.url = server.url
        etc = write_config(folder / "etc", db_url, [{"shop_id": SHOP_ID, "url": server.url, "key": shop.consumer_key,
                                                     "secret": shop.consumer_secret, "extra": RATES + MERCHANT}])
        config = load_config(etc)
        with closing(open_store(config)) as store:
            for number, (days_ago, _) in enumerate(BATCHES):
                for order in batch(number, now) if number else ():
                    shop.add_order(order)
                run_on(store, config, shop, now - timedelta(days=days_ago))
            shop.clock = real_clock
            seeded = settle_casework(store, config, etc, db_url, shop, now)
            seeded.by_stage = orders_by_stage(store)
            with store.session() as session:
                seeded.order_ids = dict(session.execute(select(col(Claim.order_number), col(Claim.order_id))).all())
        add_users(etc, USERS)
        yield seeded


def run_on(store: Store, config, shop: WooSandbox, moment: datetime) -> None:
    """`mahnwerk run` (sync, decide, send) as if it were `moment`; every part must go through. The shop's clock
    says `moment` too: what the run changes in the shop is dated then, and the next run's sync finds the orders
    added after it (its cursor follows the shop's dates)."""
    shop.clock = lambda: moment
    simulated = moment < datetime.now(UTC) - timedelta(hours=1)
    if simulated:  # `run` syncs on the real clock; the mirror itself takes one, so claims are first seen then
        with closing(connect_shop(config.shops[0])) as source:
            Mirror(store, config.shops[0], source, clock=lambda: moment).run()
    for result in run_shops(store, config, config.shops, now=lambda: moment, sleep=lambda seconds: None,
                            sync=not simulated):
        summary = result.as_dict()
        assert result.ok and not summary["errors"], f"the seeding run on {moment:%Y-%m-%d} failed: {summary}"


def settle_casework(store: Store, config, etc: Path, db_url: str, shop: WooSandbox, now: datetime) -> SeededStore:
    """A dispute, and a statement with one payment for the review queue and one that fits nothing."""
    shop_config = config.shops[0]
    today = shop_today(shop_config, now)
    with store.session() as session:
        open_rows = session.execute(select(Claim).where(col(Claim.shop_id) == SHOP_ID, col(Claim.state) ==
                                                        ClaimState.OPEN).order_by(col(Claim.due_date))).scalars().all()
    script = [c for c in open_rows if c.customer_name == SCRIPT_NAME]
    assert script, f"no open claim of the customer named {SCRIPT_NAME!r} after the sync"
    others = [c for c in open_rows if c.customer_name != SCRIPT_NAME and not c.is_b2b]
    assert len(others) >= 3, f"too few open consumer claims to seed from: {len(others)}"
    # The payment is for the youngest claim that had a notice: what it owes has fees and interest in it, and it is
    # recent enough for the amount + name rule (invoiced within its window) to suggest it.
    stages = stage_by_claim(store)
    disputed, paid = others[0], [c for c in others if stages.get(c.id)][-1]
    with store.session() as session:
        hold(open_case(session, config, f"{SHOP_ID}:{disputed.order_number}", actor="seed", now=now), "dispute",
             note="Kunde sagt, das Paket kam nie an")
        session.commit()
    owed = {row.id: cents(result.balance.total) for row, result in assessments(store, shop_config, today)
            if result.balance is not None}
    amount = owed[paid.id]
    statement = [credit("SEED-REVIEW", amount, "Danke fuer die Lieferung", "Fremder Zahler", now),
                 credit("SEED-SALARY", Decimal("1234.56"), "Gehalt November", "Arbeitgeber AG", now)]
    imported = import_payments(store, shop_config, statement, origin="seed-camt053.xml", now=now)
    assert imported.new == 2, imported.as_dict()
    match_payments(store, shop_config, now=now)
    with store.session() as session:
        rows = {p.ref: p for p in session.execute(select(IncomingPaymentRow).where(
            col(IncomingPaymentRow.ref).in_(("SEED-REVIEW", "SEED-SALARY")))).scalars()}
    review, salary = rows["SEED-REVIEW"], rows["SEED-SALARY"]
    assert review.state == PaymentState.REVIEW and paid.id in review.candidates, (review.state, review.reason)
    assert salary.state == PaymentState.UNMATCHED, (salary.state, salary.reason)
    assert review.id is not None and salary.id is not None
    return SeededStore(etc, db_url, shop, script[0].order_number, disputed.order_number, review.id,
                       paid.order_number, amount, salary.id)


def credit(ref: str, amount: Decimal, text: str, payer: str, now: datetime) -> IncomingPayment:
    return IncomingPayment(source="camt.053", ref=ref, booked_on=(now - timedelta(days=1)).date(), amount=amount,
                           currency="EUR", account=ACCOUNT, payer_name=payer, remittance=text, position=f"entry {ref}")


def orders_by_stage(store: Store) -> dict[str, list[str]]:
    """Order numbers of the open claims by the last stage sent to them ("" when none was sent yet), consumers
    before businesses, each oldest due date first."""
    stages = stage_by_claim(store)
    with store.session() as session:
        rows = session.execute(select(col(Claim.id), col(Claim.order_number)).where(
            col(Claim.state) == ClaimState.OPEN).order_by(col(Claim.is_b2b), col(Claim.due_date)))
        found: dict[str, list[str]] = {}
        for claim_id, order in rows:
            found.setdefault(stages[claim_id], []).append(order)
    return found


def stage_by_claim(store: Store) -> dict[int, str]:
    """The last stage sent to each open claim ("" when none was sent yet), by claim id."""
    with store.session() as session:
        open_ids = session.execute(select(col(Claim.id)).where(col(Claim.state) == ClaimState.OPEN)).scalars()
        last: dict[int, str] = dict.fromkeys(open_ids, "")
        for claim_id, data in session.execute(select(col(LedgerEntry.claim_id), col(LedgerEntry.data)).where(
                col(LedgerEntry.kind) == "stage").order_by(col(LedgerEntry.at), col(LedgerEntry.id))):
            if claim_id in last:
                last[claim_id] = data["stage"]
    return last


def add_users(etc: Path, users: dict[str, tuple[str, str]]) -> None:
    """`mahnwerk web adduser NAME --role ROLE`, the password on standard input, as a merchant adds them."""
    for name, (role, password) in users.items():
        done = subprocess.run([sys.executable, "-m", "mahnwerk", "--config-dir", str(etc), "web", "adduser", name,
                               "--role", role], input=f"{password}\n", capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, (f"`mahnwerk web adduser {name} --role {role}` exited {done.returncode}:\n"
                                      f"{done.stdout}{done.stderr}")
