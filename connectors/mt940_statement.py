"""MT940 customer statements as German banks send them, as a stream of incoming payments.

Why the `mt-940` library (wolph/mt940, import name `mt940`): it is maintained (5.1 in 2026), widely used, and its
tag grammar gets the :61: statement line right with all its optional parts (entry date and its year across new
year, C/D/RC/RD marks, funds code, customer and `//` bank reference, supplementary details, 30 February value dates).
We use its tag parsers, not `mt940.parse()`: this module reads the file line by line and hands each tag to the
library, so a malformed line becomes a SourceProblem with its line number while the rest goes on (`mt940.parse()`
stops at the first bad line and knows no line numbers), and the file is never held in memory whole.

The :86: field is read here, not by the library's processor, which joins the purpose lines without a trace of where
the bank cut them. German banks (DK structure) write a 3-digit GVC and `?`-subfields: ?00 booking text, ?10
primanota, ?20-?29 and ?60-?63 purpose lines of 27 characters cut at fixed width (inside words and references),
with the SEPA keywords EREF+ (end-to-end id), KREF+, MREF+, CRED+, SVWZ+ (the payer's text), ABWA+ (ultimate
payer); ?30 the payer's BIC, ?31 IBAN, ?32/?33 name. `remittance` is the SVWZ+ part with the bank's lines kept
("\\n" between them) so a matcher can join a cut reference again; without SVWZ+ it is the whole purpose text.

Marks: C is a credit. D is a debit (skipped). RC, the reversal of a credit, takes money out (skipped as a reversal).
RD, the reversal of a debit, brings money in, but it is our own transfer or direct debit coming back, not a customer
paying: skipped as a reversal too, the same as a camt CRDT entry with RvslInd=true, which is what RD is in camt.

Amounts follow SWIFT's 15d exactly (`parse_amount()`): digits, one decimal comma that must be there, no more decimals
than the currency has, 15 characters at most with the comma. The library's grammar reads `99999999999999,99` as
99999999999999 and `1e3` as 1 (it stops at the first character that is not a digit or comma), so the amount is
taken from the line here and anything outside the grammar refuses the entry instead of being misread.

Charset: UTF-8 when the whole file is valid UTF-8, else CP850 or ISO-8859-1, whichever makes more German letters of
the bytes above 127 (German banks still write both).
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from os import PathLike, fspath
from typing import Any

import mt940
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from mahnwerk.connectors.camt import DEBIT, REVERSAL
from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem, Twins, fallback_ref
from mahnwerk.errors import StatementError

SOURCE = "mt940"
_TAG = re.compile(r":(\d\d[A-Z]?|NS):")
_OPENING = ("60F", "60M", "60")
_ENDS_ENTRY = {"20", "61", "62F", "62M", "62", "64", "65", "-"}  # the tags after a :61: and its :86:
_KEYWORD = re.compile(r"(EREF|KREF|MREF|CRED|SVWZ|ABWA|ABWE|DEBT|IBAN|BIC |PURP|MDAT|SQTP|ORCR|ORMR|DDAT|COAM|OAMT)\+")
# A DK structured field: GVC, then "?" and two digits; another separator than "?" counts when it comes twice.
_SUBFIELDS = re.compile(r"(\d{3})(?:(\?)\d\d|([^\w\s])\d\d.*?\3\d\d)", re.DOTALL)
_MT940 = re.compile(r"^:(20|25|60F|61):", re.MULTILINE)
_SUPPLEMENT = re.compile(r"/(OCMT|CHGS)/([A-Z]{3})([^/]*)/")  # SWIFT codes in the :61: supplementary details
# Where a :61: line's amount is: after the dates, the mark and the funds code, up to the transaction type (1!a3!c,
# S, N or F first). Marks in lower case are read, as the library does; a funds code is a capital letter before a
# digit or comma ("CR119,00"), so that "1e3" is an amount refused, not a funds code "e" and 3.
_LINE_AMOUNT = re.compile(r"\d{6}(?:\d\d|\s\s){0,2}(?i:R?[DC])(?:[A-Z](?![A-Za-z]))?[\n ]?([^SNFsnf\n]*)")
_BALANCE = re.compile(r"[DC]\d{6}([A-Z]{3})([^\n]*)")
_AMOUNT = re.compile(r"([0-9]+),([0-9]*)")
_MAX_AMOUNT_LENGTH = 15  # SWIFT 15d: the comma counts
# ISO 4217 minor units where they are not 2.
_MINOR_UNITS = {**dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                 "VND", "VUV", "XAF", "XOF", "XPF"), 0),
                **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3), "CLF": 4, "UYW": 4}
_BLZ_ACCOUNT = re.compile(r"(\d{8})/(\d{1,10})(?:[A-Z]{3})?")
_PURPOSE_WIDTH = 27
# German letters (äöüÄÖÜß) in each legacy charset, to tell the two apart.
_CP850_LETTERS = bytes((0x84, 0x94, 0x81, 0x8E, 0x99, 0x9A, 0xE1))
_LATIN1_LETTERS = bytes((0xE4, 0xF6, 0xFC, 0xC4, 0xD6, 0xDC, 0xDF))


def detect_encoding(path: str | PathLike[str]) -> str:
    """"utf-8" (or "utf-8-sig" with a BOM), else "cp850" or "iso-8859-1"; reads the file once in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, bom, cp850, latin1 = True, False, 0, 0
    with open(path, "rb") as file:
        first = True
        while chunk := file.read(1 << 20):
            if first:
                bom, first = chunk.startswith(codecs.BOM_UTF8), False
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if not utf8:
                cp850 += sum(chunk.count(b) for b in _CP850_LETTERS)
                latin1 += sum(chunk.count(b) for b in _LATIN1_LETTERS)
    if utf8:
        try:
            decoder.decode(b"", final=True)
            return "utf-8-sig" if bom else "utf-8"
        except UnicodeDecodeError:
            pass
    return "cp850" if cp850 > latin1 else "iso-8859-1"


