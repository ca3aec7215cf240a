"""The local store: migrations on SQLite and PostgreSQL, exact money, aware datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text
from sqlmodel import SQLModel

from mahnwerk.errors import StoreError
from mahnwerk.sync.store.engine import SCHEMA_REVISION, Store
from mahnwerk.sync.store.models import Claim, LedgerEntry, Shop

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def a_claim_row(**overrides: object) -> dict:
    """The columns of a claim as migration 0001 knows them."""
    row = {"shop_id": "acme", "order_id": "4711", "order_number": "4711", "invoice_number": "RE-2026-0042",
           "invoice_date": date(2026, 3, 1), "due_date": date(2026, 3, 15), "customer_name": "Jürgen Größmann",
           "email": "j@example.org", "company": "", "vat_id": "", "is_b2b": False,
           "billing_address": {"city": "Köln"}, "language": "de", "currency": "EUR",
           "gross_amount": Decimal("119.00"), "open_amount": Decimal("109.99"), "state": "open",
           "shop_status": "on-hold", "payment_method": "bacs", "ordered_at": NOW, "shop_modified_at": NOW,
           "first_seen_at": NOW, "updated_at": NOW, "closed_at": None}
    return row | overrides


def test_fresh_database_is_migrated_to_head(db_url: str) -> None:
    """Opening a store creates every table and stamps the newest revision."""
    store = Store(db_url)
    assert store.revision() == Store.head() is not None
    store.close()


def test_schema_revision_constant_is_alembics_head() -> None:
    """The quick start-up check compares with the real head: a new migration must update SCHEMA_REVISION."""
    assert Store.head() == SCHEMA_REVISION


def test_models_and_migrations_agree(db_url: str) -> None:
    """The migrations build exactly the schema the models declare (no forgotten migration)."""
    store = Store(db_url)
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    store.close()
    assert diff == []


def test_upgrade_from_first_migration_keeps_data(db_url: str) -> None:
    """A database at revision 0001 with a claim and its ledger upgrades to head with nothing lost."""
    store = Store(db_url, migrate=False)
    store.migrate("0001")
    with store.engine.begin() as connection:
        connection.execute(insert(Shop.__table__).values(id="acme", kind="woocommerce", url="https://a.example",
                                                         created_at=NOW))
        row = a_claim_row()  # the columns of 0001 only: later ones (customer_group) do not exist yet
        claims_0001 = sa.table("claims", sa.column("id", sa.Integer()),
                               *(sa.column(name, Claim.__table__.c[name].type) for name in row))
        claim_id = connection.execute(insert(claims_0001).values(row).returning(claims_0001.c.id)).scalar_one()
        ledger_0001 = sa.table("ledger", *(sa.column(name, LedgerEntry.__table__.c[name].type)
                                           for name in ("claim_id", "at", "kind", "source", "data")))
        connection.execute(insert(ledger_0001).values(claim_id=claim_id, at=NOW, kind="opened", source="sync",
                                                      data={"open_amount": "109.99"}))
    store.migrate()
    assert store.revision() == Store.head()
    with store.session() as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None
        assert (claim.open_amount, claim.customer_name, claim.billing_address) == (
            Decimal("109.99"), "Jürgen Größmann", {"city": "Köln"})
        assert session.execute(text("select count(*) from quarantine")).scalar() == 0
        entry = session.execute(select(LedgerEntry).where(LedgerEntry.claim_id == claim_id)).scalar_one()
        assert (entry.kind, entry.actor, entry.data) == ("opened", "", {"open_amount": "109.99"})
    store.close()


def test_migrating_twice_is_harmless(db_url: str) -> None:
    """Every start migrates; a second start changes nothing."""
    Store(db_url).close()
    store = Store(db_url)
    assert store.revision() == Store.head()
    store.close()


@pytest.mark.parametrize("amount", ["0.01", "119.00", "1234567.89", "0.125", "99999999999.999999"])
def test_money_round_trips_exactly(db_url: str, amount: str) -> None:
    """Amounts come back as the same Decimal on both databases, never as a float."""
    store = Store(db_url)
    with store.engine.begin() as connection:
        connection.execute(insert(Shop.__table__).values(id="acme", kind="woocommerce", url="u", created_at=NOW))
        connection.execute(insert(Claim.__table__).values(a_claim_row(open_amount=Decimal(amount))))
    with store.session() as session:
        value = session.execute(select(Claim.open_amount)).scalar_one()
    store.close()
    assert isinstance(value, Decimal) and value == Decimal(amount) and str(value) == amount


def test_datetimes_come_back_aware_in_utc(db_url: str) -> None:
    """A datetime stored with an offset comes back as the same instant, aware, in UTC."""
    berlin = timezone(timedelta(hours=1))
    store = Store(db_url)
    with store.engine.begin() as connection:
        connection.execute(insert(Shop.__table__).values(id="acme", kind="woocommerce", url="u",
                                                         created_at=datetime(2026, 1, 2, 10, 0, tzinfo=berlin)))
    with store.session() as session:
        created = session.execute(select(Shop.created_at)).scalar_one()
    store.close()
    assert created == datetime(2026, 1, 2, 9, 0, tzinfo=UTC) and created.tzinfo is not None


def test_naive_datetime_is_refused(sqlite_url: str) -> None:
    """A naive datetime is a bug: the store refuses it instead of guessing a timezone."""
    store = Store(sqlite_url)
    with pytest.raises(Exception, match="naive datetime"), store.engine.begin() as connection:
        connection.execute(insert(Shop.__table__).values(id="x", kind="woocommerce", url="u",
                                                         created_at=datetime(2026, 1, 1)))
    store.close()


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    """SQLite uses write-ahead logging so readers never block the daemon's writes."""
    store = Store(sqlite_url)
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.close()


