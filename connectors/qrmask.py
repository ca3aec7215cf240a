"""segno's choice of a QR code's data mask, reckoned on whole rows and columns instead of module by module.

A QR code's data is XORed with one of eight mask patterns; the encoder scores each (ISO/IEC 18004:2015, 7.8.3:
runs, 2×2 blocks, finder-like patterns, dark share) and keeps the lowest. segno does this in Python module by
module, most of the time a GiroCode takes (~5 ms). `best_mask` gives the same mask from a code segno made with mask
0, reproducing segno's evaluation (segno/encoder.py, `find_and_apply_best_mask` and `mask_scores`) exactly; segno
then makes the code with that mask, which skips its own evaluation. tests/connectors/test_qrmask.py checks the choice
against segno's own for many payloads.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

from segno import encoder as segno_encoder

FINDER_LIKE = bytes((1, 0, 1, 1, 1, 0, 1))  # dark:light:dark:dark:dark:light:dark (N3)
BITS = bytes.maketrans(b"\x00\x01", b"01")
ENCODER: Any = segno_encoder  # segno's encoder functions carry no annotations
SEPARATOR = b"\x02"  # between lines: no run or pattern crosses it


@functools.lru_cache(maxsize=8)
def _layout(width: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Per row, as integers over the row's bytes: where the data is (0xFF), the function patterns as segno has them
    while it evaluates (format and version areas still 0), and each mask pattern's modules inside the data (0x01)."""
    functions = ENCODER.make_matrix(width, width)
    ENCODER.add_finder_patterns(functions, width, width)
    ENCODER.add_alignment_patterns(functions, width, width)
    marked = [bytearray(row) for row in functions]
    marked[-8][8] = 0x1  # as find_and_apply_best_mask marks it: the dark module is no data
    data = tuple(bytes(0xFF if value > 0x1 else 0 for value in row) for row in marked)
    fixed = tuple(_int(bytes(0 if value > 0x1 else value for value in row)) for row in functions)
    patterns = tuple(
        tuple(_int(bytes(1 if data[i][j] and pattern(i, j) else 0 for j in range(width))) for i in range(width))
        for pattern in ENCODER.get_data_mask_functions(False))
    return tuple(_int(row) for row in data), fixed, patterns


def best_mask(matrix: tuple[bytearray, ...] | list[bytearray]) -> int | None:
    """The mask segno would choose for the QR code (not Micro QR) whose final `matrix` was made with mask 0; None
    when the matrix is not one this reckoning knows (segno should then choose)."""
    width = len(matrix)
    if width < 21 or any(len(row) != width for row in matrix):
        return None
    if any(bytes(row).strip(b"\x00\x01") for row in matrix):
        return None  # a module neither light nor dark
    data, fixed, patterns = _layout(width)
    mask_0 = patterns[0]
    # The matrix as segno evaluates it: the data unmasked, format and version areas as before they are written;
    # and its columns, each mask's columns from its rows.
    unmasked = [((_int(row) ^ mask_0[i]) & data[i]) | fixed[i] for i, row in enumerate(matrix)]
    unmasked_columns = _columns(unmasked, width)
    best, best_score = None, 0
    for number, pattern in enumerate(patterns):
        rows = [(row ^ pattern[i]).to_bytes(width, "big") for i, row in enumerate(unmasked)]
        columns = [(column ^ pattern_column).to_bytes(width, "big")
                   for column, pattern_column in zip(unmasked_columns, _pattern_columns(width)[number], strict=True)]
        score = _score(rows, columns, width)
        if best is None or score < best_score:  # the first of equal scores, as segno
            best, best_score = number, score
    return best


@functools.lru_cache(maxsize=8)
def _pattern_columns(width: int) -> tuple[list[int], ...]:
    return tuple(_columns(list(rows), width) for rows in _layout(width)[2])


def _columns(rows: list[int], width: int) -> list[int]:
    """The columns of a matrix given as row integers over bytes, the same way."""
    return [_int(bytes(column)) for column in zip(*(row.to_bytes(width, "big") for row in rows), strict=True)]


def _int(row: bytes | bytearray) -> int:
    return int.from_bytes(row, "big")


def _score(rows: list[bytes], columns: list[bytes], width: int) -> int:
    """segno's penalty score (N1 + N2 + N3 + N4) of a matrix of 0 and 1."""
    bits = [int(row.translate(BITS), 2) for row in rows]
    full, pairs = (1 << width) - 1, (1 << (width - 1)) - 1
    # N1: a run of n >= 5 modules scores n - 2. Where neighbours are alike (a run of n gives n - 1 such pairs),
    # four alike pairs in a row mark a run of five or more: it scores (its marks) + 2.
    n1 = 0
    for row in bits:
        alike = ~(row ^ (row >> 1)) & pairs
        marks = alike & (alike >> 1) & (alike >> 2) & (alike >> 3)
        n1 += marks.bit_count() + 2 * (marks & ~(marks >> 1)).bit_count()
    vertical = [~(above ^ below) & full for above, below in itertools.pairwise(bits)]  # alike downwards, per column
    marks_down = [a & b & c & d for a, b, c, d in zip(vertical, vertical[1:], vertical[2:], vertical[3:], strict=False)]
    for marks, below in zip(marks_down, [*marks_down[1:], 0], strict=True):
        n1 += marks.bit_count() + 2 * (marks & ~below).bit_count()
    # N2: 2x2 blocks of one colour, 3 each.
    n2 = 0
    for above, below, same in zip(bits, bits[1:], vertical, strict=False):
        n2 += (~(above ^ (above >> 1)) & ~(below ^ (below >> 1)) & same & (same >> 1) & pairs).bit_count()
    n3 = _finder_like(SEPARATOR.join((*rows, *columns, b"")), width)
    dark = sum(row.bit_count() for row in bits)
    n4 = 10 * int(abs(float(dark) / (width ** 2) * 100 - 50) / 5)
    return n1 + 3 * n2 + n3 + n4


def _finder_like(lines: bytes, size: int) -> int:
    """N3 over all lines: segno/encoder.py, mask_scores.n3_pattern_occurrences, as it is (light areas looked for as
    segno looks), each index taken within its line."""
    count = 0
    stride = size + 1
    index = lines.find(FINDER_LIKE)
    while index != -1:
        start = index - index % stride  # the line's first byte
        at = index - start
        offset = at + 7
        if at in (0, size - 7) or not any(lines[start + max(at - 4, 0):start + min(at, size)]) \
                or not any(lines[start + max(offset, 0):start + min(offset + 4, size)]):
            count += 40
        else:
            offset = at + 4
        index = lines.find(FINDER_LIKE, start + offset)
    return count
