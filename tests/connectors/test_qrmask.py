"""The GiroCode's mask reckoned on whole rows: the same choice, and so the same code, as segno's own evaluation."""

from __future__ import annotations

import random
from decimal import Decimal
from io import BytesIO

import pytest
import segno

from mahnwerk.connectors.girocode import epc_payload, qr_png
from mahnwerk.connectors.qrmask import best_mask

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:-/\näöüßŁżЖ"


def test_every_mask_and_version_a_girocode_can_have() -> None:
    """Random payloads of 1 to 331 bytes (all versions an EPC payload can need, every mask chosen): the mask and the
    whole matrix are segno's."""
    rng = random.Random(17)
    masks, versions = set(), set()
    for _ in range(300):
        data = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 300))).encode()[:331]
        expected = segno.make(data, error="m", boost_error=False, micro=False)
        first = segno.make(data, error="m", boost_error=False, micro=False, mask=0)
        assert best_mask(first.matrix) == expected.mask, data
        masks.add(expected.mask)
        versions.add(expected.version)
    assert masks == set(range(8)) and len(versions) >= 12


@pytest.mark.parametrize("amount", ["0.01", "19.90", "421.14", "999999999.99"])
def test_girocode_png_is_segnos(amount: str) -> None:
    """The PNG in the letter is byte for byte the one segno draws choosing the mask itself."""
    payload = epc_payload(name="Gartenglück GmbH", iban="DE14370400441234567890", bic="COBADEFFXXX",
                          amount=Decimal(amount), currency="EUR", remittance=f"Rechnung 1042 Bestellung {amount}")
    code = segno.make(payload.encode(), error="m", boost_error=False, micro=False)
    buffer = BytesIO()
    code.save(buffer, kind="png", scale=4)
    assert qr_png(payload) == buffer.getvalue()


def test_a_matrix_it_does_not_know_is_left_to_segno() -> None:
    assert best_mask([bytearray(21)] * 20) is None  # not square
    assert best_mask([bytearray(b"\x02" * 21)] * 21) is None  # a module neither light nor dark
