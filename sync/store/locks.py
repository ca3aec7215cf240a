"""One writer per shop: every command that changes a shop's state holds that shop's lock for its whole run.

On PostgreSQL it is a session-level advisory lock on a connection of its own, so it dies with the process (or the
machine) that held it; the holder names itself in `application_name`, which is how a waiting process can say who
has the shop. Next to a SQLite database it is an flock on `<database>.<shop>.lock`, released by the kernel when the
process ends, with the holder written into the file. Read-only commands never take it.

SQLite is the store of one daemon: `daemon_lock` holds an flock on `<database>.daemon` for the daemon's life,
and a second daemon on the same file exits 3 naming the first (commands typed by hand take only the shop's lock
and go on working). On PostgreSQL any number of daemons share the shops, so it takes nothing there.

The lock is re-entrant within a thread (`run` syncs the shop it already holds); another thread or process waits
up to `wait` seconds and then gets ShopBusy (exit code 3), naming the command, its pid and since when.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, text

from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.store.engine import Store

POLL_SECONDS = 0.1
_held: dict[tuple[int, str, str], int] = {}  # (thread, database, shop) -> depth, for re-entry
_held_lock = threading.Lock()


class ShopBusy(MahnwerkError):
    """Raised when another process holds the shop's lock longer than the caller would wait: exit code 3."""

    exit_code = 3

    def __init__(self, shop_id: str, holder: str) -> None:
        self.shop_id, self.holder = shop_id, holder
        super().__init__(f"shop '{shop_id}' is busy: {holder}")


class DaemonRunning(MahnwerkError):
    """Raised when a second daemon starts on a SQLite database another daemon serves: exit code 3."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a shop: the command, its process and host, since when."""

    command: str
    pid: int
    host: str
    since: datetime

    def __str__(self) -> str:
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"{self.command} by pid {self.pid}{where} since {self.since.strftime('%Y-%m-%d %H:%M:%S')} UTC"

    def label(self) -> str:
        """The one-line form stored with the lock (at most 63 characters, PostgreSQL's limit for a name)."""
        return f"mahnwerk|{self.command[:20]}|{self.pid}|{int(self.since.timestamp())}|{self.host[:20]}"

    @staticmethod
    def parse(label: str, *, host: str = "") -> Holder | None:
        parts = label.strip().split("|")
        if len(parts) < 4 or parts[0] != "mahnwerk":
            return None
        try:
            return Holder(parts[1], int(parts[2]), host or (parts[4] if len(parts) > 4 else ""),
                          datetime.fromtimestamp(int(parts[3]), UTC))
        except ValueError:
            return None


@contextmanager
def shop_lock(store: Store, shop_id: str, *, command: str, wait: float = 30.0) -> Iterator[None]:
    """Hold `shop_id`'s lock for the block; ShopBusy when it is not free within `wait` seconds (0: don't wait)."""
    key = (threading.get_ident(), store.url, shop_id)
    with _held_lock:
        depth = _held.get(key, 0)
        if depth:
            _held[key] = depth + 1
    if depth:
        try:
            yield
        finally:
            with _held_lock:
                _held[key] -= 1
        return
    me = Holder(command, os.getpid(), socket.gethostname(), datetime.now(UTC).replace(microsecond=0))
    lock = _PostgresLock(store, shop_id) if store.engine.dialect.name == "postgresql" else _FileLock(store, shop_id)
    deadline = time.monotonic() + max(0.0, wait)
    while not lock.acquire(me):
        if time.monotonic() >= deadline:
            lock.close()
            holder = lock.holder()
            raise ShopBusy(shop_id, str(holder) if holder else "another mahnwerk process holds it")
        time.sleep(POLL_SECONDS)
    with _held_lock:
        _held[key] = 1
    try:
        yield
    finally:
        with _held_lock:
            del _held[key]
        lock.release()


@contextmanager
def daemon_lock(store: Store) -> Iterator[None]:
    """Hold the SQLite database's daemon lock for the block; DaemonRunning when another daemon has it. Nothing on
    PostgreSQL, where daemons share the shops through the shops' locks."""
    if store.engine.dialect.name != "sqlite":
        yield
        return
    lock = _FileLock(store, "daemon")
    if lock.path is None:
        yield  # an in-memory database lives in one process
        return
    lock.path = lock.path.with_suffix("")  # <database>.daemon: no shop's lock file (those end in .lock)
    me = Holder("daemon", os.getpid(), socket.gethostname(), datetime.now(UTC).replace(microsecond=0))
    if not lock.acquire(me):
        lock.close()
        holder = lock.holder()
        raise DaemonRunning(f"another daemon serves {store.engine.url.database} ({holder or 'its pid is unknown'}): "
                            "a SQLite database is the store of one daemon (commands typed by hand still work); to "
                            "run several daemons, give them one PostgreSQL database (database.url = "
                            '"postgresql+psycopg://...")')
    try:
        yield
    finally:
        lock.release()


def lock_number(name: str) -> int:
    """A signed 64-bit advisory lock key for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class _PostgresLock:
    def __init__(self, store: Store, shop_id: str) -> None:
        self.store, self.shop_id = store, shop_id
        self.conn: Connection | None = None
        self.key: int | None = None

    def _connection(self) -> Connection:
        if self.conn is None:
            self.conn = self.store.engine.connect()
            # The same shop id in another database or schema (a second install, a test) is another shop.
            where = self.conn.execute(text("SELECT current_database() || '.' || current_schema()")).scalar()
            self.key = lock_number(f"mahnwerk-shop:{where}:{self.shop_id}")
            self.conn.commit()
        return self.conn

    def acquire(self, me: Holder) -> bool:
        conn = self._connection()
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
        if held:
            conn.execute(text("SELECT set_config('application_name', :name, false)"), {"name": me.label()})
        conn.commit()
        return held

    def holder(self) -> Holder | None:
        with self.store.engine.connect() as conn:
            if self.key is None:
                return None
            unsigned = self.key & 0xFFFFFFFFFFFFFFFF
            row = conn.execute(text(
                "SELECT a.application_name, host(a.client_addr) FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid = CAST(:hi AS oid) AND l.objid = CAST(:lo AS oid)"),
                {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}).first()
        return Holder.parse(row[0]) if row else None

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self.conn.execute(text("RESET application_name"))
                self.conn.commit()
            finally:
                self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _FileLock:
    def __init__(self, store: Store, shop_id: str) -> None:
        database = store.engine.url.database
        self.path = Path(f"{database}.{shop_id}.lock") if database and database != ":memory:" else None
        self.fd: int | None = None

    def acquire(self, me: Holder) -> bool:
        if self.path is None:
            return True  # an in-memory database lives in one process
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, (me.label() + "\n").encode(), 0)
        return True

    def holder(self) -> Holder | None:
        try:
            return Holder.parse(self.path.read_text(encoding="utf-8")) if self.path else None
        except OSError:
            return None

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
