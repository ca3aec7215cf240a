"""The EPC QR code ("GiroCode") that lets a customer pay a claim by scanning it with a banking app.

Payload format: European Payments Council, "Quick Response Code: Guidelines to Enable Data Capture for the
Initiation of a SEPA Credit Transfer", EPC069-12, version 002, character set 1 (UTF-8), identification SCT.
"""

from __future__ import annotations

import io
import re
import unicodedata
from decimal import Decimal

import segno
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from mahnwerk.connectors.qrmask import best_mask
from mahnwerk.errors import MahnwerkError

MAX_PAYLOAD_BYTES = 331  # EPC069-12: the largest payload a version 13 QR code holds at error level M
MAX_NAME = 70
MAX_REMITTANCE = 140
MIN_AMOUNT, MAX_AMOUNT = Decimal("0.01"), Decimal("999999999.99")
CENT = Decimal("0.01")


class GiroCodeError(MahnwerkError, ValueError):
    """Raised when the payment data cannot go into an EPC QR code; the message names the field."""


def epc_payload(
    *,
    name: str,
    iban: str,
    bic: str,
    amount: Decimal,
    currency: str,
    remittance: str,
    purpose: str = "",
) -> str:
    """The EPC069-12 (version 002, UTF-8, SCT) payload for one credit transfer to `name`."""
    lines = [
        "BCD",
        "002",
        "1",  # character set: UTF-8
        "SCT",
        _bic(bic),
        _text("name", name, MAX_NAME, required=True),
        _iban(iban),
        _amount(amount, currency),
        _purpose(purpose),
        "",  # structured creditor reference: we use the unstructured remittance instead (one or the other)
        _text("remittance", remittance, MAX_REMITTANCE),
        "",  # beneficiary to originator information
    ]
    while lines[-1] == "":  # the spec: no separator after the last populated element
        lines.pop()
    payload = "\n".join(lines)
    size = len(payload.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise GiroCodeError(f"payload: must be at most {MAX_PAYLOAD_BYTES} bytes in UTF-8 (got {size})")
    return payload


def qr_png(payload: str, *, scale: int = 4) -> bytes:
    """The payload as a PNG QR code: error correction level M, as EPC069-12 requires, with the quiet zone."""
    data = payload.encode("utf-8")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise GiroCodeError(f"payload: must be at most {MAX_PAYLOAD_BYTES} bytes in UTF-8 (got {len(data)})")
    # Bytes, not str: segno would pick ISO-8859-1 for "ä", but the payload declares character set 1 (UTF-8).
    code = segno.make(data, error="m", boost_error=False, micro=False, mask=0)
    best = best_mask(code.matrix)  # the mask segno would choose, reckoned faster (connectors/qrmask.py)
    if best != 0:
        code = segno.make(data, error="m", boost_error=False, micro=False, mask=best)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale)
    return buffer.getvalue()


def _text(field: str, value: str, limit: int, *, required: bool = False) -> str:
    # Line breaks would move the following text into the next field (IBAN, amount): one line only.
    flat = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value).strip()
    if required and not flat:
        raise GiroCodeError(f"{field}: must not be empty")
    if len(flat) > limit:
        raise GiroCodeError(f"{field}: must be at most {limit} characters (got {len(flat)})")
    try:
        flat.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise GiroCodeError(f"{field}: character {exc.start + 1} cannot be encoded in UTF-8") from exc
    return flat


def _iban(value: str) -> str:
    try:
        return IBAN(value).compact
    except SchwiftyException as exc:
        raise GiroCodeError(f"iban: not a valid IBAN ({exc}; got {value!r})") from exc


def _bic(value: str) -> str:
    if not value.strip():
        return ""  # optional in version 002 within the EEA
    try:
        return BIC(value).compact
    except SchwiftyException as exc:
        raise GiroCodeError(f"bic: not a valid BIC ({exc}; got {value!r})") from exc


def _amount(amount: Decimal, currency: str) -> str:
    if currency != "EUR":
        raise GiroCodeError(f"currency: SEPA credit transfers are in EUR only (got {currency!r})")
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise GiroCodeError(f"amount: must be a finite Decimal (got {amount!r})")
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise GiroCodeError(f"amount: must be between {MIN_AMOUNT} and {MAX_AMOUNT} EUR (got {amount})")
    if amount != amount.quantize(CENT):  # rounding is policy/'s business, not the QR code's
        raise GiroCodeError(f"amount: must have at most 2 decimals (got {amount})")
    return f"EUR{amount.quantize(CENT)}"


def _purpose(value: str) -> str:
    if value and not re.fullmatch(r"[A-Z0-9]{4}", value):
        raise GiroCodeError(f"purpose: must be a 4-character ISO 20022 purpose code or empty (got {value!r})")
    return value
