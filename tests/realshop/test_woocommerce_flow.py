"""The whole flow against a real WordPress 6.8 + WooCommerce 10 shop: check, sync, paid and trashed orders, run
(customer notes the shop mails), the merchant's view in the shop, and an agency export from real data.

The tests build on each other in file order, like a merchant's first day: one shop, one Mahnwerk config, one
database. What the customers got is read from the shop's captured mail (mail.jsonl), what the shop holds from its
REST API.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from mahnwerk.connectors.woocommerce.actions import note_text, same_text
from mahnwerk.sync.config import load_config
from mahnwerk.sync.outbox.channels import ShopChannel, message_of
from mahnwerk.sync.outbox.formats import day, money
from mahnwerk.sync.service.bootstrap import connect_shop, open_store
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry, OutboxRow, OutboxState
from tests.realshop.config import DUE_KEY, INVOICE_METHODS, write_realshop_config
from tests.realshop.conftest import RealShop
from tests.sync.test_run import NOW, query, run_at, sync_and_decide

pytestmark = pytest.mark.realshop

NOTE_MAIL = "A note has been added to your order from"
# A name WordPress could mangle three ways: stripslashes() on notes, HTML in the mail, an apostrophe texturized.
AWKWARD = {"first_name": "Zoë", "last_name": "Back\\slash & <i>Söhne</i> O'Neill"}


def mahnwerk(etc: Path, *args: str) -> subprocess.CompletedProcess:
    """The command line, as a merchant runs it."""
    return subprocess.run([sys.executable, "-m", "mahnwerk", "--config-dir", str(etc), *args],
                          capture_output=True, text=True, timeout=300, check=False)


def mahnwerk_json(etc: Path, *args: str):
    done = mahnwerk(etc, *args, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def etc(realshop: RealShop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_realshop_config(tmp_path_factory.mktemp("etc"), realshop.creds)


def open_amount(order: dict) -> Decimal:
    """What the customer still owes: the total less its refunds (WooCommerce lists refunds as negative totals)."""
    return Decimal(order["total"]) + sum((Decimal(r["total"]) for r in order["refunds"]), Decimal(0))


def unpaid_invoice_orders(shop: RealShop) -> dict[str, dict]:
    """The shop's own answer: on-hold orders paid by invoice that still owe money, by order id."""
    return {str(o["id"]): o for o in shop.orders(status="on-hold")
            if o["payment_method"] in INVOICE_METHODS and open_amount(o) > 0}


def query_rows(etc: Path, statement) -> list:
    """Whole result rows (query() gives the first column only)."""
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            return list(session.execute(statement).all())
    finally:
        store.close()


def open_claims(etc: Path) -> dict[str, Claim]:
    return {c.order_id: c for c in query(etc, select(Claim).where(Claim.state == ClaimState.OPEN))}


def note_mails(shop: RealShop) -> list[tuple[str, dict]]:
    """(order id, mail) for every customer-note mail, read from the request that made WordPress send it."""
    found = []
    for mail in shop.mails():
        match = re.match(r"POST /wp-json/wc/v3/orders/(\d+)/notes", mail.get("request", ""))
        if match and mail["subject"].startswith(NOTE_MAIL):
            found.append((match.group(1), mail))
    return found


def quoted_note(mail: dict) -> str:
    """The note as the customer reads it: the mail's blockquote without tags, entities decoded, spaces plain."""
    quote = re.search(r"<blockquote>(.*?)</blockquote>", mail["body"], re.DOTALL)
    assert quote, mail["body"][:500]
    text = html.unescape(re.sub(r"<[^>]+>", "", quote.group(1)))
    return text.replace("\u00a0", " ").replace("\u2019", "'")  # wptexturize curls apostrophes


def test_check_finds_the_shop_and_its_invoice_methods(etc: Path) -> None:
    """`check` reaches the shop, the keys are accepted, and bacs and cheque are there and enabled."""
    [verdict] = mahnwerk_json(etc, "check")
    assert verdict["ok"] and verdict["reachable"] and verdict["authenticated"], verdict
    assert verdict["invoice_methods"] == {"bacs": True, "cheque": True} and verdict["missing_methods"] == []
    text = mahnwerk(etc, "check")
    assert text.returncode == 0 and "bacs (enabled), cheque (enabled)" in text.stdout, text.stdout
    assert "[[policy.base_rates]]" not in text.stdout  # the shipped table's warning is gone with the configured rates


