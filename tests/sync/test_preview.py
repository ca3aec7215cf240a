"""`mahnwerk preview` and `preview_claim`: the next notice as the customer gets it. The sandbox shop over HTTP,
a real SQLite store; what the preview shows is compared with what the executor then really sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from mahnwerk.sync.casework.case import CaseError
from mahnwerk.sync.casework.preview import preview_claim, preview_ref
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.models import Claim, LedgerEntry, OutboxRow
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT, NOW, TODAY, query, run_at

BY_LETTER = """
[policy.stages.reminder]
channel = "letter"
"""


def config_folder(tmp_path: Path, woo, url: str, extra: str = "") -> Path:
    etc = write_config(tmp_path / "etc", url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                "secret": woo.consumer_secret, "extra": RATES + MERCHANT + extra}])
    assert main(["--config-dir", str(etc), "sync"]) == 0
    return etc


@pytest.fixture
def etc(tmp_path: Path, woo, sqlite_url: str) -> Path:
    return config_folder(tmp_path, woo, sqlite_url)


def previews(etc: Path, order_numbers: list[str]) -> dict[str, object]:
    config = load_config(etc)
    store = open_store(config)
    try:
        return {number: preview_ref(store, config, f"acme:{number}", NOW) for number in order_numbers}
    finally:
        store.close()


def open_numbers(etc: Path) -> list[str]:
    return [c.order_number for c in query(etc, select(Claim).where(Claim.state == "open"))]


def counts(etc: Path) -> tuple[int, int]:
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            return (session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one(),
                    session.execute(select(func.count()).select_from(OutboxRow)).scalar_one())
    finally:
        store.close()


def test_the_preview_is_the_text_the_executor_then_sends(etc: Path) -> None:
    """For every claim due today the preview's subject and text equal what `run` stores and sends."""
    shown = previews(etc, open_numbers(etc))
    [result] = run_at(etc)
    assert result.ok and result.outcome.sent > 0
    sent = {row.payload["text"]: row for row in query(etc, select(OutboxRow).where(OutboxRow.kind == "send"))}
    claims = {c.id: c.order_number for c in query(etc, select(Claim))}
    assert len(sent) == result.outcome.sent
    for row in sent.values():
        preview = shown[claims[row.claim_id]]
        assert (preview.stage, preview.channel) == (row.stage, row.payload["channel_used"])
        assert (preview.subject, preview.text) == (row.payload["subject"], row.payload["text"])
        assert not preview.has_letter  # WooCommerce customer notes carry no files: the PDF only shows it on paper
        assert preview.pdf is not None and preview.pdf.startswith(b"%PDF")
    waiting = [p for p in shown.values() if p.found and p.on and p.on > TODAY]
    assert all(p.text and p.reason for p in waiting)  # a later notice is shown as it will be on its day


def test_a_letter_preview_is_the_pdf_the_executor_writes(tmp_path: Path, woo, sqlite_url: str) -> None:
    """With the reminder by post the preview holds the PDF letter, the same letter `run` puts in the folder."""
    etc = config_folder(tmp_path, woo, sqlite_url, BY_LETTER)
    numbers = open_numbers(etc)
    shown = {n: p for n, p in previews(etc, numbers).items() if p.found and p.on == TODAY}
    assert shown
    [result] = run_at(etc)
    assert result.outcome.letters == len(shown)
    claims = {c.id: c.order_number for c in query(etc, select(Claim))}
    for row in query(etc, select(OutboxRow).where(OutboxRow.kind == "send")):
        preview = shown[claims[row.claim_id]]
        assert preview.channel == "letter" and preview.pdf is not None and preview.pdf.startswith(b"%PDF")
        written = Path(row.payload["letter_path"]).read_bytes()
        assert page_text(preview.pdf) == page_text(written)


def page_text(pdf: bytes) -> str:
    from io import BytesIO

    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def test_the_command_prints_the_notice_writes_its_letter_and_nothing_else(tmp_path: Path, woo, sqlite_url: str,
                                                                          capsys) -> None:
    """`preview` prints subject and text, writes the PDF with --pdf, and leaves ledger and outbox untouched."""
    etc = config_folder(tmp_path, woo, sqlite_url, BY_LETTER)
    number = next(n for n, p in previews(etc, open_numbers(etc)).items() if p.found and p.on == TODAY)
    before = counts(etc)
    capsys.readouterr()
    pdf = tmp_path / "out" / "letter.pdf"
    assert main(["--config-dir", str(etc), "preview", f"acme:{number}", "--pdf", str(pdf)]) == 0
    out = capsys.readouterr().out
    assert f"acme:{number}: reminder on" in out and "by letter, with a PDF letter" in out and "subject: " in out
    assert pdf.read_bytes().startswith(b"%PDF") and f"letter written to {pdf}" in out
    assert main(["--config-dir", str(etc), "preview", f"acme:{number}", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stage"] == "reminder" and data["channel"] == "letter" and data["letter"] and data["text"]
    assert counts(etc) == before


def test_a_claim_with_nothing_due_says_so(etc: Path, capsys) -> None:
    """A claim on hold has no notice: the preview says why, and --pdf writes nothing (exit 1)."""
    number = open_numbers(etc)[0]
    assert main(["--config-dir", str(etc), "hold", f"acme:{number}", "--reason", "dispute", "--by", "t"]) == 0
    [preview] = previews(etc, [number]).values()
    assert not preview.found and preview.pdf is None and "no notice to preview" in preview.reason
    assert "hold" in preview.reason
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "preview", f"acme:{number}", "--pdf", str(etc / "x.pdf")]) == 1
    out, err = capsys.readouterr()
    assert "no notice to preview" in out and "no letter written" in err and not (etc / "x.pdf").exists()
    assert main(["--config-dir", str(etc), "preview", f"acme:{number}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stage"] is None


def test_preview_mistakes_are_usage_errors(etc: Path, capsys) -> None:
    """A malformed name, an unknown shop or claim: exit 2 with a clear line, not a configuration error."""
    for ref, words in (("1042", "SHOP:ORDER_NUMBER"), ("acmee:1", 'unknown shop "acmee"'),
                       ("acme:nope", "no claim acme:nope")):
        capsys.readouterr()
        assert main(["--config-dir", str(etc), "preview", ref]) == 2
        err = capsys.readouterr().err
        assert words in err and "configuration error" not in err
    config = load_config(etc)
    store = open_store(config)
    try:
        with pytest.raises(CaseError, match="unknown shop"):
            preview_claim(store, config, "acmee", "1", NOW)
        with pytest.raises(CaseError, match="no claim on order id nope"):
            preview_claim(store, config, "acme", "nope", NOW)
    finally:
        store.close()


def test_a_notice_without_a_letter_still_shows_how_it_reads_on_paper(etc: Path, tmp_path: Path, capsys) -> None:
    """Through WooCommerce's customer notes no letter goes out: --pdf writes it anyway and says so."""
    number = next(n for n, p in previews(etc, open_numbers(etc)).items() if p.found)
    capsys.readouterr()
    pdf = tmp_path / "paper.pdf"
    assert main(["--config-dir", str(etc), "preview", f"acme:{number}", "--pdf", str(pdf)]) == 0
    out = capsys.readouterr().out
    assert "by shop (" in out and "with a PDF letter" not in out
    assert "the customer gets the reminder without it, by shop" in out and pdf.read_bytes().startswith(b"%PDF")
