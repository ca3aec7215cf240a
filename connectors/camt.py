"""ISO 20022 bank-to-customer messages as a stream of incoming payments: camt.053 (statement, BkToCstmrStmt/Stmt),
camt.052 (intraday report, BkToCstmrAcctRpt/Rpt) and camt.054 (notification, BkToCstmrDbtCdtNtfctn/Ntfctn), versions
.001.02 to .001.08 (the element names used here are the same in all of them; where v08 differs, both are read).

The file is read with lxml's iterparse and every entry is dropped once it is read, so a 100 MB statement streams in
bounded memory. Only booked credits that are not reversals become `IncomingPayment`s; what is skipped is counted by
reason; an entry that cannot be read becomes a `SourceProblem` and the rest of the file goes on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from os import PathLike, fspath

from lxml import etree

from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem, Twins, fallback_ref
from mahnwerk.errors import StatementError

# The message element names the kind of file; its children are the reports that hold the entries.
MESSAGES = {
    "BkToCstmrStmt": ("camt.053", "Stmt"),
    "BkToCstmrAcctRpt": ("camt.052", "Rpt"),
    "BkToCstmrDbtCdtNtfctn": ("camt.054", "Ntfctn"),
}
# Why an entry is not an incoming payment (keys of the `skipped` counter).
DEBIT, NOT_BOOKED, REVERSAL = "debit", "not booked", "reversal"

ZERO = Decimal(0)
_CURRENCY = re.compile(r"[A-Z]{3}")


class _Malformed(Exception):
    """An entry (or one transaction of it) cannot be read; the message says why, without customer data."""


@dataclass(frozen=True, slots=True)
class _Tags:
    """The element names in the file's namespace, built once per file: the parser compares full names."""

    Ntry: str
    Id: str
    Acct: str
    IBAN: str
    Othr: str
    Amt: str
    CdtDbtInd: str
    RvslInd: str
    Sts: str
    Cd: str
    Prtry: str
    BookgDt: str
    ValDt: str
    Dt: str
    DtTm: str
    AcctSvcrRef: str
    NtryDtls: str
    TxDtls: str
    Refs: str
    EndToEndId: str
    AmtDtls: str
    TxAmt: str
    InstdAmt: str
    RltdPties: str
    Dbtr: str
    UltmtDbtr: str
    Pty: str
    Nm: str
    DbtrAcct: str
    RmtInf: str
    Ustrd: str
    Strd: str
    CdtrRefInf: str
    Ref: str
    Chrgs: str
    TtlChrgsAndTaxAmt: str
    Rcrd: str
    ChrgInclInd: str
    Stmt: str
    Rpt: str
    Ntfctn: str

    @classmethod
    def of(cls, namespace: str) -> _Tags:
        prefix = f"{{{namespace}}}" if namespace else ""
        return cls(**{field.name: prefix + field.name for field in fields(cls)})


@dataclass(frozen=True, slots=True)
class _Report:
    id: str
    account: str


def identify(path: str | PathLike[str]) -> tuple[str, str, str]:
    """(source name, report element, namespace) of a camt file, e.g. ("camt.053", "Stmt", "urn:iso:...001.02").
    Raises StatementError when the file is not XML or not a camt.052/053/054 message."""
    name = fspath(path)
    seen = []
    try:
        with open(name, "rb") as file:
            for _, element in etree.iterparse(file, events=("start",), resolve_entities=False, no_network=True,
                                              load_dtd=False):
                qname = etree.QName(element)
                if qname.localname in MESSAGES:
                    source, report = MESSAGES[qname.localname]
                    return source, report, qname.namespace or ""
                seen.append(f"<{qname.localname}>" + (f" ({qname.namespace})" if qname.namespace else ""))
                if len(seen) == 2:  # Document, then the message: anything else is not camt
                    break
    except etree.XMLSyntaxError as error:
        raise StatementError(f"not a camt file: not well-formed XML ({error.msg})", path=name) from None
    except OSError as error:
        raise StatementError(f"cannot be read: {error.strerror or error}", path=name) from None
    found = " in ".join(reversed(seen)) if seen else "no elements"
    raise StatementError(f"not a camt.052/053/054 file: found {found}", path=name)


