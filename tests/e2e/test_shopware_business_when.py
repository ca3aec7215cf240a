"""`business_when = ["customer_group:…"]` against the Shopware 6 sandbox: the order search loads
orderCustomer.customer.group as Shopware does (null unless asked for), the mirror stores the group in
claims.customer_group and classifies by it, `explain` names it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mahnwerk.connectors.shopware6.auth import forget_tokens
from mahnwerk.connectors.shopware6.criteria import orders_by_id
from mahnwerk.sandbox import ShopwareSandbox, ShopwareServer, generate_sw_orders
from mahnwerk.sync.cli.main import main
from tests.e2e.test_shopware_flow import claims
from tests.sandbox.shopware_client import AdminClient
from tests.support import write_config
from tests.sync.test_casework_cli import RATES

OPEN_INVOICE = ("payment_invoicepayment", "open")


def open_invoice(order: dict) -> bool:
    latest = order["transactions"][-1]
    return (latest["paymentMethod"]["technicalName"], latest["stateMachineState"]["technicalName"]) == OPEN_INVOICE


@pytest.fixture
def orders() -> list[dict]:
    """60 generated orders: businesses (VAT id, company) in the group "Händler", the rest in the standard group,
    every 13th account deleted; one consumer moved to "Händler", one business to the standard group."""
    orders = generate_sw_orders(60, seed=5)
    candidates = [o for o in orders if open_invoice(o) and o["orderCustomer"]["customer"] is not None]
    consumer = next(o for o in candidates if not o["orderCustomer"]["vatIds"])
    business = next(o for o in candidates if o["orderCustomer"]["vatIds"])
    groups = {o["orderCustomer"]["customer"]["group"]["name"]: o["orderCustomer"]["customer"]["group"]
              for o in candidates}
    consumer["orderCustomer"]["customer"]["group"] = groups["Händler"]
    business["orderCustomer"]["customer"]["group"] = groups["Standard-Kundengruppe"]
    return orders


@pytest.fixture
def server(orders: list[dict]) -> Iterator[tuple[ShopwareSandbox, ShopwareServer]]:
    forget_tokens()
    sandbox = ShopwareSandbox(orders=orders)
    with ShopwareServer(sandbox) as running:
        yield sandbox, running
    forget_tokens()


def test_the_order_search_loads_the_customer_group_only_when_asked(server, orders: list[dict]) -> None:
    sandbox, running = server
    api = AdminClient(running.url, sandbox.client_id, sandbox.client_secret).login()
    first = next(o for o in orders if o["orderCustomer"]["customer"] is not None)
    plain = api.search({"ids": [first["id"]], "associations": {"orderCustomer": {}}}).json()["data"][0]
    assert plain["orderCustomer"]["customer"] is None  # associations are null unless requested
    without = api.search(orders_by_id([first["id"]])).json()["data"][0]
    assert "customer" not in without["orderCustomer"]  # no group rule: neither loaded nor included
    found = api.search(orders_by_id([first["id"]], groups=True)).json()["data"][0]
    customer = found["orderCustomer"]["customer"]
    assert customer == {"group": customer["group"], "apiAlias": "customer"}  # includes: only the group
    assert customer["group"] == {"name": first["orderCustomer"]["customer"]["group"]["name"],
                                 "translated": {"name": first["orderCustomer"]["customer"]["group"]["name"]},
                                 "apiAlias": "customer_group"}
    limited = ShopwareSandbox(orders=orders, admin=False, privileges=["order:read", "order_customer:read"])
    with ShopwareServer(limited) as other:
        client = AdminClient(other.url, limited.client_id, limited.client_secret).login()
        refused = client.search(orders_by_id([first["id"]], groups=True))
        assert refused.status_code == 403  # every association's read privilege is checked (AclCriteriaValidator)
        assert '"missingPrivileges": ["customer:read", "customer_group:read", ' in refused.json()["errors"][0]["detail"]
        client.session.close()
    api.session.close()


def test_claims_count_as_business_by_their_customer_group(tmp_path: Path, server, orders: list[dict], db_url: str,
                                                          capsys) -> None:
    sandbox, running = server
    etc = write_config(tmp_path / "etc", db_url, [{
        "shop_id": "sw", "kind": "shopware6", "url": running.url, "key": sandbox.client_id,
        "secret": sandbox.client_secret,
        "extra": '[policy]\nbusiness_when = ["customer_group:Händler"]\n' + RATES}])
    assert main(["--config-dir", str(etc), "sync"]) == 0
    by_order = {o["id"]: o for o in orders}
    stored = claims(etc)
    assert stored
    for claim in stored:
        account = by_order[claim.order_id]["orderCustomer"]["customer"]
        group = account["group"]["name"] if account else ""
        assert (claim.customer_group, claim.is_b2b) == (group, group == "Händler"), claim.order_number
    assert {c.customer_group for c in stored} == {"Händler", "Standard-Kundengruppe", ""}
    # The business moved to the standard group has a VAT id, which this setting does not count.
    business = next(c for c in stored if c.vat_id and c.customer_group == "Standard-Kundengruppe")
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "explain", f"sw:{business.order_number}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["b2b"], report["customer_group"]) == (False, "Standard-Kundengruppe")
    assert report["b2b_reason"] == ('consumer: VAT id and company name and customer group "Standard-Kundengruppe" '
                                    'given, but business_when does not count them '
                                    '(business_when = customer_group:Händler)')
    consumer = next(c for c in stored if not c.vat_id and c.customer_group == "Händler")
    assert main(["--config-dir", str(etc), "explain", f"sw:{consumer.order_number}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["b2b_reason"] == (
        'business: customer group "Händler" (business_when = customer_group:Händler)')
