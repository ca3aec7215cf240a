"""The EPC QR code payload follows EPC069-12 (version 002, UTF-8, SCT) and refuses what a bank would refuse."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from mahnwerk.connectors.girocode import GiroCodeError, epc_payload, qr_png
from mahnwerk.errors import MahnwerkError

IBAN, BIC = "DE89370400440532013000", "COBADEFFXXX"  # the well-known Commerzbank test account


def a_payload(**changes: Any) -> str:
    fields: dict[str, Any] = {"name": "Beispiel Shop GmbH", "iban": IBAN, "bic": BIC, "amount": Decimal("131.40"),
                              "currency": "EUR", "remittance": "RE-2026-1042"}
    return epc_payload(**fields | changes)


def test_payload_has_the_spec_fields_in_order() -> None:
    """Service tag, version, character set, identification, BIC, name, IBAN, amount, purpose, reference, text."""
    assert a_payload(purpose="GDDS").split("\n") == [
        "BCD", "002", "1", "SCT", BIC, "Beispiel Shop GmbH", IBAN, "EUR131.40", "GDDS", "", "RE-2026-1042",
    ]


def test_trailing_empty_fields_are_left_out() -> None:
    """No separator follows the last populated element."""
    assert a_payload(remittance="") == f"BCD\n002\n1\nSCT\n{BIC}\nBeispiel Shop GmbH\n{IBAN}\nEUR131.40"


def test_iban_and_bic_are_written_compact_and_upper_case() -> None:
    """Grouped, lower-case input becomes the electronic form."""
    lines = a_payload(iban="de89 3704 0044 0532 0130 00", bic="cobadeffxxx").split("\n")
    assert (lines[4], lines[6]) == (BIC, IBAN)


def test_bic_may_be_left_out() -> None:
    """Version 002 makes the BIC optional; its line stays, empty."""
    assert a_payload(bic="").split("\n")[4] == ""


@pytest.mark.parametrize(("amount", "expected"), [
    (Decimal("1234.5"), "EUR1234.50"),
    (Decimal(5), "EUR5.00"),
    (Decimal("1E+2"), "EUR100.00"),
    (Decimal("0.01"), "EUR0.01"),
    (Decimal("999999999.99"), "EUR999999999.99"),
    (Decimal("7.400"), "EUR7.40"),
])
def test_amount_is_eur_with_a_dot_and_two_decimals(amount: Decimal, expected: str) -> None:
    """The amount field is "EUR" and the amount with a decimal point, never an exponent."""
    assert a_payload(amount=amount).split("\n")[7] == expected


@pytest.mark.parametrize("amount", [
    Decimal(0), Decimal("-1.00"), Decimal("1000000000.00"), Decimal("1E+30"), Decimal("NaN"), Decimal("Infinity"),
    Decimal("1.005"), 12.5,
], ids=str)
def test_amount_outside_the_spec_is_refused(amount: Any) -> None:
    """0.01 to 999999999.99, at most two decimals, Decimal only: nothing is rounded here."""
    with pytest.raises(GiroCodeError, match="amount"):
        a_payload(amount=amount)


def test_other_currencies_are_refused() -> None:
    """SEPA credit transfers are in euro."""
    with pytest.raises(GiroCodeError, match="currency.*'CHF'"):
        a_payload(currency="CHF")


@pytest.mark.parametrize("iban", ["DE89370400440532013001", "XX00", ""])
def test_invalid_iban_is_refused(iban: str) -> None:
    """Checksum and structure are checked (schwifty)."""
    with pytest.raises(GiroCodeError, match="iban"):
        a_payload(iban=iban)


@pytest.mark.parametrize("bic", ["ABCDXXFF", "CO", "COBADEFF1"])
def test_invalid_bic_is_refused(bic: str) -> None:
    """Country code and length are checked (schwifty)."""
    with pytest.raises(GiroCodeError, match="bic"):
        a_payload(bic=bic)


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\r", "\u2028", "\x85", "\x0b"], ids=repr)
def test_line_breaks_cannot_shift_the_fields(separator: str) -> None:
    """A name or text with line breaks stays in its own field instead of overwriting IBAN or amount."""
    evil = f"Mallory{separator}DE02120300000000202051{separator}EUR999999.00"
    lines = a_payload(name=evil, remittance=evil).split("\n")
    assert len(lines) == 11
    assert (lines[6], lines[7]) == (IBAN, "EUR131.40")
    assert lines[5].startswith("Mallory ") and lines[10].startswith("Mallory ")


def test_name_and_remittance_lengths_are_limited() -> None:
    """Name up to 70 characters, remittance up to 140; longer is refused, not cut."""
    assert a_payload(name="N" * 70, remittance="R" * 140)
    with pytest.raises(GiroCodeError, match="name: must be at most 70 characters"):
        a_payload(name="N" * 71)
    with pytest.raises(GiroCodeError, match="remittance: must be at most 140 characters"):
        a_payload(remittance="R" * 141)


def test_empty_name_is_refused() -> None:
    """The beneficiary name is mandatory."""
    with pytest.raises(GiroCodeError, match="name: must not be empty"):
        a_payload(name=" \n ")


def test_payload_is_at_most_331_bytes() -> None:
    """Multi-byte characters count in bytes: 70 "€" and 140 "ä" are within the character limits but too large."""
    with pytest.raises(GiroCodeError, match="331 bytes"):
        a_payload(name="€" * 70, remittance="ä" * 140)


def test_characters_that_utf8_cannot_encode_are_refused() -> None:
    """A lone surrogate cannot be written as UTF-8."""
    with pytest.raises(GiroCodeError, match="name: character 2"):
        a_payload(name="A\ud800")


def test_purpose_must_be_a_four_character_code() -> None:
    """ISO 20022 purpose codes are four upper-case letters or digits."""
    with pytest.raises(GiroCodeError, match="purpose"):
        a_payload(purpose="rent")


def test_errors_are_value_errors_and_mahnwerk_errors() -> None:
    """Callers may catch either; the CLI prints MahnwerkErrors."""
    assert issubclass(GiroCodeError, ValueError) and issubclass(GiroCodeError, MahnwerkError)


def test_qr_code_reads_back_as_the_utf8_payload_at_level_m() -> None:
    """A scanner gets exactly the payload bytes, in UTF-8, from a level M code."""
    payload = a_payload(name="Müller & Söhne", remittance="RE-2026-1042 Grüße €")
    png = qr_png(payload)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    [code] = zxingcpp.read_barcodes(Image.open(BytesIO(png)))
    assert code.bytes == payload.encode("utf-8")
    assert code.ec_level == "M"


def test_qr_code_refuses_an_oversized_payload() -> None:
    """qr_png checks the EPC size limit too, for payloads not built by epc_payload."""
    with pytest.raises(GiroCodeError, match="331 bytes"):
        qr_png("x" * 332)
