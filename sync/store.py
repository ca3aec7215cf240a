"""The local store: engine set-up (SQLite in WAL mode or PostgreSQL), migrations on start, units of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from mahnwerk.errors import StoreError
from mahnwerk.sync.secrets import mask_url

log = structlog.get_logger("mahnwerk.store")
MIGRATIONS = str(Path(__file__).with_name("migrations"))


def alembic_config(engine: Engine) -> AlembicConfig:
    """An Alembic configuration that migrates `engine` with the shipped scripts (no alembic.ini needed)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.attributes["engine"] = engine
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `claims` read while the daemon writes; busy_timeout waits out a concurrent writer.
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; creates the SQLite file's folder. Raises StoreError with the masked URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database.url: not a database URL ({mask_url(url)}): {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().resolve().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"database.url: cannot create the folder {folder} for the SQLite file: "
                                 f"{exc.strerror}") from None
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ImportError, ModuleNotFoundError) as exc:
        raise StoreError(f"database.url: no driver for {parsed.drivername} ({exc}); for PostgreSQL install "
                         "'mahnwerk[postgresql]'") from None


class Store:
    """The database behind Mahnwerk: migrated on open, used through short units of work."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            self.migrate()

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision`; safe to call on every start."""
        try:
            with self.engine.begin() as connection:
                cfg = alembic_config(self.engine)
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)
        except OperationalError as exc:
            raise StoreError(f"cannot open the database {mask_url(self.url)}: {exc.orig}") from None
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate the database {mask_url(self.url)}: {exc}") from exc

    def revision(self) -> str | None:
        """The schema revision the database is at (None for an empty database)."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head() -> str | None:
        """The newest revision shipped with this version of Mahnwerk."""
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
        """A Core connection in a transaction: saved only by `conn.commit()`, rolled back otherwise."""
        with self.engine.connect() as conn:
            try:
                yield conn
            finally:
                if conn.in_transaction():
                    conn.rollback()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
