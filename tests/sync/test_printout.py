"""Today's letters to print (sync/outbox/printout.py): the letters a real run wrote on the shop's day, found from the
outbox, and merged into one PDF with every page of each."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from mahnwerk.sync.config import load_config
from mahnwerk.sync.outbox.printout import merge_letters, todays_letters
from mahnwerk.sync.service.bootstrap import open_store
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_letters_disk_full import BY_LETTER, pdfs
from tests.sync.test_run import MERCHANT, NOW, run_at


@pytest.fixture
def etc(tmp_path: Path, woo, db_url: str) -> Path:
    """The sandbox shop whose reminders go out as letters."""
    return write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                    "secret": woo.consumer_secret,
                                                    "extra": RATES + MERCHANT + BY_LETTER}])


def letters_on(etc: Path, days: int) -> list:
    config = load_config(etc)
    store = open_store(config)
    try:
        return todays_letters(store, config.shops, NOW + timedelta(days=days))
    finally:
        store.close()


def test_the_days_letters_are_found_and_merged_page_by_page(etc: Path) -> None:
    [result] = run_at(etc)
    written = pdfs(etc)
    assert result.outcome.letters == len(written) > 1
    letters = letters_on(etc, 0)
    assert sorted(letter.path for letter in letters) == written and all(letter.present for letter in letters)
    assert all(letter.claim.startswith("acme:") and letter.stage == "reminder" for letter in letters)

    merged = PdfReader(io.BytesIO(merge_letters([letter.path for letter in letters])))
    assert len(merged.pages) == sum(len(PdfReader(path).pages) for path in written)
    first = PdfReader(letters[0].path).pages[0].extract_text()
    assert merged.pages[0].extract_text() == first

    assert letters_on(etc, 1) == []  # tomorrow: nothing written yet
