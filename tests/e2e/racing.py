"""Helpers for racing real `mahnwerk` processes against each other: start them, collect what they said, poll the
store with a deadline (never a sleep as an assertion), and the checks every race ends with."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import OutboxRow, OutboxState, SyncRun

T = TypeVar("T")
TIMEOUT = 120.0


@dataclass(frozen=True)
class Finished:
    """A process that has ended: its command, pid, exit code and what it wrote."""

    args: tuple[str, ...]
    pid: int
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"mahnwerk {' '.join(self.args)} (pid {self.pid}) exited {self.code}\n--- stdout\n{self.out}" \
               f"\n--- stderr\n{self.err}"


class Mahnwerk:
    """One `python -m mahnwerk --config-dir ETC ARGS...` child with its output captured."""

    def __init__(self, etc: Path, *args: str) -> None:
        self.args = args
        # Files, not pipes: a chatty process (the daemon logs every page) must never block on a full pipe. They
        # live as long as the process and are closed when its output is read.
        self.out = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "mahnwerk", "--config-dir", str(etc), *args],
                                     stdout=self.out, stderr=self.err)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def said(self) -> str:
        """What it has written to stderr so far (it may still be writing)."""
        return os.pread(self.err.fileno(), 1 << 24, 0).decode("utf-8", "replace")

    def finish(self, timeout: float = TIMEOUT) -> Finished:
        """Wait for the end (killed after `timeout` seconds: AssertionError) and return what it said."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.output(-9)}\n(did not end within {timeout} s)") from None
        return self.output(code)

    def output(self, code: int) -> Finished:
        texts = []
        for file in (self.out, self.err):
            file.seek(0)
            texts.append(file.read())
            file.close()
        return Finished(self.args, self.proc.pid, code, *texts)

    def kill(self) -> None:
        if self.running():
            self.proc.kill()
            self.proc.wait()


def at_once(etc: Path, *commands: tuple[str, ...]) -> list[Mahnwerk]:
    """Start every command right after the other, without waiting for any."""
    return [Mahnwerk(etc, *args) for args in commands]


def all_finished(children: list[Mahnwerk], timeout: float = TIMEOUT) -> list[Finished]:
    try:
        return [child.finish(timeout) for child in children]
    finally:
        for child in children:
            child.kill()


def poll(what: Callable[[], T], *, until: Callable[[T], bool] = bool, timeout: float = 60.0,
         every: float = 0.05, why: str = "") -> T:
    """Call `what` until its value satisfies `until`; AssertionError (with `why`) when the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s: {why or what} (last: {value!r})")
        time.sleep(every)


def read(db_url: str, statement: Any, *, scalars: bool = True) -> list[Any]:
    """The rows of one query, from a store of its own (no migration: the processes under test do that)."""
    store = Store(db_url, migrate=False)
    try:
        with store.session() as session:
            result = session.execute(statement)
            return list(result.scalars() if scalars else result.all())
    finally:
        store.close()


def running_syncs(db_url: str) -> int:
    """How many sync runs are recorded as running (0 before the first process created the tables)."""
    store = Store(db_url, migrate=False)
    try:
        if store.revision() is None:
            return 0
        with store.session() as session:
            return session.execute(select(func.count()).select_from(SyncRun)
                                   .where(SyncRun.outcome == "running")).scalar_one()
    finally:
        store.close()


def assert_clean(*finished: Finished, codes: tuple[int, ...] = (0,)) -> None:
    """Each process ended with an expected code, without a traceback and without logging an error."""
    for f in finished:
        assert f.code in codes, str(f)
        assert "Traceback" not in f.err and "Traceback" not in f.out, str(f)
        assert '"level": "error"' not in f.err, str(f)


def assert_nothing_left_running(db_url: str) -> None:
    """No sync run is left `running`, no outbox row is left `sending`."""
    runs = read(db_url, select(SyncRun))
    assert runs and all(r.outcome == "ok" for r in runs), [(r.id, r.outcome, r.error) for r in runs]
    sending = read(db_url, select(OutboxRow.key).where(OutboxRow.state == OutboxState.SENDING))
    assert not sending, sending


class Gate:
    """Holds every request to a sandbox shop until opened (as `shop.on_request`): a process that has taken the
    shop's lock and then asks the shop anything keeps the lock for as long as the test wants."""

    def __init__(self, limit: float = TIMEOUT) -> None:
        self.event, self.limit = threading.Event(), limit

    def __call__(self, method: str, path: str, phase: str) -> bool:
        return phase == "before" and not self.event.wait(self.limit)  # past the limit: the connection is dropped

    def open(self) -> None:
        self.event.set()