def read_camt(path: str | PathLike[str], *, skipped: Counter[str] | None = None
              ) -> Iterator[IncomingPayment | SourceProblem]:
    """Yield one IncomingPayment per booked credit (per transaction of a batch booking) and one SourceProblem per
    entry that cannot be read, in file order. `skipped` counts the rest by reason (debit, not booked, reversal).
    Raises StatementError (before the first record) when the file is not XML or not camt.

    A file that breaks off or turns malformed in the middle ends with a SourceProblem at that line: what came before
    was yielded, and importing it again later is safe because refs are stable."""
    source, report, namespace = identify(path)
    return _Reader(fspath(path), source, report, _Tags.of(namespace), skipped if skipped is not None else Counter()
                   ).records()


class _Reader:
    def __init__(self, path: str, source: str, report: str, tags: _Tags, skipped: Counter[str]) -> None:
        self.path, self.source, self.t, self.skipped = path, source, tags, skipped
        self.report_tag: str = getattr(tags, report)
        self.fallbacks: Counter[str] = Counter()  # bank-less refs seen in this file: identical twins stay apart
        self.twins = Twins()

    def records(self) -> Iterator[IncomingPayment | SourceProblem]:
        t = self.t
        report_element, report, number = None, _Report("", ""), 0
        with open(self.path, "rb") as file:
            events = etree.iterparse(file, events=("end",), tag=(t.Ntry, self.report_tag), resolve_entities=False,
                                     no_network=True, load_dtd=False, remove_comments=True)
            try:
                for _, element in events:
                    parent = element.getparent()
                    if parent is None:  # the document element: neither an entry nor a report
                        continue
                    if element.tag == t.Ntry:
                        if parent is not report_element:  # its Id and Acct come before the entries: complete now
                            report_element, report, number = parent, self._report(parent), 0
                        number += 1
                        yield from self._entry(element, report, number)
                    element.clear()
                    # Drop what was read, the reason memory stays bounded; the current one goes with the next.
                    while element.getprevious() is not None:
                        del parent[0]
            except etree.XMLSyntaxError as error:
                yield SourceProblem(f"line {error.lineno}", f"the file is not well-formed XML from here on "
                                    f"({error.msg}); the entries after this point were not read")

    def _report(self, element: etree._Element) -> _Report:
        t = self.t
        kids = _children(element)
        account = ""
        if (acct := kids.get(t.Acct)) is not None and (ident := acct.find(t.Id)) is not None:
            account = _account_id(ident, t)
        return _Report(_text(kids.get(t.Id)) or "(no Id)", account)

    def _entry(self, ntry: etree._Element, report: _Report, number: int
               ) -> Iterator[IncomingPayment | SourceProblem]:
        t = self.t
        position = f"statement {report.id} entry {number} (line {ntry.sourceline})"
        kids = _children(ntry)
        try:
            reason = self._skip_reason(kids)
            if reason:
                self.skipped[reason] += 1
                return
            booked_on = _booking_day(kids, t)
            amount, currency = _money(kids.get(t.Amt), "amount", t)
        except _Malformed as error:
            yield SourceProblem(position, str(error))
            return
        entry_ref = _text(kids.get(t.AcctSvcrRef))
        entry_charges = ntry.findall(t.Chrgs) if t.Chrgs in kids else []
        transactions = [tx for details in ntry.iterchildren(t.NtryDtls) for tx in details.iterchildren(t.TxDtls)]
        if len(transactions) <= 1:
            tx = transactions[0] if transactions else None
            # The entry's amount is what was booked (after charges); a lone TxAmt may be the amount before them.
            yield self._payment(position, report, booked_on, amount, currency, entry_ref, tx, entry_charges, 0)
            return
        for n, tx in enumerate(transactions, 1):
            where = f"statement {report.id} entry {number} transaction {n} (line {tx.sourceline})"
            yield self._payment(where, report, booked_on, None, "", entry_ref, tx, [], n)

    def _skip_reason(self, kids: dict[str, etree._Element]) -> str:
        t = self.t
        indicator = _text(kids.get(t.CdtDbtInd))
        if indicator == "DBIT":
            return DEBIT
        if indicator != "CRDT":
            raise _Malformed(f"credit/debit indicator {indicator[:10]!r} is neither CRDT nor DBIT" if indicator
                             else "no credit/debit indicator (CdtDbtInd)")
        status = kids.get(t.Sts)
        code = _text(status)
        if not code and status is not None:  # v08: <Sts><Cd>BOOK</Cd></Sts>, or a proprietary code
            code = _text(status.find(t.Cd)) or _text(status.find(t.Prtry))
        if not code:
            raise _Malformed("no status (Sts)")
        if code != "BOOK":
            return NOT_BOOKED
        if _text(kids.get(t.RvslInd)).lower() in ("true", "1"):
            return REVERSAL
        return ""

    def _payment(self, position: str, report: _Report, booked_on: date, amount: Decimal | None, currency: str,
                 entry_ref: str, tx: etree._Element | None, charges: list[etree._Element], batch_index: int
                 ) -> IncomingPayment | SourceProblem:
        """One record: the entry's own amount, or (`amount` None, a batch) the transaction's."""
        t = self.t
        ref = end_to_end = payer_name = payer_account = creditor_ref = original_currency = ""
        lines: list[str] = []
        original: Decimal | None = None
        try:
            if tx is not None:
                kids = _children(tx)
                if t.Chrgs in kids:
                    charges = tx.findall(t.Chrgs)
                amount_details = kids.get(t.AmtDtls)
                if amount is None:  # a batch: each transaction brings its own amount
                    if amount_details is not None and (tx_amount := amount_details.find(t.TxAmt)) is not None:
                        amount, currency = _money(tx_amount.find(t.Amt), "transaction amount", t)
                    elif t.Amt in kids:  # v04+: TxDtls/Amt
                        amount, currency = _money(kids[t.Amt], "transaction amount", t)
                    else:
                        raise _Malformed("a transaction of a batch booking has no amount (AmtDtls/TxAmt/Amt)")
                if amount_details is not None and (instructed := amount_details.find(t.InstdAmt)) is not None:
                    sent, sent_currency = _money(instructed.find(t.Amt), "instructed amount", t)
                    if sent_currency != currency:
                        original, original_currency = sent, sent_currency
                if (refs := kids.get(t.Refs)) is not None:
                    ref_kids = _children(refs)
                    ref = _text(ref_kids.get(t.AcctSvcrRef))
                    end_to_end = _text(ref_kids.get(t.EndToEndId))
                    if end_to_end.upper() == "NOTPROVIDED":
                        end_to_end = ""
                if (parties := kids.get(t.RltdPties)) is not None:
                    party_kids = _children(parties)
                    payer_name = _party_name(party_kids.get(t.Dbtr), t) or _party_name(party_kids.get(t.UltmtDbtr), t)
                    account = party_kids.get(t.DbtrAcct)
                    if account is not None and (ident := account.find(t.Id)) is not None:
                        payer_account = _account_id(ident, t)
                if (remittance := kids.get(t.RmtInf)) is not None:
                    lines = [line for element in remittance.iterchildren(t.Ustrd) if (line := _text(element))]
                    creditor_ref = "\n".join(
                        text for structured in remittance.iterchildren(t.Strd)
                        if (info := structured.find(t.CdtrRefInf)) is not None and (text := _text(info.find(t.Ref))))
            assert amount is not None
            deducted = _charges(charges, currency, t)
        except _Malformed as error:
            return SourceProblem(position, str(error))
        text = "\n".join(lines)
        if not ref:
            ref = f"{entry_ref}/{batch_index}" if entry_ref and batch_index else entry_ref
        if not ref:
            ref = self._fallback(fallback_ref(report.account, booked_on, amount, currency, text))
        return self.twins.number(IncomingPayment(
            source=self.source, ref=ref, booked_on=booked_on, amount=amount, currency=currency,
            account=report.account, payer_name=payer_name, payer_account=payer_account, remittance=text,
            end_to_end_id=end_to_end, creditor_ref=creditor_ref, charges=deducted, original_amount=original,
            original_currency=original_currency, position=position))

    def _fallback(self, ref: str) -> str:
        """The n-th identical entry without a bank reference gets "/n": two equal transfers on one day stay two."""
        self.fallbacks[ref] += 1
        seen = self.fallbacks[ref]
        return ref if seen == 1 else f"{ref}/{seen}"


