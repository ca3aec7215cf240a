"""The whole flow against the Shopware 6 sandbox on 127.0.0.1, through the command line in-process and a real
database (SQLite and PostgreSQL): mirror, plan, notices through the shop's mailer with the `remind` transition,
Twig-looking customer data printed literally, a claim paid meanwhile gets nothing, a bank statement pays claims and
the transactions move to paid, `check` names what an integration may not do, an interrupted send waits for a
person."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from mahnwerk.connectors.shopware6.auth import forget_tokens
from mahnwerk.sandbox import ShopwareSandbox, ShopwareServer, generate_sw_orders, malformed_sw_orders
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.models import Claim, ClaimState, OutboxRow, OutboxState
from tests.connectors.test_mt940_statement import statement, write
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT

TWIG = ("{{ 7*7 }}", "{% include 'mail.twig' %}")


def shopware_orders() -> list[dict]:
    """60 generated orders; the first open invoice order's customer is named like Twig code."""
    orders = generate_sw_orders(60, seed=21)
    victim = next(o for o in orders if o["transactions"][-1]["stateMachineState"]["technicalName"] == "open"
                  and o["transactions"][-1]["paymentMethod"]["technicalName"] == "payment_invoicepayment"
                  and o.get("documents"))
    for person in (victim["orderCustomer"], victim["billingAddress"]):
        person["firstName"], person["lastName"] = TWIG
    return orders


@pytest.fixture
def sandbox() -> Iterator[ShopwareSandbox]:
    forget_tokens()  # the token cache is per process: a new sandbox, new tokens
    yield ShopwareSandbox(orders=shopware_orders())
    forget_tokens()


@pytest.fixture
def server(sandbox: ShopwareSandbox) -> Iterator[ShopwareServer]:
    with ShopwareServer(sandbox) as running:
        yield running


@pytest.fixture
def etc(tmp_path: Path, sandbox: ShopwareSandbox, server: ShopwareServer, db_url: str) -> Path:
    return write_config(tmp_path / "etc", db_url, [{
        "shop_id": "sw", "kind": "shopware6", "url": server.url, "key": sandbox.client_id,
        "secret": sandbox.client_secret, "extra": RATES + MERCHANT}])


