"""The statement generator: realistic payments of the given claims, written in every format, read back by the parsers
exactly as its ground truth says."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import fields
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from schwifty import IBAN

from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem
from mahnwerk.connectors.statements import StatementSummary, detect_format, read_statement
from mahnwerk.errors import StatementError
from mahnwerk.sandbox.statements import (
    FORMATS,
    KINDS,
    StatementClaim,
    StatementTruth,
    creditor_reference,
    german_iban,
    sample_claims,
    write_statement,
)

COMPARED = [f.name for f in fields(IncomingPayment) if f.name not in ("source", "ref", "account", "order_hint",
                                                                     "provider_ids")]


@pytest.fixture(scope="module")
def claims() -> list[StatementClaim]:
    return sample_claims(400, seed=11)


def round_trip(truth: StatementTruth) -> tuple[list[IncomingPayment], list[SourceProblem], StatementSummary]:
    summary = StatementSummary()
    records = list(read_statement(truth.path, summary))
    return ([r for r in records if isinstance(r, IncomingPayment)],
            [r for r in records if isinstance(r, SourceProblem)], summary)


@pytest.mark.parametrize(("format", "encoding"), [(f, "utf-8") for f in FORMATS]
                         + [("mt940", "cp850"), ("mt940", "iso-8859-1")])
def test_generated_files_read_back_exactly_as_the_ground_truth_says(tmp_path: Path, claims: list[StatementClaim],
                                                                     format: str, encoding: str) -> None:
    truth = write_statement(tmp_path / "statement", claims, seed=3, format=format, encoding=encoding, malformed=3)
    payments, problems, summary = round_trip(truth)
    assert summary.source == truth.source == detect_format(truth.path)
    expected = truth.by_ref()
    assert len(expected) == len(truth.credits)  # refs are unique
    assert [p.ref for p in payments] == [c.ref for c in truth.credits]
    for payment in payments:
        credit = expected[payment.ref]
        for name in COMPARED:
            assert getattr(payment, name) == getattr(credit, name), (name, credit.kind)
        assert payment.account == truth.account and payment.source == truth.source
    assert [p.position for p in problems] == truth.problems and len(problems) == 3
    assert summary.skipped == truth.skipped and summary.credits == len(truth.credits)


def test_the_same_seed_writes_the_same_file(tmp_path: Path, claims: list[StatementClaim]) -> None:
    first = write_statement(tmp_path / "a.xml", claims, seed=5)
    second = write_statement(tmp_path / "b.xml", claims, seed=5)
    third = write_statement(tmp_path / "c.xml", claims, seed=6)
    assert first.path.read_bytes() == second.path.read_bytes() != third.path.read_bytes()
    assert first.credits == second.credits


def test_every_way_of_paying_and_every_kind_of_noise_is_there(tmp_path: Path, claims: list[StatementClaim]) -> None:
    camt = write_statement(tmp_path / "s.xml", claims, seed=3)
    assert {c.kind for c in camt.credits} == (set(KINDS) - {"unpaid"}) | {"batch", "unrelated"}
    assert set(camt.skipped) == {"debit", "not booked", "reversal"}
    assert camt.unpaid and not set(camt.unpaid) & set(camt.paid())
    mt940 = write_statement(tmp_path / "s.sta", claims, seed=3, format="mt940")
    assert set(mt940.skipped) == {"debit", "reversal"}  # MT940 has booked lines only


def test_what_the_payers_meant_adds_up(tmp_path: Path, claims: list[StatementClaim]) -> None:
    truth = write_statement(tmp_path / "s.xml", claims, seed=3)
    by_number = {c.invoice_number: c for c in claims}
    for credit in truth.credits:
        meant = sum((amount for _, amount in credit.pays), Decimal(0))
        currencies = {by_number[number].currency for number, _ in credit.pays}
        if credit.kind == "unrelated":
            assert credit.pays == ()
        elif currencies == {"EUR"}:
            assert meant == credit.amount + credit.charges, credit.kind
        else:  # paid in EUR what was owed in CHF or USD: meant is what the payer instructed
            assert (meant, currencies) == (credit.original_amount, {credit.original_currency})
        if credit.kind in ("exact", "typo", "split", "fees", "foreign", "name_only", "structured", "batch"):
            [(number, amount)] = credit.pays
            assert amount == by_number[number].amount
        if credit.kind == "multi":
            assert len(credit.pays) >= 2
        if credit.kind == "fees":
            assert credit.charges > 0
        if credit.kind == "partial":
            assert credit.pays[0][1] < by_number[credit.pays[0][0]].amount
        if credit.kind == "over":
            assert credit.pays[0][1] > by_number[credit.pays[0][0]].amount


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_the_texts_name_the_invoices_in_many_ways(tmp_path: Path, claims: list[StatementClaim]) -> None:
    truth = write_statement(tmp_path / "s.xml", claims, seed=3)
    by_number = {c.invoice_number: c for c in claims}
    texts = [c.remittance for c in truth.credits if c.kind in ("exact", "typo")]
    assert len(set(texts)) == len(texts)
    for credit in truth.credits:
        if credit.kind == "split":
            first, second = credit.remittance.split("\n")
            [(number, _)] = credit.pays
            assert number not in first and number not in second and number in first + second
        if credit.kind in ("exact", "typo", "split", "partial", "multi"):
            text = credit.remittance.replace("\n", "")
            for number, _ in credit.pays:  # the last digit group, perhaps without its leading zeros, or the order
                last = re.findall(r"\d+", number)[-1]
                assert last.lstrip("0") in digits(text) or by_number[number].order_number in text, credit.remittance
        if credit.kind == "name_only":
            assert not re.search(r"\d", credit.remittance) and credit.payer_name
        if credit.kind == "structured":
            assert credit.creditor_ref.startswith("RF")
    words = " ".join(texts)
    for form in ("Rechnung", "Re.Nr.", "RG ", "Rechnug", "vielen Dank"):
        assert form in words


def test_identical_entries_without_bank_reference_stay_two(tmp_path: Path, claims: list[StatementClaim]) -> None:
    for name, format in (("s.xml", "camt.053.001.02"), ("s.sta", "mt940")):
        truth = write_statement(tmp_path / name, claims, seed=3, format=format)
        refs = [c.ref for c in truth.credits if c.ref.startswith("h:")]
        twins = [r for r in refs if r.endswith("/2")]
        assert twins and all(r.removesuffix("/2") in refs for r in twins)
        payments, _, _ = round_trip(truth)
        assert [p.ref for p in payments if p.ref.startswith("h:")] == refs


def test_claims_may_be_plain_dicts(tmp_path: Path) -> None:
    plain = [{"invoice_number": f"RE-2026-{n:04d}", "order_number": str(4700 + n), "amount": "119.00",
              "currency": "EUR", "customer_name": "Anna Müller", "company": ""} for n in range(1, 40)]
    truth = write_statement(tmp_path / "s.xml", plain, seed=1, noise=0)
    assert truth.credits and all(c.payer_name == "Anna Müller" for c in truth.credits)
    assert set(truth.paid()) | set(truth.unpaid) == {c["invoice_number"] for c in plain}


@pytest.mark.parametrize("account", ["DE89 3704 0044 0532 0130 00", "AT611904300234573201"])
def test_the_merchant_account_reads_back_in_mt940(tmp_path: Path, claims: list[StatementClaim], account: str) -> None:
    truth = write_statement(tmp_path / "s.sta", claims[:50], seed=1, format="mt940", account=account)
    payments, _, _ = round_trip(truth)
    assert payments and {p.account for p in payments} == {account.replace(" ", "")}
    assert [p.ref for p in payments] == [c.ref for c in truth.credits]


def test_payments_come_no_earlier_than_the_invoice(tmp_path: Path) -> None:
    claims = [StatementClaim(f"RE-{n}", str(n), Decimal("10.00"), invoice_date=date(2026, 3, 5)) for n in range(50)]
    truth = write_statement(tmp_path / "s.xml", claims, seed=2, start=date(2026, 3, 2), days=7, noise=0)
    assert all(c.booked_on >= date(2026, 3, 5) for c in truth.credits)


def test_references_and_ibans_are_valid() -> None:
    ref = creditor_reference("RE-2026-00042")
    assert ref.startswith("RF") and ref.endswith("RE202600042")
    assert int("".join(str(int(c, 36)) for c in ref[4:] + ref[:4])) % 97 == 1  # ISO 11649 check
    assert german_iban("12030000", "202051") == "DE02120300000000202051"
    IBAN(german_iban("37040044", "532013000")).validate()


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        write_statement(tmp_path / "s.xml", [], format="camt.053.001.09")


def test_a_file_of_no_known_format_is_rejected_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "letter.pdf"
    path.write_bytes(b"%PDF-1.7\n")
    with pytest.raises(StatementError, match="letter.pdf: not a bank statement"):
        read_statement(path)


def test_an_empty_claim_list_writes_a_readable_file(tmp_path: Path) -> None:
    for name, format in (("s.xml", "camt.053.001.08"), ("s.sta", "mt940")):
        truth = write_statement(tmp_path / name, [], format=format)
        if format == "mt940":  # nothing at all: an empty file, which is no MT940
            assert truth.path.read_text() == ""
            continue
        assert round_trip(truth)[0] == [] and truth.credits == []


@pytest.mark.slow
@pytest.mark.parametrize("format", ["camt.053.001.02", "mt940"])
def test_a_hundred_thousand_entries(tmp_path: Path, format: str) -> None:
    """A statement of the benchmarks' size is written and read back whole (how fast: bench/payments.py, not here)."""
    claims = sample_claims(112_000, seed=1)
    truth = write_statement(tmp_path / "big", claims, seed=1, format=format, days=20, malformed=1)
    assert truth.entries >= 100_000
    summary = StatementSummary()
    count = sum(1 for _ in read_statement(truth.path, summary))
    assert count == len(truth.credits) + 1 and summary.skipped == truth.skipped
    assert Counter(c.kind for c in truth.credits)["multi"] > 1000


def test_the_summary_fills_as_the_records_go_by(tmp_path: Path, claims: list[StatementClaim]) -> None:
    truth = write_statement(tmp_path / "s.xml", claims, seed=3, malformed=1)
    summary = StatementSummary()
    records = read_statement(truth.path, summary)
    assert (summary.source, summary.credits) == ("camt.053", 0)  # nothing read yet: it streams
    next(records)
    assert summary.credits + summary.problems == 1
    list(records)
    total = sum((c.amount for c in truth.credits), Decimal(0))
    assert summary.totals == {"EUR": total} and summary.problems == 1
    assert str(summary) == (f"camt.053: {len(truth.credits)} credits (EUR {total:.2f}), "
                            f"{sum(truth.skipped.values())} skipped (debit {truth.skipped['debit']}, not booked "
                            f"{truth.skipped['not booked']}, reversal {truth.skipped['reversal']}), 1 unreadable")
