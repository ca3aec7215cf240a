"""Where payments come from, end to end: statement files through `payments import` and the shop's inbox (picked up
by every sync), and Stripe and Mollie polled by the sync, each against its sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from mahnwerk.sandbox.mollie_server import MollieSandbox, MollieServer
from mahnwerk.sandbox.statements import StatementClaim, sample_claims, write_statement
from mahnwerk.sandbox.stripe_server import StripeSandbox, StripeServer
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.store.models import Claim, ClaimState, IncomingPaymentRow, LedgerEntry
from tests.support import write_config
from tests.sync.test_payments import TODAY, fresh
from tests.sync.test_run import MERCHANT, RATES, query


def config(tmp_path: Path, woo, db_url: str, extra: str = "") -> Path:
    return write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                    "secret": woo.consumer_secret,
                                                    "extra": RATES + MERCHANT + extra}])


def sync(etc: Path):
    cfg = load_config(etc)
    store = open_store(cfg)
    try:
        return sync_one(store, cfg.shops[0])
    finally:
        store.close()


def open_claims(etc: Path) -> list[Claim]:
    return sorted(query(etc, select(Claim).where(Claim.state == ClaimState.OPEN)), key=lambda c: c.id)


def statement_claims(claims: list[Claim]) -> list[StatementClaim]:
    return [StatementClaim(c.invoice_number, c.order_number, c.open_amount, c.currency, c.customer_name, c.company,
                           c.invoice_date) for c in claims]


def booked(etc: Path) -> dict[str, set[str]]:
    """Payment reference -> the invoice numbers it was booked to."""
    found: dict[str, set[str]] = defaultdict(set)
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            for number, data in session.execute(select(Claim.invoice_number, LedgerEntry.data).join(
                    LedgerEntry, LedgerEntry.claim_id == Claim.id).where(LedgerEntry.kind == "payment")):
                found[data["reference"]].add(number)
    finally:
        store.close()
    return found


@pytest.mark.parametrize("form", ["camt.053.001.02", "camt.053.001.08", "mt940"])
def test_a_generated_statement_books_what_the_customers_meant(tmp_path: Path, woo, sqlite_url: str, capsys,
                                                              form: str) -> None:
    """Exact, partial, several invoices, typos, split references, no reference, fees, noise and a broken entry:
    nothing is booked to a claim the payer did not mean, and most of it is booked without a person."""
    etc = config(tmp_path, woo, sqlite_url)
    sync(etc)
    claims = fresh(open_claims(etc))
    truth = write_statement(tmp_path / "statement.dat", statement_claims(claims), seed=7, format=form, start=TODAY,
                            days=1, malformed=1)
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "payments", "import", str(truth.path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    [file] = result["files"]
    assert file["new"] == len(truth.credits) and len(file["problems"]) == 1
    assert file["skipped"] == {reason: n for reason, n in truth.skipped.items() if n}
    assert file["problems"][0]["position"] and "line" in file["problems"][0]["position"]
    meant = {c.ref: {number for number, _ in c.pays} for c in truth.credits}
    done = booked(etc)
    assert done and all(numbers <= meant[ref] for ref, numbers in done.items()), "booked to a claim nobody meant"
    assert len(done) >= 0.6 * sum(1 for numbers in meant.values() if numbers)

    assert main(["--config-dir", str(etc), "payments", "import", str(truth.path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["files"][0]["new"] == 0 and again["files"][0]["duplicates"] == len(truth.credits)


def test_a_file_that_is_no_statement_is_refused_by_name(tmp_path: Path, woo, sqlite_url: str, capsys) -> None:
    etc = config(tmp_path, woo, sqlite_url)
    junk = tmp_path / "rechnung.pdf"
    junk.write_bytes(b"%PDF-1.4 not a statement")
    assert main(["--config-dir", str(etc), "payments", "import", str(junk)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "rechnung.pdf: REJECTED" in out


def test_the_inbox_is_imported_by_every_sync_and_emptied(tmp_path: Path, woo, db_url: str) -> None:
    """Good files go to processed/, a bad one to rejected/ with its reason beside it; claims close."""
    etc = config(tmp_path, woo, db_url, '\n[payments]\ninbox = "inbox"\n')
    sync(etc)
    claim = fresh(open_claims(etc))[0]
    inbox = etc / "inbox"
    inbox.mkdir()
    write_statement(inbox / "2026-11-25.xml", statement_claims([claim]), seed=3, start=TODAY, days=1, noise=0)
    (inbox / "broken.xml").write_text("<Document><nothing/></Document>", encoding="utf-8")
    (inbox / "upload.xml.part").write_text("half a file", encoding="utf-8")

    result = sync(etc)
    payments = result.payments.as_dict()
    assert payments["new"] >= 1 and [r["file"] for r in payments["rejected"]] == ["broken.xml"]
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["2026-11-25.xml"]
    assert sorted(p.name for p in (inbox / "rejected").iterdir()) == ["broken.xml", "broken.xml.reason.txt"]
    assert "broken.xml" in (inbox / "rejected" / "broken.xml.reason.txt").read_text()
    assert (inbox / "upload.xml.part").exists()  # still being uploaded: left alone
    assert booked(etc)  # the claim's customer paid something, and it was booked


def test_stripe_and_mollie_payments_close_claims_with_the_sync(tmp_path: Path, woo, sqlite_url: str) -> None:
    stripe, mollie = StripeSandbox(), MollieSandbox()
    with StripeServer(stripe) as stripe_server, MollieServer(mollie) as mollie_server:
        etc = config(tmp_path, woo, sqlite_url, f'\n[payments.stripe]\napi_key = "{stripe.DEFAULT_KEY}"\n'
                     f'url = "{stripe_server.url}"\n[payments.mollie]\napi_key = "{mollie.DEFAULT_KEY}"\n'
                     f'url = "{mollie_server.url}"\n')
        first = sync(etc)
        assert first.ok and first.payments.new == 0
        by_stripe, by_mollie, partly = fresh(open_claims(etc))[:3]
        stripe.add_paid_invoice(int(by_stripe.open_amount * 100), by_stripe.currency.lower(),
                                metadata={"shop_order_id": by_stripe.order_id}, description="Bestellung im Shop")
        stripe.add_paid_invoice(999, "eur", out_of_band=True, metadata={"shop_order_id": partly.order_id})
        mollie.add_paid_banktransfer(by_mollie.open_amount, by_mollie.currency, order_id=by_mollie.order_id,
                                     description="Bestellung im Shop")
        mollie.add_paid_banktransfer(Decimal("5.00"), partly.currency, order_id=partly.order_id,
                                     description="Anzahlung")
        second = sync(etc)
        assert second.payments.new == 3 and not second.payments.errors, second.payments.as_dict()
        assert second.payments.reconciled.closed == 2 and second.payments.reconciled.partial == 1
        states = {c.id: c.state for c in query(etc, select(Claim))}
        assert states[by_stripe.id] == states[by_mollie.id] == ClaimState.PAID
        assert states[partly.id] == ClaimState.OPEN  # out-of-band Stripe money is not counted; Mollie's 5.00 is
        rules = {e.data["source"]: e.data["rule"] for e in query(etc, select(LedgerEntry).where(
            LedgerEntry.kind == "payment"))}
        assert rules == {"stripe": "provider", "mollie": "provider"}
        third = sync(etc)
        assert third.payments.new == 0  # the cursors moved: nothing is counted twice


def test_a_broken_provider_does_not_stop_the_sync(tmp_path: Path, woo, sqlite_url: str) -> None:
    stripe = StripeSandbox()
    with StripeServer(stripe) as server:
        etc = config(tmp_path, woo, sqlite_url, f'\n[payments.stripe]\napi_key = "sk_test_wrong"\n'
                     f'url = "{server.url}"\n')
        result = sync(etc)
    assert result.ok and result.counts.new > 0
    [error] = result.payments.errors
    assert error.startswith("stripe:") and "sk_test_wrong" not in error and "401" in error


def test_paid_status_can_be_left_alone(tmp_path: Path, woo, sqlite_url: str) -> None:
    """mark_paid = false: the shop gets the note, its status stays as the merchant sets it."""
    from tests.sync.test_payments import bring_in, credit
    from tests.sync.test_run import run_at

    etc = config(tmp_path, woo, sqlite_url, "\n[payments]\nmark_paid = false\n")
    sync(etc)
    claim = fresh(open_claims(etc))[0]
    bring_in(etc, [credit("K1", str(claim.open_amount), f"Rechnung {claim.invoice_number}")])
    run_at(etc, sync=False)
    order = woo.order(int(claim.order_id))
    assert order["status"] == "on-hold"
    assert any("paid in full" in n["note"] for n in woo.notes.of(order) if not n["customer_note"])


def test_check_tries_each_payment_provider_and_the_inbox(tmp_path: Path, woo, sqlite_url: str, capsys) -> None:
    stripe, mollie = StripeSandbox(), MollieSandbox()
    with StripeServer(stripe) as stripe_server, MollieServer(mollie) as mollie_server:
        etc = config(tmp_path, woo, sqlite_url, f'\n[payments]\ninbox = "inbox"\n[payments.stripe]\n'
                     f'api_key = "{stripe.DEFAULT_KEY}"\nurl = "{stripe_server.url}"\n[payments.mollie]\n'
                     f'api_key = "test_wrongwrongwrongwrongwrongwr"\nurl = "{mollie_server.url}"\n')
        capsys.readouterr()
        assert main(["--config-dir", str(etc), "check"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "payments: stripe answers and accepts the key" in out
    assert "payments: mollie:" in out and "401" in out and "test_wrongwrong" not in out
    assert "the inbox folder" in out and "does not exist" in out


def test_a_structured_creditor_reference_names_the_invoice(tmp_path: Path, woo, sqlite_url: str) -> None:
    from mahnwerk.sandbox.statements import creditor_reference
    from tests.sync.test_payments import bring_in, credit

    etc = config(tmp_path, woo, sqlite_url)
    sync(etc)
    claim = fresh(open_claims(etc))[0]
    rf = creditor_reference(f"RE{claim.invoice_number}")
    _, matched = bring_in(etc, [credit("RF1", str(claim.open_amount), "", creditor_ref=rf)])
    assert matched.closed == 1


def test_with_several_shops_the_statement_account_picks_the_shop(tmp_path: Path, woo, sqlite_url: str,
                                                                  capsys) -> None:
    """No --shop needed when the statement's IBAN is one shop's [merchant] iban (MERCHANT: DE14 3704 ...)."""
    other = {"shop_id": "other", "url": woo.url, "key": woo.consumer_key, "secret": woo.consumer_secret,
             "extra": RATES + MERCHANT.replace("DE14 3704 0044 1234 5678 90", "DE02 1203 0000 0000 2020 51")}
    etc = write_config(tmp_path / "etc", sqlite_url, [
        {"shop_id": "acme", "url": woo.url, "key": woo.consumer_key, "secret": woo.consumer_secret,
         "extra": RATES + MERCHANT}, other])
    one = [StatementClaim("X-1", "1", Decimal("10.00"), customer="Erika Muster")]
    truth = write_statement(tmp_path / "s.xml", one * 5, seed=1, start=TODAY, days=1, account="DE14370400441234567890")
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "payments", "import", str(truth.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shop"] == "acme"
    elsewhere = write_statement(tmp_path / "t.xml", one * 5, seed=2, start=TODAY, days=1,
                                account="DE75512108001245126199")
    assert main(["--config-dir", str(etc), "payments", "import", str(elsewhere.path)]) == 2
    assert "name the shop with --shop" in " ".join(capsys.readouterr().err.split())


# --- one absurd entry halts nothing; the sanity limit ----------------------------------------------------------------

HUGE_CAMT = '<Amt Ccy="EUR">9999999999999999.00</Amt>'  # camt allows 18 digits in all: beyond NUMERIC(20, 6)


def absurd_files(folder: Path) -> tuple[Path, Path]:
    """A camt.053 and an MT940 file, each with two good credits around one absurd amount."""
    from tests.connectors.test_camt import camt, entry
    from tests.connectors.test_mt940_statement import statement, write
    folder.mkdir(parents=True, exist_ok=True)
    xml = camt(folder, entry(ref="G1"), entry(HUGE_CAMT, ref="HUGE"), entry('<Amt Ccy="EUR">20.00</Amt>', ref="G2"),
               name="absurd.xml")
    sta = write(folder, statement(":61:2603040304C10,00NTRFNONREF//M1", ":86:166?20SVWZ+fine",
                                  ":61:2603040304C999999999999999,NTRFNONREF//M2", ":86:166?20SVWZ+absurd",
                                  ":61:2603040304C20,00NTRFNONREF//M3", ":86:166?20SVWZ+fine too"),
                name="absurd.sta")
    return xml, sta


def test_an_amount_the_store_cannot_hold_is_a_problem_and_the_rest_is_stored(tmp_path: Path, woo, db_url: str,
                                                                             capsys) -> None:
    etc = config(tmp_path, woo, db_url)
    sync(etc)
    xml, sta = absurd_files(tmp_path / "files")
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "payments", "import", str(xml), str(sta), "--json"]) == 0
    camt_file, mt940_file = json.loads(capsys.readouterr().out)["files"]
    assert camt_file["new"] == 2 and mt940_file["new"] == 2
    [too_big] = camt_file["problems"]
    assert too_big["position"] == "statement 2026-03-04-001 entry 2 (line 7)"
    assert "cannot be stored" in too_big["reason"]
    [misread] = mt940_file["problems"]
    assert misread["position"] == "statement STARTUMS260304 line 7"
    assert "'999999999999999,' is not an MT940 amount" in misread["reason"]
    assert sorted(p.ref for p in query(etc, select(IncomingPaymentRow))) == ["G1", "G2", "M1", "M3"]


def test_the_inbox_goes_on_past_absurd_entries_and_a_file_the_store_refuses(tmp_path: Path, woo, db_url: str,
                                                                           monkeypatch) -> None:
    """Absurd entries are problems of their file; a file the database refuses (here a row it cannot take) goes to
    rejected/ with the reason, and every other file is imported: no sync crashes on it, now or later."""
    from mahnwerk.sync.payments import intake
    etc = config(tmp_path, woo, db_url, '\n[payments]\ninbox = "inbox"\n')
    sync(etc)
    inbox = etc / "inbox"
    absurd_files(inbox)
    refused = write_statement(inbox / "refused.xml", sample_claims(5, seed=1), seed=21, start=TODAY, days=1)
    good = write_statement(inbox / "good.xml", sample_claims(5, seed=2), seed=22, start=TODAY, days=1)
    row = intake.payment_row

    def broken(shop_id, p, origin, now, **kw):  # NOT NULL: an error of the database, on both
        return row(shop_id, p, origin, now, **kw) | ({"booked_on": None} if "refused" in origin else {})

    monkeypatch.setattr(intake, "payment_row", broken)
    result = sync(etc).payments
    assert [name for name, _ in result.rejected] == ["refused.xml"]
    assert "could not be stored: database error" in (inbox / "rejected" / "refused.xml.reason.txt").read_text()
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["absurd.sta", "absurd.xml", "good.xml"]
    # (a file the first attempt stored before the refused one was reached counts as duplicates in the second)
    assert len(query(etc, select(IncomingPaymentRow))) == 4 + len(good.credits) and len(refused.credits) > 0
    assert sum(len(i.problems) for i in result.imported) == 2
    assert sync(etc).payments.rejected == []  # the next round has nothing left to trip over


def test_above_the_sanity_limit_a_credit_waits_for_review_instead_of_being_booked(tmp_path: Path, woo,
                                                                                  db_url: str, capsys) -> None:
    from tests.connectors.test_camt import camt, entry, tx
    etc = config(tmp_path, woo, db_url, '\n[payments]\nmax_amount = "10"\n')
    claim = max(open_claims_after_sync(etc), key=lambda c: c.open_amount)
    amount = f"{claim.open_amount:.2f}"
    paying = tx(remittance=f"<Ustrd>{claim.invoice_number}</Ustrd>")
    path = camt(tmp_path, entry(f'<Amt Ccy="{claim.currency}">{amount}</Amt>', ref="BIG", details=paying,
                                booked=f"<BookgDt><Dt>{TODAY}</Dt></BookgDt>"))
    assert claim.open_amount > 10
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "payments", "import", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["files"][0]["new"] == 1 and result["booked"] == 0
    [row] = query(etc, select(IncomingPaymentRow))
    assert row.state == "review" and row.reason.startswith("above the sanity limit of 10 ")
    assert [c.state for c in open_claims(etc) if c.id == claim.id] == [ClaimState.OPEN]


def open_claims_after_sync(etc: Path) -> list[Claim]:
    sync(etc)
    return fresh(open_claims(etc))


@pytest.mark.parametrize(("value", "message"), [
    ('"abc"', 'expected a positive amount like "1000000", got "abc"'), ("0", "positive amount below 10^14"),
    ('"1e15"', "positive amount below 10^14"), ("1.5", 'expected a positive amount like "1000000", got 1.5')])
def test_max_amount_is_checked_like_every_key(tmp_path: Path, woo, sqlite_url: str, value: str, message: str,
                                              capsys) -> None:
    etc = config(tmp_path, woo, sqlite_url, f"\n[payments]\nmax_amount = {value}\n")
    assert main(["--config-dir", str(etc), "check"]) != 0
    out = " ".join(capsys.readouterr().err.split())
    assert "payments.max_amount" in out and message in out


def test_mark_paid_refuses_exponents_and_amounts_above_the_sanity_limit(tmp_path: Path, woo, sqlite_url: str,
                                                                        capsys) -> None:
    etc = config(tmp_path, woo, sqlite_url, '\n[payments]\nmax_amount = "5000"\n')
    [claim, *_] = open_claims_after_sync(etc)
    ref = f"acme:{claim.order_number}"
    for amount, message in [("1e15", '"1e15" is not an amount like 49.90'), ("Infinity", "not an amount"),
                            ("5000.01", "above the sanity limit of 5000 (payments.max_amount")]:
        capsys.readouterr()
        assert main(["--config-dir", str(etc), "mark-paid", ref, "--amount", amount]) == 2
        assert message in " ".join(capsys.readouterr().err.split())
    assert main(["--config-dir", str(etc), "mark-paid", ref, "--amount", "5,00"]) == 0


def test_a_database_that_fails_leaves_the_inbox_for_the_next_round(tmp_path: Path, woo, sqlite_url: str,
                                                                   monkeypatch) -> None:
    """Not a file's fault (the connection, a lock): nothing is rejected, nothing escapes the sync."""
    from sqlalchemy.exc import OperationalError

    from mahnwerk.sync.payments import sources
    etc = config(tmp_path, woo, sqlite_url, '\n[payments]\ninbox = "inbox"\n')
    sync(etc)
    inbox = etc / "inbox"
    inbox.mkdir()
    truth = write_statement(inbox / "good.xml", sample_claims(5, seed=2), seed=22, start=TODAY, days=1)
    real = sources.run

    def gone(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(sources, "run", gone)
    result = sync(etc).payments
    assert result.rejected == [] and result.errors == [
        "payments: database error: Exception: server closed the connection unexpectedly"]
    assert (inbox / "good.xml").exists()
    monkeypatch.setattr(sources, "run", real)
    assert sync(etc).payments.new == len(truth.credits) and not (inbox / "good.xml").exists()
