"""A full disk under the print folder is a temporary fault: the letter channel stops for the run, its rows wait
pending (never dead), `status` and the run say so, and the first run after space is freed writes every letter once.

The fault is real: the letter writer's temporary file is opened on /dev/full, so the kernel answers the real write
(connectors/files.py's write, flush and fsync) with ENOSPC, as a full file system would."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from mahnwerk.connectors import files
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.store.models import LedgerEntry, OutboxRow, OutboxState
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT, query, run_at

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")

BY_LETTER = """
[policy.stages.reminder]
channel = "letter"
"""


@pytest.fixture
def etc(tmp_path: Path, woo, db_url: str) -> Path:
    return write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                    "secret": woo.consumer_secret,
                                                    "extra": RATES + MERCHANT + BY_LETTER}])


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Until the test pops it, every letter file is written to /dev/full; lists the files tried."""
    tried: list[str] = []

    def mkstemp(*, dir: Path, prefix: str, suffix: str) -> tuple[int, str]:
        tried.append(str(Path(dir) / f"{prefix}x{suffix}"))
        return os.open("/dev/full", os.O_WRONLY), tried[-1]

    monkeypatch.setattr(files, "tempfile", SimpleNamespace(mkstemp=mkstemp))
    return tried


def pdfs(etc: Path) -> list[Path]:
    return sorted((etc / "letters").rglob("*.pdf"))


def test_a_full_disk_stops_the_letters_keeps_them_pending_and_sends_each_once_when_space_returns(
        etc: Path, disk_full: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config-dir", str(etc), "run", "--json"]) == 1  # a full disk fails the run
    out, err = capsys.readouterr()
    [summary] = json.loads(out)
    assert summary["letters"] == 0 and summary["dead"] == 0 and "letter" in summary["stopped"]
    assert "No space left on device" in summary["stopped"]["letter"]
    assert "disk full" in err and "letter channel stopped" in err

    rows = query(etc, select(OutboxRow).where(OutboxRow.kind == "send"))
    assert len(rows) > 1 and len(disk_full) == 1  # the first letter failed; the rest were not tried
    assert all(r.state == OutboxState.PENDING and r.last_error.startswith("disk full") for r in rows)
    assert sorted(r.attempts for r in rows) == [0] * (len(rows) - 1) + [1]
    assert pdfs(etc) == [] and not [p for p in (etc / "letters").rglob("*") if p.is_file()]

    assert main(["--config-dir", str(etc), "status", "--json"]) == 0
    [status] = json.loads(capsys.readouterr().out)
    assert status["disk_full"]["rows"] == len(rows) and "No space left" in status["disk_full"]["error"]
    assert status["outbox"]["dead"] == 0 and status["outbox"]["pending"] == len(rows)
    assert main(["--config-dir", str(etc), "status"]) == 0
    assert f"{len(rows)} rows wait for disk space" in capsys.readouterr().out

    for days in (1, 2, 3, 4):  # still full: retried with backoff, never dead-lettered
        [result] = run_at(etc, days)
        assert result.outcome.dead == 0 and "letter" in result.outcome.stopped
    assert all(r.state == OutboxState.PENDING for r in query(etc, select(OutboxRow)))
    assert max(r.attempts for r in query(etc, select(OutboxRow))) > 3  # beyond max_attempts = 3

    monkeypatch.undo()  # space is freed
    [result] = run_at(etc, 5)
    assert result.ok and result.outcome.stopped == {} and result.outcome.dead == 0, result.as_dict()
    sent = query(etc, select(OutboxRow).where(OutboxRow.kind == "send"))
    assert {r.key for r in rows} <= {r.key for r in sent if r.state == OutboxState.DONE}
    assert result.outcome.letters == len(sent) == len(pdfs(etc))  # one file per row, none twice
    assert {r.reference for r in sent} == {f"letter {p}" for p in pdfs(etc)}
    stages = query(etc, select(LedgerEntry).where(LedgerEntry.kind == "stage"))
    assert sorted(e.data["key"] for e in stages) == sorted(r.key for r in sent)

    [again] = run_at(etc, 5)
    assert again.outcome.letters == 0 and len(pdfs(etc)) == len(sent)
    assert main(["--config-dir", str(etc), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["disk_full"] is None


def test_other_write_errors_still_dead_letter(etc: Path) -> None:
    """Only a full disk or quota waits: a print folder that cannot be made at all needs a person."""
    (etc / "letters").write_text("a file where the folder should be")
    [result] = run_at(etc)
    assert result.outcome.stopped == {} and result.outcome.dead > 0
    assert all(r.state == OutboxState.DEAD for r in query(etc, select(OutboxRow).where(OutboxRow.kind == "send")))