def test_sync_mirrors_exactly_the_unpaid_invoice_orders(realshop: RealShop, etc: Path) -> None:
    """The open claims are the shop's unpaid invoice orders, amounts net of refunds, names as the shop has them."""
    refunded = next(o for o in realshop.orders(status="on-hold", payment_method="bacs") if not o["refunds"])
    realshop.api("POST", f"orders/{refunded['id']}/refunds",
                 json={"amount": "5.00", "reason": "Teilgutschrift", "api_refund": False})
    awkward = realshop.api("POST", "orders", json={
        "payment_method": "bacs", "payment_method_title": "Direct bank transfer", "status": "on-hold",
        "billing": {**AWKWARD, "email": "awkward@example.com", "address_1": "Hauptstraße 9", "city": "Köln",
                    "postcode": "50667", "country": "DE"},
        "line_items": [{"product_id": realshop.product_ids[0], "quantity": 2}],
        "meta_data": [{"key": DUE_KEY, "value": (NOW - timedelta(days=20)).date().isoformat()}]}).json()

    [result] = mahnwerk_json(etc, "sync")
    assert result["ok"] and result["quarantined"] == 0, result

    expected = unpaid_invoice_orders(realshop)
    claims = open_claims(etc)
    assert set(claims) == set(expected) and len(claims) >= 50
    for order_id, order in expected.items():
        claim, billing = claims[order_id], order["billing"]
        assert (claim.open_amount, claim.currency) == (open_amount(order), order["currency"]), order_id
        assert claim.gross_amount == Decimal(order["total"])
        assert claim.customer_name == f"{billing['first_name']} {billing['last_name']}".strip()
        assert (claim.company, claim.email) == (billing["company"], billing["email"])
    assert claims[str(refunded["id"])].open_amount == Decimal(refunded["total"]) - Decimal("5.00")
    assert claims[str(awkward["id"])].customer_name == "Zoë Back\\slash & <i>Söhne</i> O'Neill"
    names = {c.customer_name for c in claims.values()}
    assert any("Größmann" in n for n in names) and any("<script>" in n for n in names)
    assert "&amp;" not in " ".join(names) and "&lt;" not in " ".join(names)


def test_paid_and_trashed_orders_leave_the_open_claims(realshop: RealShop, etc: Path) -> None:
    """Marked paid (PUT status) and moved to the trash: both close on the next sync; an idle poll is 1 request."""
    claims = open_claims(etc)
    paid, trashed = sorted(claims, key=int)[:2]
    realshop.api("PUT", f"orders/{paid}", json={"status": "processing"})
    realshop.api("DELETE", f"orders/{trashed}")

    [result] = mahnwerk_json(etc, "sync")
    assert result["ok"] and result["closed"] == 2, result
    after = {c.order_id: c for c in query(etc, select(Claim).where(Claim.order_id.in_([paid, trashed])))}
    assert after[paid].state == ClaimState.PAID and after[trashed].state == ClaimState.TRASHED
    assert set(open_claims(etc)) == set(unpaid_invoice_orders(realshop))

    [idle] = mahnwerk_json(etc, "sync")
    assert idle["ok"] and idle["requests"] == 1 and idle["new"] == idle["closed"] == 0, idle


def test_run_sends_the_first_stage_once_and_nothing_to_a_claim_paid_before_sending(realshop: RealShop,
                                                                                  etc: Path) -> None:
    """Planned, then one customer pays in the shop, then sent: one customer note per due claim, none to the payer."""
    realshop.mail_log.write_text("")
    decided = sync_and_decide(etc)
    assert len(decided.new) >= 20
    [payer] = [c.order_id for c in query(etc, select(Claim).where(Claim.id == decided.new[0]["claim_id"]))]
    realshop.api("PUT", f"orders/{payer}", json={"status": "completed"})

    [result] = run_at(etc, sync=False)
    outcome = result.outcome
    assert result.ok and outcome.skipped_paid == 1 and outcome.dead == 0, result.as_dict()
    assert outcome.sent == len(decided.new) - 1

    mails = note_mails(realshop)
    per_order = Counter(order_id for order_id, _ in mails)
    assert set(per_order.values()) == {1} and len(mails) == outcome.sent
    reminded = {claim.order_id for claim in query(etc, select(Claim).join(
        LedgerEntry, LedgerEntry.claim_id == Claim.id).where(LedgerEntry.kind == "stage"))}
    assert set(per_order) == reminded and payer not in reminded


