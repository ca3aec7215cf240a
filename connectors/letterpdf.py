"""Drawing the letter with fpdf2: the DIN 5008 layout of a `LetterContent` (connectors/letter.py) on the sheet of
connectors/lettersheet.py."""

from __future__ import annotations

import functools
from io import BytesIO
from pathlib import Path

from fpdf.enums import XPos, YPos

from mahnwerk.connectors.girocode import qr_png
from mahnwerk.connectors.letter import LetterContent
from mahnwerk.connectors.letterembed import LetterOutput
from mahnwerk.connectors.lettersheet import (
    AMOUNT_W,
    BANK_LABEL_W,
    INFO_X,
    INFO_Y,
    LEFT,
    LINE,
    PAD,
    QR_SIZE,
    RIGHT,
    SUBJECT_Y,
    WINDOW_H,
    WINDOW_INSET,
    WINDOW_W,
    WINDOW_X,
    WINDOW_Y,
    Sheet,
    close_fonts,
)

_last_total = [0]  # the page count of the last letter of several pages drawn in this process


def render(content: LetterContent, font: Path | None, *, reuse_fonts: bool = True) -> bytes:
    """The letter as PDF bytes (content already checked). `reuse_fonts` False draws it as before issue 17, for
    comparisons: the font file parsed for this letter alone, a letter of several pages always drawn twice (the
    same PDF, slower)."""
    # Page numbers ("2/3") need the total, which only the drawing tells; they change nothing else on the page. So
    # the letter is drawn with the total of the letter before (letters of a run tend to be alike) and drawn again
    # only when its own total differs. A one-page letter prints no number, whatever the guess.
    guess = _last_total[0] if reuse_fonts else 0
    sheet = _draw(content, font, total_pages=guess, reuse_fonts=reuse_fonts)
    if sheet.pages_count > 1 and sheet.pages_count != guess:
        close_fonts(sheet)
        sheet = _draw(content, font, total_pages=sheet.pages_count, reuse_fonts=reuse_fonts)
    if reuse_fonts and sheet.pages_count > 1:
        _last_total[0] = sheet.pages_count
    try:
        return bytes(sheet.output(output_producer_class=LetterOutput))  # the faces' subsets (letterembed.py)
    finally:
        close_fonts(sheet)


@functools.lru_cache(maxsize=4)
def _qr_png(payload: str) -> bytes:
    """The GiroCode's image; a letter of several pages is drawn twice (page numbers need the total)."""
    return qr_png(payload)


def _draw(content: LetterContent, font: Path | None, *, total_pages: int, reuse_fonts: bool) -> Sheet:
    sheet = Sheet(font, footer=content.footer, total_pages=total_pages, reuse_fonts=reuse_fonts)
    sheet.set_title(content.title)  # metadata is UTF-16: any character will do
    sheet.set_lang(content.language)
    sheet.set_creator("Mahnwerk")
    try:
        sheet.add_page()
        for part in (_address, _info, _text, _table, _payment, _closing):
            part(sheet, content)
    except BaseException:
        close_fonts(sheet)
        raise
    return sheet


def _address(sheet: Sheet, content: LetterContent) -> None:
    x, width = WINDOW_X + WINDOW_INSET, WINDOW_W - 2 * WINDOW_INSET
    sheet.use(7)
    sheet.set_xy(x, WINDOW_Y)
    sheet.cell(width, 5, sheet.fit(content.sender_line, width, "sender_line"), align="L")
    for number, line in enumerate(content.recipient, start=1):
        sheet.use(10)
        sheet.set_xy(x, WINDOW_Y + 6 + (number - 1) * 4.5)
        sheet.cell(width, 4.5, sheet.fit(line, width, f"recipient line {number}", min_size=7), align="L")


