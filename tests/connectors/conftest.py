"""Fixtures of the payment-source tests (Stripe, Mollie): a shared clock and the sleeps a retrying client asked for."""

from __future__ import annotations

import pytest

from tests.connectors.provider_clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slept() -> list[float]:
    return []