def test_unwritable_sqlite_folder_is_a_clear_error(tmp_path) -> None:
    """A database path the daemon cannot create names the folder instead of a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the folder"):
        Store(f"sqlite:///{blocker / 'sub' / 'm.db'}")


def test_unreachable_postgres_is_a_clear_error_with_masked_password() -> None:
    """A database that does not answer is named, with its password masked."""
    with pytest.raises(StoreError) as err:
        Store("postgresql+psycopg://mahnwerk:hunter2@127.0.0.1:1/none?connect_timeout=2")
    assert "cannot open the database" in str(err.value) and "hunter2" not in str(err.value)



OPEN_TOGETHER = """
import sys, time
from mahnwerk.sync.store.engine import make_engine
start, files = float(sys.argv[1]), sys.argv[2:]
failed = 0
for n, path in enumerate(files):
    while time.time() < start + n * 0.04:  # every process opens file n in the same instant
        pass
    try:
        make_engine(f"sqlite:///{path}").connect().close()
    except Exception as exc:
        failed += 1
        print(path, exc)
sys.exit(1 if failed else 0)
"""


def test_processes_opening_one_new_sqlite_file_together_all_succeed(tmp_path) -> None:
    """Switching a new file to WAL takes an exclusive lock SQLite tries only once, without its busy handler: two
    `sync` started together on a fresh install failed at once with "database is locked". Five processes open
    each of 40 new files in the same instant (a real race, so it is run often); every opening succeeds."""
    import subprocess
    import sys
    import time

    files = [str(tmp_path / f"new{n}.db") for n in range(40)]
    start = time.time() + 1.5  # after every process has imported
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_TOGETHER, str(start), *files], stdout=subprocess.PIPE,
                              text=True) for _ in range(5)]
    said = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 5, "".join(said)


def test_the_last_stage_is_backfilled_and_kept_by_the_ledger(db_url: str) -> None:
    """claims.last_stage (migration 0012): filled from the ledger on upgrade, then kept by a trigger for every stage
    entry however it is written (bulk COPY on PostgreSQL, the ORM), other entries leaving it alone."""
    from mahnwerk.sync.store.bulk import bulk_insert

    store = Store(db_url, migrate=False)
    store.migrate("0011")
    ledger = LedgerEntry.__table__
    with store.engine.begin() as connection:
        connection.execute(insert(Shop.__table__).values(id="acme", kind="woocommerce", url="u", created_at=NOW))
        claims_0011 = sa.table("claims", sa.column("id", sa.Integer()),
                               *(sa.column(name, Claim.__table__.c[name].type) for name in a_claim_row()))
        ids = [connection.execute(insert(claims_0011).values(a_claim_row(order_id=str(n), order_number=str(n)))
                                  .returning(claims_0011.c.id)).scalar_one() for n in (1, 2, 3)]
        connection.execute(insert(ledger), [
            {"claim_id": ids[0], "at": NOW, "kind": "stage", "source": "run", "data": {"stage": "reminder"}},
            {"claim_id": ids[0], "at": NOW, "kind": "stage", "source": "run", "data": {"stage": "dunning_1"}},
            {"claim_id": ids[0], "at": NOW, "kind": "note", "source": "cli", "data": {"text": "rang"}},
            {"claim_id": ids[1], "at": NOW, "kind": "opened", "source": "sync", "data": {}}])
    store.migrate()

    def stages() -> list[str]:
        with store.engine.connect() as connection:
            return list(connection.execute(select(Claim.__table__.c.last_stage).order_by(Claim.__table__.c.id))
                        .scalars())

    assert stages() == ["dunning_1", "", ""]
    with store.engine.begin() as connection:
        bulk_insert(connection, ledger, [
            {"claim_id": ids[1], "at": NOW, "kind": "stage", "source": "run", "actor": "",
             "data": {"stage": "reminder"}},
            {"claim_id": ids[0], "at": NOW, "kind": "payment", "source": "cli", "actor": "",
             "data": {"amount": "1.00"}}])
    with store.session() as session:
        session.add(LedgerEntry(claim_id=ids[2], at=NOW, kind="stage", source="run", data={"stage": "final_notice"}))
        session.commit()
    assert stages() == ["dunning_1", "reminder", "final_notice"]
    store.close()