def test_each_mail_reaches_the_billing_address_with_what_the_customer_needs(realshop: RealShop, etc: Path) -> None:
    """Invoice number, amount and pay-by date in the customer's language; umlauts intact; hostile names inert."""
    orders = {str(o["id"]): o for o in realshop.orders(include=",".join(i for i, _ in note_mails(realshop)),
                                                       status="any")}
    claims = {c.order_id: c for c in query(etc, select(Claim))}
    stages = {row.claim_id: row for row in query(etc, select(OutboxRow).where(OutboxRow.state == OutboxState.DONE))}
    for order_id, mail in note_mails(realshop):
        claim, order = claims[order_id], orders[order_id]
        text = quoted_note(mail)
        assert mail["to"] == [order["billing"]["email"]]
        assert claim.invoice_number in text
        assert money(claim.open_amount, claim.currency, claim.language).replace("\u00a0", " ") in text
        deadline = stages[claim.id].payload["deadline"]
        assert day(date.fromisoformat(deadline), claim.language) in text, (order_id, text)
        assert "<script" not in mail["body"].lower()  # a name with markup arrives as text, never as markup
        if not re.search(r"[\"-]", claim.customer_name):  # wptexturize curls quotes and dashes; the rest is as is
            assert claim.customer_name in text, (order_id, text[:300])
    texts = [quoted_note(mail) for _, mail in note_mails(realshop)]
    assert any("Größmann" in t for t in texts) and any("<script>alert(1)</script>" in t for t in texts)
    [awkward] = [t for t in texts if "Back\\slash" in t]
    assert "Zoë Back\\slash & <i>Söhne</i> O'Neill" in awkward


def test_a_second_run_the_same_day_sends_nothing(realshop: RealShop, etc: Path) -> None:
    """`run` again: nothing decided, nothing sent, no new mail."""
    before = len(realshop.mails())
    [again] = mahnwerk_json(etc, "run")
    assert again["ok"] and again["decided"] == again["sent"] == again["dead"] == 0, again
    assert len(realshop.mails()) == before


def test_the_shop_shows_the_dunning_state_in_note_and_meta(realshop: RealShop, etc: Path) -> None:
    """Private note and order meta in the shop; the stored customer note is exactly what was sent, so a crashed
    run finds it again instead of sending it twice."""
    shop = load_config(etc).shops[0]
    actions = connect_shop(shop)
    rows = query(etc, select(OutboxRow).where(OutboxRow.state == OutboxState.DONE, OutboxRow.stage == "reminder"))
    claims = {c.id: c for c in query(etc, select(Claim))}
    try:
        for row in rows:
            order_id = claims[row.claim_id].order_id
            meta = {m["key"]: m["value"] for m in realshop.api("GET", f"orders/{order_id}").json()["meta_data"]}
            assert meta["_mahnwerk_last_action"] == row.key and meta["_mahnwerk_stage"] == "reminder"
            assert meta["_mahnwerk_next_action"] == "dunning_1" and meta["_mahnwerk_next_date"]
            notes = realshop.api("GET", f"orders/{order_id}/notes").json()
            private = [n for n in notes if not n["customer_note"] and row.key in n["note"]]
            assert len(private) == 1 and private[0]["note"].startswith("Mahnwerk: reminder sent")
            [customer] = [n for n in notes if n["customer_note"]]
            # stored as sent, markup and umlauts included, but through PHP's stripslashes() (the mail is not)
            sent = note_text(message_of(row.key, row.payload))
            assert customer["note"] == re.sub(r"\\(.?)", r"\1", sent, flags=re.DOTALL)
            assert same_text(sent, customer["note"])
            assert ShopChannel(actions).find(order_id, row.key, row.payload) == row.reference
    finally:
        actions.close()
    # the awkward name was matched despite stripslashes()
    assert any("\\" in note_text(message_of(row.key, row.payload)) for row in rows)


