"""Business or consumer, end to end: the sandbox shop over HTTP, a real database, the command line in-process.
`[policy] business_when` decides, a change of it re-classifies open claims on the next sync, `explain` says why."""

from __future__ import annotations

import json
from pathlib import Path

from mahnwerk.sandbox import SandboxServer, WooSandbox
from mahnwerk.sync.cli.main import main
from tests.support import write_config
from tests.sync.test_casework_cli import RATES, run

# Consumers' invoices say it, so default starts 30 days after the due date for both kinds of customer.
POLICY = '[policy]\ninvoice_states_default = true\n{rule}\n' + RATES


def configure(folder: Path, woo, db_url: str, rule: str = "") -> Path:
    return write_config(folder, db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                          "secret": woo.consumer_secret, "extra": POLICY.format(rule=rule)}])


def order(woo, number: str, *, company: str = "", vat_id: str = "") -> None:
    woo.add_order({"number": number, "status": "on-hold", "payment_method": "bacs", "currency": "EUR",
                   "total": "100.00", "date_created_gmt": "2026-06-01T10:00:00",
                   "billing": {"first_name": "Kim", "last_name": "Berg", "company": company, "country": "DE",
                               "email": f"{number}@example.org"},
                   "meta_data": [{"id": 1, "key": "vat_id", "value": vat_id}] if vat_id else []})


def owed(etc: Path, capsys) -> dict[str, str]:
    # Invoice 2026-06-01, due + 14 days = Mon 15 Jun; + 30 days = Wed 15 Jul → in default from Thu 16 Jul.
    # On 26 Jul: 10 days of interest on 100.00 (16–25 Jul).
    rows = json.loads(run(etc, capsys, "plan", "--json", "--date", "2026-07-26"))
    return {row["order_number"]: row["open_amount"] for row in rows if row["order_number"].startswith("BW-")}


def test_business_when_decides_flat_fee_and_interest_and_a_change_reclassifies(tmp_path: Path, woo, db_url: str,
                                                                                capsys) -> None:
    order(woo, "BW-1", company="Kim's Laden")  # a consumer who filled in the company field
    order(woo, "BW-2", company="Berg GmbH", vat_id="DE123456789")
    order(woo, "BW-3")
    etc = configure(tmp_path / "etc", woo, db_url)
    assert main(["--config-dir", str(etc), "sync"]) == 0
    # Consumer: 100 × (1.27 + 5) % × 10/365 = 0.1717… → 0.17, no flat fee.
    # Business: 100 × (1.27 + 9) % × 10/365 = 0.2813… → 0.28, plus the €40 flat fee.
    assert owed(etc, capsys) == {"BW-1": "100.17", "BW-2": "140.28", "BW-3": "100.17"}
    report = json.loads(run(etc, capsys, "explain", "acme:BW-1", "--json"))
    assert report["b2b"] is False
    assert report["b2b_reason"] == ("consumer: company name given, but business_when does not count it "
                                    "(business_when = vat_id)")
    report = json.loads(run(etc, capsys, "explain", "acme:BW-2", "--json"))
    assert (report["b2b"], report["b2b_reason"]) == (True, "business: VAT id on the order (business_when = vat_id)")
    assert "consumer: nothing on the order makes it a business" in run(etc, capsys, "explain", "acme:BW-3")

    # The merchant counts company names too: the next sync re-classifies the open claim, though its order is as it was.
    etc = configure(tmp_path / "etc", woo, db_url, 'business_when = ["vat_id", "company"]')
    report = json.loads(run(etc, capsys, "explain", "acme:BW-1", "--json"))
    assert report["b2b_reason"] == ("consumer until the next sync, then business: company name on the order "
                                    "(business_when = vat_id, company)")
    assert main(["--config-dir", str(etc), "sync"]) == 0
    assert owed(etc, capsys) == {"BW-1": "140.28", "BW-2": "140.28", "BW-3": "100.17"}
    report = json.loads(run(etc, capsys, "explain", "acme:BW-1", "--json"))
    assert report["b2b_reason"] == "business: company name on the order (business_when = vat_id, company)"
    assert report["timeline"][-1]["what"] == ("changed: is_b2b False → True (business: company name on the order "
                                              "(business_when = vat_id, company))")
    assert main(["--config-dir", str(etc), "sync"]) == 0  # nothing more to change: no second entry
    report = json.loads(run(etc, capsys, "explain", "acme:BW-1", "--json"))
    assert [e["kind"] for e in report["timeline"]] == ["opened", "changed"]



def test_woocommerce_customers_count_as_business_by_their_role(tmp_path: Path, db_url: str, capsys) -> None:
    """Registered customers' roles come from GET customers (role=all), one request per page of orders."""
    shop = WooSandbox()
    shop.customers[3]["role"] = "wholesale_customer"  # Zoë Ångström, no company, no VAT id
    for number, customer_id in (("R-1", 2), ("R-2", 3), ("R-3", 0)):  # a customer, a wholesaler, a guest
        shop.add_order({"number": number, "status": "on-hold", "payment_method": "bacs", "currency": "EUR",
                        "total": "50.00", "customer_id": customer_id,
                        "billing": {"first_name": "Kim", "last_name": "Berg", "country": "DE",
                                    "email": f"{number}@example.org"}})
    with SandboxServer(shop) as server:
        shop.url = server.url
        etc = write_config(tmp_path / "etc", db_url, [{
            "shop_id": "acme", "url": shop.url, "key": shop.consumer_key, "secret": shop.consumer_secret,
            "extra": '[policy]\nbusiness_when = ["vat_id", "customer_role:wholesale_customer"]\n'}])
        assert main(["--config-dir", str(etc), "sync"]) == 0
        asked = [r for r in shop.requests if r.path.endswith("/customers")]
        assert len(asked) == 1 and asked[0].query["role"] == ["all"] and asked[0].query["include"] == ["2,3"]
        report = json.loads(run(etc, capsys, "explain", "acme:R-2", "--json"))
        assert (report["b2b"], report["customer_group"]) == (True, "wholesale_customer")
        assert report["b2b_reason"] == ('business: customer role "wholesale_customer" '
                                        '(business_when = vat_id, customer_role:wholesale_customer)')
        report = json.loads(run(etc, capsys, "explain", "acme:R-1", "--json"))
        assert (report["b2b"], report["customer_group"]) == (False, "customer")
        report = json.loads(run(etc, capsys, "explain", "acme:R-3", "--json"))
        assert (report["b2b"], report["customer_group"]) == (False, None)
