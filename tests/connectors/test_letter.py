"""The dunning letter PDF: what it says, read back with pypdf; how it is written; its GiroCode, scanned."""

from __future__ import annotations

import dataclasses
import shutil
import stat
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pypdf
import pytest
import zxingcpp
from PIL import Image

from mahnwerk.connectors.girocode import epc_payload
from mahnwerk.connectors.letter import (
    LetterContent,
    LetterError,
    find_font,
    font_in_use,
    render_letter,
    write_letter,
)

HOSTILE = ("{{7*7}}", "<script>alert(1)</script>", "=cmd|'/c calc'!A1", "**bold** _x_ {nb}")
PAYLOAD = epc_payload(name="Beispiel Shop GmbH", iban="DE89370400440532013000", bic="COBADEFFXXX",
                      amount=Decimal("131.40"), currency="EUR", remittance="RE-2026-1042")


def a_letter(**changes: Any) -> LetterContent:
    content = LetterContent(
        sender_line="Beispiel Shop GmbH · Musterstraße 1 · 10115 Berlin",
        sender_block=("Beispiel Shop GmbH", "Musterstraße 1", "10115 Berlin", "Tel. +49 30 1234567",
                      "buchhaltung@beispiel.de", "www.beispiel.de", "USt-IdNr. DE123456789"),
        recipient=("Frau", "Jürgen Weiß", "Hauptstraße 5a", "80331 München"),
        place_date="Berlin, 22. November 2026",
        subject="1. Mahnung zur Rechnung RE-2026-1042",
        body=("Sehr geehrte Frau Weiß,", "unsere Rechnung war am 15. Oktober 2026 fällig.\nBitte prüfen Sie das."),
        table_title="Offener Betrag",
        table=(("Rechnung RE-2026-1042", "119,00 €"), ("Mahngebühr", "5,00 €"), ("Verzugszinsen", "7,40 €"),
               ("Gesamtbetrag", "131,40 €")),
        pay_by="Bitte überweisen Sie 131,40 € bis zum 6. Dezember 2026.",
        bank_title="Bankverbindung",
        bank=(("Kontoinhaber", "Beispiel Shop GmbH"), ("IBAN", "DE89 3704 0044 0532 0130 00"),
              ("BIC", "COBADEFFXXX"), ("Bank", "Commerzbank"), ("Verwendungszweck", "RE-2026-1042")),
        qr_payload=PAYLOAD,
        qr_caption="Mit der Banking-App scannen (GiroCode)",
        closing=("Mit freundlichen Grüßen", "Beispiel Shop GmbH"),
        footer=("Beispiel Shop GmbH · Amtsgericht Charlottenburg HRB 123456",),
        title="1. Mahnung RE-2026-1042",
        language="de",
    )
    return dataclasses.replace(content, **changes)


@pytest.fixture(scope="module")
def dejavu() -> Path:
    font = find_font()
    if font is None:
        pytest.skip("DejaVu Sans is not installed (Debian/Ubuntu: apt-get install fonts-dejavu-core)")
    return font


def lines_of(pdf: Path | bytes) -> list[str]:
    reader = pypdf.PdfReader(pdf if isinstance(pdf, Path) else BytesIO(pdf))
    return [line for page in reader.pages for line in page.extract_text().splitlines()]


def test_letter_says_what_is_owed_to_whom_and_where_to_pay(tmp_path: Path, dejavu: Path) -> None:
    """Recipient, subject, amounts, bank details and the pay-by sentence are all in the text."""
    text = "\n".join(lines_of(write_letter(a_letter(), tmp_path / "letter.pdf", font=dejavu)))
    for expected in ("Jürgen Weiß", "Hauptstraße 5a", "80331 München", "1. Mahnung zur Rechnung RE-2026-1042",
                     "119,00 €", "131,40 €", "DE89 3704 0044 0532 0130 00", "COBADEFFXXX", "RE-2026-1042",
                     "Bitte überweisen Sie 131,40 € bis zum 6. Dezember 2026.", "Berlin, 22. November 2026",
                     "Mit freundlichen Grüßen", "Amtsgericht Charlottenburg HRB 123456"):
        assert expected in text


def test_hard_line_breaks_in_a_paragraph_are_kept(dejavu: Path) -> None:
    """A "\\n" inside a body paragraph starts a new line."""
    lines = lines_of(render_letter(a_letter(), font=dejavu))
    assert "unsere Rechnung war am 15. Oktober 2026 fällig." in lines
    assert "Bitte prüfen Sie das." in lines