def test_an_agency_export_from_real_orders_is_valid(realshop: RealShop, tmp_path_factory: pytest.TempPathFactory
                                                   ) -> None:
    """Cheque orders walked through the whole ladder on a simulated calendar: the hand-over file matches the shop."""
    folder = tmp_path_factory.mktemp("agency")
    etc = write_realshop_config(folder, realshop.creds, shop_id="agency", methods=("cheque",))
    mailed_before = len(note_mails(realshop))
    for days in range(0, 127, 14):
        [result] = run_at(etc, days)
        assert result.ok and result.outcome.dead == 0, (days, result.as_dict())
    # every stage sent as a customer note reached the customer once: mails per order = its "shop" stages
    mailed = Counter(order_id for order_id, _ in note_mails(realshop)[mailed_before:])
    by_note = Counter(c.order_id for c, e in query_rows(etc, select(Claim, LedgerEntry).join(
        LedgerEntry, LedgerEntry.claim_id == Claim.id).where(LedgerEntry.kind == "stage"))
        if e.data["channel"] == "shop")
    assert mailed == by_note and max(by_note.values()) >= 2
    exports = sorted((folder / "exports").glob("*.csv"))
    assert exports, "no claim reached the agency"
    handed = {c.order_id: c for c in query(etc, select(Claim).where(Claim.state == ClaimState.IN_COLLECTION))}
    orders = {str(o["id"]): o for o in realshop.orders(include=",".join(handed), status="any")}
    rows = []
    for path in exports:
        manifest = json.loads(path.with_name(path.name.removesuffix(".csv") + ".manifest.json").read_text())
        assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        with path.open(encoding="utf-8", newline="") as file:
            batch = list(csv.DictReader(file, delimiter=";"))
        assert len(batch) == manifest["count"]
        rows += batch
    assert {r["order_number"] for r in rows} == set(handed)
    for row in rows:
        order = orders[row["order_number"]]
        assert row["kind"] == "handover" and row["email"] == order["billing"]["email"]
        assert Decimal(row["principal"]) == open_amount(order) and row["currency"] == order["currency"]
        assert Decimal(row["total"]) >= Decimal(row["principal"])
        assert any(item["name"] in row["items"] for item in order["line_items"]), row["items"]
        assert "reminder" in row["history"] and "final_notice" in row["history"]
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values() if cell)


CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
 <GrpHdr><MsgId>REALSHOP-{day}</MsgId><CreDtTm>{day}T06:00:00</CreDtTm></GrpHdr>
 <Stmt><Id>{day}-001</Id><Acct><Id><IBAN>DE14370400441234567890</IBAN></Id><Ccy>EUR</Ccy></Acct>{entries}
 </Stmt></BkToCstmrStmt></Document>
"""
ENTRY = """
  <Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
   <BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>
   <NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
    <RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties><RmtInf><Ustrd>{text}</Ustrd></RmtInf>
   </TxDtls></NtryDtls></Ntry>"""


def test_a_bank_statement_closes_claims_and_the_shop_shows_it(realshop: RealShop, etc: Path) -> None:
    """A camt.053 pays one claim in full and another in part: the real shop gets the paid status ("processing";
    set_paid would do nothing on an on-hold order) and a private note for the first, a note only for the second."""
    full, part = [c for c in sorted(open_claims(etc).values(), key=lambda c: c.due_date, reverse=True)
                  if c.currency == "EUR"][:2]
    owed = {row["order_id"]: row["open_amount"] for row in mahnwerk_json(etc, "plan")}
    day = NOW.date().isoformat()
    entries = [ENTRY.format(currency="EUR", amount=owed[full.order_id], day=day, ref=f"RS{day}1", payer="Kunde",
                            text=f"Rechnung {html.escape(full.invoice_number)}"),
               ENTRY.format(currency="EUR", amount="1.00", day=day, ref=f"RS{day}2", payer="Kunde",
                            text=f"Rechnung {html.escape(part.invoice_number)} erste Rate")]
    path = etc / "statement.xml"
    path.write_text(CAMT.format(day=day, entries="".join(entries)), encoding="utf-8")
    imported = mahnwerk_json(etc, "payments", "import", str(path))
    assert imported["files"][0]["new"] == 2 and (imported["closed"], imported["partial"]) == (1, 1), imported

    [run] = mahnwerk_json(etc, "run")
    assert run["ok"] and run["written_back"] == 2, run
    paid = realshop.api("GET", f"orders/{full.order_id}").json()
    assert paid["status"] == "processing"
    notes = [n["note"] for n in realshop.api("GET", f"orders/{full.order_id}/notes").json()
             if not n["customer_note"]]
    assert sum("Mahnwerk: paid in full" in n for n in notes) == 1
    still = realshop.api("GET", f"orders/{part.order_id}").json()
    assert still["status"] == "on-hold"
    assert any("Mahnwerk: payment of" in n["note"] and "still open" in n["note"]
               for n in realshop.api("GET", f"orders/{part.order_id}/notes").json())
    [again] = mahnwerk_json(etc, "run")
    assert again["written_back"] == 0 and again["ok"]
    assert full.order_id not in open_claims(etc) and open_claims(etc).keys() == unpaid_invoice_orders(realshop).keys()
