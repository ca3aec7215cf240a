"""/outbox against a real SQLite store: a run whose letters cannot be written (the print folder is a file) leaves
dead letters; the page shows them with their reason, and a clerk retries one (the next run writes it), records one
as done and skips one, each in the ledger with the clerk's name and source "web"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from mahnwerk.sync.store.models import LedgerEntry, OutboxRow, OutboxState
from mahnwerk.sync.web.pages import outbox as outbox_page
from tests.support import write_config
from tests.sync.test_letters_disk_full import BY_LETTER
from tests.sync.test_run import MERCHANT, query, run_at
from tests.web.conftest import RATES, csrf


@pytest.fixture
def etc(tmp_path: Path, woo) -> Path:
    """The sandbox shop "acme" whose reminders go out as letters, after a run that could not write any."""
    folder = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'mahnwerk.db'}",
                          [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                            "secret": woo.consumer_secret, "extra": RATES + MERCHANT + BY_LETTER}])
    (folder / "letters").write_text("a file where the folder should be")
    [result] = run_at(folder)
    assert result.outcome.dead >= 3, result.as_dict()
    return folder


def dead(etc: Path) -> list[OutboxRow]:
    return sorted(query(etc, select(OutboxRow).where(OutboxRow.state == OutboxState.DEAD)), key=lambda r: r.id)


def row(etc: Path, row_id: int | None) -> OutboxRow:
    [found] = query(etc, select(OutboxRow).where(OutboxRow.id == row_id))
    return found


def settle(client: FlaskClient, row_id: int | None, verb: str, **form: str) -> object:
    token = csrf(client.get("/outbox").get_data(as_text=True))
    return client.post(f"/outbox/{row_id}/{verb}", data={"csrf_token": token, **form})


def test_dead_letters_are_listed_with_their_reason(login: Callable[..., FlaskClient], etc: Path) -> None:
    rows = dead(etc)
    page = login("clara").get("/outbox").get_data(as_text=True)
    assert all(f'id="row-{r.id}"' in page for r in rows)
    assert str(escape(rows[0].last_error)) in page and "Unzustellbare Aktionen" in page
    assert "Dead letters" in login("vera", lang="en").get("/outbox").get_data(as_text=True)


def test_a_long_list_shows_the_oldest_and_says_how_many_more(login: Callable[..., FlaskClient], etc: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The page shows PAGE dead letters, oldest first, and counts the rest (a shop that failed all day)."""
    rows = dead(etc)
    monkeypatch.setattr(outbox_page, "PAGE", 2)
    page = login("clara").get("/outbox").get_data(as_text=True)
    assert [f'id="row-{r.id}"' in page for r in rows[:3]] == [True, True, False]
    assert f"… und {len(rows) - 2} weitere" in page and "mahnwerk outbox --state dead" in page


def test_a_retried_dead_letter_goes_out_with_the_next_run(login: Callable[..., FlaskClient], etc: Path) -> None:
    rows = dead(etc)
    first = rows[0]
    client = login("clara")
    response = settle(client, first.id, "retry")
    assert response.status_code == 302 and response.headers["Location"] == "/outbox"
    assert "wird im nächsten Lauf erneut versucht" in client.get("/outbox").get_data(as_text=True)
    queued = row(etc, first.id)
    assert queued.state == OutboxState.PENDING and queued.attempts == 0
    assert queued.last_error.startswith("retry by clara at ")

    settle(client, first.id, "retry")  # sent twice: it is no dead letter any more
    assert f"Aktion {first.id} ist nicht (mehr) unzustellbar." in client.get("/outbox").get_data(as_text=True)

    (etc / "letters").unlink()  # the cause fixed
    [result] = run_at(etc, 1)  # the next day's run (the retry was queued at the page's clock, after this run's)
    sent = row(etc, first.id)
    assert sent.state == OutboxState.DONE and result.outcome.letters >= 1 and result.outcome.dead == 0
    assert Path(sent.payload["letter_path"]).is_file()
    page = client.get("/outbox").get_data(as_text=True)
    assert f'id="row-{first.id}"' not in page and all(f'id="row-{r.id}"' in page for r in dead(etc))
    assert len(dead(etc)) == len(rows) - 1  # the others wait for a person still


def test_done_and_skip_go_into_the_ledger_with_the_clerk(login: Callable[..., FlaskClient], etc: Path) -> None:
    done, skipped = dead(etc)[:2]
    client = login("clara")
    settle(client, done.id, "done", note="per Post verschickt")
    settle(client, skipped.id, "skip")
    assert row(etc, done.id).state == OutboxState.DONE and row(etc, skipped.id).state == OutboxState.SKIPPED
    stages = {e.data["key"]: e for e in query(etc, select(LedgerEntry).where(LedgerEntry.kind == "stage"))}
    assert (stages[done.key].actor, stages[done.key].source) == ("clara", "web")
    assert stages[done.key].data["note"] == "per Post verschickt" and not stages[done.key].data["skipped"]
    assert stages[skipped.key].data["skipped"] and stages[skipped.key].data["fee"] == "0"


def test_a_viewer_may_not_settle_and_a_form_needs_its_token(login: Callable[..., FlaskClient], etc: Path) -> None:
    first = dead(etc)[0]
    viewer = login("vera")
    page = viewer.get("/outbox").get_data(as_text=True)
    assert f'id="row-{first.id}"' in page and f"/outbox/{first.id}/retry" not in page
    assert viewer.post(f"/outbox/{first.id}/retry", data={"csrf_token": csrf(page)}).status_code == 403
    clerk = login("clara")
    assert clerk.post(f"/outbox/{first.id}/retry").status_code == 400
    assert settle(clerk, first.id, "resend").status_code == 404  # type: ignore[attr-defined]
    assert row(etc, first.id).state == OutboxState.DEAD
