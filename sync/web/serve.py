"""Serving the console with waitress: in the foreground (`mahnwerk web`) or in a thread of the daemon."""

from __future__ import annotations

import threading
from typing import Any, cast

import structlog
from flask import Flask
from waitress.server import create_server
from waitress.wasyncore import close_all

from mahnwerk.errors import MahnwerkError

log = structlog.get_logger("mahnwerk.web")
DEFAULT_LISTEN = ("127.0.0.1", 8420)


class WebServer:
    """The console on one address, its requests answered by a few waitress threads."""

    def __init__(self, app: Flask, address: tuple[str, int], *, threads: int = 4, key: str = "web.listen") -> None:
        host, port = address
        self.app = app
        try:
            # One address gives a TcpWSGIServer; its loop, trigger and workers are used below, beyond the stubs.
            self.server: Any = cast(Any, create_server(app, host=host, port=port, threads=threads, ident="mahnwerk",
                                                       clear_untrusted_proxy_headers=False))
        except OSError as exc:  # the port taken, an address not on this machine: the merchant's to fix
            raise MahnwerkError(f"{key}: cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)
        bound, bound_port = self.server.getsockname()[:2]  # the port chosen when asked for port 0
        self.url = f"http://[{bound}]:{bound_port}" if ":" in bound else f"http://{bound}:{bound_port}"

    def start(self) -> None:
        self.thread.start()
        log.info("web.listening", url=self.url)
        self.warm_up()

    def warm_up(self) -> None:
        """Let the pages fill their caches in a thread of their own (`app.extensions["mahnwerk.warmers"]`)."""
        threading.Thread(target=warm, args=(self.app,), name="web-warm-up", daemon=True).start()

    def stop(self) -> None:
        """Close from within the server's own loop (its trigger runs the call there): closing from this thread
        races the loop and its workers, which then write to a closed pipe."""
        if self.thread.is_alive():
            self.server.trigger.pull_trigger(self._close)
            self.thread.join(timeout=15)
        else:
            self._close()

    def _close(self) -> None:
        # The workers first (they wake the loop through the trigger when done), then every socket: the trigger,
        # the listener and the open connections; with nothing left to watch, the loop in `run` ends.
        self.server.task_dispatcher.shutdown()
        close_all(self.server._map)

    def run(self) -> None:
        """In the foreground until Ctrl-C or SIGTERM."""
        log.info("web.listening", url=self.url)
        self.warm_up()
        try:
            self.server.run()
        finally:
            self._close()


def warm(app: Flask) -> None:
    """Run the pages' cache warmers; a failure is logged (the page computes on its first visit instead)."""
    with app.app_context():
        for warmer in app.extensions.get("mahnwerk.warmers", []):
            try:
                warmer()
            except Exception as exc:  # a database away at start: the first visit tries again
                log.warning("web.warm_up_failed", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
