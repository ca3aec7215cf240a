"""The letter's TrueType fonts, read once per process instead of once per letter.

fpdf2 parses the font file for every document (DejaVu Sans has ~6,000 glyphs: half of a letter's time) and, when the
document is written, subsets the parsed font in place. A `Face` keeps what fpdf2 reads from the file (metrics,
cmap, widths) and hands each letter its own copy of the fields a document changes, plus a font for the subsetter
that fontTools reads lazily from memory: the smallest *working font* that has every glyph the letter uses, made
once from the file (Latin-1 and Latin Extended-A with punctuation and currency signs: 456 of DejaVu Sans' 6,253
glyphs; then also Greek, Cyrillic and Latin Extended-B: 1,266), which fontTools subsets in a fraction of the time:
its cost grows with the glyphs of the font it reads. Subsetting a working font gives the same bytes as subsetting
the file (the glyph names, order and tables the subset keeps are the file's; tests/connectors/test_letterfonts.py
compares whole letters); a letter that uses a glyph outside them is subset from the file, as before.

A face also keeps what letters of a run share: the last subsets made (`Face.subset`: the same glyphs give the same
bytes; connectors/letterembed.py embeds them) and the heights of texts the layout measured (the bank rows, the QR
caption), with the order in which measuring gave characters their codes in the font, which the PDF depends on.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import TextEmphasis
from fpdf.fonts import SubsetMap, TTFFont

# Code points of the working fonts, smallest first: Latin-1 and Latin Extended-A (German, French, Polish, Czech,
# Turkish, Nordic names), general punctuation, superscripts and currency signs, letterlike symbols (№, ™); then
# Latin Extended-B, Greek and Cyrillic too. Outside these a letter takes the slower way.
WORKING_RANGES = (
    ((0x20, 0x180), (0x2000, 0x20D0), (0x2100, 0x2150)),
    ((0x20, 0x250), (0x370, 0x530), (0x2000, 0x20D0), (0x2100, 0x2150)),
)
# What fpdf2's subsetting drops anyway (fpdf/output.py, _add_fonts), and the legacy 'kern' table it does not keep.
DROPPED = ("FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "kern")
# What fpdf2 drops from the fonts it embeds (fpdf/output.py, _add_fonts), beside fontTools' own list.
FPDF_DROPPED = ("FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC", "EBDT", "EBLC", "EBSC",
                "SVG ", "CPAL", "COLR")
KEPT_SUBSETS = 256  # per face, some 20-60 KB each
KEPT_HEIGHTS = 4096  # per face: heights of texts in the letter layout
PREFIX_MIN = 8  # shorter texts (fpdf2 measures each character alone too) are summed directly


class LetterFont(TTFFont):
    """fpdf2's TrueType font, measuring text incrementally: fpdf2's line breaking measures the line so far again for
    every character it adds (quadratic in the line's length, most of a letter's drawing), so a text that extends the
    one measured before only adds its new characters' widths. The widths are whole font units, summed exactly: the
    result is the same number fpdf2 computes."""

    __slots__ = ("_measured", "_units")
    _measured: str  # the text measured last, and its width in font units
    _units: float  # whole font units (fpdf2 rounds every width), so the sums are exact

    def get_text_width(self, text: str, font_size_pt: float,
                       text_shaping_params: dict[str, Any] | None) -> tuple[int, float]:
        if text_shaping_params or self.is_symbol:
            return super().get_text_width(text, font_size_pt, text_shaping_params)
        if font_size_pt > self.biggest_size_pt:
            self.biggest_size_pt = font_size_pt
        widths = self.cw
        if len(text) < PREFIX_MIN:  # fpdf2 measures every character alone too: its sum, without the calls around it
            return len(text), sum(widths[ord(c)] for c in text) * font_size_pt * 0.001
        measured = self._measured
        if measured and text.startswith(measured):
            units = self._units + sum(widths[ord(c)] for c in text[len(measured):])
        else:
            units = sum(widths[ord(c)] for c in text)
        self._measured, self._units = text, units
        return len(text), units * font_size_pt * 0.001  # as fpdf/fonts.py: TTFFont.get_text_width


class RecordingSubsetMap(SubsetMap):
    """fpdf2's map of the characters a document uses to their codes in the embedded font (codes are given in the
    order of first use), telling `recording` which characters it was asked for."""

    _picked: list[int] | None = None

    def pick(self, unicode: int) -> int | None:  # type: ignore[override]  # fpdf2's is wrapped in a cache
        if self._picked is not None:
            self._picked.append(unicode)
        return super().pick(unicode)

    pick.cache_clear = SubsetMap.pick.cache_clear  # type: ignore[attr-defined]  # fpdf2 clears it through any map

    @contextmanager
    def recording(self) -> Iterator[list[int]]:
        """The characters picked while the block runs, in order."""
        picked: list[int] = []
        self._picked = picked
        try:
            yield picked
        finally:
            self._picked = None


@dataclass(frozen=True, slots=True)
class Measured:
    """A text's height in the letter layout, and the characters measuring it gave codes in the font, in order:
    measuring draws the lines (unseen), and the order in which characters are first drawn is the order of their
    codes in the PDF."""

    height: float
    picked: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Subset:
    """A font reduced to some glyphs, as embedded in a PDF, and the new glyph number of each glyph name."""

    data: bytes
    glyph_ids: dict[str, int]


@dataclass(frozen=True, slots=True)
class Face:
    """One font file as fpdf2 parsed it, with the bytes its documents' subsets are made from."""

    path: Path
    data: bytes  # the file
    working: tuple[tuple[bytes, frozenset[str]], ...]  # the working fonts and their glyphs, smallest first; none
    #                                                     when the file cannot be reduced with its glyph names intact
    parsed: LetterFont  # fpdf2's parse of the file; never handed to a document itself
    subsets: dict[frozenset[str], Subset] = field(default_factory=dict)  # glyph names -> subset, oldest first
    # lettersheet.Sheet.height_of's measures
    heights: dict[tuple[str, float, float, float, str], Measured] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def attach(self, sheet: FPDF, family: str, style: str) -> LetterFont:
        """Register this face with `sheet` as fpdf2's `add_font(family, style, path)` would, without parsing it."""
        font = copy.copy(self.parsed)
        font.i = len(sheet.fonts) + 1
        font.fontkey = f"{family.lower()}{style}"
        font.emphasis = TextEmphasis.coerce(style)
        font.desc = copy.copy(self.parsed.desc)  # the output names and numbers the descriptor
        font.cw = copy.copy(self.parsed.cw)  # a defaultdict: reading an unknown character adds it
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.ttfont = self._reader(self.working[0][0] if self.working else self.data)
        font.subset = RecordingSubsetMap(font)
        font._measured, font._units = "", 0
        sheet.fonts[font.fontkey] = font
        return font

    def subset(self, glyph_names: Iterable[str]) -> Subset:
        """The font file reduced to `glyph_names` as fpdf2 embeds it (fpdf/output.py, `_add_fonts`), made from the
        smallest working font that has them all; the last `KEPT_SUBSETS` made are kept."""
        key = frozenset(glyph_names)
        with self.lock:
            known = self.subsets.pop(key, None)
            if known is not None:
                self.subsets[key] = known  # the most recently used last
                return known
        data = next((working for working, glyphs in self.working if glyphs.issuperset(key)), self.data)
        reader = self._reader(data)
        try:
            options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
            options.drop_tables += list(FPDF_DROPPED)
            subsetter = ftsubset.Subsetter(options)
            subsetter.populate(glyphs=key)
            subsetter.subset(reader)
            glyph_ids = {name: reader.getGlyphID(name) for name in key}
            buffer = BytesIO()
            reader.save(buffer)
        finally:
            reader.close()
        made = Subset(buffer.getvalue(), glyph_ids)
        with self.lock:
            self.subsets[key] = made
            while len(self.subsets) > KEPT_SUBSETS:
                del self.subsets[next(iter(self.subsets))]
        return made

    def remember_height(self, key: tuple[str, float, float, float, str], height: Measured) -> None:
        """Keep the height of a text as the letter layout measured it (the last `KEPT_HEIGHTS`)."""
        with self.lock:
            self.heights[key] = height
            while len(self.heights) > KEPT_HEIGHTS:
                del self.heights[next(iter(self.heights))]

    def _reader(self, data: bytes) -> TTFont:
        # As fpdf2 opens the file (fpdf/fonts.py, TTFFont.__init__): the subset keeps the file's timestamp.
        return TTFont(BytesIO(data), recalcTimestamp=False, fontNumber=self.parsed.collection_font_number, lazy=True)