def parse_amount(text: str, currency: str) -> Decimal:
    """An MT940 amount (SWIFT 15d) as a Decimal, exactly: "119,00" -> 119.00, "5," -> 5. Raises ValueError, naming
    the text, for anything else: no comma, two commas, a dot, an exponent, a sign, more decimals than the currency
    has, more than 15 characters."""
    match = _AMOUNT.fullmatch(text)
    places = _MINOR_UNITS.get(currency, 2)
    if match is None or len(text) > _MAX_AMOUNT_LENGTH or len(match[2]) > places:
        raise ValueError(f"the amount {text[:20]!r} is not an MT940 amount (digits and one decimal comma, at most "
                         f"{places} decimals for {currency or 'its currency'}, at most 15 characters)")
    return Decimal(f"{match[1]}.{match[2]}" if match[2] else match[1])


def looks_like_mt940(head: str) -> bool:
    """Whether the start of a file (some KB of text) has MT940 tags at the start of a line."""
    return _MT940.search(head) is not None


def read_mt940(path: str | PathLike[str], *, skipped: Counter[str] | None = None, encoding: str | None = None
               ) -> Iterator[IncomingPayment | SourceProblem]:
    """Yield one IncomingPayment per credit (mark C) and one SourceProblem per :61: line that cannot be read, in file
    order; `skipped` counts debits and reversals. `encoding` overrides the detection. Raises StatementError (before
    the first record) when the file cannot be read or does not start like MT940."""
    name = fspath(path)
    try:
        charset = encoding or detect_encoding(name)
        with open(name, encoding=charset, errors="replace") as file:
            head = file.read(1 << 16)
    except OSError as error:
        raise StatementError(f"cannot be read: {error.strerror or error}", path=name) from None
    if not looks_like_mt940(head):
        raise StatementError("not an MT940 file: no :20:, :25:, :60F: or :61: line at its start", path=name)
    return _Reader(name, charset, skipped if skipped is not None else Counter()).records()


@dataclass
class _Statement:
    ref: str
    account: str = ""
    transactions: mt940.models.Transactions = field(
        default_factory=lambda: mt940.models.Transactions(options=mt940.Options.all()))


@dataclass
class _Pending:
    """A :61: line and the :86: that follows it."""

    line: int
    value: list[str]
    details: list[str] | None = None