# ActiveOrHistoricCurrencyAndAmount: at most 18 digits, 5 of them after the point.
CAMT_AMOUNT = re.compile(r"(?=[0-9.]{1,19}$)[0-9]{1,18}(?:\.[0-9]{0,5})?")


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _money(element: etree._Element | None, what: str, t: _Tags, *, positive: bool = True) -> tuple[Decimal, str]:
    """(amount, currency) of an `Amt`-like element with its `Ccy` attribute."""
    if element is None:
        raise _Malformed(f"no {what} (Amt)")
    text = (element.text or "").strip()
    if text.startswith("-") and CAMT_AMOUNT.fullmatch(text[1:]):
        raise _Malformed(f"{what} {text[:20]!r} is not a positive amount")
    if not CAMT_AMOUNT.fullmatch(text):  # xs:decimal as the schema restricts it: no sign, exponent or comma
        raise _Malformed(f"{what} {text[:20]!r} is not a camt amount (digits with a decimal point, e.g. 12.50)")
    value = Decimal(text)
    if positive and value == 0:
        raise _Malformed(f"{what} {text[:20]!r} is not a positive amount")
    currency = (element.get("Ccy") or "").strip().upper()
    if not currency:
        raise _Malformed(f"{what} has no currency (Ccy)")
    if not _CURRENCY.fullmatch(currency):
        raise _Malformed(f"{what} has the currency {currency[:10]!r}, not an ISO 4217 code")
    return value, currency