_faces: dict[Path, tuple[tuple[int, int], Face]] = {}
_lock = threading.Lock()


def face(path: Path) -> Face:
    """The face of the font file at `path`, parsed on first use and again after the file changed.

    Raises what fpdf2 and fontTools raise for a file that is not a usable font."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _lock:  # the daemon may draw letters of several shops at once; parse each file once
        known = _faces.get(path)
        if known is None or known[0] != stamp:
            known = (stamp, _read(path))
            _faces[path] = known
        return known[1]


def _read(path: Path) -> Face:
    data = path.read_bytes()
    parsed = LetterFont(FPDF(), path, "face", "")
    parsed._measured, parsed._units = "", 0
    parsed.ttfont.close()  # everything fpdf2 needs from the file has been read; the documents get their own
    working: list[tuple[bytes, frozenset[str]]] = []
    source = data
    for ranges in reversed(WORKING_RANGES):  # each from the one above it: fewer glyphs to read
        reduced = _working_font(source, parsed, ranges)
        if reduced is None:
            break
        working.insert(0, (reduced, frozenset(TTFont(BytesIO(reduced), lazy=True).getGlyphOrder())))
        source = reduced
    return Face(path, data, tuple(working), parsed)


def _working_font(data: bytes, parsed: TTFFont, ranges: tuple[tuple[int, int], ...]) -> bytes | None:
    """The font reduced to the code points of `ranges`, glyph names and order kept; None when the names do not
    survive."""
    # Bounding boxes are recomputed when a letter's subset is written: not worth recomputing here.
    source = TTFont(BytesIO(data), recalcTimestamp=False, recalcBBoxes=False, fontNumber=parsed.collection_font_number)
    if source.get("post") is None or source["post"].formatType != 2.0:
        return None  # without stored names fontTools numbers glyphs by position, which the reduction changes
    for tag in DROPPED:  # the subsetter would read them (GSUB, GPOS: most of its time) only to drop them
        if tag in source:
            del source[tag]
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, glyph_names=True, name_IDs=["*"],
                               name_languages=["*"])
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=[c for start, end in ranges for c in range(start, end)])
    try:
        subsetter.subset(source)
        buffer = BytesIO()
        source.save(buffer)
    except Exception:  # fontTools raises many types for a font it cannot subset: the letters use the file
        return None
    working = buffer.getvalue()
    cmap = TTFont(BytesIO(working), lazy=True).getBestCmap()
    if any(parsed.cmap.get(code) != name for code, name in cmap.items()):
        return None  # a character would be drawn with another glyph than the file's
    return working