def test_total_is_the_last_table_row_and_bold(dejavu: Path) -> None:
    """The rows keep their order, the total comes last, directly before the pay-by sentence, in bold type."""
    reader = pypdf.PdfReader(BytesIO(render_letter(a_letter(), font=dejavu)))
    lines = reader.pages[0].extract_text().splitlines()
    rows = [lines.index(f"{label} {amount}") for label, amount in a_letter().table]
    assert rows == sorted(rows)
    assert lines[rows[-1] + 1] == a_letter().pay_by
    fonts: dict[str, str] = {}
    reader.pages[0].extract_text(visitor_text=lambda text, cm, tm, font, size: fonts.setdefault(
        text.strip(), str(font["/BaseFont"]) if font else ""))
    assert fonts["Gesamtbetrag"].endswith("Bold") and not fonts["Mahngebühr"].endswith("Bold")


def test_core_font_fallback_prints_close_ascii_forms(dejavu: Path) -> None:
    """Without a TTF the letter still renders: "Ł" becomes "L", CJK "?", while cp1252's "€" and "ü" stay."""
    lines = lines_of(render_letter(a_letter(recipient=("Łukasz 你好", "Müllerstraße 1", "10115 Berlin")), font=None))
    assert "Lukasz ??" in lines
    assert "Müllerstraße 1" in lines
    assert "Gesamtbetrag 131,40 €" in lines


def test_ttf_prints_what_the_core_font_cannot(dejavu: Path) -> None:
    """With DejaVu Sans "Ł" is printed as is; characters the font lacks become "?"."""
    text = "\n".join(lines_of(render_letter(a_letter(recipient=("Łukasz 你好",)), font=dejavu)))
    assert "Łukasz ??" in text


@pytest.mark.parametrize("with_ttf", [True, False], ids=["ttf", "core"])
def test_hostile_strings_are_printed_verbatim(with_ttf: bool, dejavu: Path) -> None:
    """Customer data is text, never markup, templates or a page-number alias."""
    content = a_letter(recipient=HOSTILE, subject=HOSTILE[0], body=HOSTILE, table=(*((h, "1,00 €") for h in HOSTILE),),
                       bank=(("Verwendungszweck", HOSTILE[3]),))
    text = "\n".join(lines_of(render_letter(content, font=dejavu if with_ttf else None)))
    for hostile in HOSTILE:
        assert text.count(hostile) >= 3  # address window, body and table


def test_control_characters_do_not_break_single_line_fields(dejavu: Path) -> None:
    """A line break inside an address line is printed as a space; the window keeps one line per entry."""
    lines = lines_of(render_letter(a_letter(recipient=("Jürgen\nWeiß", "Hauptstraße\r5a")), font=dejavu))
    assert "Jürgen Weiß" in lines and "Hauptstraße 5a" in lines


def test_file_is_private_and_no_temp_file_is_left(tmp_path: Path, dejavu: Path) -> None:
    """The PDF is 0o600 in a new 0o700 folder, and only the PDF is there."""
    path = write_letter(a_letter(), tmp_path / "letters" / "1042.pdf", font=dejavu)
    assert path == tmp_path / "letters" / "1042.pdf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["1042.pdf"]


def test_existing_file_is_replaced_whole(tmp_path: Path, dejavu: Path) -> None:
    """A longer, readable old file is replaced, not overwritten in place: no old bytes, no old mode."""
    path = tmp_path / "1042.pdf"
    path.write_bytes(b"old letter " * 200_000)
    path.chmod(0o644)
    write_letter(a_letter(), path, font=dejavu)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and b"old letter" not in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["1042.pdf"]


def test_failed_write_leaves_no_temp_file(tmp_path: Path, dejavu: Path) -> None:
    """When the final rename fails (a folder is in the way), the temporary file is removed."""
    (tmp_path / "1042.pdf").mkdir()
    with pytest.raises(OSError):
        write_letter(a_letter(), tmp_path / "1042.pdf", font=dejavu)
    assert [p.name for p in tmp_path.iterdir()] == ["1042.pdf"]


@pytest.mark.parametrize("with_ttf", [True, False], ids=["ttf", "core"])
def test_girocode_in_the_pdf_scans_as_the_payload(with_ttf: bool, dejavu: Path) -> None:
    """The QR image taken out of the PDF decodes to exactly the EPC payload."""
    page = pypdf.PdfReader(BytesIO(render_letter(a_letter(), font=dejavu if with_ttf else None))).pages[0]
    [image] = page.images
    [code] = zxingcpp.read_barcodes(Image.open(BytesIO(image.data)))
    assert code.bytes == PAYLOAD.encode("utf-8")


