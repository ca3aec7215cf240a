"""camt.052/053/054 files on disk become incoming payments: booked credits only, batches split, v02 and v08 names,
stable refs, and an unreadable entry is reported with its position while the rest is imported."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from mahnwerk.connectors.camt import read_camt
from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem, fallback_ref
from mahnwerk.errors import MahnwerkError, StatementError

ACCOUNT = "DE02120300000000202051"
MESSAGES = {"053": ("BkToCstmrStmt", "Stmt"), "052": ("BkToCstmrAcctRpt", "Rpt"),
            "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}


def camt(tmp_path: Path, *entries: str, version: str = "02", message: str = "053", statement: str = "2026-03-04-001",
         name: str = "statement.xml") -> Path:
    """A camt file with one report holding `entries` (Ntry elements as XML text), one per line block."""
    root, report = MESSAGES[message]
    text = "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{message}.001.{version}">',
        f"<{root}><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-05T06:00:00</CreDtTm></GrpHdr>",
        f"<{report}><Id>{statement}</Id>",
        f"<Acct><Id><IBAN>{ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy></Acct>",
        *entries,
        f"</{report}></{root}></Document>", ""])
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def entry(amount: str = '<Amt Ccy="EUR">119.00</Amt>', *, indicator: str = "CRDT", status: str = "<Sts>BOOK</Sts>",
          booked: str = "<BookgDt><Dt>2026-03-04</Dt></BookgDt>", ref: str = "2026030400123456", extra: str = "",
          details: str | None = None) -> str:
    if details is None:
        details = tx()
    return (f"<Ntry>{amount}<CdtDbtInd>{indicator}</CdtDbtInd>{extra}{status}{booked}"
            f"<ValDt><Dt>2026-03-04</Dt></ValDt>" + (f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else "")
            + "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
            + (f"<NtryDtls>{details}</NtryDtls>" if details else "") + "</Ntry>")


def tx(*, refs: str = "<EndToEndId>NOTPROVIDED</EndToEndId>", amounts: str = "",
       parties: str = "<Dbtr><Nm>Muster GmbH</Nm></Dbtr><DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id>"
                      "</DbtrAcct>",
       remittance: str = "<Ustrd>RE-2026-0042 Bestellung 4711</Ustrd>", charges: str = "") -> str:
    return (f"<TxDtls><Refs>{refs}</Refs>" + (f"<AmtDtls>{amounts}</AmtDtls>" if amounts else "") + charges
            + f"<RltdPties>{parties}</RltdPties>" + (f"<RmtInf>{remittance}</RmtInf>" if remittance else "")
            + "</TxDtls>")


def read(path: Path) -> tuple[list[IncomingPayment], list[SourceProblem], Counter[str]]:
    skipped: Counter[str] = Counter()
    records = list(read_camt(path, skipped=skipped))
    return ([r for r in records if isinstance(r, IncomingPayment)],
            [r for r in records if isinstance(r, SourceProblem)], skipped)


def test_a_booked_credit_becomes_an_incoming_payment(tmp_path: Path) -> None:
    path = camt(tmp_path, entry())
    [payment], problems, skipped = read(path)
    assert problems == [] and skipped == Counter()
    assert payment == IncomingPayment(
        source="camt.053", ref="2026030400123456", booked_on=date(2026, 3, 4), amount=Decimal("119.00"),
        currency="EUR", account=ACCOUNT, payer_name="Muster GmbH", payer_account="DE89370400440532013000",
        remittance="RE-2026-0042 Bestellung 4711", end_to_end_id="", creditor_ref="",
        position="statement 2026-03-04-001 entry 1 (line 6)")


def test_only_booked_credits_that_are_not_reversals_count(tmp_path: Path) -> None:
    path = camt(tmp_path,
                entry(ref="A"),
                entry(indicator="DBIT", ref="B"),
                entry(status="<Sts>PDNG</Sts>", ref="C"),
                entry(status="<Sts>INFO</Sts>", ref="D"),
                entry(extra="<RvslInd>true</RvslInd>", ref="E"),
                entry(extra="<RvslInd>false</RvslInd>", ref="F"))
    payments, problems, skipped = read(path)
    assert [p.ref for p in payments] == ["A", "F"]
    assert [p.position.split(" (")[0] for p in payments] == ["statement 2026-03-04-001 entry 1",
                                                            "statement 2026-03-04-001 entry 6"]
    assert skipped == Counter({"debit": 1, "not booked": 2, "reversal": 1}) and problems == []


def test_v08_names_status_code_debtor_party_and_ultimate_debtor(tmp_path: Path) -> None:
    v08 = tx(parties="<Dbtr><Pty><Nm>Zoë Ångström</Nm></Pty></Dbtr>"
                     "<DbtrAcct><Id><IBAN>DE89 3704 0044 0532 0130 00</IBAN></Id></DbtrAcct>")
    ultimate_only = tx(parties="<UltmtDbtr><Pty><Nm>Weber KG</Nm></Pty></UltmtDbtr>")
    path = camt(tmp_path, entry(status="<Sts><Cd>BOOK</Cd></Sts>", details=v08, ref="A"),
                entry(status="<Sts><Cd>PDNG</Cd></Sts>", details=v08, ref="B"),
                entry(status="<Sts><Cd>BOOK</Cd></Sts>", details=ultimate_only, ref="C"), version="08")
    payments, problems, skipped = read(path)
    assert [(p.ref, p.payer_name, p.payer_account) for p in payments] == [
        ("A", "Zoë Ångström", "DE89370400440532013000"), ("C", "Weber KG", "")]
    assert skipped == Counter({"not booked": 1}) and problems == []


def test_v02_ultimate_debtor_names_the_payer_when_there_is_no_debtor(tmp_path: Path) -> None:
    path = camt(tmp_path, entry(details=tx(parties="<UltmtDbtr><Nm>Müller Bau AG</Nm></UltmtDbtr>")))
    [payment], _, _ = read(path)
    assert payment.payer_name == "Müller Bau AG" and payment.payer_account == ""


def test_a_batch_booking_gives_one_payment_per_transaction_with_its_own_amount_and_ref(tmp_path: Path) -> None:
    def part(amount: str, ref: str, text: str) -> str:
        return tx(refs=(f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else "") + "<EndToEndId>E1</EndToEndId>",
                  amounts=f'<TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt>', remittance=f"<Ustrd>{text}</Ustrd>")
    batch = "<Btch><NbOfTxs>3</NbOfTxs></Btch>" + part("10.00", "OWN-1", "RE-1") + part("20.50", "", "RE-2") \
        + part("30.00", "", "RE-3")
    path = camt(tmp_path, entry('<Amt Ccy="EUR">60.50</Amt>', ref="BATCH7", details=batch))
    payments, problems, _ = read(path)
    assert [(p.ref, p.amount, p.remittance) for p in payments] == [
        ("OWN-1", Decimal("10.00"), "RE-1"), ("BATCH7/2", Decimal("20.50"), "RE-2"),
        ("BATCH7/3", Decimal("30.00"), "RE-3")]
    assert [p.position.split(" (")[0] for p in payments] == [
        f"statement 2026-03-04-001 entry 1 transaction {n}" for n in (1, 2, 3)]
    assert problems == []


def test_a_batch_transaction_without_amount_is_a_problem_and_the_others_are_imported(tmp_path: Path) -> None:
    batch = tx(amounts='<TxAmt><Amt Ccy="EUR">10.00</Amt></TxAmt>') + tx()
    path = camt(tmp_path, entry('<Amt Ccy="EUR">20.00</Amt>', ref="B", details=batch))
    payments, [problem], _ = read(path)
    assert [p.ref for p in payments] == ["B/1"]
    assert problem.position.startswith("statement 2026-03-04-001 entry 1 transaction 2 (line ")
    assert "no amount" in problem.reason


def test_a_single_transaction_takes_the_entry_amount(tmp_path: Path) -> None:
    path = camt(tmp_path, entry('<Amt Ccy="EUR">98.50</Amt>',
                                details=tx(amounts='<TxAmt><Amt Ccy="EUR">100.00</Amt></TxAmt>')))
    [payment], _, _ = read(path)
    assert payment.amount == Decimal("98.50")


def test_an_entry_without_details_is_still_a_payment(tmp_path: Path) -> None:
    [payment], _, _ = read(camt(tmp_path, entry(details="")))
    assert (payment.amount, payment.payer_name, payment.remittance) == (Decimal("119.00"), "", "")


def test_remittance_lines_keep_their_structure(tmp_path: Path) -> None:
    lines = "<Ustrd>Rechnung RE-2026-00</Ustrd><Ustrd> 042 vielen Dank </Ustrd><Ustrd> </Ustrd>"
    [payment], _, _ = read(camt(tmp_path, entry(details=tx(remittance=lines))))
    assert payment.remittance == "Rechnung RE-2026-00\n042 vielen Dank"


def test_structured_creditor_reference(tmp_path: Path) -> None:
    remittance = ("<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>RF18RE202600042</Ref>"
                  "</CdtrRefInf></Strd>")
    [payment], _, _ = read(camt(tmp_path, entry(details=tx(remittance=remittance))))
    assert payment.creditor_ref == "RF18RE202600042" and payment.remittance == ""


def test_end_to_end_id_is_kept_unless_not_provided(tmp_path: Path) -> None:
    path = camt(tmp_path, entry(ref="A", details=tx(refs="<EndToEndId>RE-2026-0042</EndToEndId>")),
                entry(ref="B", details=tx(refs="<EndToEndId>NOTPROVIDED</EndToEndId>")))
    payments, _, _ = read(path)
    assert [p.end_to_end_id for p in payments] == ["RE-2026-0042", ""]


@pytest.mark.parametrize(("where", "charges", "expected"), [
    ("entry", '<Chrgs><Amt Ccy="EUR">1.50</Amt></Chrgs><Chrgs><Amt Ccy="EUR">0.35</Amt></Chrgs>', "1.85"),  # v02
    ("tx", ('<Chrgs><TtlChrgsAndTaxAmt Ccy="EUR">2.50</TtlChrgsAndTaxAmt><Rcrd><Amt Ccy="EUR">2.50</Amt>'
            "<ChrgInclInd>true</ChrgInclInd></Rcrd></Chrgs>"), "2.50"),
    ("tx", '<Chrgs><Rcrd><Amt Ccy="EUR">1.00</Amt></Rcrd><Rcrd><Amt Ccy="EUR">0.75</Amt></Rcrd></Chrgs>', "1.75"),
    ("tx", ('<Chrgs><TtlChrgsAndTaxAmt Ccy="EUR">3.00</TtlChrgsAndTaxAmt><Rcrd><Amt Ccy="EUR">2.00</Amt></Rcrd>'
            '<Rcrd><Amt Ccy="EUR">1.00</Amt><ChrgInclInd>false</ChrgInclInd></Rcrd></Chrgs>'), "2.00"),
    ("tx", '<Chrgs><Rcrd><Amt Ccy="EUR">4.00</Amt><ChrgInclInd>false</ChrgInclInd></Rcrd></Chrgs>', "0"),
    ("tx", '<Chrgs><Rcrd><Amt Ccy="CHF">4.00</Amt></Rcrd></Chrgs>', "0"),
])
def test_charges_the_bank_deducted(tmp_path: Path, where: str, charges: str, expected: str) -> None:
    details = tx(charges=charges if where == "tx" else "")
    ntry = entry('<Amt Ccy="EUR">117.50</Amt>', details=details)
    if where == "entry":  # Ntry/Chrgs comes after BkTxCd, before NtryDtls
        ntry = ntry.replace("<NtryDtls>", charges + "<NtryDtls>")
    [payment], problems, _ = read(camt(tmp_path, ntry))
    assert payment.charges == Decimal(expected) and payment.amount == Decimal("117.50") and problems == []


def test_foreign_currency_keeps_what_the_payer_sent(tmp_path: Path) -> None:
    chf = ('<InstdAmt><Amt Ccy="CHF">125.00</Amt><CcyXchg><SrcCcy>CHF</SrcCcy><TrgtCcy>EUR</TrgtCcy>'
           '<XchgRate>1.052</XchgRate></CcyXchg></InstdAmt><TxAmt><Amt Ccy="EUR">131.50</Amt></TxAmt>')
    same = '<InstdAmt><Amt Ccy="EUR">131.50</Amt></InstdAmt>'
    path = camt(tmp_path, entry('<Amt Ccy="EUR">131.50</Amt>', ref="A", details=tx(amounts=chf)),
                entry('<Amt Ccy="EUR">131.50</Amt>', ref="B", details=tx(amounts=same)))
    payments, _, _ = read(path)
    assert [(p.amount, p.currency, p.original_amount, p.original_currency) for p in payments] == [
        (Decimal("131.50"), "EUR", Decimal("125.00"), "CHF"), (Decimal("131.50"), "EUR", None, "")]


def test_booking_date_time_gives_the_day_the_bank_wrote(tmp_path: Path) -> None:
    path = camt(tmp_path, entry(booked="<BookgDt><DtTm>2026-03-04T23:30:00+01:00</DtTm></BookgDt>", ref="A"),
                entry(booked="", ref="B"))  # a notification may carry the value date only
    payments, _, _ = read(path)
    assert [p.booked_on for p in payments] == [date(2026, 3, 4), date(2026, 3, 4)]


def test_without_bank_reference_the_ref_is_the_stable_fallback_hash(tmp_path: Path) -> None:
    twin = entry('<Amt Ccy="EUR">50.00</Amt>', ref="", details=tx(remittance="<Ustrd>Spende</Ustrd>"))
    path = camt(tmp_path, entry(ref=""), twin, twin)
    first, _, _ = read(path)
    again, _, _ = read(path)
    expected = fallback_ref(ACCOUNT, date(2026, 3, 4), Decimal("119.00"), "EUR", "RE-2026-0042 Bestellung 4711")
    gift = fallback_ref(ACCOUNT, date(2026, 3, 4), Decimal("50.00"), "EUR", "Spende")
    assert [p.ref for p in first] == [expected, gift, gift + "/2"]  # two equal gifts stay two
    assert [p.ref for p in again] == [p.ref for p in first]


def test_a_malformed_entry_is_reported_with_its_position_and_the_rest_is_imported(tmp_path: Path) -> None:
    path = camt(tmp_path,
                entry(ref="OK1"),
                entry('<Amt Ccy="EUR">12,50</Amt>', ref="X1"),
                entry("<Amt>12.50</Amt>", ref="X2"),
                entry(booked="<BookgDt><Dt>2026-02-30</Dt></BookgDt>", ref="X3"),
                entry("", ref="X4"),
                entry(indicator="", ref="X5"),
                entry('<Amt Ccy="EUR">-5.00</Amt>', ref="X6"),
                entry('<Amt Ccy="EUR">1e3</Amt>', ref="X7"),
                entry(ref="OK2"))
    payments, problems, _ = read(path)
    assert [p.ref for p in payments] == ["OK1", "OK2"]
    assert [(p.position, p.reason) for p in problems] == [
        ("statement 2026-03-04-001 entry 2 (line 7)",
         "amount '12,50' is not a camt amount (digits with a decimal point, e.g. 12.50)"),
        ("statement 2026-03-04-001 entry 3 (line 8)", "amount has no currency (Ccy)"),
        ("statement 2026-03-04-001 entry 4 (line 9)", "booking date '2026-02-30' is not a date"),
        ("statement 2026-03-04-001 entry 5 (line 10)", "no amount (Amt)"),
        ("statement 2026-03-04-001 entry 6 (line 11)", "no credit/debit indicator (CdtDbtInd)"),
        ("statement 2026-03-04-001 entry 7 (line 12)", "amount '-5.00' is not a positive amount"),
        ("statement 2026-03-04-001 entry 8 (line 13)",
         "amount '1e3' is not a camt amount (digits with a decimal point, e.g. 12.50)"),
    ]


def test_a_file_broken_in_the_middle_keeps_what_came_before_and_says_where(tmp_path: Path) -> None:
    path = camt(tmp_path, entry(ref="A"), entry(ref="B"))
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.rindex("<Ntry>") + 40], encoding="utf-8")
    payments, [problem], _ = read(path)
    assert [p.ref for p in payments] == ["A"]
    assert problem.position.startswith("line ") and "not well-formed" in problem.reason


@pytest.mark.parametrize(("message", "source"), [("053", "camt.053"), ("052", "camt.052"), ("054", "camt.054")])
@pytest.mark.parametrize("version", ["02", "04", "08"])
def test_statement_report_and_notification_in_every_version(tmp_path: Path, message: str, source: str,
                                                             version: str) -> None:
    [payment], _, _ = read(camt(tmp_path, entry(), message=message, version=version))
    assert payment.source == source and payment.account == ACCOUNT


def test_the_namespace_does_not_matter(tmp_path: Path) -> None:
    path = camt(tmp_path, entry())
    text = path.read_text(encoding="utf-8")
    bare = tmp_path / "bare.xml"
    bare.write_text(text.replace(' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"', ""), encoding="utf-8")
    prefixed = tmp_path / "prefixed.xml"
    prefixed.write_text(text.replace("<Document xmlns=", "<c:Document xmlns:c=").replace("<", "<c:")
                        .replace("<c:/", "</c:").replace("<c:?xml", "<?xml").replace("<c:c:", "<c:"),
                        encoding="utf-8")
    assert read(bare)[0] == read(path)[0] == read(prefixed)[0]


def test_several_statements_in_one_file_each_name_their_entries(tmp_path: Path) -> None:
    path = camt(tmp_path, entry(ref="A"))
    text = path.read_text(encoding="utf-8").replace(
        "</Stmt>", f"</Stmt>\n<Stmt><Id>2026-03-05-001</Id><Acct><Id><Othr><Id>12345678</Id></Othr></Id></Acct>"
                   f"{entry(ref='B')}</Stmt>")
    path.write_text(text, encoding="utf-8")
    payments, _, _ = read(path)
    assert [(p.ref, p.account, p.position.split(" (")[0]) for p in payments] == [
        ("A", ACCOUNT, "statement 2026-03-04-001 entry 1"), ("B", "12345678", "statement 2026-03-05-001 entry 1")]


def test_xml_that_is_not_camt_is_rejected_naming_the_file(tmp_path: Path) -> None:
    pain = tmp_path / "transfers.xml"
    pain.write_text('<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">'
                    "<CstmrCdtTrfInitn><GrpHdr/></CstmrCdtTrfInitn></Document>", encoding="utf-8")
    with pytest.raises(StatementError) as raised:
        read_camt(pain)
    assert str(pain) in str(raised.value) and "not a camt" in str(raised.value)
    assert isinstance(raised.value, MahnwerkError) and raised.value.path == str(pain)


def test_a_file_that_is_not_xml_is_rejected_naming_the_file(tmp_path: Path) -> None:
    mt940 = tmp_path / "umsatz.sta"
    mt940.write_text(":20:STARTUMS\n:25:12030000/202051\n", encoding="utf-8")
    with pytest.raises(StatementError, match="umsatz.sta: not a camt file: not well-formed XML"):
        read_camt(mt940)
    with pytest.raises(StatementError, match="missing.xml: cannot be read"):
        read_camt(tmp_path / "missing.xml")


def test_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    path = camt(tmp_path, entry(details=tx(remittance="<Ustrd>&xxe;</Ustrd>")))
    text = path.read_text(encoding="utf-8").replace(
        "<Document", f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{secret}">]>\n<Document', 1)
    path.write_text(text, encoding="utf-8")
    [payment] = read_camt(path)
    assert isinstance(payment, IncomingPayment) and "TOP SECRET" not in payment.remittance
