"""`mahnwerk daemon` under systemd's `Type=notify`: READY=1, WATCHDOG=1 while healthy, STOPPING=1, sent as datagrams
to `$NOTIFY_SOCKET` — here a real unix socket the test binds, as systemd does."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sync.service.systemd import notify, watchdog_interval
from tests.e2e.dbproxy import DatabaseProxy
from tests.e2e.racing import Mahnwerk, poll
from tests.e2e.test_races import config


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A bound unix datagram socket and its path (short: a socket path has at most 107 bytes)."""
    folder = tempfile.mkdtemp(prefix="mw-", dir="/tmp")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    yield sock, path
    sock.close()
    shutil.rmtree(folder)


def received(sock: socket.socket, *, within: float) -> list[str]:
    """Every datagram that arrives within `within` seconds."""
    messages, deadline = [], time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return messages


def wait_for(sock: socket.socket, message: str, *, timeout: float = 60.0) -> list[str]:
    """The datagrams up to and including the first that holds the line `message`; AssertionError after `timeout`."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if message in seen[-1].splitlines():
            return seen
    raise AssertionError(f"no {message} within {timeout} s (got {seen})")


def test_notify_reaches_a_socket_by_path_and_in_the_abstract_namespace(notify_socket) -> None:
    """A path is used as it is; a name starting with "@" is the abstract socket of that name."""
    sock, path = notify_socket
    assert notify("READY=1", environ={"NOTIFY_SOCKET": path})
    assert received(sock, within=1) == ["READY=1"]
    name = f"mahnwerk-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as abstract:
        abstract.bind("\0" + name)
        assert notify("WATCHDOG=1", environ={"NOTIFY_SOCKET": f"@{name}"})
        assert received(abstract, within=1) == ["WATCHDOG=1"]
    assert not notify("READY=1", environ={})  # not under systemd: nothing sent, nothing fails


def test_watchdog_pings_at_half_the_watchdog_interval_for_this_process_only() -> None:
    """WATCHDOG_USEC=4000000 (WatchdogSec=4) → a ping every 2 s; another process's watchdog is none of ours."""
    assert watchdog_interval(environ={"WATCHDOG_USEC": "4000000"}) == 2.0
    assert watchdog_interval(environ={"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}) == 2.0
    assert watchdog_interval(environ={"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval(environ={}) is None


def test_daemon_is_ready_pings_while_healthy_and_says_stopping(tmp_path, pg_url, notify_socket,
                                                               monkeypatch) -> None:
    """READY=1 after start, WATCHDOG=1 every 0.5 s (WATCHDOG_USEC=1 s), none while the database is cut off, pings
    again once it is back, STOPPING=1 on SIGTERM and exit 0."""
    sock, path = notify_socket
    real = make_url(pg_url)
    with DatabaseProxy((real.host or "127.0.0.1", real.port or 5432)) as proxy:
        via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        shop = WooSandbox(orders=generate_orders(10, seed=2))
        with SandboxServer(shop) as server:
            shop.url = server.url
            etc = config(tmp_path, via_proxy, shop)
            monkeypatch.setenv("NOTIFY_SOCKET", path)
            monkeypatch.setenv("WATCHDOG_USEC", "1000000")
            monkeypatch.delenv("WATCHDOG_PID", raising=False)
            daemon = Mahnwerk(etc, "daemon")
            try:
                ready = wait_for(sock, "READY=1")
                healthy = received(sock, within=2.0)  # pings at 0.5, 1.0, 1.5 (and maybe 2.0) s
                proxy.down()
                poll(lambda: "daemon.unhealthy" in daemon.said() or not daemon.running(),
                     why="the daemon noticing the database is gone")
                received(sock, within=0.2)  # a ping sent before the check failed
                outage = received(sock, within=2.0)
                proxy.up()
                back = wait_for(sock, "WATCHDOG=1", timeout=30)
                daemon.proc.send_signal(signal.SIGTERM)
                stopping = wait_for(sock, "STOPPING=1", timeout=30)
                stopped = daemon.finish(timeout=30)
            finally:
                daemon.kill()
    assert stopped.code == 0, str(stopped)
    assert ready[-1].splitlines()[0] == "READY=1" and len(ready) == 1, ready
    assert healthy.count("WATCHDOG=1") >= 3, healthy
    assert "WATCHDOG=1" not in outage, outage
    assert back[-1] == "WATCHDOG=1"
    assert stopping[-1] == "STOPPING=1"
    assert "daemon.healthy" in stopped.err
