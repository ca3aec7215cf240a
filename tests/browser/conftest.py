"""The browser tests' harness: a real headless Chromium from Debian's packages, driven by Selenium.

`chromium` installs the browser and its driver when missing (apt-get as root). Outside CI the tests skip, with the
reason, when that cannot be done here; with CI=true that is a failure, because CI must prove the console in a real
browser (as the `realshop` tests do for the real shop). Screenshots go to `<pytest's base temp>/browser-shots/`;
the run's summary names the folder, and a failed test leaves a screenshot of every browser it had open.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.chromium import WINDOW, browser_problem, set_viewport, start_chromium
from tests.browser.seed import SeededStore, seeded_store
from tests.conftest import IN_CI
from tests.connectors.test_smtp import free_port
from tests.e2e.racing import Mahnwerk, poll

SHOTS = "browser-shots"
MAX_HEIGHT = 6000


def cannot_run(reason: str) -> None:
    """Skip with `reason`, or fail with it in CI."""
    if IN_CI:
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> None:
    """Chromium and chromedriver are installed (or the test skips/fails saying why)."""
    problem = browser_problem()
    if problem:
        cannot_run(problem)


class Shots:
    """Screenshots of one test run, kept as PNG files for a person to look at."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def take(self, driver: Any, name: str) -> Path:
        """Save the whole page `driver` shows (at least the viewport, at most MAX_HEIGHT pixels high) as
        `<folder>/<name>.png` and return the path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
        height = min(MAX_HEIGHT, max(WINDOW[1], driver.execute_script("return document.documentElement.scrollHeight")))
        set_viewport(driver, WINDOW[0], height)
        try:
            assert driver.save_screenshot(str(path)), f"the browser saved no screenshot to {path}"
        finally:
            set_viewport(driver, *WINDOW)
        print(f"screenshot: {path}")
        return path


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    return Shots(tmp_path_factory.getbasetemp() / SHOTS)


@pytest.fixture
def open_browser(chromium: None, shots: Shots, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Starts headless Chromium windows: `driver = open_browser("de")` (the language its requests ask for). Each is
    closed when the test ends; after a failure each leaves a screenshot first."""
    drivers: list[Any] = []

    def start(lang: str = "de") -> Any:
        driver = start_chromium(lang)
        drivers.append(driver)
        driver.set_page_load_timeout(30)
        return driver

    yield start
    report = getattr(request.node, "rep_call", None)
    for number, driver in enumerate(drivers):
        try:
            if report is not None and report.failed:
                shots.take(driver, f"FAILED-{request.node.name}-{number}")
        finally:
            driver.quit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep the call phase's report on the test item, for open_browser's screenshot after a failure."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Name the screenshots' folder (also the pytest-xdist workers', one level down) at the end of the run."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return
    base = factory.getbasetemp()
    folders = sorted({p.parent for pattern in (f"{SHOTS}/*.png", f"*/{SHOTS}/*.png") for p in base.glob(pattern)})
    for folder in folders:
        count = len(list(folder.glob("*.png")))
        terminalreporter.write_line(f"browser screenshots ({count}, {WINDOW[0]} px wide, whole pages): {folder}")


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededStore]:
    """The console's store (tests/browser/seed.py), seeded once per test session; its sandbox shop keeps serving
    until the session ends. Tests that act on it use claims and payments no other test reads."""
    with seeded_store(tmp_path_factory.mktemp("console")) as store:
        yield store


@dataclass(frozen=True)
class Console:
    """`mahnwerk web` serving the seeded store: its address and what was seeded."""

    url: str
    seeded: SeededStore
    process: Mahnwerk


@pytest.fixture(scope="session")
def console(seeded: SeededStore) -> Iterator[Console]:
    """`mahnwerk --config-dir ETC web --listen 127.0.0.1:<free port>` as a real process; stopped with SIGTERM at
    the end of the session."""
    url = f"http://127.0.0.1:{free_port()}"
    process = Mahnwerk(seeded.config_dir, "web", "--listen", url.removeprefix("http://"))
    try:
        poll(lambda: answers(f"{url}/login") or not process.running(), why=f"the console at {url}", timeout=60)
        assert process.running(), f"`mahnwerk web` ended before it answered:\n{process.finish(5)}"
        yield Console(url, seeded, process)
    finally:
        if process.running():
            process.proc.send_signal(signal.SIGTERM)
        ended = process.finish(20)
        assert ended.code in (0, -signal.SIGTERM), f"`mahnwerk web` did not stop cleanly on SIGTERM:\n{ended}"


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
