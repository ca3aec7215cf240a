"""Fonts read once per process: the letters are the same PDFs as with fpdf2 parsing the font for each letter."""

from __future__ import annotations

import re
import shutil
from io import BytesIO
from pathlib import Path
from typing import Any

import pypdf
import pytest

from mahnwerk.connectors.letterfonts import face
from mahnwerk.connectors.letterpdf import render

from .test_letter import a_letter, dejavu  # noqa: F401  (dejavu is a fixture)


def comparable(pdf: bytes) -> bytes:
    """The PDF without the creation date and the document id made from it: the rest must not differ."""
    return re.sub(rb"/ID \[[^]]*\]", b"", re.sub(rb"/CreationDate \(D:[^)]*\)", b"", pdf))


@pytest.mark.parametrize("changes", [
    {},  # German: the small working font has every glyph
    {"recipient": ("Ольга Иванова", "Łukasz Żółć 你好", "Ægir Þórsson", "Αθήνα")},  # the larger; CJK: "?"
    {"recipient": ("ꙮ ∰ ⌘ Ⴀ", "Hauptstraße 5a")},  # glyphs outside the working font: subset from the file
    {"body": ("Ein langer Absatz. " * 60,) * 4},  # two pages: drawn twice, with page numbers
    {"subject": "Mahnung " + "Überweisung " * 30},  # bold, wrapped
])
def test_reused_fonts_give_the_same_pdf(changes: dict[str, Any], dejavu: Path) -> None:  # noqa: F811
    """Byte for byte what fpdf2 writes when it parses the font file for this letter alone."""
    content = a_letter(**changes)
    fresh = render(content, dejavu, reuse_fonts=False)
    assert comparable(render(content, dejavu)) == comparable(fresh)
    assert comparable(render(content, dejavu)) == comparable(fresh)  # and again, from the parsed face
    reader = pypdf.PdfReader(BytesIO(fresh))
    if "body" in changes:
        assert len(reader.pages) == 2 and "2/2" in reader.pages[1].extract_text()


def test_the_working_fonts_keep_the_files_glyphs(dejavu: Path) -> None:  # noqa: F811
    """Latin in the small working font, Greek and Cyrillic in the larger one too, under the file's glyph names;
    Georgian in neither."""
    known = face(dejavu)
    (small, latin), (larger, more) = known.working
    assert len(small) < len(larger) < len(known.data) / 4 and latin < more
    assert {known.parsed.cmap[ord(char)] for char in "AäßŁŻÞ€„“–№"} <= latin
    assert {known.parsed.cmap[ord(char)] for char in "ΑжЖș"} <= more - latin
    assert known.parsed.cmap[ord("Ⴀ")] not in more


def test_a_font_file_replaced_is_read_again(tmp_path: Path, dejavu: Path) -> None:  # noqa: F811
    """The face follows the file: after the regular font is replaced by the bold one, letters print in bold."""
    font = tmp_path / "Letter.ttf"
    shutil.copyfile(dejavu, font)
    regular = render(a_letter(), font)
    shutil.copyfile(dejavu.with_name("DejaVuSans-Bold.ttf"), font)
    bold = render(a_letter(), font)
    assert comparable(bold) != comparable(regular)
    assert comparable(bold) == comparable(render(a_letter(), font, reuse_fonts=False))
    assert face(font).parsed.name == "DejaVuSansBold"


def test_page_numbers_are_right_whatever_the_letter_before(dejavu: Path) -> None:  # noqa: F811
    """A letter is drawn with the page count of the letter before and again only when its own differs: letters of
    2, 2, 3, 1 and 2 pages in a row are each the PDF drawn on its own, "n/total" on every page after the first."""
    paragraph = "Ein langer Absatz. " * 60
    for paragraphs in (4, 4, 9, 0, 4):
        content = a_letter(body=(paragraph,) * paragraphs) if paragraphs else a_letter()
        fresh = render(content, dejavu, reuse_fonts=False)
        assert comparable(render(content, dejavu)) == comparable(fresh)
        pages = pypdf.PdfReader(BytesIO(fresh)).pages
        assert len(pages) == {4: 2, 9: 3, 0: 1}[paragraphs]
        for number, page in enumerate(pages[1:], start=2):
            assert f"{number}/{len(pages)}" in page.extract_text()


def test_what_a_letter_before_left_behind_changes_nothing(dejavu: Path) -> None:  # noqa: F811
    """The kept font subsets and text heights (letterfonts.Face) come from other letters: a letter whose bank rows,
    table labels and glyphs were met before in another order, or not at all, is still the PDF fpdf2 writes for it
    alone (the codes of the characters in the font follow the order in which each letter first uses them)."""
    letters = [
        a_letter(),
        a_letter(recipient=("Zoë Ångström", "Ωmega-Weg 1", "Київ"), body=("Guten Tag, Frau Ångström!",)),
        a_letter(bank_title="Zahlung", table=(("Verzugszinsen", "7,40 €"), ("Rechnung RE-2026-1042", "119,00 €"),
                                               ("Gesamtbetrag", "126,40 €"))),
        a_letter(subject="Zahlungserinnerung", body=("Xylophon-Quittung: jeder Betrag zählt.",)),
        a_letter(),
    ]
    for content in letters + letters[::-1]:
        assert comparable(render(content, dejavu)) == comparable(render(content, dejavu, reuse_fonts=False))
