"""The local store: engine set-up (SQLite in WAL mode or PostgreSQL), migrations on start, units of work."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from mahnwerk.errors import StoreError
from mahnwerk.sync.config.secrets import mask_url

log = structlog.get_logger("mahnwerk.store")
MIGRATIONS = str(Path(__file__).with_name("migrations"))
# The newest migration shipped (tests check it against Alembic's head). Every command starts by comparing the
# database with it; Alembic, slow to import, is loaded only when there is something to migrate.
SCHEMA_REVISION = "0013"
KEEPALIVES = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}
DEFAULT_WORKERS = 8  # shops a process works on at once when nobody says ([daemon] workers' default)
POOL_OVERFLOW = 4  # connections beyond the pool for a moment's peak, closed again when returned


def pool_size(workers: int) -> int:
    """Connections a process working on `workers` shops at once keeps: per shop its lock's connection (PostgreSQL),
    a unit of work and one more beside it (matching payments reads with one connection while it books with
    another), and two for the metrics scrape and the base-rates job. SQLAlchemy's default (5 + 10 overflow) is
    less than eight workers need: ticks waited 30 s for a connection and failed ("QueuePool limit ... reached")."""
    return 3 * max(1, workers) + 2


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `claims` read while the daemon writes; busy_timeout waits out a concurrent writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    _wal_mode(cursor)
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _wal_mode(cursor: Any, patience: float = 30.0) -> None:
    """Switch a database to WAL. Turning a new file to WAL needs an exclusive lock that SQLite tries once,
    without the busy handler: processes opening one new database together would fail at once with "database is
    locked". They try again for up to `patience` seconds; a database already in WAL answers at once."""
    deadline = time.monotonic() + patience
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600; SQLite gives its -wal and -shm files the same mode)
    and the folders it needs 0700, before SQLite would create them with the umask's mode. Customer names,
    addresses and amounts are in there. An existing file or folder is left as it is."""
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700, exist_ok=True)  # the umask may take bits away, never add them
        except OSError as exc:
            raise StoreError(f"database.url: cannot create the folder {folder} for the SQLite file: "
                             f"{exc.strerror}") from None
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"database.url: cannot create the SQLite file {path}: {exc.strerror}") from None


def make_engine(url: str, *, workers: int = DEFAULT_WORKERS) -> Engine:
    """An engine for `url` with a connection pool for `workers` shops at a time; creates the SQLite file (0600) and
    its folders (0700). StoreError names the masked URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database.url: not a database URL ({mask_url(url)}): {exc}") from None
    pool: dict[str, Any] = {"pool_size": pool_size(workers), "max_overflow": POOL_OVERFLOW}
    if parsed.get_backend_name() == "sqlite":
        memory = not parsed.database or parsed.database == ":memory:"
        if parsed.database and not memory:
            private_file(Path(parsed.database).expanduser().resolve())
        engine = create_engine(parsed, connect_args={"timeout": 30}, **({} if memory else pool))
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        engine = create_engine(parsed, pool_pre_ping=True, **pool)
    except (ImportError, ModuleNotFoundError) as exc:
        raise StoreError(f"database.url: no driver for {parsed.drivername} ({exc}); for PostgreSQL install "
                         "'mahnwerk[postgresql]'") from None
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _postgres_settings)
    return engine


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    # psycopg prepares statements it sees often (cheaper parsing), but PostgreSQL may then keep a generic plan
    # made while the tables were still empty: a sequential scan for the whole backfill. Custom plans always.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET plan_cache_mode = force_custom_plan")
    # A shop's lock dies with its session. A process killed on a live machine closes the socket at once, but a
    # machine that is gone (power, network) says nothing: PostgreSQL's keep-alive probes end such a session
    # after a minute (30 s idle, then 3 probes 10 s apart) instead of the system's two hours, so another daemon
    # takes its shops.
    for setting, value in KEEPALIVES.items():
        cursor.execute(f"SET {setting} = {value}")
    cursor.close()
    dbapi_connection.commit()


def _revision(connection: Connection) -> str | None:
    if not connection.dialect.has_table(connection, "alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _migration_lock(connection: Connection) -> None:
    """Hold the database's migration lock until this transaction ends: a transaction-level advisory lock on
    PostgreSQL (per database and schema), SQLite's write lock (BEGIN IMMEDIATE) on SQLite."""
    if connection.dialect.name == "postgresql":
        from mahnwerk.sync.store.locks import lock_number

        where = connection.execute(text("SELECT current_database() || '.' || current_schema()")).scalar()
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_number(f"mahnwerk-migrate:{where}")})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """The database behind Mahnwerk: migrated on open, used through short units of work."""

    def __init__(self, url: str, *, migrate: bool = True, workers: int = DEFAULT_WORKERS) -> None:
        """`workers`: how many shops the process works on at once (sizes the connection pool)."""
        self.url = url
        self.engine = make_engine(url, workers=workers)
        if migrate:
            self.migrate()

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision`; safe to call on every start."""
        try:
            if revision == "head" and self.revision() == SCHEMA_REVISION:
                return
            from alembic import command
            from alembic.config import Config as AlembicConfig

            with self.engine.begin() as connection:
                # Processes started at once on a new (or older) database: one migrates, the others wait for it
                # and then find the schema current.
                _migration_lock(connection)
                if revision == "head" and _revision(connection) == SCHEMA_REVISION:
                    return
                cfg = AlembicConfig()
                cfg.set_main_option("script_location", MIGRATIONS)
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)
        except OperationalError as exc:
            raise StoreError(f"cannot open the database {mask_url(self.url)}: {exc.orig}") from None
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate the database {mask_url(self.url)}: {exc}") from exc

    def revision(self) -> str | None:
        """The schema revision the database is at (None for an empty database)."""
        with self.engine.connect() as connection:
            return _revision(connection)

    @staticmethod
    def head() -> str | None:
        """The newest revision among the shipped migration scripts, as Alembic sees it."""
        from alembic.config import Config as AlembicConfig
        from alembic.script import ScriptDirectory

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", MIGRATIONS)
        return ScriptDirectory.from_config(cfg).get_current_head()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: nothing is saved without an explicit `commit()`; leaving rolls back the rest."""
        session = Session(self.engine, expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()  # rolls back what was not committed; loaded objects stay readable

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection; each transaction is saved only by `conn.commit()`, the last one rolled back
        unless committed."""
        with self.engine.connect() as conn:
            try:
                yield conn
            finally:
                if conn.in_transaction():
                    conn.rollback()

    @contextmanager
    def bulk_connection(self) -> Iterator[Connection]:
        """A connection for a long series of big transactions (a statement's chunks). On SQLite its commits move
        the write-ahead log into the database file every 64 MB instead of every 4 MB (each such checkpoint waits
        for the disk), and once more at the end; the connection goes back to the pool as it came."""
        with self.connection() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint = 16384")
            try:
                yield conn
            finally:
                if sqlite:
                    with suppress(SQLAlchemyError):  # a broken connection: the pool drops it anyway
                        if conn.in_transaction():
                            conn.rollback()
                        conn.exec_driver_sql("PRAGMA wal_autocheckpoint = 1000")
                        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                        conn.commit()

    @staticmethod
    def refetchable(conn: Connection) -> None:
        """Mark the current transaction as work that can be fetched again, such as a mirrored page with its
        cursor: PostgreSQL then does not wait for the disk on commit. A crash may lose the last such commits,
        page and cursor together, never one without the other, and the next sync reads them again (SQLite in
        WAL mode with synchronous=NORMAL behaves the same way). Anything sent to a customer stays durable."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL synchronous_commit = off"))

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
