"""/letters against a real SQLite store: the letters a real run wrote today, downloaded as one merged PDF (one page
per letter), and the tasks for a person marked done or skipped by a clerk, in the ledger with the clerk's name."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import LedgerEntry, OutboxRow
from mahnwerk.sync.web.app import create_app
from tests.support import write_config
from tests.sync.test_letters_disk_full import BY_LETTER, pdfs
from tests.sync.test_run import MERCHANT, NOW, TODAY, query, run_at
from tests.web.conftest import RATES, csrf, log_in

TASK_FIRST = '\n[policy.stages.reminder]\nkind = "task"\nchannel = "none"\n'  # the first step: call the customer


@pytest.fixture
def extra() -> str:
    """The shop's policy: reminders go out as letters (a test about tasks makes the reminder a phone call)."""
    return BY_LETTER


@pytest.fixture
def etc(tmp_path: Path, woo, extra: str) -> Path:
    """The sandbox shop "acme" after today's run."""
    folder = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'mahnwerk.db'}",
                          [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                            "secret": woo.consumer_secret, "extra": RATES + MERCHANT + extra}])
    [result] = run_at(folder)
    assert result.ok, result.as_dict()
    return folder


@pytest.fixture
def app(config: Config, store: Store) -> Flask:
    return create_app(config, store, now=lambda: NOW)  # the run's day


def test_todays_letters_download_as_one_pdf_with_a_page_per_letter(login: Callable[..., FlaskClient],
                                                                   etc: Path) -> None:
    written = pdfs(etc)
    assert len(written) > 1 and all(len(PdfReader(path).pages) == 1 for path in written)
    client = login("vera")  # reading and downloading: a viewer may
    page = client.get("/letters").get_data(as_text=True)
    assert f"Download all as one PDF ({len(written)})" in page  # vera reads English
    assert all(path.name in page for path in written)

    response = client.get("/letters/today.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f'filename=letters-{TODAY.isoformat()}.pdf' in response.headers["Content-Disposition"]
    merged = PdfReader(io.BytesIO(response.data))
    assert len(merged.pages) == len(written)
    rows = sorted(query(etc, select(OutboxRow).where(OutboxRow.kind == "send")), key=lambda r: (r.done_at, r.id))
    first = PdfReader(rows[0].payload["letter_path"]).pages[0].extract_text()
    assert merged.pages[0].extract_text() == first  # in the order they were written


def test_a_day_without_letters_has_nothing_to_print(config: Config, store: Store, etc: Path) -> None:
    client = create_app(config, store, now=lambda: NOW + timedelta(days=1)).test_client()
    log_in(client, "clara")
    assert "Heute wurden keine Briefe geschrieben." in client.get("/letters").get_data(as_text=True)
    response = client.get("/letters/today.pdf")
    assert response.status_code == 302
    assert "Heute gibt es nichts zu drucken." in client.get("/letters").get_data(as_text=True)


@pytest.mark.parametrize("extra", [TASK_FIRST])
def test_tasks_are_done_or_skipped_by_a_clerk(login: Callable[..., FlaskClient], etc: Path) -> None:
    client = login("clara")
    page = client.get("/letters").get_data(as_text=True)
    assert "Keine offenen Aufgaben." not in page and 'action="/letters/tasks/done"' in page
    refs = sorted(set(re.findall(r'name="claim" value="([^"]+)"', page)))
    assert len(refs) >= 2
    token = csrf(page)
    response = client.post("/letters/tasks/done", data={"csrf_token": token, "claim": refs[0],
                                                        "note": "Mailbox, Rückruf erbeten"})
    assert response.status_code == 302 and response.headers["Location"] == "/letters"
    client.post("/letters/tasks/skip", data={"csrf_token": token, "claim": refs[1]})
    page = client.get("/letters").get_data(as_text=True)
    assert f"{refs[0]}: Aufgabe reminder erledigt." in page and f"{refs[1]}: Aufgabe reminder übersprungen." in page
    assert f'value="{refs[0]}"' not in page and f'value="{refs[1]}"' not in page

    stages = query(etc, select(LedgerEntry).where(LedgerEntry.kind == "stage"))
    assert sorted((e.actor, e.source, e.data["skipped"]) for e in stages) == [("clara", "web", False),
                                                                               ("clara", "web", True)]
    assert any(e.data["note"] == "Mailbox, Rückruf erbeten" for e in stages)

    client.post("/letters/tasks/done", data={"csrf_token": token, "claim": refs[0]})  # again: none due any more
    assert "Nicht erledigt:" in client.get("/letters").get_data(as_text=True)
    viewer = login("vera")
    assert viewer.post("/letters/tasks/done", data={"csrf_token": csrf(viewer.get("/letters").get_data(
        as_text=True)), "claim": refs[2] if len(refs) > 2 else refs[0]}).status_code == 403
    assert client.post("/letters/tasks/done", data={"claim": refs[0]}).status_code == 400
