"""Fixtures shared by the sync tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from tests.connectors.test_smtp import Inbox, free_port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A plain SMTP server on 127.0.0.1: its inbox and port."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), server_hostname="mx.test")
    controller.start()
    yield inbox, controller.port
    controller.stop()
