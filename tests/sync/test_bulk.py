"""Bulk writes (sync/bulk.py) store exactly what SQLAlchemy's own executemany stores: column defaults the rows
leave out, constants of an UPDATE, JSON, money and aware datetimes repeated from row to row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError

from mahnwerk.sync.store.bulk import bulk_insert, execute_many, insert_new
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, LedgerEntry, Shop

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
LEDGER, CLAIMS = LedgerEntry.__table__, Claim.__table__


def claim_row(n: int) -> dict:
    return {"shop_id": "acme", "order_id": str(n), "order_number": str(1000 + n), "invoice_number": f"RE-{n:05}",
            "invoice_date": NOW.date(), "due_date": NOW.date() + timedelta(days=14), "customer_name": "Jürgen Groß",
            "email": f"c{n}@example.org", "billing_address": {"city": "Köln"}, "currency": "EUR",
            "gross_amount": Decimal("119.00"), "open_amount": Decimal("119.00") - n, "shop_status": "on-hold",
            "payment_method": "bacs", "ordered_at": NOW, "shop_modified_at": NOW, "first_seen_at": NOW,
            "updated_at": NOW, "company": "", "vat_id": "", "is_b2b": False, "language": "de", "state": "open"}


def test_bulk_writes_store_what_the_rows_say(db_url: str) -> None:
    store = Store(db_url)
    try:
        with store.session() as session:
            session.add(Shop(id="acme", kind="woocommerce", url="http://127.0.0.1:9", created_at=NOW))
            session.commit()
        with store.connection() as conn:
            bulk_insert(conn, CLAIMS, [claim_row(n) for n in range(1, 4)])
            ids = conn.execute(select(CLAIMS.c.id).order_by(CLAIMS.c.id)).scalars().all()
            # No "actor": the column's default (""). The same `now` object in every row, JSON with umlauts.
            bulk_insert(conn, LEDGER, [{"claim_id": i, "at": NOW, "kind": "payment", "source": "payments",
                                        "data": {"amount": "10.00", "who": "Groß"}} for i in ids])
            later = NOW + timedelta(hours=1)
            execute_many(conn, update(CLAIMS).where(CLAIMS.c.id == bindparam("claim_id")).values(
                state="paid", closed_at=bindparam("now"), updated_at=bindparam("now")),
                [{"claim_id": ids[0], "now": later}, {"claim_id": ids[2], "now": later}])
            conn.commit()
            entries = conn.execute(select(LEDGER).order_by(LEDGER.c.id)).all()
            claims = conn.execute(select(CLAIMS).order_by(CLAIMS.c.id)).all()
        assert [(e.claim_id, e.at, e.actor, e.data) for e in entries] == [
            (i, NOW, "", {"amount": "10.00", "who": "Groß"}) for i in ids]
        assert [(c.state, c.closed_at, c.updated_at) for c in claims] == [
            ("paid", later, later), ("open", None, NOW), ("paid", later, later)]
        assert [c.open_amount for c in claims] == [Decimal("118.00"), Decimal("117.00"), Decimal("116.00")]
        assert claims[0].billing_address == {"city": "Köln"} and claims[0].customer_name == "Jürgen Groß"
    finally:
        store.close()


def test_a_bulk_connection_goes_back_to_the_pool_as_it_came(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    try:
        with store.bulk_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 16384
            raise_inside = False
        with store.connection() as conn:  # the pool hands out the same SQLite connection
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        try:
            with store.bulk_connection() as conn:
                bulk_insert(conn, Shop.__table__, [{"id": "acme", "kind": "woocommerce", "url": "http://127.0.0.1:9",
                                                    "created_at": NOW}])
                raise_inside = True
                raise RuntimeError("a chunk failed")
        except RuntimeError:
            pass
        with store.connection() as conn:
            assert raise_inside and conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
            assert not conn.execute(select(Shop.__table__)).all()  # not committed: rolled back
    finally:
        store.close()


def test_a_bulk_insert_alone_in_its_transaction_is_committed(db_url: str) -> None:
    """On PostgreSQL COPY goes past SQLAlchemy: without a statement before it, commit() must still save it."""
    store = Store(db_url)
    try:
        with store.connection() as conn:
            bulk_insert(conn, Shop.__table__, [{"id": "acme", "kind": "woocommerce", "url": "http://127.0.0.1:9",
                                                "created_at": NOW}])
            conn.commit()
        with store.connection() as conn:
            assert conn.execute(select(Shop.__table__.c.id)).scalars().all() == ["acme"]
    finally:
        store.close()


def test_insert_new_writes_the_rows_not_taken_and_says_which(db_url: str) -> None:
    """`insert_new` (one unnest statement on PostgreSQL): rows whose key is taken are left alone and not returned;
    the others are stored as SQLAlchemy would store them (scalar column defaults, JSON, money, aware datetimes);
    a text too long for its column is refused (PostgreSQL), not cut."""
    store = Store(db_url)
    try:
        with store.connection() as conn:
            insert_new(conn, Shop.__table__, [{"id": "acme", "kind": "woocommerce", "url": "http://127.0.0.1:9",
                                               "created_at": NOW}], key="id")
            first = insert_new(conn, CLAIMS, [claim_row(1), claim_row(2)], key=("shop_id", "order_id"),
                               returning=("order_id", "id"))
            lean = {k: v for k, v in claim_row(3).items() if k not in ("company", "language", "state")}
            assert insert_new(conn, CLAIMS, [claim_row(2)], key=("shop_id", "order_id")) == []
            second = insert_new(conn, CLAIMS, [lean], key=("shop_id", "order_id"), returning=("order_id", "id"))
            conn.commit()
            claims = conn.execute(select(CLAIMS).order_by(CLAIMS.c.id)).all()
        assert [order for order, _ in first] == ["1", "2"] and [order for order, _ in second] == ["3"]
        assert [c.id for c in claims] == [i for _, i in first + second]
        assert (claims[2].company, claims[2].language, claims[2].state, claims[2].last_stage) == ("", "de", "open", "")
        assert claims[0].billing_address == {"city": "Köln"} and claims[1].open_amount == Decimal("117.00")
        assert claims[2].ordered_at == NOW and claims[2].invoice_date == NOW.date()
        if store.engine.dialect.name == "postgresql":  # SQLite does not check a VARCHAR's length
            with store.connection() as conn, pytest.raises(DBAPIError):
                insert_new(conn, CLAIMS, [claim_row(4) | {"currency": "EURO"}], key=("shop_id", "order_id"))
    finally:
        store.close()
