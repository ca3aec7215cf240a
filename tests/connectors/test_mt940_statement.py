"""MT940 files on disk as German banks write them: DK ?-subfields, purpose lines cut at fixed width, C/D/RC/RD,
bank references and the fallback, CP850 and ISO-8859-1, and a malformed line reported while the rest is imported."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from mahnwerk.connectors.mt940_statement import detect_encoding, read_mt940
from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem, fallback_ref
from mahnwerk.errors import StatementError

ACCOUNT = "DE02120300000000202051"
DK_86 = [":86:166?00GUTSCHR. UEBERWEISUNG?109310?20EREF+RE-2026-0042-ABCDEFGHI",
         "?21JKL?22SVWZ+Rechnung RE-2026-00?23042 vielen Dank fuer die sc?24hnelle Lieferung",
         "?30COBADEFFXXX?31DE89370400440532013000?32Größmann & Söhne GmbH Abtei",
         "?33lung Buchhaltung?34000"]


def statement(*lines: str, ref: str = "STARTUMS260304", account: str = "12030000/202051",
              opening: str = ":60F:C260303EUR1000,00") -> list[str]:
    return [f":20:{ref}", f":25:{account}", ":28C:00042/001", opening, *lines, ":62F:C260304EUR1119,00", "-"]


def write(tmp_path: Path, lines: list[str], *, encoding: str = "utf-8", name: str = "umsatz.sta") -> Path:
    path = tmp_path / name
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def read(path: Path, **options) -> tuple[list[IncomingPayment], list[SourceProblem], Counter[str]]:
    skipped: Counter[str] = Counter()
    records = list(read_mt940(path, skipped=skipped, **options))
    return ([r for r in records if isinstance(r, IncomingPayment)],
            [r for r in records if isinstance(r, SourceProblem)], skipped)


def test_a_credit_with_dk_subfields_becomes_an_incoming_payment(tmp_path: Path) -> None:
    path = write(tmp_path, statement(":61:2603040304CR119,00NTRFNONREF//2026030400123456", *DK_86))
    [payment], problems, skipped = read(path)
    assert problems == [] and skipped == Counter()
    assert payment == IncomingPayment(
        source="mt940", ref="2026030400123456", booked_on=date(2026, 3, 4), amount=Decimal("119.00"),
        currency="EUR", account=ACCOUNT, payer_name="Größmann & Söhne GmbH Abteilung Buchhaltung",
        payer_account="DE89370400440532013000",
        remittance="Rechnung RE-2026-00\n042 vielen Dank fuer die sc\nhnelle Lieferung",
        end_to_end_id="RE-2026-0042-ABCDEFGHIJKL", position="statement STARTUMS260304 line 5")


def test_purpose_lines_cut_inside_a_reference_stay_recoverable(tmp_path: Path) -> None:
    path = write(tmp_path, statement(":61:2603040304C50,00NTRFNONREF//B1",
                                     ":86:166?00GUTSCHRIFT?20SVWZ+Rechnung RE-2026-000?2142 Kd 4711?32Anna Müller"))
    [payment], _, _ = read(path)
    lines = payment.remittance.split("\n")
    assert lines == ["Rechnung RE-2026-000", "42 Kd 4711"]
    assert "RE-2026-00042" in "".join(lines)  # what a matcher joining without a space finds
    assert payment.payer_name == "Anna Müller" and payment.end_to_end_id == ""


def test_without_svwz_the_whole_purpose_is_the_remittance(tmp_path: Path) -> None:
    path = write(tmp_path, statement(":61:2603040304C50,00NTRFNONREF//B1",
                                     ":86:051?00UEBERWEISG?20RECHNUNG RE-2026-0042?21KD 4711?32MUELLER, ANNA",
                                     ":61:2603040304C60,00NTRFNONREF//B2",
                                     ":86:Rechnung RE-2026-0043 danke", "vielmals Ihre Anna"))
    payments, _, _ = read(path)
    assert [p.remittance for p in payments] == ["RECHNUNG RE-2026-0042\nKD 4711",
                                                "Rechnung RE-2026-0043 danke\nvielmals Ihre Anna"]
    assert payments[0].payer_name == "MUELLER, ANNA" and payments[1].payer_name == ""


def test_ultimate_payer_and_a_short_first_name_part(tmp_path: Path) -> None:
    path = write(tmp_path, statement(":61:2603040304C50,00NTRFNONREF//B1",
                                     ":86:166?20EREF+NOTPROVIDED?21SVWZ+RE-2026-0042?22ABWA+Weber KG",
                                     ":61:2603040304C50,00NTRFNONREF//B2",
                                     ":86:166?20SVWZ+RE-2026-0043?32Jürgen?33Größmann"))
    payments, _, _ = read(path)
    assert [(p.payer_name, p.remittance) for p in payments] == [("Weber KG", "RE-2026-0042"),
                                                               ("Jürgen Größmann", "RE-2026-0043")]


def test_credits_only_debits_and_both_reversals_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, statement(":61:2603040304C10,00NTRFNONREF//C1", ":86:166?20SVWZ+credit",
                                     ":61:2603040304D20,00NTRFNONREF//D1", ":86:116?20SVWZ+debit",
                                     ":61:2603040304RC30,00NTRFNONREF//RC1", ":86:159?20SVWZ+reversal of a credit",
                                     ":61:2603040304RD40,00NTRFNONREF//RD1", ":86:159?20SVWZ+our debit back",
                                     ":61:2603040304CR50,00NTRFNONREF//C2", ":86:166?20SVWZ+credit with funds code",
                                     ":61:2603040304c60,00NTRFNONREF//C3"))
    payments, problems, skipped = read(path)
    assert [(p.ref, p.amount) for p in payments] == [("C1", Decimal("10.00")), ("C2", Decimal("50.00")),
                                                    ("C3", Decimal("60.00"))]
    assert skipped == Counter({"debit": 1, "reversal": 2}) and problems == []


def test_the_bank_reference_else_the_stable_fallback(tmp_path: Path) -> None:
    path = write(tmp_path, statement(":61:2603040304C10,00NTRFNONREF//NONREF", ":86:166?20SVWZ+Spende",
                                     ":61:2603040304C10,00NTRFNONREF", ":86:166?20SVWZ+Spende",
                                     ":61:2603040304C11,00NTRFKREF1234//", ":86:166?20SVWZ+Spende"))
    first, _, _ = read(path)
    again, _, _ = read(path)
    ten = fallback_ref(ACCOUNT, date(2026, 3, 4), Decimal("10.00"), "EUR", "Spende")
    eleven = fallback_ref(ACCOUNT, date(2026, 3, 4), Decimal("11.00"), "EUR", "Spende")
    assert [p.ref for p in first] == [ten, ten + "/2", eleven] == [p.ref for p in again]
    assert first[2].end_to_end_id == "KREF1234"  # the :61: customer reference when :86: has no EREF+


def test_supplementary_details_give_charges_and_the_original_amount(tmp_path: Path) -> None:
    path = write(tmp_path, statement(":61:2603040304C98,50NTRFNONREF//F1", "/CHGS/EUR1,50/",
                                     ":86:166?20SVWZ+RE-1",
                                     ":61:2603040304C131,50NTRFNONREF//F2", "/OCMT/CHF125,00//CHGS/EUR2,00/",
                                     ":86:166?20SVWZ+RE-2",
                                     ":61:2603040304C100,00NTRFNONREF//F3", "/OCMT/EUR100,00/"))
    payments, _, _ = read(path)
    assert [(p.charges, p.original_amount, p.original_currency) for p in payments] == [
        (Decimal("1.50"), None, ""), (Decimal("2.00"), Decimal("125.00"), "CHF"), (Decimal(0), None, "")]


@pytest.mark.parametrize("encoding", ["cp850", "iso-8859-1", "utf-8"])
def test_german_charsets(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, statement(":61:2603040304C10,00NTRFNONREF//C1",
                                     ":86:166?20SVWZ+Rechnung für Bäckerei?21Größe ÄÖÜ?32Dörte Bäcker-Schütz"),
                 encoding=encoding)
    assert detect_encoding(path) == encoding
    [payment], _, _ = read(path)
    assert payment.payer_name == "Dörte Bäcker-Schütz"
    assert payment.remittance == "Rechnung für Bäckerei\nGröße ÄÖÜ"


def test_an_explicit_encoding_wins(tmp_path: Path) -> None:
    path = write(tmp_path, statement(":61:2603040304C10,00NTRFNONREF//C1", ":86:166?32Bäcker"), encoding="cp850")
    [payment], _, _ = read(path, encoding="cp850")
    assert payment.payer_name == "Bäcker"


NOT_AN_AMOUNT = ("is not an MT940 amount (digits and one decimal comma, at most 2 decimals for EUR, at most 15 "
                 "characters)")


def test_a_malformed_line_is_reported_with_its_position_and_the_rest_is_imported(tmp_path: Path) -> None:
    path = write(tmp_path, statement(
        ":61:2603040304C10,00NTRFNONREF//OK1", ":86:166?20SVWZ+fine",
        ":61:2613400304C10,00NTRFNONREF//X1", ":86:166?20SVWZ+bad date",
        ":61:2603040304C,NTRFNONREF//X2", ":86:166?20SVWZ+bad amount",
        ":61:2603040304CNTRFNONREF//X3", ":86:166?20SVWZ+no amount",
        ":61:2603040304C0,00NTRFNONREF//X4",
        ":61:2603040304C20,00NTRFNONREF//OK2", ":86:166?20SVWZ+fine too"))
    payments, problems, _ = read(path)
    assert [p.ref for p in payments] == ["OK1", "OK2"]
    assert [(p.position, p.reason) for p in problems] == [
        ("statement STARTUMS260304 line 7", "cannot read the :61: statement line: bad date (month must be in 1..12)"),
        ("statement STARTUMS260304 line 9", f"cannot read the :61: statement line: the amount ',' {NOT_AN_AMOUNT}"),
        ("statement STARTUMS260304 line 11", f"cannot read the :61: statement line: the amount '' {NOT_AN_AMOUNT}"),
        ("statement STARTUMS260304 line 13", "the amount is zero"),
    ]


def test_without_opening_balance_the_lines_have_no_currency(tmp_path: Path) -> None:
    path = write(tmp_path, [":20:S1", ":25:12030000/202051", ":60F:X26030EURabc", ":61:2603040304C10,00NTRF//A",
                            "-", *statement(":61:2603040304C10,00NTRFNONREF//B", ref="S2")])
    payments, problems, _ = read(path)
    assert [p.ref for p in payments] == ["B"]
    assert [p.position for p in problems] == ["statement S1 line 3", "statement S1 line 4"]
    assert "opening balance" in problems[0].reason and "no currency" in problems[1].reason


@pytest.mark.parametrize(("account", "expected"), [
    ("12030000/202051", ACCOUNT), ("12030000/0000202051EUR", ACCOUNT), (ACCOUNT, ACCOUNT),
    (ACCOUNT + "EUR", ACCOUNT), ("NL91ABNA0417164300", "NL91ABNA0417164300"), ("0417164300", "0417164300")])
def test_the_account_is_the_iban(tmp_path: Path, account: str, expected: str) -> None:
    [payment], _, _ = read(write(tmp_path, statement(":61:2603040304C10,00NTRF//A", account=account)))
    assert payment.account == expected


def test_entry_date_across_new_year_and_30_february(tmp_path: Path) -> None:
    path = write(tmp_path, statement(":61:2512310102C10,00NTRF//A", ":61:2602300302C10,00NTRF//B",
                                     ":61:260304C10,00NTRF//C"))
    payments, problems, _ = read(path)
    assert [p.booked_on for p in payments] == [date(2026, 1, 2), date(2026, 3, 2), date(2026, 3, 4)]
    assert problems == []


def test_a_swift_envelope_and_several_statements(tmp_path: Path) -> None:
    lines = ["{1:F01COBADEFFAXXX0000000000}{2:I940COBADEFFXXXXN}{4:",
             *statement(":61:2603040304C10,00NTRF//A", ":86:166?20SVWZ+eins", ref="S1")[:-1], "-}",
             "{1:F01COBADEFFAXXX0000000000}{2:I940COBADEFFXXXXN}{4:",
             *statement(":61:2603050305C20,00NTRF//B", ":86:166?20SVWZ+zwei", ref="S2")[:-1], "-}{5:{CHK:ABC}}"]
    payments, problems, _ = read(write(tmp_path, lines))
    assert [(p.ref, p.remittance, p.position) for p in payments] == [
        ("A", "eins", "statement S1 line 6"), ("B", "zwei", "statement S2 line 15")]
    assert problems == []


def test_a_file_that_is_not_mt940_is_rejected_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Dear customer,\nplease pay.\n", encoding="utf-8")
    with pytest.raises(StatementError, match="notes.txt: not an MT940 file"):
        read_mt940(path)