def _info(sheet: Sheet, content: LetterContent) -> None:
    width = RIGHT - INFO_X
    sheet.set_y(INFO_Y)
    for line in content.sender_block:
        sheet.use(8.5)
        sheet.set_x(INFO_X)
        sheet.cell(width, 4, sheet.fit(line, width, "sender_block"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    sheet.use(10)
    sheet.set_xy(INFO_X, max(sheet.get_y() + 4, WINDOW_Y + WINDOW_H - 5))
    sheet.cell(width, LINE, sheet.fit(content.place_date, width, "place_date"), align="R")


def _text(sheet: Sheet, content: LetterContent) -> None:
    sheet.set_y(max(SUBJECT_Y, sheet.get_y() + 2 * LINE))
    sheet.use(10, bold=True)
    sheet.lines(LEFT, RIGHT - LEFT, content.subject)
    sheet.use(10)
    for paragraph in content.body:
        sheet.ln(LINE)
        sheet.lines(LEFT, RIGHT - LEFT, paragraph)


def _table(sheet: Sheet, content: LetterContent) -> None:
    label_w = RIGHT - LEFT - AMOUNT_W
    sheet.use(10)
    height = 2 * LINE + sum(sheet.height_of(label_w, label) for label, _ in content.table)
    height += 1.5 + LINE / 2 + sheet.height_of(RIGHT - LEFT, content.pay_by)
    sheet.ln(LINE)
    # The statement and the payment box go together: the account to pay to never stands alone on a page.
    sheet.payment_height = _payment_height(sheet, content)  # _payment draws the box this high
    sheet.keep_together(height + LINE / 2 + sheet.payment_height)
    sheet.use(10, bold=True)
    sheet.lines(LEFT, RIGHT - LEFT, content.table_title)
    *items, total = content.table
    for label, amount in items:
        sheet.use(10)
        _row(sheet, label, amount, label_w)
    sheet.line(LEFT, sheet.get_y() + 0.5, RIGHT, sheet.get_y() + 0.5)
    sheet.ln(1)
    sheet.use(10, bold=True)
    _row(sheet, *total, label_w)
    sheet.ln(LINE / 2)
    sheet.lines(LEFT, RIGHT - LEFT, content.pay_by)


def _row(sheet: Sheet, label: str, amount: str, label_w: float) -> None:
    top = sheet.get_y()
    bottom = sheet.lines(LEFT, label_w, label)
    sheet.set_xy(LEFT + label_w, top)
    sheet.cell(AMOUNT_W, LINE, sheet.fit(amount, AMOUNT_W, "table amount"), align="R")
    sheet.set_y(bottom)


def _payment_columns(content: LetterContent) -> tuple[float, float, float]:
    """(x of the QR code, x of the values, width of the values) in the payment box."""
    qr_x = RIGHT - PAD - QR_SIZE
    value_x = LEFT + PAD + BANK_LABEL_W
    return qr_x, value_x, (qr_x - PAD if content.qr_payload else RIGHT - PAD) - value_x


def _payment_height(sheet: Sheet, content: LetterContent) -> float:
    """The payment box's height: the bank rows with the QR caption under them, beside the QR code."""
    _, _, value_w = _payment_columns(content)
    sheet.use(7)
    caption = 1 + sheet.height_of(value_w + BANK_LABEL_W, content.qr_caption, height=3) if content.qr_payload else 0
    sheet.use(10)
    rows = sheet.height_of(value_w + BANK_LABEL_W, content.bank_title)
    rows += sum(sheet.height_of(value_w, value) for _, value in content.bank)
    return 2 * PAD + max(rows + caption, QR_SIZE if content.qr_payload else 0)


def _payment(sheet: Sheet, content: LetterContent) -> None:
    qr_x, value_x, value_w = _payment_columns(content)
    height = sheet.payment_height
    sheet.ln(LINE / 2)  # the box's frame sets it apart
    sheet.keep_together(height)
    top = sheet.get_y()
    sheet.rect(LEFT, top, RIGHT - LEFT, height)
    sheet.set_y(top + PAD)
    sheet.use(10, bold=True)
    sheet.lines(LEFT + PAD, value_w + BANK_LABEL_W, content.bank_title)
    for label, value in content.bank:
        sheet.use(10)
        row_top = sheet.get_y()
        sheet.set_x(LEFT + PAD)
        sheet.cell(BANK_LABEL_W, LINE, sheet.fit(label, BANK_LABEL_W - 1, "bank label"))
        sheet.use(10)  # fit() may have shrunk the type for a long label
        sheet.set_y(row_top)
        sheet.set_y(sheet.lines(value_x, value_w, value))
    if content.qr_payload:
        sheet.image(BytesIO(_qr_png(content.qr_payload)), x=qr_x, y=top + PAD, w=QR_SIZE, h=QR_SIZE)
        sheet.use(7)
        sheet.set_y(sheet.get_y() + 1)
        sheet.lines(LEFT + PAD, value_w + BANK_LABEL_W, content.qr_caption, height=3)
    sheet.set_y(top + height)


def _closing(sheet: Sheet, content: LetterContent) -> None:
    sheet.use(10)
    sheet.ln(LINE)
    sheet.keep_together(LINE * len(content.closing))  # the greeting and the signature stay together
    for line in content.closing:
        sheet.lines(LEFT, RIGHT - LEFT, line)
