"""The letter's TrueType fonts embedded in its PDF, each font subset made once per set of glyphs.

fpdf2 subsets every font of every document with fontTools when it writes the PDF (fpdf/output.py,
`OutputProducer._add_fonts`): some 8 ms per font, whatever its size, and the same bytes whenever the same glyphs are
used (the subset depends on the set of glyph names alone). Letters of a run use much the same glyphs, so
`LetterOutput` does what fpdf2 does for the letter's fonts (the TrueType branch of `_add_fonts` in fpdf2 2.8, object
for object) and takes the subset from `Face.subset` (connectors/letterfonts.py), which keeps the last ones made.
tests/connectors/test_letterfonts.py compares whole letters with fpdf2's own output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fpdf.fonts import SubsetMap
from fpdf.output import (
    LOGGER,
    CIDSystemInfo,
    OutputProducer,
    PDFArray,
    PDFContentStream,
    PDFFont,
    PDFFontStream,
    PDFType3Font,
    _build_cmap_blocks,
    _tt_font_widths,
)
from fpdf.syntax import Name

from mahnwerk.connectors.letterfonts import LetterFont

if TYPE_CHECKING:
    from mahnwerk.connectors.letterfonts import Face

CID_CODES = 0x10000  # the CIDToGIDMap has two bytes for every 16-bit code


class LetterOutput(OutputProducer):
    """fpdf2's PDF writer, embedding the fonts of a letter drawn with attached faces (`sheet.faces`) from the faces'
    subsets; any other document is written by fpdf2 alone."""

    def _add_fonts(self, image_objects_per_index: dict[int, Any], gfxstate_objs_per_name: dict[str, Any],
                   pattern_objs_per_name: dict[str, Any]) -> dict[int, PDFFont | PDFType3Font]:
        faces: dict[str, Face] = getattr(self.fpdf, "faces", {})
        fonts = sorted(self.fpdf.fonts.values(), key=lambda font: font.i)
        # Letters set no PDF/A compliance (fpdf2 would add a CIDSet) and have no colour fonts.
        if not fonts or not all(isinstance(font, LetterFont) and font.fontkey in faces for font in fonts):
            return super()._add_fonts(image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name)
        objects: dict[int, PDFFont | PDFType3Font] = {}
        for font in fonts:
            assert isinstance(font, LetterFont)  # checked above
            objects[font.i] = self._add_letter_font(font, faces[font.fontkey])
        return objects

    def _add_letter_font(self, font: LetterFont, face: Face) -> PDFFont:
        # fpdf/output.py, OutputProducer._add_fonts, the TrueType font that is not CFF: the same objects in the same
        # order, from the same values.
        fontname = f"MPDFAA+{font.name}"
        glyph_names = font.subset.get_all_glyph_names()
        if font.missing_glyphs:
            shown = ", ".join(f"'{chr(x)}' ({chr(x).encode('unicode-escape').decode()})"
                              for x in font.missing_glyphs[:10])
            if len(font.missing_glyphs) > 10:
                shown += f", ... (and {len(font.missing_glyphs) - 10} others)"
            LOGGER.warning("Font %s is missing the following glyphs: %s", fontname, shown)
        subset = face.subset(glyph_names)
        code_to_glyph = {code: subset.glyph_ids[glyph.glyph_name] for glyph, code in font.subset.items()
                         if glyph is not None}

        composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        cid_font = PDFFont(subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width,
                           w=_tt_font_widths(font))
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])

        to_unicode = PDFContentStream(_to_unicode_cmap(font).encode("latin-1"))
        self._add_pdf_obj(to_unicode, "fonts")
        composite.to_unicode = to_unicode

        system_info = CIDSystemInfo()
        self._add_pdf_obj(system_info, "fonts")
        cid_font.c_i_d_system_info = system_info

        descriptor = font.desc
        descriptor.font_name = Name(fontname)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor

        cid_to_gid = bytearray(2 * CID_CODES)  # fpdf2 joins a list of 131,072 one-character strings: same bytes
        for code, glyph_id in code_to_glyph.items():
            cid_to_gid[2 * code:2 * code + 2] = glyph_id.to_bytes(2, "big")
        cid_to_gid_map = PDFContentStream(contents=bytes(cid_to_gid), compress=True)
        self._add_pdf_obj(cid_to_gid_map, "fonts")
        cid_font.c_i_d_to_g_i_d_map = cid_to_gid_map

        font_file = PDFFontStream(contents=subset.data)
        self._add_pdf_obj(font_file, "fonts")
        descriptor.font_file2 = font_file  # type: ignore[attr-defined]  # as fpdf2 sets it

        SubsetMap.pick.cache_clear()  # as fpdf2 does after each font (one cache for all documents)
        font.subset.get_glyph.cache_clear()
        font.close()
        return composite


def _to_unicode_cmap(font: LetterFont) -> str:
    entries = [f"<{code:04X}> <{''.join(_utf16_code(unicode) for unicode in glyph.unicode)}>\n"
               for glyph, code in font.subset.items()
               if glyph is not None and isinstance(glyph.unicode, tuple) and glyph.unicode]
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo\n<</Registry (Adobe)\n"
            "/Ordering (UCS)\n/Supplement 0\n>> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{_build_cmap_blocks(entries, 'bfchar')}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend")


def _utf16_code(unicode: int) -> str:
    if unicode > 0xFFFF:  # a surrogate pair
        return f"{0xD800 | (unicode - 0x10000) >> 10:04X}{0xDC00 | (unicode & 0x3FF):04X}"
    return f"{unicode:04X}"
