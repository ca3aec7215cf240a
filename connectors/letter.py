"""The postal dunning letter: a DIN 5008 (form B) business letter as a PDF, with an optional GiroCode.

All text arrives preformatted (locale, dates, amounts) in a `LetterContent`; this module only lays it out.
Text is always printed literally: no markdown, no HTML, no page-number alias a customer could type. The drawing
(fpdf2 with fontTools, some 50 MB) lives in letterpdf.py and lettersheet.py and is imported only when a letter is
drawn, so that a `sync` never carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mahnwerk.connectors.files import write_private
from mahnwerk.errors import MahnwerkError

MAX_RECIPIENT_LINES = 6  # the address window's lines (DIN 5008 form B)

FONT_PLACES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),  # Debian, Ubuntu (fonts-dejavu-core)
    Path("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf"),  # Fedora
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),  # older Fedora, CentOS
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),  # Arch
    Path("/usr/local/share/fonts/dejavu/DejaVuSans.ttf"),  # FreeBSD
    Path("/Library/Fonts/DejaVuSans.ttf"),  # macOS
)
CORE_FONT = "Helvetica"


class LetterError(MahnwerkError):
    """Raised when a letter cannot be produced from its content or font; the message names the problem."""


@dataclass(frozen=True, slots=True)
class LetterContent:
    """Everything a letter says, as preformatted strings; the last `table` row is the total."""

    sender_line: str
    sender_block: tuple[str, ...]
    recipient: tuple[str, ...]
    place_date: str
    subject: str
    body: tuple[str, ...]
    table_title: str
    table: tuple[tuple[str, str], ...]
    pay_by: str
    bank_title: str
    bank: tuple[tuple[str, str], ...]
    qr_payload: str | None
    qr_caption: str
    closing: tuple[str, ...]
    footer: tuple[str, ...]
    title: str
    language: str


def find_font() -> Path | None:
    """DejaVu Sans from the usual system places, or None when none is installed."""
    return next((p for p in FONT_PLACES if p.is_file()), None)


def font_in_use(font: Path | None) -> str:
    """Which font `write_letter(font=font)` would use, for the `check` command."""
    font = font or find_font()
    if font is None:
        return f"{CORE_FONT} (windows-1252 only: other characters are printed as ASCII or '?'; install DejaVu Sans)"
    from mahnwerk.connectors.lettersheet import check_font

    check_font(font)  # the same checks a letter makes
    return f"{font.name} ({font})"


def write_letter(content: LetterContent, path: Path, *, font: Path | None = None) -> Path:
    """Write the letter as a PDF to `path`, atomically and readable by the owner only; returns `path`.

    `font` is a TTF file; None means DejaVu Sans if `find_font` finds it, else the core font Helvetica.
    """
    return write_private(path, render_letter(content, font=font or find_font()))


def render_letter(content: LetterContent, *, font: Path | None) -> bytes:
    """The letter as PDF bytes; `font` None prints with the core font Helvetica (windows-1252 only)."""
    from mahnwerk.connectors.letterpdf import render

    _check(content)
    return render(content, font)


def _check(content: LetterContent) -> None:
    if not any(line.strip() for line in content.recipient):
        raise LetterError("recipient: the address is empty")
    if len(content.recipient) > MAX_RECIPIENT_LINES:
        raise LetterError(
            f"recipient: the address window holds {MAX_RECIPIENT_LINES} lines (got {len(content.recipient)})"
        )
    if not content.table:
        raise LetterError("table: needs at least one row, the total")


