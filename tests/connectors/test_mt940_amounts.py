"""MT940 amounts by SWIFT's 15d grammar: digits, one decimal comma (mandatory), no more decimals than the currency has,
15 characters at most with the comma. Every valid amount is read exactly; everything else is refused with its
position and the amount, never misread (the library alone reads `99999999999999,99` as 99999999999999, `1e3` as 1
and `12,345` as 12.345)."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mahnwerk.connectors.mt940_statement import parse_amount, read_mt940
from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem
from tests.connectors.test_mt940_statement import statement, write

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def valid_amounts(draw: st.DrawFn, places: int = 2) -> str:
    decimals = draw(st.integers(0, places))
    whole = draw(st.text("0123456789", min_size=1, max_size=14 - decimals))
    return f"{whole},{draw(st.text('0123456789', min_size=decimals, max_size=decimals))}"


def expected(text: str) -> Decimal:
    whole, _, fraction = text.partition(",")
    return Decimal(f"{whole}.{fraction or '0'}")


def in_grammar(text: str, places: int = 2) -> bool:
    whole, comma, fraction = text.partition(",")
    digits = whole.isascii() and whole.isdigit() and (fraction == "" or (fraction.isascii() and fraction.isdigit()))
    return bool(comma) and digits and len(fraction) <= places and len(text) <= 15


def read_line(amount: str, *, mark: str = "C", currency: str = "EUR") -> list[IncomingPayment | SourceProblem]:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), statement(f":61:2603040304{mark}{amount}NTRFNONREF//B1", ":86:166?20SVWZ+x",
                                             opening=f":60F:C260303{currency}1000,"))
        return list(read_mt940(path))


@FAST
@given(valid_amounts())
def test_every_valid_amount_is_read_exactly(text: str) -> None:
    assert parse_amount(text, "EUR") == expected(text)
    records = read_line(text)
    if expected(text) == 0:
        assert [type(r) for r in records] == [SourceProblem]
    else:
        [payment] = records
        assert isinstance(payment, IncomingPayment) and payment.amount == expected(text)


def outside(text: str) -> bool:
    """Not an amount, nor one the line's grammar reads otherwise: a letter after the mark is the funds code, one
    space before the amount is tolerated (as by the library)."""
    return not in_grammar(text) and not text.startswith("E") and not (text.startswith(" ") and in_grammar(text[1:]))


@FAST
@given(st.text("0123456789,.eE+- ", max_size=20).filter(outside))
def test_an_amount_outside_the_grammar_is_refused_never_misread(text: str) -> None:
    with pytest.raises(ValueError, match="is not an MT940 amount"):
        parse_amount(text, "EUR")
    [problem] = read_line(text)
    assert isinstance(problem, SourceProblem) and problem.position == "statement STARTUMS260304 line 5"
    read = text[1:] if text.startswith(" ") else text  # one space before the amount is the line's
    assert repr(read[:20]) in problem.reason or "does not fit the MT940 grammar" in problem.reason


@pytest.mark.parametrize("text", ["99999999999999,99", "999999999999999,", "1e3", "12,345", "1.000,00", "12",
                                  "1,2,3", "-5,00", "+5,00", "5,0 0", "١٢,٠٠"])
def test_the_misread_amounts_of_the_issue_are_refused_with_their_position(text: str) -> None:
    [problem] = read_line(text)
    assert isinstance(problem, SourceProblem) and problem.position == "statement STARTUMS260304 line 5"
    assert f"the amount {text!r} is not an MT940 amount" in problem.reason


def test_decimals_follow_the_currency() -> None:
    assert parse_amount("1000,", "JPY") == 1000 and parse_amount("1,234", "KWD") == Decimal("1.234")
    for text, currency in [("1000,5", "JPY"), ("1,2345", "KWD"), ("1,234", "EUR")]:
        with pytest.raises(ValueError, match=f"at most . decimals for {currency}"):
            parse_amount(text, currency)
    [payment] = read_line("1500,", currency="JPY")
    assert isinstance(payment, IncomingPayment) and (payment.amount, payment.currency) == (1500, "JPY")


def test_the_largest_amount_is_read_exactly_and_a_balance_outside_the_grammar_is_refused(tmp_path: Path) -> None:
    [payment] = read_line("99999999999999,")
    assert isinstance(payment, IncomingPayment) and payment.amount == Decimal("99999999999999")
    path = write(tmp_path, statement(":61:2603040304C10,00NTRFNONREF//B1", opening=":60F:C260303EUR1e3"))
    problems = list(read_mt940(path))
    assert [type(p) for p in problems] == [SourceProblem, SourceProblem]
    assert "opening balance" in problems[0].reason and "'1e3' is not an MT940 amount" in problems[0].reason


@pytest.mark.parametrize(("supplement", "refused"), [("/CHGS/EUR1,50/", False), ("/CHGS/EUR1.50/", True),
                                                     ("/OCMT/CHF12,345/", True), ("/OCMT/USD1e3/", True)])
def test_supplement_amounts_follow_the_grammar_too(tmp_path: Path, supplement: str, refused: bool) -> None:
    path = write(tmp_path, statement(f":61:2603040304C10,00NTRFNONREF//B1\r\n{supplement}", ":86:166?20SVWZ+x"))
    [record] = list(read_mt940(path))
    assert isinstance(record, SourceProblem) == refused
    if refused:
        assert "is not an MT940 amount" in record.reason
    else:
        assert isinstance(record, IncomingPayment) and record.charges == Decimal("1.50")
