"""Debian's Chromium and chromedriver for the browser tests: installed with apt-get when missing, started headless.

Selenium is told both paths, so its own driver manager never downloads a browser or a driver (no network beyond
Debian's package mirror is needed).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
INSTALL_TIMEOUT = 900
WINDOW = (1280, 1000)


def missing() -> list[Path]:
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None; installs Chromium and chromedriver first when they are
    missing and this process may (root, apt-get)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it is in the `test` extras: pip install -e '.[test]')"
    if not missing():
        return None
    names = " and ".join(map(str, missing()))
    if os.geteuid() != 0:
        return f"{names} missing, and installing Debian's {' and '.join(PACKAGES)} needs root"
    if shutil.which("apt-get") is None:
        return f"{names} missing and there is no apt-get to install {' and '.join(PACKAGES)}"
    return install()


def install() -> str | None:
    """apt-get install the packages (after an `apt-get update` if the first try fails: the package lists may be
    old); None when both files are there afterwards, else why not with the end of apt's output. Test processes
    of one run (pytest-xdist workers) take turns through a lock file, and apt waits for another apt's lock."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", "DPkg::Lock::Timeout=600"]
    attempts = [["apt-get", "install", "-y", "-q", "--no-install-recommends", *wait, *PACKAGES],
                ["apt-get", "update", "-q", *wait],
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", *wait, *PACKAGES]]
    log = Path(tempfile.gettempdir()) / "mahnwerk-chromium-install.log"
    with open(Path(tempfile.gettempdir()) / "mahnwerk-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with log.open("a") as out:
            for command in attempts:
                if not missing():
                    return None
                out.write(f"$ {' '.join(command)}\n")
                out.flush()
                try:
                    done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                          env=env, timeout=INSTALL_TIMEOUT, check=False)
                    out.write(f"(exit code {done.returncode})\n")
                except subprocess.TimeoutExpired:
                    out.write(f"(no end within {INSTALL_TIMEOUT} s)\n")
    if not missing():
        return None
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
    return (f"apt-get could not install {' and '.join(PACKAGES)} ({' and '.join(map(str, missing()))} still "
            f"missing); the end of {log}:\n{tail}")


def start_chromium(lang: str) -> WebDriver:
    """A headless Chromium whose requests say `Accept-Language: <lang>`, with a fixed viewport (WINDOW) (screenshots of
    the same page look the same) and the browser's console log kept (read it with driver.get_log("browser"))."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox",  # root has no user namespace sandbox
                     "--disable-dev-shm-usage",  # containers have a small /dev/shm
                     "--disable-gpu", "--no-first-run", "--disable-extensions",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--lang={lang}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    set_viewport(driver, *WINDOW)  # the window holds the browser's own bars too: fix the page's viewport itself
    return driver


def set_viewport(driver: WebDriver, width: int, height: int) -> None:
    """The page's viewport in CSS pixels (1 device pixel each), whatever the window's size."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
