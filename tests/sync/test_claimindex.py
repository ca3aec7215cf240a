"""Matching against the store-side index (sync/payments/claimindex.py) books exactly what one `Matcher` over all
open claims booked (the matching before it, kept here as the reference): payments, ledger, closed claims, row for
row, on a generated statement with casework history, closed claims and numbers that are one claim's order number
and another's invoice number."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update

from mahnwerk.policy.matching import Credit, Match, Matcher, OpenClaim, lookups
from mahnwerk.sandbox.statements import StatementClaim, write_statement
from mahnwerk.sync.config import ShopConfig, load_config
from mahnwerk.sync.payments import matchrun
from mahnwerk.sync.payments.claimindex import BY_AMOUNT, KEYS, StoreMatcher, claim_keys, refresh
from mahnwerk.sync.payments.reconcile import CLAIMS, LEDGER, PAYMENTS, closed_claims, open_claims
from mahnwerk.sync.store.coltypes import tidy
from mahnwerk.sync.store.engine import Store
from tests.support import write_config

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from plan import BASE_RATE, SHOP, TZ, fill  # noqa: E402  (bench/plan.py: the bench's claims, 10 % with history)


class FullMatcher:
    """The matching before the store-side index: one `Matcher` over every open and recently closed claim."""

    def __init__(self, store: Store, shop: ShopConfig, today: date) -> None:
        self.matcher = Matcher(open_claims(store, shop, today), window_days=shop.payments.name_window_days,
                               closed=closed_claims(store, shop, today))

    def match(self, credits: Sequence[Credit], sure: Callable[[Match | None], bool]) -> list[Match | None]:
        matches = []
        for credit in credits:
            match = self.matcher.proposal(credit)
            if match is not None and sure(match):
                for share in match.shares:
                    self.matcher.paid(share.claim_id, share.amount)
            matches.append(match)
        return matches


def rows(url: str) -> tuple[list, list, list]:
    store = Store(url, migrate=False)
    try:
        with store.connection() as conn:
            payments = conn.execute(select(PAYMENTS.c.ref, PAYMENTS.c.state, PAYMENTS.c.rule, PAYMENTS.c.confidence,
                                           PAYMENTS.c.reason, PAYMENTS.c.candidates, PAYMENTS.c.unallocated)
                                    .order_by(PAYMENTS.c.id)).all()
            ledger = conn.execute(select(LEDGER.c.claim_id, LEDGER.c.kind, LEDGER.c.source, LEDGER.c.data)
                                  .order_by(LEDGER.c.id)).all()
            claims = conn.execute(select(CLAIMS.c.id, CLAIMS.c.state, CLAIMS.c.closed_at).order_by(CLAIMS.c.id)).all()
    finally:
        store.close()
    return payments, ledger, claims


def prepare(url: str, today: date, now: datetime) -> list[StatementClaim]:
    """3,000 claims as the bench has them (10 % with casework history), with numbers that are one claim's order
    number and another's invoice number, some in another currency, some closed or with the agency; the claims as
    they were before some of them closed, for the statement."""
    store = Store(url)
    fill(store, 3000, 0.1, today)
    with store.connection() as conn:
        # Every 7th claim's invoice number is another's order number with letters ("RE-00100005" and order
        # "100005"); a few claims in another currency.
        for claim_id in range(20, 3001, 7):
            conn.execute(update(CLAIMS).where(CLAIMS.c.id == claim_id).values(
                invoice_number=f"RE-{100_000 + claim_id - 11:08d}"))
        conn.execute(update(CLAIMS).where(CLAIMS.c.id % 53 == 0).values(currency="CHF"))
        conn.commit()
        claims = [StatementClaim(*row) for row in conn.execute(select(
            CLAIMS.c.invoice_number, CLAIMS.c.order_number, CLAIMS.c.open_amount, CLAIMS.c.currency,
            CLAIMS.c.customer_name, CLAIMS.c.company, CLAIMS.c.invoice_date).order_by(CLAIMS.c.id))]
        # Paid before the statement: recently (a second payment is "already paid"), long ago, or with the agency.
        conn.execute(update(CLAIMS).where(CLAIMS.c.id % 17 == 0).values(state="paid",
                                                                        closed_at=now - timedelta(days=20)))
        conn.execute(update(CLAIMS).where(CLAIMS.c.id % 41 == 0).values(state="cancelled",
                                                                        closed_at=now - timedelta(days=500)))
        conn.execute(update(CLAIMS).where(CLAIMS.c.id % 61 == 0).values(state="in_collection"))
        conn.commit()
    store.close()
    return claims


@contextmanager
def two_stores(db: str, tmp_path: Path, server: str | None) -> Iterator[list[str]]:
    if db == "sqlite":
        yield [f"sqlite:///{tmp_path}/{name}.db" for name in ("a", "b")]
        return
    assert server is not None
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = create_engine(server)
    try:
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in server else "?"
        yield [f"{server}{sep}options=-csearch_path%3D{schema}" for schema in schemas]
    finally:
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_store_side_index_books_what_one_matcher_over_all_claims_booked(tmp_path: Path, monkeypatch, db: str,
                                                                            request: pytest.FixtureRequest) -> None:
    today = datetime.now(TZ).date()
    now = datetime.now(UTC)
    server = request.getfixturevalue("postgres_server") if db == "postgresql" else None
    monkeypatch.setattr(matchrun, "CHUNK", 97)  # many chunks: bookings of one are seen by the later ones
    with two_stores(db, tmp_path, server) as urls:
        claims, _ = (prepare(url, today, now) for url in urls)  # the same claims in both
        statement = write_statement(tmp_path / "s.xml", claims, seed=11, start=today, days=1, noise=0.15)
        results = []
        for url, matcher in zip(urls, (StoreMatcher, FullMatcher), strict=True):
            monkeypatch.setattr(matchrun, "StoreMatcher", matcher)
            etc = write_config(tmp_path / f"etc-{matcher.__name__}", url, [{
                "shop_id": SHOP, "url": "http://127.0.0.1:9", "key": "ck_bench", "secret": "cs_bench",
                "extra": BASE_RATE}])
            store = Store(url)
            try:
                results.append(matchrun.run(store, load_config(etc).shops[0], [statement.path], now=now,
                                            apart=False)[1])
            finally:
                store.close()
        mine, reference = rows(urls[0]), rows(urls[1])

    assert results[0] == results[1]
    assert results[0].booked > 2000 and results[0].review > 20 and results[0].closed > 1000
    for got, expected in zip(mine, reference, strict=True):
        assert got == expected
    reasons = " ".join(row.reason for row in mine[0])
    assert "no longer open" in reasons and "is an order and an invoice number" in reasons


def test_a_changed_claim_is_indexed_again(db_url: str) -> None:
    store = Store(db_url)
    today = date(2026, 12, 6)
    fill(store, 30, 0.0, today)
    with store.connection() as conn:
        assert refresh(conn, SHOP) == 30
        assert refresh(conn, SHOP) == 0  # nothing changed: one scan, nothing written
        conn.execute(update(CLAIMS).where(CLAIMS.c.id == 7).values(invoice_number="RE-2026-0042"))
        conn.execute(update(CLAIMS).where(CLAIMS.c.id == 8).values(open_amount=Decimal("119.5")))
        assert refresh(conn, SHOP) == 2
        assert refresh(conn, SHOP) == 0  # "119.5" as the shop wrote it is the index's "119.50"
        assert list(conn.execute(BY_AMOUNT(conn), {"shop": SHOP, "currency": "EUR", "ids": [tidy(Decimal("119.500"))]})
                    .scalars()) == [8]
        keys = set(conn.execute(select(KEYS.c.key).where(KEYS.c.claim_id == 7)).scalars())
        assert keys == claim_keys("RE-2026-0042", "100007") == {"RE20260042", "RE202642", "100007", "*20260042"}
    store.close()


class Recording(dict):
    """A key index that notes every key looked up in it."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.asked: set[str] = set()

    def get(self, key, default=None):  # type: ignore[no-untyped-def]
        self.asked.add(key)
        return super().get(key, default)


def test_lookups_cover_every_key_the_matcher_looks_up(tmp_path: Path) -> None:
    claims = [StatementClaim(f"RE-{i:08d}", str(100_000 + i), Decimal("10.00") + i, "EUR", f"Erika Muster{i}", "",
                             date(2026, 11, 1)) for i in range(1, 400)]
    truth = write_statement(tmp_path / "s.xml", claims, seed=3, start=date(2026, 12, 1), days=1)
    texts = ["RE-2026-00\n42 danke", "Rechnung RE42, NR 0042\n\nE2E-99", "RE 100001 RE-001\n00001 / 17"]
    texts += ["\n\n".join(t for t in (c.remittance, c.end_to_end_id, c.creditor_ref) if t) for c in truth.credits]
    matcher = Matcher([OpenClaim(i, c.invoice_number, c.order_number, c.order_number, c.currency, c.amount,
                                 (c.customer,), date(2026, 11, 1)) for i, c in enumerate(claims)])
    for written in texts:
        for index in ("_by_key", "_closed_keys"):
            recording = Recording(getattr(matcher, index))
            setattr(matcher, index, recording)
            matcher._references(written, recording)
            assert recording.asked <= lookups(written), written
