"""Logs under journald carry their syslog priority, and an idle poll is quiet at info."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import structlog
from structlog.testing import capture_logs

from mahnwerk.sync.cli.logs import configure_logging
from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.daemon import shop_job
from tests.support import write_config


def sync_under_journal(etc: Path, stderr: Path, journal_stream: str) -> list[str]:
    """`mahnwerk sync` with stderr in a file and JOURNAL_STREAM set: the lines it wrote."""
    env = {**os.environ, "JOURNAL_STREAM": journal_stream}
    with stderr.open("w", encoding="utf-8") as err:
        subprocess.run([sys.executable, "-m", "mahnwerk", "--config-dir", str(etc), "--log-level", "info", "sync"],
                       stdout=subprocess.DEVNULL, stderr=err, env=env, timeout=120, check=False)
    return stderr.read_text(encoding="utf-8").splitlines()


def device_inode(path: Path) -> str:
    found = path.stat()
    return f"{found.st_dev}:{found.st_ino}"


def test_lines_to_the_journal_start_with_their_priority(tmp_path: Path, woo) -> None:
    """stderr is the journal (its device:inode is JOURNAL_STREAM): an error line starts with <3>, info with <6>,
    so `journalctl -p err` shows the failed shop; the JSON after the prefix is the event as before."""
    etc = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'm.db'}", [
        {"shop_id": "good", "url": woo.url, "key": woo.consumer_key, "secret": woo.consumer_secret},
        {"shop_id": "locked", "url": woo.url, "key": woo.consumer_key, "secret": "cs_wrong"}])
    stderr = tmp_path / "stderr"
    stderr.touch()
    lines = sync_under_journal(etc, stderr, device_inode(stderr))
    events = {json.loads(line[3:])["event"]: line[:3] for line in lines if line[3:].startswith("{")}
    assert events["sync.failed"] == "<3>"
    assert events["mirror.done"] == "<6>"  # the good shop's backfill wrote claims: news
    assert [line for line in lines if not line[3:].startswith("{")] == [  # the command's own summary: an error
        f"<3>error: {json.loads(line[3:])['error']}" for line in lines if '"sync.failed"' in line]
    assert all(line[:3] in ("<3>", "<4>", "<6>") for line in lines), lines


def test_a_redirected_stderr_gets_no_prefix(tmp_path: Path, woo) -> None:
    """JOURNAL_STREAM inherited by a process whose stderr goes elsewhere (a file) names another stream: no prefix."""
    etc = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'm.db'}", [
        {"shop_id": "good", "url": woo.url, "key": woo.consumer_key, "secret": woo.consumer_secret}])
    elsewhere = tmp_path / "journal"
    elsewhere.touch()
    lines = sync_under_journal(etc, tmp_path / "stderr", device_inode(elsewhere))
    assert lines and all(line.startswith("{") for line in lines), lines


def test_stdlib_records_carry_the_priority_too(tmp_path: Path, monkeypatch) -> None:
    """A library's warning through `logging` starts with <4> under the journal."""
    stderr = tmp_path / "stderr"
    with stderr.open("w", encoding="utf-8") as stream:
        monkeypatch.setattr(sys, "stderr", stream)
        monkeypatch.setenv("JOURNAL_STREAM", device_inode(stderr))
        root = logging.getLogger()
        saved = root.handlers[:]
        root.handlers = []  # basicConfig only sets up a root without handlers (pytest has put its own there)
        try:
            configure_logging("info", "json")
            logging.getLogger("urllib3").warning("Connection pool is full\nsecond line")
            structlog.get_logger("mahnwerk.test").debug("not.shown")
        finally:
            root.handlers = saved
            structlog.reset_defaults()
    assert stderr.read_text(encoding="utf-8").splitlines() == [
        "<4>WARNING urllib3: Connection pool is full", "<4>second line"]


def test_an_idle_poll_logs_nothing_at_info(tmp_path: Path, woo) -> None:
    """The daemon's first tick backfills (info: news); the second finds nothing new and says so at debug only."""
    etc = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'm.db'}", [
        {"shop_id": "acme", "url": woo.url, "key": woo.consumer_key, "secret": woo.consumer_secret}])
    config = load_config(etc)
    store = open_store(config)
    configure_logging("debug", "json")
    try:
        with capture_logs() as first:
            shop_job(store, config.shops[0], config)
        with capture_logs() as second:
            shop_job(store, config.shops[0], config)
    finally:
        store.close()
        structlog.reset_defaults()
    assert {e["event"] for e in first if e["log_level"] == "info"} >= {"mirror.page", "mirror.done", "daemon.synced"}
    assert [e["event"] for e in second if e["log_level"] != "debug"] == []
    assert {e["event"] for e in second} >= {"mirror.start", "mirror.done", "daemon.synced"}
