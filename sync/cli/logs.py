"""Structured logs: dotted event names, values as keys, JSON for journald/files, readable lines on a terminal.

Customer data (names, e-mails, addresses) never goes into events at info level: claims are named by shop and order id.
"""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import EventDict

from mahnwerk.sync.cli.views import safe

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def current_stderr(*_args: object) -> structlog.PrintLogger:
    """A logger on whatever sys.stderr is now (tests and daemons may swap it after start-up)."""
    return structlog.PrintLogger(file=sys.stderr)


def terminal_safe(_logger: object, _method: str, event: EventDict) -> EventDict:
    """Values as a terminal may show them: an error quoting a shop's answer could carry escape sequences (JSON
    escapes them itself)."""
    return {key: safe(value, lines=key == "exception") if isinstance(value, str) else value
            for key, value in event.items()}


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Send structlog events to stderr, as JSON unless a person is watching (or `fmt` says otherwise)."""
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
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=current_stderr,
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