class _Reader:
    def __init__(self, path: str, encoding: str, skipped: Counter[str]) -> None:
        self.path, self.encoding, self.skipped = path, encoding, skipped
        self.fallbacks: Counter[str] = Counter()
        self.twins = Twins()
        self.line_tag = mt940.tags.Tags.STATEMENT.value

    def records(self) -> Iterator[IncomingPayment | SourceProblem]:
        statement: _Statement | None = None
        pending: _Pending | None = None
        with open(self.path, encoding=self.encoding, errors="replace") as file:
            for tag, value, line in _tags(file):
                if pending is not None and tag in _ENDS_ENTRY:
                    yield from self._entry(statement, pending)
                    pending = None
                if tag == "20":
                    statement = _Statement(" ".join(value).strip() or "(no :20:)")
                elif tag == "61":
                    statement = statement or _Statement("(no :20:)")
                    pending = _Pending(line, value)
                elif tag == "86" and pending is not None and pending.details is None:
                    pending.details = value
                elif tag == "25" and statement is not None:
                    statement.account = _account(" ".join(value))
                elif tag in _OPENING and statement is not None:
                    problem = self._opening_balance(statement, tag, value, line)
                    if problem:
                        yield problem
            if pending is not None:
                yield from self._entry(statement, pending)

    def _opening_balance(self, statement: _Statement, tag_id: str, value: list[str], line: int
                         ) -> SourceProblem | None:
        """The balance gives the currency of the statement's lines."""
        tag = mt940.tags.TAG_BY_ID.get(tag_id) or mt940.tags.TAG_BY_ID[int(tag_id)]
        text = "\n".join(value).strip()
        try:
            if not tag.re.match(text):  # checked first: the library logs a failed match with the raw line
                raise ValueError("it does not fit the grammar")
            if balance := _BALANCE.match(text):  # the library would misread an amount outside the grammar
                parse_amount(balance[2].strip(), balance[1])
            statement.transactions.data.update(tag(statement.transactions, tag.parse(statement.transactions, text)))
            return None
        except (RuntimeError, ValueError, ArithmeticError) as error:
            return SourceProblem(f"statement {statement.ref} line {line}",
                                 f"cannot read the opening balance :{tag_id}: ({error}); its lines have no currency")

    def _entry(self, statement: _Statement | None, pending: _Pending) -> Iterator[IncomingPayment | SourceProblem]:
        assert statement is not None  # a :61: always opens one
        position = f"statement {statement.ref} line {pending.line}"
        try:
            line, credit = self._statement_line(statement, pending)
        except _Malformed as error:
            yield SourceProblem(position, str(error))
            return
        mark = str(line["status"]).upper()
        if mark == "D":
            self.skipped[DEBIT] += 1
            return
        if mark in ("RC", "RD"):
            self.skipped[REVERSAL] += 1
            return
        details = _details(pending.details or [])
        currency = line["amount"].currency
        booked = line.get("entry_date") or line["date"]
        booked_on = date(booked.year, booked.month, booked.day)
        charges, original, original_currency = Decimal(0), None, ""
        for code, supplement_currency, number in _SUPPLEMENT.findall(line.get("extra_details") or ""):
            try:
                value = parse_amount(number, supplement_currency)
            except ValueError as error:
                yield SourceProblem(position, f"cannot read the /{code}/ supplement: {error}")
                return
            if code == "CHGS" and supplement_currency == currency:
                charges += value
            elif code == "OCMT" and supplement_currency != currency:
                original, original_currency = value, supplement_currency
        customer_ref = (line.get("customer_reference") or "").strip()
        end_to_end = details.end_to_end or ("" if customer_ref.upper() == "NONREF" else customer_ref)
        bank_ref = (line.get("bank_reference") or "").strip()
        ref = bank_ref if bank_ref and bank_ref.upper() != "NONREF" else self._fallback(
            fallback_ref(statement.account, booked_on, credit, currency, details.remittance))
        yield self.twins.number(IncomingPayment(
            source=SOURCE, ref=ref, booked_on=booked_on, amount=credit, currency=currency,
            account=statement.account, payer_name=details.payer_name, payer_account=details.payer_account,
            remittance=details.remittance, end_to_end_id="" if end_to_end.upper() == "NOTPROVIDED" else end_to_end,
            charges=charges, original_amount=original, original_currency=original_currency, position=position))

    def _statement_line(self, statement: _Statement, pending: _Pending) -> tuple[dict[str, Any], Decimal]:
        """The :61: line through the library's grammar (and its 30-February fix-up), and its amount (positive), read
        here by SWIFT's grammar: the library's would misread what lies outside it."""
        tag, transactions = self.line_tag, statement.transactions
        text = "\n".join(v.rstrip() for v in pending.value).strip()
        currency = transactions.currency  # of the opening balance
        if not currency:
            raise _Malformed("no currency: no opening balance (:60F:) before this line")
        found = _LINE_AMOUNT.match(text)
        try:  # before the library's grammar, which would refuse some bad amounts without naming them
            value = parse_amount(found[1] if found else "", currency)
        except ValueError as error:
            raise _Malformed(f"cannot read the :61: statement line: {error}") from None
        if not tag.re.match(text):  # checked first: the library logs a failed match with the raw line
            raise _Malformed("cannot read the :61: statement line: it does not fit the MT940 grammar")
        try:
            data = tag.parse(transactions, text)
            for processor in transactions.processors.get(f"pre_{tag.slug}", []):
                data = processor(transactions, tag, data)
            line = tag(transactions, data)
        except ValueError as error:
            raise _Malformed(f"cannot read the :61: statement line: bad date ({error})") from None
        except (RuntimeError, ArithmeticError):
            raise _Malformed("cannot read the :61: statement line: bad amount") from None
        if not isinstance(line["amount"], mt940.models.Amount):  # what the :61: grammar makes of an amount
            raise _Malformed("cannot read the :61: statement line: bad amount")
        if value == 0:
            raise _Malformed("the amount is zero")
        return line, value

    def _fallback(self, ref: str) -> str:
        """The n-th identical line without a bank reference gets "/n": two equal transfers on one day stay two."""
        self.fallbacks[ref] += 1
        seen = self.fallbacks[ref]
        return ref if seen == 1 else f"{ref}/{seen}"