def test_no_girocode_without_payload(dejavu: Path) -> None:
    """qr_payload None: no image and no caption."""
    data = render_letter(a_letter(qr_payload=None), font=dejavu)
    assert len(pypdf.PdfReader(BytesIO(data)).pages[0].images) == 0
    assert not any("GiroCode" in line for line in lines_of(data))


def test_following_pages_are_numbered(dejavu: Path) -> None:
    """A long letter breaks onto more pages; from page 2 on each says "n/total"."""
    body = tuple(f"Absatz {n}: " + "Dies ist ein langer Absatz über die offene Rechnung. " * 6 for n in range(25))
    reader = pypdf.PdfReader(BytesIO(render_letter(a_letter(body=body), font=dejavu)))
    total = len(reader.pages)
    assert total >= 2
    texts = [page.extract_text().splitlines() for page in reader.pages]
    assert f"1/{total}" not in texts[0]
    assert all(f"{n}/{total}" in lines for n, lines in enumerate(texts[1:], start=2))
    assert "Absatz 24" in "\n".join(texts[-1]) or "Absatz 24" in "\n".join(texts[-2])


def test_metadata_has_title_language_and_creator(dejavu: Path) -> None:
    """Screen readers and archives see the title and the document language."""
    reader = pypdf.PdfReader(BytesIO(render_letter(a_letter(language="en", title="Reminder 1042"), font=dejavu)))
    assert reader.metadata is not None
    assert (reader.metadata.title, reader.metadata.creator) == ("Reminder 1042", "Mahnwerk")
    assert reader.trailer["/Root"]["/Lang"] == "en"


def test_bold_falls_back_to_the_regular_font(tmp_path: Path, dejavu: Path) -> None:
    """A TTF without a "-Bold" file next to it is used for bold text too."""
    font = tmp_path / "Plain.ttf"
    shutil.copyfile(dejavu, font)
    assert "Gesamtbetrag 131,40 €" in lines_of(render_letter(a_letter(), font=font))


@pytest.mark.parametrize(("changes", "message"), [
    ({"recipient": tuple(f"Zeile {n}" for n in range(7))}, r"recipient: the address window holds 6 lines \(got 7\)"),
    ({"recipient": ()}, "recipient: the address is empty"),
    ({"recipient": ("", "  ")}, "recipient: the address is empty"),
    ({"recipient": ("W" * 60,)}, "recipient line 1: a line is"),
    ({"table": ()}, "table: needs at least one row"),
])
def test_unusable_content_is_refused(changes: dict[str, Any], message: str, tmp_path: Path, dejavu: Path) -> None:
    """Content that cannot make a letter raises LetterError naming the field, and writes nothing."""
    with pytest.raises(LetterError, match=message):
        write_letter(a_letter(**changes), tmp_path / "1042.pdf", font=dejavu)
    assert list(tmp_path.iterdir()) == []


# fpdf2 2.8 leaves a damaged font file open when fontTools fails on it; nothing of ours to close.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_unreadable_font_is_refused(tmp_path: Path) -> None:
    """A missing file or a file that is not a font raises LetterError naming the file."""
    missing, not_a_font, damaged = tmp_path / "missing.ttf", tmp_path / "notes.ttf", tmp_path / "damaged.ttf"
    not_a_font.write_text("not a font")
    damaged.write_bytes(b"\x00\x01\x00\x00" + b"\xff" * 100)
    with pytest.raises(LetterError, match="missing.ttf: cannot be read"):
        render_letter(a_letter(), font=missing)
    with pytest.raises(LetterError, match="notes.ttf: not a usable TrueType font"):
        render_letter(a_letter(), font=not_a_font)
    with pytest.raises(LetterError, match="damaged.ttf: not a usable TrueType font"):
        render_letter(a_letter(), font=damaged)
    with pytest.raises(LetterError, match="missing.ttf: cannot be read"):
        font_in_use(missing)
    with pytest.raises(LetterError, match="notes.ttf: not a usable TrueType font"):
        font_in_use(not_a_font)


def test_font_in_use_names_the_file(dejavu: Path) -> None:
    """The check command shows which font letters will be printed with."""
    assert font_in_use(dejavu) == f"DejaVuSans.ttf ({dejavu})"
    assert font_in_use(None) == f"DejaVuSans.ttf ({dejavu})"
