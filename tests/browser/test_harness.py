"""The browser harness itself, before any console page: the browser asks for the language it is given, takes
screenshots, and notices a script that runs (so that "shown inert" in the console's tests means something)."""

from __future__ import annotations

import html
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser import chromium, conftest
from tests.browser.pages import alert_text, body_text


class EchoPage(BaseHTTPRequestHandler):
    """/lang shows the request's Accept-Language; /script runs an inline alert."""

    def do_GET(self) -> None:
        if self.path == "/script":
            body = "<!doctype html><title>script</title><p>before</p><script>alert('ran')</script>"
        else:
            lang = html.escape(self.headers.get("Accept-Language", ""))
            body = f"<!doctype html><title>lang</title><p id='lang'>{lang}</p>"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet: the test output is pytest's
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_browser_asks_for_its_language_and_screenshots_land_in_the_run_folder(
        open_browser, shots, echo: str, lang: str) -> None:
    driver = open_browser(lang)
    driver.get(f"{echo}/lang")
    sent = body_text(driver)
    assert sent.split(",")[0].strip().startswith(lang), f"Accept-Language was {sent!r}, not {lang} first"
    path = shots.take(driver, f"harness-{lang}")
    assert path.parent == shots.folder and path.parent.name == conftest.SHOTS
    assert png_size(path) == chromium.WINDOW, "the screenshot is not the window's size"


@pytest.mark.browser
def test_a_script_that_runs_is_noticed(open_browser, echo: str) -> None:
    driver = open_browser()
    driver.get(f"{echo}/lang")
    assert alert_text(driver) is None
    driver.get(f"{echo}/script")
    assert alert_text(driver) == "ran"


def test_outside_ci_a_missing_browser_is_a_skip_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        conftest.cannot_run("chromium missing, needs root")


def test_in_ci_a_missing_browser_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests: no apt-get"):
        conftest.cannot_run("no apt-get")


def test_without_root_the_reason_names_the_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(chromium, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setattr(chromium.os, "geteuid", lambda: 1000)
    problem = chromium.browser_problem()
    assert problem is not None and str(tmp_path / "chromium") in problem and "chromium-driver" in problem
    assert "needs root" in problem
