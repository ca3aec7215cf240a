"""A real WordPress 6.8 + WooCommerce 10 shop for the `realshop` tests, from the kit in ../shared/realshop.

The session fixture installs and starts it once (state in a temporary folder, free ports), seeds orders through its
REST API and stops it at the end. Outside CI the tests skip, with the reason, when the kit cannot run here; with
CI=true that is a failure, because CI must prove the flow against the real shop.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import IN_CI

REPO = Path(__file__).resolve().parents[2]
KIT_PLACES = [Path(os.environ["MAHNWERK_REALSHOP_KIT"])] if os.environ.get("MAHNWERK_REALSHOP_KIT") else [
    REPO.parent / "shared" / "realshop", Path("/work/shared/realshop")]
SEED_ORDERS = int(os.environ.get("MAHNWERK_REALSHOP_ORDERS", "100"))  # 100 reach every kind of seeded customer
SETUP_TIMEOUT = 600


@dataclass
class RealShop:
    """A running shop: its address, REST keys, state folder and the mail it captured."""

    url: str
    consumer_key: str
    consumer_secret: str
    run_dir: Path
    creds: dict

    @property
    def product_ids(self) -> list[int]:
        return self.creds["product_ids"]

    @property
    def mail_log(self) -> Path:
        return self.run_dir / "mail.jsonl"

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """One REST v3 call, raising on an HTTP error."""
        response = requests.request(method, f"{self.url}/wp-json/wc/v3/{path.lstrip('/')}",
                                    auth=(self.consumer_key, self.consumer_secret), timeout=60, **kwargs)
        response.raise_for_status()
        return response

    def orders(self, **params) -> list[dict]:
        """Every order the shop lists for `params`, all pages."""
        found, page = [], 1
        while True:
            response = self.api("GET", "orders", params={"per_page": 100, "page": page, **params})
            found += response.json()
            if page >= int(response.headers.get("X-WP-TotalPages") or 1):
                return found
            page += 1

    def mails(self) -> list[dict]:
        """What WordPress mailed since setup (wp_mail() is captured, never sent)."""
        if not self.mail_log.exists():
            return []
        return [json.loads(line) for line in self.mail_log.read_text(encoding="utf-8").splitlines() if line.strip()]


def kit_problem(kit: Path | None) -> str | None:
    """Why the kit cannot run on this machine, or None."""
    if kit is None:
        return f"the realshop kit is not there (looked in {', '.join(map(str, KIT_PLACES))}; set MAHNWERK_REALSHOP_KIT)"
    if not (kit / "wp-woo.tar.xz").is_file() and not (os.environ.get("WP_MIRROR") and os.environ.get("WC_MIRROR")):
        return f"no WordPress code for the kit: {kit / 'wp-woo.tar.xz'} is missing and WP_MIRROR/WC_MIRROR are unset"
    if os.geteuid() != 0:
        return "the realshop kit needs root (apt-get for PHP and MariaDB, mariadbd --user=root)"
    if shutil.which("apt-get") is None and (shutil.which("php") is None or shutil.which("mariadbd") is None):
        return "PHP or MariaDB is missing and there is no apt-get to install them"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cannot_run(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run the realshop tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def realshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealShop]:
    """WordPress + WooCommerce with SEED_ORDERS seeded orders, installed fresh for this test session."""
    kit = next((place for place in KIT_PLACES if (place / "setup.sh").is_file()), None)
    problem = kit_problem(kit)
    if problem:
        cannot_run(problem)
    assert kit is not None
    run_dir = tmp_path_factory.mktemp("realshop") / "run"
    env = {**os.environ, "RUN": str(run_dir), "WEB_PORT": str(free_port()), "DB_PORT": str(free_port()),
           "SEED_ORDERS": str(SEED_ORDERS)}
    log = run_dir.parent / "setup.log"
    with log.open("w") as out:
        try:
            done = subprocess.run(["bash", str(kit / "setup.sh")], env=env, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=SETUP_TIMEOUT, check=False)
            failed = f"exit code {done.returncode}" if done.returncode else ""
        except subprocess.TimeoutExpired:
            failed = f"no answer within {SETUP_TIMEOUT} s"
    try:
        if failed:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            cannot_run(f"the realshop kit did not start ({failed}); the end of {log}:\n{tail}")
        creds = json.loads((run_dir / "credentials.json").read_text())
        yield RealShop(creds["base_url"], creds["consumer_key"], creds["consumer_secret"], run_dir, creds)
    finally:
        subprocess.run(["bash", str(kit / "setup.sh"), "stop"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120, check=False)
