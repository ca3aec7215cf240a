"""The letter's sheet: A4 in mm with DIN 5008 form B's geometry, the letter's fonts (checked, loaded, closed),
folding marks, page numbers and footer, and the text primitives the layout (letterpdf.py) draws with."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos
from fpdf.fonts import TTFFont

from mahnwerk.connectors.letter import CORE_FONT, LetterError
from mahnwerk.connectors.letterfonts import Face, LetterFont, Measured, RecordingSubsetMap, face

# DIN 5008 form B, in mm: text from 25 mm, at least 20 mm right margin; address window 45 mm from the top.
LEFT, RIGHT, TOP, BOTTOM = 25.0, 190.0, 20.0, 10.0
WINDOW_X, WINDOW_Y, WINDOW_W, WINDOW_H = 20.0, 45.0, 85.0, 45.0
WINDOW_INSET = 5.0  # text starts 5 mm inside the window, and keeps 5 mm off its right edge
INFO_X, INFO_Y = 125.0, 50.0
SUBJECT_Y = 98.46  # DIN 5008 form B: first line of the subject
FOLD_MARKS, HOLE_MARK = (105.0, 210.0), 148.5
QR_SIZE = 30.0  # the printed code including its quiet zone (EPC: at least 2 cm is scannable)
FOOTER_LINE, FOOTER_GAP = 3.2, 3.0  # footer line height, and the space kept free above the footer
PAD = 2.5  # inside the payment box
AMOUNT_W, BANK_LABEL_W = 40.0, 38.0
LINE = 4.5  # body line height for 10 pt (about 1.3 times the type size, a little over DIN 5008's single spacing)

FONT_MAGIC = (b"\x00\x01\x00\x00", b"true", b"OTTO", b"ttcf")  # TrueType, Apple, OpenType CFF, collection
# Letters with no decomposition that NFKD would otherwise turn into "?".
ASCII_FORMS = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i"}


def check_font(font: Path) -> None:
    """Load `font` as a letter would; LetterError names what is wrong with it."""
    close_fonts(load_font(FPDF(), font, faces={}))


def readable(font: Path) -> None:
    try:
        with font.open("rb") as file:
            magic = file.read(4)
    except OSError as exc:
        raise LetterError(f"font {font}: cannot be read ({exc.strerror or exc})") from exc
    if magic not in FONT_MAGIC:
        raise LetterError(f"font {font}: not a usable TrueType font (it does not start like one)")


def close_fonts(sheet: FPDF) -> None:
    # fontTools keeps each font file open until closed; a discarded first draft would leak them.
    for font in sheet.fonts.values():
        if isinstance(font, TTFFont):
            font.close()


class Sheet(FPDF):
    """A4 in mm with the letter's fonts; folding marks on page 1, page numbers and footer on every page."""

    def __init__(self, font: Path | None, *, footer: tuple[str, ...], total_pages: int, reuse_fonts: bool) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        # else a customer named "{nb}" would be printed as the page count; fpdf2 documents None as "no alias" but
        # annotates the parameter as str
        self.alias_nb_pages(None)  # type: ignore[arg-type]
        self.total_pages = total_pages
        self.family = "Letter" if font else CORE_FONT
        self.faces: dict[str, Face] = {}  # fontkey -> the face it was attached from
        load_font(self, font, faces=self.faces if reuse_fonts else None)
        self.set_font(self.family, size=10)
        self.has_glyph = glyph_test(self, font)
        self.printed: tuple[dict[str, str], dict[str, str]] = ({}, {})  # by `lines`: character -> as printed
        self.set_margins(LEFT, TOP, 210.0 - RIGHT)
        self.c_margin = 0  # DIN 5008 aligns text on the 25 mm line itself, not 1 mm inside it
        self.footer_lines = self.wrap_footer(footer)
        self.payment_height = 0.0
        self.set_auto_page_break(True, margin=BOTTOM + FOOTER_LINE * len(self.footer_lines) + FOOTER_GAP)

    def wrap_footer(self, footer: tuple[str, ...]) -> list[str]:
        """The footer's lines, each too long for the page at 7 pt broken between its " · " parts."""
        self.use(7)
        lines: list[str] = []
        for line in footer:
            current = ""
            for part in self.clean(line).split(" · "):
                joined = f"{current} · {part}" if current else part
                if current and self.get_string_width(joined) > RIGHT - LEFT:
                    lines.append(current)
                    joined = part
                current = joined
            lines.append(current)
        self.use(10)
        return lines

    def clean(self, text: str, *, lines: bool = False) -> str:
        """Text the font can print: control characters as spaces, unknown characters in an ASCII form or '?'."""
        if lines:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        printed = self.printed[lines]
        # A letter has a few dozen distinct characters in some thousands: each is looked at once.
        return "".join([printed.get(c) or printed.setdefault(c, self._printable(c, keep_newline=lines)) for c in text])

    def _printable(self, char: str, *, keep_newline: bool) -> str:
        if char == "\n" and keep_newline:
            return char
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return " "
        if self.has_glyph(char):
            return char
        decomposed = ASCII_FORMS.get(char) or unicodedata.normalize("NFKD", char)
        ascii_form = "".join(c for c in decomposed if c.isascii() and not unicodedata.combining(c))
        return ascii_form if ascii_form and ascii_form.isprintable() else "?"

    def use(self, size: float, *, bold: bool = False) -> None:
        self.set_font(self.family, style="B" if bold else "", size=size)

    def header(self) -> None:
        if self.page == 1:
            self.set_draw_color(128)
            self.set_line_width(0.2)
            for y in FOLD_MARKS:
                self.line(4, y, 9, y)
            self.line(4, HOLE_MARK, 12, HOLE_MARK)
            self.set_draw_color(0)
        elif self.total_pages:
            self.use(8)
            self.set_xy(LEFT, 10)
            self.cell(RIGHT - LEFT, 4, f"{self.page}/{self.total_pages}", align="R")
        self.set_xy(LEFT, TOP)

    def footer(self) -> None:
        self.set_text_color(90)
        self.set_y(-(BOTTOM + FOOTER_LINE * len(self.footer_lines)))
        for line in self.footer_lines:
            self.use(7)
            self.cell(RIGHT - LEFT, FOOTER_LINE, self.fit(line, RIGHT - LEFT, "footer"), align="C",
                      new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)

    def fit(self, text: str, width: float, what: str, *, min_size: float = 6) -> str:
        """Clean one line and shrink the type until it fits `width`; a line that cannot fit is an error."""
        text = self.clean(text)
        while self.get_string_width(text) > width and self.font_size_pt > min_size:
            self.set_font_size(self.font_size_pt - 0.5)
        if self.get_string_width(text) > width:
            raise LetterError(f"{what}: a line is {self.get_string_width(text):.0f} mm wide at {min_size} pt, "
                              f"{width:.0f} mm fit")
        return text

    def lines(self, x: float, width: float, text: str, *, height: float = LINE, align: str = "L") -> float:
        """Print wrapped text at `x` from the current y; returns the y under it."""
        self.set_x(x)
        self.multi_cell(width, height, self.clean(text, lines=True), align=align,
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return self.get_y()

    def height_of(self, width: float, text: str, *, height: float = LINE) -> float:
        """The height `lines` would print `text` in; the face remembers it (the bank rows, the QR caption and most
        table labels are the same in every letter of a merchant)."""
        text = self.clean(text, lines=True)
        font = self.current_font
        face = self.faces.get(font.fontkey) if isinstance(font, LetterFont) else None
        if face is None or not isinstance(font, LetterFont) or not isinstance(font.subset, RecordingSubsetMap):
            return self._height_of(width, text, height)  # the core font, or fonts parsed for this letter alone
        key = (font.fontkey, self.font_size_pt, width, height, text)
        known = face.heights.get(key)
        if known is not None:
            for code in known.picked:  # the characters the measuring gives their codes in the font, in this order
                font.subset.pick(code)
            return known.height
        with font.subset.recording() as picked:
            result = self._height_of(width, text, height)
        face.remember_height(key, Measured(result, tuple(dict.fromkeys(picked))))
        return result

    def _height_of(self, width: float, text: str, height: float) -> float:
        result = self.multi_cell(width, height, text, dry_run=True, output=MethodReturnValue.HEIGHT)
        assert isinstance(result, int | float)  # asked for the height alone: the height alone
        return float(result)

    def keep_together(self, height: float) -> None:
        """Start a new page unless `height` mm still fit on this one."""
        if self.will_page_break(height):
            self.add_page()


def load_font(sheet: FPDF, font: Path | None, *, faces: dict[str, Face] | None) -> FPDF:
    """Register `font` (and its bold sibling) as family "Letter", or set up the core font when None. With `faces`,
    each file is parsed once per process (letterfonts.py) and `faces` learns which face each font came from."""
    if font is None:
        sheet.core_fonts_encoding = "windows-1252"  # adds €, „“ and – to Latin-1
        return sheet
    readable(font)
    bold = font.with_name(f"{font.stem.removesuffix('-Regular')}-Bold{font.suffix}")
    try:
        for style, path in (("", font), ("B", bold if bold.is_file() else font)):
            if faces is None:
                sheet.add_font("Letter", style, path)
            else:
                known = face(path)
                faces[known.attach(sheet, "Letter", style).fontkey] = known
    except Exception as exc:  # fontTools raises many unrelated types for a damaged font
        close_fonts(sheet)
        raise LetterError(f"font {font}: not a usable TrueType font ({type(exc).__name__}: {exc})") from exc
    return sheet


def glyph_test(sheet: FPDF, font: Path | None) -> Callable[[str], bool]:
    if font is None:
        return lambda char: encodes(char, "cp1252")
    regular, bold = sheet.fonts["letter"], sheet.fonts["letterB"]
    assert isinstance(regular, TTFFont) and isinstance(bold, TTFFont)  # load_font added both from files
    regular_map, bold_map = regular.cmap, bold.cmap
    return lambda char: ord(char) in regular_map and ord(char) in bold_map


def encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True
