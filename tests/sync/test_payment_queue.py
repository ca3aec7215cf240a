"""The payments queue's shared functions (sync/payments/queue.py) on SQLite and PostgreSQL: the waiting payments
with their suggestions, a part booked by hand (source and person in the ledger), and the search over booked
payments, which compares amounts as numbers (SQLite keeps money as text)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from mahnwerk.sync.casework.acting import ActionRefused
from mahnwerk.sync.config import load_config
from mahnwerk.sync.payments.queue import assign_payment, booked_payments, ignore_payment, waiting_payments
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.models import LedgerEntry, PaymentState
from tests.sync.test_payments import bring_in, credit, etc, payment, synced  # noqa: F401  (etc: the fixture)
from tests.sync.test_run import NOW, query

D = Decimal


def test_queue_assign_ignore_and_search(etc: Path) -> None:  # noqa: F811
    claims = synced(etc)
    bring_in(etc, [credit("Q1", "100.00", "zwei Rechnungen", payer="Frau Teilzahler"),
                   credit("Q2", "12.34", "Gehalt", payer="Arbeitgeber AG")])
    config = load_config(etc)
    store = open_store(config)
    try:
        queue = {p["ref"]: p for p in waiting_payments(store, ["acme"])}
        assert set(queue) == {"Q1", "Q2"} and queue["Q1"]["unallocated"] == "100.00"
        assert booked_payments(store, ["acme"], "Teilzahler") == []  # nothing booked yet

        ref = f"acme:{claims[0].order_number}"
        done = assign_payment(store, config, queue["Q1"]["id"], ref, D("5.00"), by="anna", source="web", now=NOW,
                              command="test")
        assert (done.share, done.left, done.closed) == (D("5.00"), D("95.00"), False)
        [entry] = query(etc, select(LedgerEntry).where(LedgerEntry.kind == "payment"))
        assert (entry.actor, entry.source, entry.data["amount"]) == ("anna", "web", "5.00")
        assert payment(etc, "Q1").state in PaymentState.WAITING  # 95.00 still waits

        for search in ("teilzahler", "100,00", "100.00", "zwei"):
            [found] = booked_payments(store, ["acme"], search)
            assert found["ref"] == "Q1" and found["booked_to"] == [(ref, "5.00", claims[0].currency)], search
        assert booked_payments(store, ["acme"], "Arbeitgeber") == []

        with pytest.raises(ActionRefused, match="say why") as refused:
            ignore_payment(store, queue["Q2"]["id"], " ", by="anna", source="web", now=NOW, command="test")
        assert refused.value.code == "reason_missing" and refused.value.param == "--reason"
        ignore_payment(store, queue["Q2"]["id"], "Gehalt", by="anna", source="web", now=NOW, command="test")
        with pytest.raises(ActionRefused) as again:
            ignore_payment(store, queue["Q2"]["id"], "Gehalt", by="anna", source="web", now=NOW, command="test")
        assert again.value.code == "payment_not_waiting" and again.value.values == {"id": queue["Q2"]["id"]}
        assert [p["ref"] for p in waiting_payments(store, ["acme"])] == ["Q1"]
    finally:
        store.close()
