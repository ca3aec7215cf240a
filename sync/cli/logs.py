"""Structured logs: dotted event names, values as keys, JSON for journald/files, readable lines on a terminal.

Customer data (names, e-mails, addresses) never goes into events at info level: claims are named by shop and order id.

Under systemd, stderr is the journal (`$JOURNAL_STREAM` names it): each line then starts with its syslog priority,
`<3>` error, `<4>` warning, `<6>` info, `<7>` debug (sd-daemon(3)), so `journalctl -p err` finds the errors.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import IO, Any

import structlog
from structlog.typing import EventDict

from mahnwerk.sync.cli.views import safe

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
# syslog priorities by structlog method and by stdlib level (sd-daemon(3): "<3>" at the start of a line)
PRIORITIES = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4, "info": 6, "debug": 7}
STDLIB_FORMAT = "%(levelname)s %(name)s: %(message)s"


def current_stderr(*_args: object) -> structlog.WriteLogger:
    """A logger on whatever sys.stderr is now (tests and daemons may swap it after start-up). Each event is one
    write of the whole line: print() writes the text and its newline apart, and a warning from the standard library
    (APScheduler's, in another thread) landed between them, breaking both lines."""
    return structlog.WriteLogger(file=sys.stderr)


def terminal_safe(_logger: object, _method: str, event: EventDict) -> EventDict:
    """Values as a terminal may show them: an error quoting a shop's answer could carry escape sequences (JSON
    escapes them itself)."""
    return {key: safe(value, lines=key == "exception") if isinstance(value, str) else value
            for key, value in event.items()}


def to_journal(stream: IO[str] | None = None, *, environ: Mapping[str, str] | None = None) -> bool:
    """Is `stream` (stderr) the journal? systemd sets `$JOURNAL_STREAM` to its "device:inode"; a child whose
    stderr was redirected inherits the variable, so the stream itself must match (systemd.exec(5))."""
    device, _, inode = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        found = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError, AttributeError):  # a stream without a file (a test's capture, a closed one)
        return False
    return (found.st_dev, found.st_ino) == (int(device), int(inode))


def journal_priority(_logger: object, method: str, rendered: Any) -> str:
    """The rendered event (the renderer's string: this runs after it) with its syslog priority before each line, a
    traceback's lines too."""
    prefix = f"<{PRIORITIES.get(method, 6)}>"
    return "\n".join(prefix + part for part in str(rendered).split("\n"))


def error_text(text: str) -> str:
    """A command's error message for stderr: under the journal each line marked <3> (err), like the events."""
    return "\n".join(f"<3>{line}" for line in text.split("\n")) if to_journal() else text


class JournalFormatter(logging.Formatter):
    """The standard library's records (the few warnings of libraries) with their priority too."""

    def format(self, record: logging.LogRecord) -> str:
        priority = 3 if record.levelno >= logging.ERROR else 4 if record.levelno >= logging.WARNING else \
            6 if record.levelno >= logging.INFO else 7
        return "\n".join(f"<{priority}>{part}" for part in super().format(record).split("\n"))


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Send structlog events to stderr, as JSON unless a person is watching (or `fmt` says otherwise); under the
    journal each line carries its priority."""
    journal = to_journal()
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer = (structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()) if console
                else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *([terminal_safe] if console else []),
            renderer,
            *([journal_priority] if journal else []),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=current_stderr,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JournalFormatter(STDLIB_FORMAT) if journal else logging.Formatter(STDLIB_FORMAT))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