def cli(etc: Path, capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> Any:
    """`mahnwerk --config-dir etc ARGS` in-process; its JSON when it printed some, else the text."""
    capsys.readouterr()
    assert main(["--config-dir", str(etc), *args]) == code, capsys.readouterr()
    out = capsys.readouterr().out
    return json.loads(out) if "--json" in args else out


def claims(etc: Path) -> list[Claim]:
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            return list(session.execute(select(Claim).order_by(col(Claim.id))).scalars())
    finally:
        store.close()


def outbox(etc: Path) -> list[OutboxRow]:
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            return list(session.execute(select(OutboxRow).order_by(col(OutboxRow.id))).scalars())
    finally:
        store.close()


def api_mails(sandbox: ShopwareSandbox) -> list[dict]:
    return [m for m in sandbox.mails if m["kind"] == "api"]


def test_a_shopware_merchant_gets_the_whole_flow(etc: Path, sandbox: ShopwareSandbox,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    [synced] = cli(etc, capsys, "sync", "--json")
    assert synced["ok"] and synced["new"] > 10, synced
    listed = {c["order_id"]: c for c in cli(etc, capsys, "claims", "--json")}
    for order_id, claim in listed.items():  # Shopware's ids and numbers, the latest transaction open on invoice
        order = sandbox.orders[order_id]
        assert len(order_id) == 32 and claim["order_number"] == order["orderNumber"]
        assert claim["customer_id"] == order["orderCustomer"]["customerNumber"]  # the Kundennummer
        latest = order["transactions"][-1]
        assert latest["paymentMethod"]["technicalName"] == "payment_invoicepayment"
        assert latest["stateMachineState"]["technicalName"] in ("open", "reminded", "paid_partially")
    expected = {o["id"] for o in sandbox.orders.values()
                if o["transactions"] and o["transactions"][-1]["paymentMethod"]["technicalName"]
                == "payment_invoicepayment" and o["transactions"][-1]["stateMachineState"]["technicalName"]
                in ("open", "reminded", "paid_partially")}
    assert set(listed) == expected
    [idle] = cli(etc, capsys, "sync", "--json")
    assert idle["requests"] == 1 and (idle["new"], idle["updated"]) == (0, 0), idle  # token cached in-process

    # One claim is paid in the shop after the plan: the run must not mail that customer.
    due = [r for r in cli(etc, capsys, "plan", "--json") if r["status"] == "due"]
    assert len(due) >= 5
    paid_meanwhile = due[-1]["order_id"]  # the Twig-named customer is the oldest: due first
    sandbox.pay(paid_meanwhile)
    [ran] = cli(etc, capsys, "run", "--json")
    mails = api_mails(sandbox)
    assert ran["sent"] == len(mails) >= 4 and ran["dead"] == 0, ran
    assert [m for m in sandbox.mails if m["kind"] == "flow"] == []  # the shop's own flow stayed quiet
    assert paid_meanwhile not in {m["order_id"] for m in mails}
    assert next(c for c in claims(etc) if c.order_id == paid_meanwhile).state == ClaimState.PAID
    assert Counter(m["order_id"] for m in mails).most_common(1)[0][1] == 1
    for mail in mails:
        fields = sandbox.custom_fields(mail["order_id"])
        row = next(r for r in outbox(etc) if r.reference == f"mail:{fields['mahnwerk_last_action']}")
        assert row.state == OutboxState.DONE and fields["mahnwerk_stage"] == row.stage
        assert mail["sales_channel_id"] == sandbox.orders[mail["order_id"]]["salesChannelId"]
        if sandbox.order(mail["order_id"])["transactions"][-1]["stateMachineState"]["technicalName"] != "paid":
            assert sandbox.transaction_state(mail["order_id"]) in ("reminded", "paid_partially")
    twig = next(m for m in mails if TWIG[0] in str(m["recipients"]))
    assert TWIG[0] in twig["text"] and TWIG[1] in twig["text"] and "49" not in twig["text"].split(TWIG[0])[0][-3:]
    assert sandbox.mail_failures == []
    assert all(len(m["media"]) == 1 and m["media"][0].startswith("mahnwerk-") for m in mails)  # the PDF letter

    [again] = cli(etc, capsys, "run", "--json")  # nothing more is due today
    assert again["sent"] == 0 and len(api_mails(sandbox)) == len(mails)

    # A bank statement pays two reminded claims, one in full and one in part: the shop's transactions follow.
    owed = {c["order_id"]: c["owed"] for c in cli(etc, capsys, "claims", "--json") if c["currency"] == "EUR"}
    full, part = [c for c in claims(etc) if c.state == ClaimState.OPEN and c.order_id in owed][:2]
    day = datetime.now(UTC).strftime("%y%m%d")
    cli(etc, capsys, "payments", "import", str(write(etc, statement(
        f":61:{day}{day[2:]}C{owed[full.order_id].replace('.', ',')}NTRFNONREF//FULL1",
        f":86:166?00GUTSCHRIFT?20SVWZ+Rechnung {full.invoice_number}",
        f":61:{day}{day[2:]}C1,00NTRFNONREF//PART1", f":86:166?00GUTSCHRIFT?20SVWZ+Rechnung {part.invoice_number}"))))
    cli(etc, capsys, "run")
    assert sandbox.transaction_state(full.order_id) == "paid"
    assert sandbox.transaction_state(part.order_id) == "paid_partially"
    notes = sandbox.custom_fields(full.order_id)["mahnwerk_notes"]
    assert any("paid in full" in n["text"] for n in notes)


def test_check_names_the_invoice_methods_and_what_the_integration_may_not_do(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], sqlite_url: str) -> None:
    forget_tokens()
    shop = ShopwareSandbox(orders=generate_sw_orders(5, seed=2), admin=False,
                           privileges=["order:read", "payment_method:read", "integration:read", "acl_role:read"])
    with ShopwareServer(shop) as server:
        etc = write_config(tmp_path / "etc", sqlite_url, [{
            "shop_id": "sw", "kind": "shopware6", "url": server.url, "key": shop.client_id,
            "secret": shop.client_secret, "extra": RATES + MERCHANT}])
        [verdict] = cli(etc, capsys, "check", "--json", code=1)
    assert verdict["invoice_methods"] == {"payment_invoicepayment": True}, verdict
    assert "api_send_email" in verdict["problem"] and "order:update" in verdict["problem"], verdict
    assert shop.client_secret not in json.dumps(verdict)
    forget_tokens()


def test_a_send_interrupted_after_it_began_waits_for_a_person(etc: Path, sandbox: ShopwareSandbox,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Shopware keeps no mail log to ask: a mail the shop sent but whose answer was lost is never sent again
    automatically; the row waits, dead, for `outbox done|retry`, and `status` shows it."""
    cli(etc, capsys, "sync")
    lost: list[int] = []

    def lose_first_mail_answer(method: str, path: str, phase: str) -> bool:
        if phase == "after" and path.endswith("/mail-template/send") and not lost:
            lost.append(1)
            return True  # the shop sent it; the connection drops before the answer
        return False

    sandbox.on_request = lose_first_mail_answer
    cli(etc, capsys, "run", "--json", code=0)
    sandbox.on_request = None
    config = load_config(etc)
    store = open_store(config)
    try:
        from mahnwerk.sync.service.running import run_shops

        later = datetime.now(UTC) + timedelta(hours=2)  # past the retry's backoff
        run_shops(store, config, config.shops, now=lambda: later, sleep=lambda seconds: None)
    finally:
        store.close()
    dead = [r for r in outbox(etc) if r.state == OutboxState.DEAD]
    assert len(dead) == 1 and f"mahnwerk outbox done {dead[0].id}" in (dead[0].last_error or ""), dead
    assert Counter(m["order_id"] for m in api_mails(sandbox)).most_common(1)[0][1] == 1  # never twice
    [status] = cli(etc, capsys, "status", "--json")
    assert status["outbox"]["dead"] == 1, status


def test_malformed_orders_are_quarantined_with_the_field_and_the_sync_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], sqlite_url: str) -> None:
    forget_tokens()
    broken = malformed_sw_orders()
    shop = ShopwareSandbox(orders=[*generate_sw_orders(20, seed=4), *broken])
    defect = {o["customFields"]["sandbox_defect"]: o["id"] for o in broken}
    with ShopwareServer(shop) as server:
        etc = write_config(tmp_path / "etc", sqlite_url, [{
            "shop_id": "sw", "kind": "shopware6", "url": server.url, "key": shop.client_id,
            "secret": shop.client_secret, "extra": RATES + MERCHANT}])
        [first] = cli(etc, capsys, "sync", "--json")
        for order in broken:
            shop.touch(order["id"])
        [second] = cli(etc, capsys, "sync", "--json")
        held = {q["order_id"]: q["field"] for q in cli(etc, capsys, "claims", "--quarantine", "--json")}
        listed = {c["order_id"] for c in cli(etc, capsys, "claims", "--json")}
    assert first["ok"] and second["ok"] and first["new"] > 5, (first, second)
    assert held == {defect["orderDateTime is not a date"]: "orderDateTime",
                    defect["amountTotal is a string"]: "amountTotal"}, held
    assert defect["no orderCustomer"] in listed  # a claim all the same: no e-mail, so a letter and a task
    assert defect["no transactions"] not in listed and defect["no transactions"] not in held  # not an invoice order
    forget_tokens()
