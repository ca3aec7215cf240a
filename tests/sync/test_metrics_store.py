"""The store's gauges of /metrics on both stores (SQLite keeps money as text: its sum must still be the cents)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.metrics import DaemonMetrics
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.store.models import Claim, ClaimState
from tests.support import write_config


def test_open_claims_and_amount_are_the_stores_per_currency(tmp_path: Path, woo, db_url: str) -> None:
    """Count and sum of the open claims equal the Decimal sum of the stored rows, to the cent; a shop no longer
    configured is not reported."""
    etc = write_config(tmp_path / "etc", db_url, [
        {"shop_id": "acme", "url": woo.url, "key": woo.consumer_key, "secret": woo.consumer_secret}])
    config = load_config(etc)
    store = open_store(config)
    try:
        assert sync_one(store, config.shops[0]).ok
        with store.session() as session:
            rows = session.execute(select(Claim).where(Claim.state == ClaimState.OPEN)).scalars().all()
        expected: dict[str, tuple[int, Decimal]] = {}
        for claim in rows:  # exact: Decimal, claim by claim
            count, total = expected.get(claim.currency, (0, Decimal(0)))
            expected[claim.currency] = (count + 1, total + claim.open_amount)
        scraped = generate_latest(DaemonMetrics(store, ["acme"]).registry).decode()
        none = generate_latest(DaemonMetrics(store, ["other"]).registry).decode()
    finally:
        store.close()
    samples = {(s.name, s.labels.get("currency")): s.value
               for family in text_string_to_metric_families(scraped) for s in family.samples}
    assert expected
    for currency, (count, total) in expected.items():
        assert samples["mahnwerk_open_claims", currency] == count
        assert round(Decimal(repr(samples["mahnwerk_open_amount", currency])), 2) == total
    assert "mahnwerk_open_claims{" not in none and 'mahnwerk_payments_waiting{shop="other"} 0.0' in none
