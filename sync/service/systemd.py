"""systemd's notify protocol (sd_notify(3)), a datagram to `$NOTIFY_SOCKET`: READY=1, WATCHDOG=1, STOPPING=1.

Twenty lines of socket code instead of a dependency: the protocol is one datagram of `KEY=value` lines to a unix
socket, an abstract one when the name starts with "@". Without `$NOTIFY_SOCKET` (not under systemd, or
`Type=simple`) every call does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

log = structlog.get_logger("mahnwerk.systemd")


def notify(message: str, *, environ: Mapping[str, str] | None = None) -> bool:
    """Send `message` ("READY=1", "WATCHDOG=1", ...) to systemd; False when not under systemd or it failed."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if address.startswith("@"):  # the abstract namespace: a leading NUL byte instead of the "@"
        address = "\0" + address[1:]
    elif not address.startswith("/"):  # unset, or a kind this code does not speak (vsock:)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:  # systemd gone or the socket not ours to write: the service goes on without it
        log.warning("systemd.notify_failed", message=message.split("=")[0], error=str(exc))
        return False
    return True


def watchdog_interval(*, environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of `WatchdogSec=` (`$WATCHDOG_USEC`), as sd_watchdog_enabled(3)
    advises; None when no watchdog is asked of this process."""
    env = os.environ if environ is None else environ
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
