"""One door for bank statement files: `read_statement()` tells camt.052/053/054 (XML) from MT940 by their content
and streams the incoming payments of either, counting as it goes in a `StatementSummary`."""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from os import PathLike, fspath

from mahnwerk.connectors.camt import identify, read_camt
from mahnwerk.connectors.mt940_statement import looks_like_mt940, read_mt940
from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem
from mahnwerk.errors import StatementError

_HEAD = 1 << 16
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass
class StatementSummary:
    """What one file held, filled in while it is read: credits yielded (and their sum per currency), entries skipped
    by reason ("debit", "not booked", "reversal"), entries that could not be read."""

    source: str = ""  # "camt.053", "camt.052", "camt.054", "mt940"
    credits: int = 0
    problems: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    totals: dict[str, Decimal] = field(default_factory=dict)

    def __str__(self) -> str:
        sums = ", ".join(f"{currency} {total:.2f}" for currency, total in sorted(self.totals.items()))
        skipped = ", ".join(f"{reason} {n}" for reason, n in sorted(self.skipped.items()))
        return (f"{self.source}: {self.credits} credits" + (f" ({sums})" if sums else "")
                + f", {sum(self.skipped.values())} skipped" + (f" ({skipped})" if skipped else "")
                + f", {self.problems} unreadable")


def detect_format(path: str | PathLike[str]) -> str:
    """"camt.053", "camt.052", "camt.054" or "mt940", from the file's content (not its name).
    Raises StatementError when it is neither."""
    name = fspath(path)
    try:
        with open(name, "rb") as file:
            head = file.read(_HEAD)
    except OSError as error:
        raise StatementError(f"cannot be read: {error.strerror or error}", path=name) from None
    if head.startswith(_BOMS[1:]) or head.removeprefix(_BOMS[0]).lstrip().startswith(b"<"):
        return identify(name)[0]
    if looks_like_mt940(head.decode("latin-1")):  # tags are ASCII: any 8-bit reading finds them
        return "mt940"
    raise StatementError("not a bank statement: neither camt XML nor MT940", path=name)


def read_statement(path: str | PathLike[str], summary: StatementSummary | None = None
                   ) -> Iterator[IncomingPayment | SourceProblem]:
    """Yield the incoming payments of a camt or MT940 file, and a SourceProblem for each entry that cannot be read,
    in file order. `summary`, when given, is filled in as the records go by (complete once they are all read).
    Raises StatementError before the first record when the file is of no known format."""
    summary = summary if summary is not None else StatementSummary()
    summary.source = detect_format(path)
    if summary.source == "mt940":
        records = read_mt940(path, skipped=summary.skipped)
    else:
        records = read_camt(path, skipped=summary.skipped)
    return _counted(records, summary)


def _counted(records: Iterator[IncomingPayment | SourceProblem], summary: StatementSummary
             ) -> Iterator[IncomingPayment | SourceProblem]:
    for record in records:
        if isinstance(record, IncomingPayment):
            summary.credits += 1
            summary.totals[record.currency] = summary.totals.get(record.currency, Decimal(0)) + record.amount
        else:
            summary.problems += 1
        yield record