def _booking_day(kids: dict[str, etree._Element], t: _Tags) -> date:
    """BookgDt (Dt, or the calendar day the bank wrote in DtTm), else ValDt for notifications without one."""
    for holder in (kids.get(t.BookgDt), kids.get(t.ValDt)):
        if holder is None:
            continue
        text = _text(holder.find(t.Dt)) or _text(holder.find(t.DtTm)).partition("T")[0]
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise _Malformed(f"booking date {text[:30]!r} is not a date") from None
    raise _Malformed("no booking date (BookgDt)")


def _children(element: etree._Element) -> dict[str, etree._Element]:
    """The element's children by their full tag (the last of a repeated one)."""
    return {str(child.tag): child for child in element}


def _party_name(party: etree._Element | None, t: _Tags) -> str:
    """Dbtr/Nm (v02) or Dbtr/Pty/Nm (v08)."""
    if party is None:
        return ""
    name = _text(party.find(t.Nm))
    if not name and (inner := party.find(t.Pty)) is not None:
        name = _text(inner.find(t.Nm))
    return name


def _account_id(ident: etree._Element, t: _Tags) -> str:
    """Id/IBAN, else the other account number Id/Othr/Id."""
    iban = _text(ident.find(t.IBAN))
    if iban:
        return iban.replace(" ", "")
    other = ident.find(t.Othr)
    return _text(other.find(t.Id)) if other is not None else ""


def _charges(elements: list[etree._Element], currency: str, t: _Tags) -> Decimal:
    """What the bank deducted from the amount. v04+: one Chrgs with TtlChrgsAndTaxAmt and/or Rcrd records; v02:
    Chrgs repeated, one per charge. A record with ChrgInclInd=false was booked separately (not deducted), one with
    CdtDbtInd=CRDT was refunded; charges in another currency than the payment's are not part of its amount."""
    total = ZERO
    for charges in elements:
        records = charges.findall(t.Rcrd)
        if records:
            deducted = [r for r in records if _deducted(r, t)]
            whole = charges.find(t.TtlChrgsAndTaxAmt) if len(deducted) == len(records) else None
            amounts = [whole] if whole is not None else [r.find(t.Amt) for r in deducted]
        elif _deducted(charges, t):
            amount = charges.find(t.Amt)
            amounts = [amount if amount is not None else charges.find(t.TtlChrgsAndTaxAmt)]
        else:
            continue
        for element in amounts:
            value, charge_currency = _money(element, "charges amount", t, positive=False)
            if charge_currency == currency:
                total += value
    return total


def _deducted(record: etree._Element, t: _Tags) -> bool:
    return (_text(record.find(t.ChrgInclInd)).lower() not in ("false", "0")
            and _text(record.find(t.CdtDbtInd)) != "CRDT")