class _Malformed(Exception):
    """A statement line cannot be read; the message says why, without customer data."""


def _tags(lines: Iterable[str]) -> Iterator[tuple[str, list[str], int]]:
    """(tag, its lines, line number of the tag) for every tag; "-" for the end of a statement. Lines before the
    first tag (a SWIFT header block) and after a statement's end are ignored."""
    tag, start = "", 0
    value: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        match = _TAG.match(line)
        if match:
            if tag:
                yield tag, value, start
            tag, value, start = match.group(1), [line[match.end():]], number
        elif line.strip() == "-" or line.startswith("-}"):
            if tag:
                yield tag, value, start
            yield "-", [], number
            tag = ""
        elif tag:
            value.append(line)
    if tag:
        yield tag, value, start


def _account(text: str) -> str:
    """The IBAN of a :25: account: as written, or made from German "BLZ/Kontonummer" so that it equals the one in
    camt statements of the same account."""
    value = text.replace(" ", "").upper()
    if match := _BLZ_ACCOUNT.fullmatch(value):
        try:
            return IBAN.generate("DE", bank_code=match[1], account_code=match[2]).compact
        except (SchwiftyException, ValueError):
            return value
    if len(value) > 5 and value[-3:].isalpha() and value[:2].isalpha():  # IBAN followed by its currency
        try:
            return IBAN(value[:-3]).compact
        except (SchwiftyException, ValueError):
            pass
    return value


@dataclass(frozen=True, slots=True)
class _Details:
    remittance: str = ""
    end_to_end: str = ""
    payer_name: str = ""
    payer_account: str = ""


def _details(lines: list[str]) -> _Details:
    """The :86: field: DK `?`-subfields with SEPA keywords, or free text."""
    text = "".join(line.rstrip("\r\n") for line in lines)  # subfields carry their own boundaries
    if not (head := _SUBFIELDS.match(text)):
        return _Details(remittance="\n".join(s for line in lines if (s := line.strip())))
    parts = re.split(re.escape(head[2] or head[3]) + r"(\d\d)", text[3:])
    fields = list(zip(parts[1::2], parts[2::2], strict=True))  # split with one group: text, (key, value)*
    purpose = [value for key, value in fields if key[0] == "2" or key in ("60", "61", "62", "63")]
    single = dict(fields)  # ?30..?33 appear once
    name_1, name_2 = single.get("32", ""), single.get("33", "")
    # ?32 full to the last character: the name goes on in ?33 mid-word; shorter: ?33 is a further part.
    name = (name_1 + name_2 if len(name_1) >= _PURPOSE_WIDTH else f"{name_1.strip()} {name_2}").strip()
    segments: list[tuple[str, list[str]]] = [("", [])]
    for line in purpose:
        if keyword := _KEYWORD.match(line):
            segments.append((keyword[1], [line[keyword.end():]]))
        else:
            segments[-1][1].append(line)
    by_keyword: dict[str, list[str]] = {}
    for word, values in segments:
        by_keyword.setdefault(word, []).extend(values)
    if "SVWZ" in by_keyword:
        remittance = "\n".join(s for line in by_keyword["SVWZ"] if (s := line.strip()))
    else:
        remittance = "\n".join(s for line in purpose if (s := line.strip()))
    # Identifiers are cut at fixed width as well: their pieces join without a gap.
    end_to_end = "".join(by_keyword.get("EREF", [])).strip()
    payer = name or " ".join(s for line in by_keyword.get("ABWA", []) if (s := line.strip()))
    return _Details(remittance=remittance, end_to_end=end_to_end, payer_name=payer,
                    payer_account=single.get("31", "").replace(" ", "").upper())
