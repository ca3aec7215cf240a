"""Realistic bank statements for tests, the demo and benchmarks: given the claims and a seed, decide what each customer
paid and write it as camt.053/052/054 (.001.02 or .001.08) or MT940, with the ground truth beside it.

Customers pay the way they do: the exact amount quoting the invoice number in varied German texts, with typos,
spaces, lower case and dropped leading zeros, a number cut across two lines by the bank, several invoices in one
transfer, part or too much, less the bank's fees, in CHF or USD, by structured creditor reference, or with no
reference at all but their name and the exact amount. Around them: debits, pending entries, a reversal, credits
that pay nothing (tax refunds, suppliers' credit notes, salary), batch bookings (camt), entries without a bank
reference (also two identical ones), and malformed entries on request.

    truth = write_statement(tmp / "stmt.xml", sample_claims(500, seed=1), seed=1, malformed=1)
    for payment in read_statement(truth.path): truth.by_ref()[payment.ref].pays  # (("RE-2026-00042", 119.00),)

Files are written as streaming text, one day (statement) at a time: 100,000 entries take a few seconds.
"""

from __future__ import annotations

import random
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate, groupby
from operator import attrgetter
from pathlib import Path
from typing import Any, TextIO

from mahnwerk.connectors.payment_records import IncomingPayment, Twins, fallback_ref
from mahnwerk.sandbox import people as P

ACCOUNT = "DE02120300000000202051"  # the merchant's account (valid check digits)
MERCHANT = "Kaffeerösterei Größmann GmbH"
FORMATS = ("camt.053.001.02", "camt.053.001.08", "camt.052.001.02", "camt.052.001.08", "camt.054.001.02",
           "camt.054.001.08", "mt940")
RATES = {"CHF": Decimal("1.0520"), "USD": Decimal("0.9210"), "GBP": Decimal("1.1830")}  # EUR per unit
# How a claim gets paid, with its weight. Claims in another currency than the account's are paid "foreign".
KINDS = {"exact": 40, "typo": 8, "split": 7, "multi": 6, "partial": 6, "over": 4, "fees": 4, "foreign": 4,
         "name_only": 5, "structured": 3, "unpaid": 13}
CENT = Decimal("0.01")
ZERO = Decimal(0)

_MESSAGES = {"053": ("BkToCstmrStmt", "Stmt"), "052": ("BkToCstmrAcctRpt", "Rpt"),
             "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}
_BANKS = [("37040044", "COBADEFFXXX"), ("10070000", "DEUTDEBBXXX"), ("50010517", "INGDDEFFXXX"),
          ("70150000", "SSKMDEMMXXX"), ("43060967", "GENODEM1GLS"), ("12030000", "BYLADEM1001")]
_EXACT = ["Rechnung {ref}", "Rechnung {ref} vielen Dank", "Re.Nr. {short} Kd {kd}", "RG {year} {last} vielen Dank",
          "{ref}", "{ref} {name}", "Bestellung {order} Rechnung {ref}", "Rechnungsnr. {ref}", "Zahlung {ref}",
          "Ihre Rechnung {ref} vom {date}", "Rechnung Nr. {ref} Kundennr. {kd}", "Order {order}",
          "{ref} / Bestellung {order}", "Kauf auf Rechnung {ref} Danke"]
_TYPO = ["Rechnug {ref}", "Rechung {ref} Danke", "Rechnungsnumer {ref}", "Rg.-Nr. {ref}", "Rechnung {ref}",
         "Rehcnung {ref} vielen dank"]
_MULTI = ["Rechnungen {refs}", "{refs}", "Sammelzahlung {refs}", "RE {refs} Danke"]
_PARTIAL = ["Teilzahlung Rechnung {ref}", "Rate 1 {ref}", "Anzahlung {ref}", "Rechnung {ref} Teilbetrag"]
_FOREIGN = ["Invoice {ref}", "Payment {ref}", "Rechnung {ref}", "Inv. {ref} thank you"]
_NAME_ONLY = ["", "", "Danke", "Bestellung", "Zahlung Onlineshop", "Kaffee"]
_DEBITS = [("Immobilien Weber KG", "Miete Maerz 2026 Lager"), ("Verpackung Schulz GmbH", "Rechnung 88231 Kartons"),
           ("Telekom Deutschland GmbH", "Kd 4711 0815 Mobilfunk"), ("Rösterei-Bedarf AG", "RE 2026-551 Rohkaffee"),
           ("DHL Paket GmbH", "Versand Februar 2026")]
_UNRELATED = [("Finanzamt Berlin", "Erstattung USt 02/2026"), ("Verpackung Schulz GmbH", "Gutschrift Retoure 5512"),
              ("Stadtwerke München", "Guthaben Jahresabrechnung"), ("Lohnbüro Fischer", "Gehalt 03/2026"),
              ("Versicherung AG", "Beitragsrückerstattung 2025")]


@dataclass(frozen=True, slots=True)
class StatementClaim:
    """What the generator needs to know of a claim."""

    invoice_number: str
    order_number: str
    amount: Decimal
    currency: str = "EUR"
    customer: str = ""
    company: str = ""
    invoice_date: date | None = None  # payments come no earlier, when given

    @classmethod
    def of(cls, claim: StatementClaim | Mapping[str, Any]) -> StatementClaim:
        """A claim from a plain dict (keys as the fields; "customer_name" for "customer")."""
        if isinstance(claim, StatementClaim):
            return claim
        values = {f.name: claim[f.name] for f in fields(cls) if f.name in claim}
        values.setdefault("customer", claim.get("customer_name", ""))
        values["amount"] = Decimal(str(values["amount"]))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ExpectedCredit:
    """One credit the parser must yield, field by field as IncomingPayment has it, and what the payer meant."""

    ref: str
    kind: str  # a key of KINDS (but "unpaid"), "batch" inside a batch booking, or "unrelated"
    booked_on: date
    amount: Decimal  # what arrived
    currency: str
    pays: tuple[tuple[str, Decimal], ...]  # (invoice number, amount meant for it in the claim's currency)
    payer_name: str = ""
    payer_account: str = ""
    remittance: str = ""
    end_to_end_id: str = ""
    creditor_ref: str = ""
    charges: Decimal = ZERO
    original_amount: Decimal | None = None
    original_currency: str = ""
    position: str = ""
    occurrence: int = 1


@dataclass
class StatementTruth:
    """What was written: the credits to expect (in file order), the skips by reason, the unreadable entries."""

    path: Path
    source: str  # as the parser names it: "camt.053", "mt940", ...
    account: str
    credits: list[ExpectedCredit] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # positions of the malformed entries
    unpaid: list[str] = field(default_factory=list)  # invoice numbers nobody paid
    entries: int = 0  # entries (camt Ntry, MT940 :61:) written
    twins: Twins = field(default_factory=Twins, repr=False, compare=False)

    def expect(self, credit: ExpectedCredit) -> None:
        """Add a credit, numbered among identical ones without a bank reference as the readers number them."""
        payment = self.twins.number(IncomingPayment(
            self.source, credit.ref, credit.booked_on, credit.amount, credit.currency, account=self.account,
            payer_name=credit.payer_name, payer_account=credit.payer_account, remittance=credit.remittance,
            creditor_ref=credit.creditor_ref))
        self.credits.append(replace(credit, occurrence=payment.occurrence))

    def by_ref(self) -> dict[str, ExpectedCredit]:
        return {credit.ref: credit for credit in self.credits}

    def paid(self) -> dict[str, Decimal]:
        """Per invoice number, what payers meant for it in total."""
        total: dict[str, Decimal] = {}
        for credit in self.credits:
            for number, amount in credit.pays:
                total[number] = total.get(number, ZERO) + amount
        return total


def sample_claims(n: int, *, seed: int = 0, year: int = 2026, invoiced: date = date(2026, 2, 1)
                  ) -> list[StatementClaim]:
    """`n` claims like the sandbox shop's: RE-<year>-<5 digits>, mostly EUR, some CHF/USD, people and companies
    with umlauts, other scripts and hostile strings; invoiced within four weeks from `invoiced`."""
    rng = random.Random(seed)
    claims = []
    for k in range(1, n + 1):
        first, last = rng.choice(P.PEOPLE) if rng.random() > 0.05 else rng.choice(P.HOSTILE)
        currency = "CHF" if rng.random() < 0.05 else "USD" if rng.random() < 0.02 else "EUR"
        claims.append(StatementClaim(
            invoice_number=f"RE-{year}-{k:05d}", order_number=str(4000 + k * 3),
            amount=(Decimal(rng.randrange(990, 99_900)) / 100).quantize(CENT), currency=currency,
            customer=f"{first} {last}", company=rng.choice(P.COMPANIES) if rng.random() < 0.3 else "",
            invoice_date=invoiced + timedelta(days=rng.randrange(28))))
    return claims


def write_statement(path: str | Path, claims: Iterable[StatementClaim | Mapping[str, Any]], *, seed: int = 0,
                    format: str = "camt.053.001.02", start: date = date(2026, 3, 2), days: int = 5,
                    noise: float = 0.15, malformed: int = 0, account: str = ACCOUNT, encoding: str = "utf-8",
                    opening_balance: Decimal = Decimal("1500.00")) -> StatementTruth:
    """Decide (by `seed`) what each claim's customer paid on the `days` days from `start`, add `noise` (a share of
    the customer payments: debits, pending, reversals, unrelated credits) and `malformed` unreadable credit entries,
    and write it to `path` in `format` (one of FORMATS; `encoding` for MT940: utf-8, cp850, iso-8859-1).
    Returns the ground truth."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    rng = random.Random(seed)
    days = max(1, days)
    mt940 = format == "mt940"
    builder = _Builder(rng, start, days, mt940, seed)
    entries, unpaid = builder.customer_entries([StatementClaim.of(c) for c in claims])
    entries += builder.noise(entries, noise)
    entries += builder.broken(malformed)
    rng.shuffle(entries)
    entries.sort(key=lambda e: e.day)
    if not mt940:
        entries = builder.batched(entries)
    target = Path(path)
    source = "mt940" if mt940 else f"camt.{format[5:8]}"
    truth = StatementTruth(target, source, account.replace(" ", ""), unpaid=unpaid, entries=len(entries))
    if mt940:
        with open(target, "w", encoding=encoding, errors="replace", newline="\r\n") as out:
            _Mt940Writer(out, truth, encoding, opening_balance).write(entries)
    else:
        with open(target, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
            _CamtWriter(out, truth, format, rng, opening_balance).write(entries)
    return truth


def write_day(folder: str | Path, claims: Iterable[StatementClaim | Mapping[str, Any]], *, seed: int = 0,
              day: date = date(2026, 3, 2), noise: float = 0.15, intraday: float = 0.6, unreferenced: float = 0.0,
              version: str = "001.02", account: str = ACCOUNT, encoding: str = "utf-8",
              opening_balance: Decimal = Decimal("1500.00")) -> dict[str, StatementTruth]:
    """One day's bookings as the bank reports them three times, with the same bank reference (AcctSvcrRef, MT940
    "//") for a booking in each: the intraday camt.052 at noon (the first `intraday` share of the booked entries,
    and the pending ones), the day's camt.053 and an MT940 of the day (every booked entry, in the same order). The
    bank gives no reference for an `unreferenced` share of the entries (nor for a few more, as banks do). No
    batch bookings: MT940 does not break them down. Writes camt052.xml, camt053.xml and mt940.sta in `folder`;
    returns each file's truth by source ("camt.052", "camt.053", "mt940")."""
    rng = random.Random(seed)
    builder = _Builder(rng, day, 1, False, seed)
    entries, unpaid = builder.customer_entries([StatementClaim.of(c) for c in claims])
    entries += builder.noise(entries, noise)
    rng.shuffle(entries)
    for entry in entries:
        if rng.random() < unreferenced:
            entry.ref = ""
            for tx in entry.txs:
                tx.ref = ""
    booked = [e for e in entries if e.status == "BOOK"]
    cut = round(len(booked) * intraday)
    noon = booked[:cut] + [e for e in entries if e.status != "BOOK"]
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    truths = {}
    for source, name, written in (("camt.052", "camt052.xml", noon), ("camt.053", "camt053.xml", booked),
                                  ("mt940", "mt940.sta", booked)):
        truth = StatementTruth(target / name, source, account.replace(" ", ""), unpaid=list(unpaid),
                               entries=len(written))
        if source == "mt940":
            with open(truth.path, "w", encoding=encoding, errors="replace", newline="\r\n") as out:
                _Mt940Writer(out, truth, encoding, opening_balance).write(written)
        else:
            with open(truth.path, "w", encoding="utf-8", newline="\n") as out:
                _CamtWriter(out, truth, f"{source}.{version}", rng, opening_balance).write(written)
        truths[source] = truth
    return truths


# -- what was paid ---------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Tx:
    """One transfer (a camt TxDtls)."""

    amount: Decimal  # in the account's currency, as it arrives
    kind: str
    pays: tuple[tuple[str, Decimal], ...] = ()
    payer: str = ""
    payer_iban: str = ""
    bic: str = ""
    lines: list[str] = field(default_factory=list)
    end_to_end: str = ""  # "" is written as NOTPROVIDED
    creditor_ref: str = ""
    charges: Decimal = ZERO
    original: tuple[Decimal, str] | None = None
    ultimate: str = ""
    ref: str = ""  # its own AcctSvcrRef inside a batch


@dataclass(slots=True)
class _Entry:
    day: date
    txs: list[_Tx]
    credit: bool = True
    status: str = "BOOK"
    reversal: bool = False
    ref: str = ""  # the bank's reference; "" for none
    broken: str = ""  # "amount", "currency", "date": written malformed on purpose
    text: str = "SEPA-GUTSCHRIFT"
    gvc: str = "166"

    @property
    def amount(self) -> Decimal:
        return self.txs[0].amount if len(self.txs) == 1 else sum((tx.amount for tx in self.txs), ZERO)


class _Builder:
    def __init__(self, rng: random.Random, start: date, days: int, mt940: bool, seed: int = 0) -> None:
        self.rng, self.start, self.days, self.mt940 = rng, start, days, mt940
        self.sequence = 0
        self.base = zlib.crc32(str(seed).encode()) % 10_000  # statements of other seeds: other bank references
        self.ibans: dict[str, tuple[str, str]] = {}

    def customer_entries(self, claims: list[StatementClaim]) -> tuple[list[_Entry], list[str]]:
        rng, entries, unpaid = self.rng, [], []
        kinds, cumulative = list(KINDS), list(accumulate(KINDS.values()))
        used = [False] * len(claims)
        for i, claim in enumerate(claims):
            if used[i]:
                continue
            used[i] = True
            kind = rng.choices(kinds, cum_weights=cumulative)[0]
            if kind == "unpaid":
                unpaid.append(claim.invoice_number)
                continue
            if claim.currency != "EUR":
                kind = "foreign"
            group = [claim]
            if kind == "multi":
                for j in range(i + 1, min(i + 40, len(claims))):
                    if not used[j] and claims[j].currency == "EUR" and len(group) < rng.choice((2, 2, 3)):
                        used[j] = True
                        group.append(claims[j])
                if len(group) == 1:
                    kind = "exact"
            tx = self._payment(kind, group)
            entries.append(self._entry(self._day(group), [tx]))
        return entries, unpaid

    def _payment(self, kind: str, group: list[StatementClaim]) -> _Tx:
        rng, claim = self.rng, group[0]
        payer = claim.company if claim.company and rng.random() < 0.6 else claim.customer
        iban, bic = self._iban(payer)
        tx = _Tx(claim.amount, kind, ((claim.invoice_number, claim.amount),), payer, iban, bic)
        number = claim.invoice_number
        if kind == "exact":
            tx.lines = [self._text(rng.choice(_EXACT), claim, _form(number, rng))]
            if rng.random() < 0.15:  # a second line of its own
                tx.lines.append(rng.choice(["Kundennr. " + str(rng.randrange(1000, 99999)), "Danke", "Gruss"]))
        elif kind == "typo":
            tx.lines = [self._text(rng.choice(_TYPO), claim, _typo(number, rng))]
        elif kind == "split":
            text = f"Rechnung {number} vielen Dank"
            cut = len("Rechnung ") + rng.randrange(1, len(number))
            tx.lines = [text[:cut], text[cut:]]
        elif kind == "multi":
            refs = rng.choice([" ", ", ", " und ", " + "]).join(_form(c.invoice_number, rng, full=True) for c in group)
            tx.lines = [rng.choice(_MULTI).format(refs=refs)]
            tx.amount = sum((c.amount for c in group), ZERO)
            tx.pays = tuple((c.invoice_number, c.amount) for c in group)
        elif kind == "partial":
            part = (claim.amount * Decimal(rng.choice(("0.5", "0.3", "0.25", "0.8")))).quantize(CENT)
            tx.amount, tx.pays = max(part, CENT), ((number, max(part, CENT)),)
            tx.lines = [self._text(rng.choice(_PARTIAL + _EXACT[:2]), claim, _form(number, rng))]
        elif kind == "over":
            extra = rng.choice((claim.amount, Decimal(rng.randrange(1, 2000)) / 100))
            tx.amount = claim.amount + extra
            tx.pays = ((number, tx.amount),)
            tx.lines = [self._text(rng.choice(_EXACT[:6]), claim, _form(number, rng))]
        elif kind == "fees":
            fee = Decimal(rng.choice(("0.35", "1.50", "2.50", "5.00", "7.50")))
            if fee >= claim.amount:
                fee = CENT
            tx.amount, tx.charges = claim.amount - fee, fee
            tx.lines = [self._text(rng.choice(_FOREIGN), claim, number)]
        elif kind == "foreign":
            if claim.currency == "EUR":  # a Swiss or American payer instructs in their currency
                other = rng.choice(("CHF", "USD"))
                tx.original = ((claim.amount / RATES[other]).quantize(CENT, ROUND_HALF_UP), other)
            else:
                tx.original = (claim.amount, claim.currency)
                tx.amount = (claim.amount * RATES[claim.currency]).quantize(CENT, ROUND_HALF_UP)
            tx.lines = [self._text(rng.choice(_FOREIGN), claim, number)]
        elif kind == "name_only":
            line = rng.choice(_NAME_ONLY)
            tx.lines = [line] if line else []
        elif kind == "structured":
            tx.creditor_ref = creditor_reference(number)
            tx.lines = [] if rng.random() < 0.5 else ["Danke"]
        roll = rng.random()
        tx.end_to_end = "" if roll < 0.45 else number if roll < 0.6 else f"E2E{rng.randrange(10 ** 14):014d}"
        if rng.random() < 0.03 and claim.company:
            tx.ultimate = claim.company
        return tx

    def _text(self, template: str, claim: StatementClaim, ref: str) -> str:
        rng = self.rng
        groups = re.findall(r"\d+", claim.invoice_number)
        last = groups[-1] if groups else claim.invoice_number
        year = groups[0] if len(groups) > 1 else ""
        if "{year}" in template and not year:
            template = "Rechnung {ref}"
        return template.format(
            ref=ref, short=last.lstrip("0") or "0", last=last, year=year, order=claim.order_number,
            kd=rng.randrange(1000, 99999), name=claim.customer.split(" ")[-1],
            date=f"{rng.randrange(1, 29):02d}.02.2026")

    def noise(self, customers: list[_Entry], share: float) -> list[_Entry]:
        """Debits, pending and reversed credits, unrelated credits; each kind at least once when there is noise."""
        rng = self.rng
        count = round(len(customers) * share)
        if count <= 0:
            return []
        kinds = ["debit", "pending", "reversal", "unrelated", "twins"][:count]
        kinds += rng.choices(["debit", "pending", "reversal", "unrelated"], [50, 10, 5, 35], k=count - len(kinds))
        entries = []
        for kind in kinds:
            day = self.start + timedelta(days=rng.randrange(self.days))
            amount = (Decimal(rng.randrange(500, 300_000)) / 100).quantize(CENT)
            if kind == "debit":
                name, text = rng.choice(_DEBITS)
                entry = _Entry(day, [_Tx(amount, "debit", payer=name, lines=[text])], credit=False,
                               text="SEPA-UEBERWEISUNG", gvc="116")
            elif kind == "pending" and customers:  # the same payment again, not yet booked
                model = rng.choice(customers).txs[0]
                entry = _Entry(day, [_Tx(model.amount, "pending", model.pays, model.payer, model.payer_iban,
                                         model.bic, list(model.lines))], status="PDNG")
            elif kind == "reversal" and customers:
                model = rng.choice(customers).txs[0]
                entry = _Entry(day, [_Tx(model.amount, "reversal", (), model.payer, model.payer_iban, model.bic,
                                         ["RUECKUEBERWEISUNG"] + model.lines)], reversal=True,
                               text="RUECKUEBERWEISUNG", gvc="159")
            elif kind == "twins":  # two equal gifts on one day without a bank reference: they must stay two
                entry = self._unrelated(day, Decimal("50.00"), ("Søren Kierkegård", "Spende Kaffeekasse"))
                entry.ref = ""
                twin = self._unrelated(day, Decimal("50.00"), ("Søren Kierkegård", "Spende Kaffeekasse"))
                twin.ref = ""
                entries.append(twin)
            else:
                entry = self._unrelated(day, amount, rng.choice(_UNRELATED))
            if kind != "twins" and not entry.ref:
                entry.ref = self._ref(day)
            entries.append(entry)
        if self.mt940:  # MT940 has booked lines only: pending ones become debits
            for entry in entries:
                if entry.status != "BOOK":
                    entry.status, entry.credit, entry.txs[0].kind = "BOOK", False, "debit"
                    entry.text, entry.gvc = "SEPA-UEBERWEISUNG", "116"
        return entries

    def _unrelated(self, day: date, amount: Decimal, who: tuple[str, str]) -> _Entry:
        iban, bic = self._iban(who[0])
        return _Entry(day, [_Tx(amount, "unrelated", (), who[0], iban, bic, [who[1]])],
                      gvc="153" if "Gehalt" in who[1] else "166")

    def broken(self, count: int) -> list[_Entry]:
        kinds = ["amount", "date", "currency"]
        entries = []
        for n in range(count):
            day = self.start + timedelta(days=self.rng.randrange(self.days))
            entry = self._unrelated(day, Decimal("12.50"), ("Ben Schmidt", "Rechnung kaputt"))
            entry.broken, entry.ref = kinds[n % 3], self._ref(day)
            entries.append(entry)
        return entries

    def batched(self, entries: list[_Entry]) -> list[_Entry]:
        """camt: now and then the bank books two to four exact transfers of a day as one batch entry."""
        rng, out, i = self.rng, [], 0
        while i < len(entries):
            entry = entries[i]
            i += 1
            if _plain(entry) and rng.random() < 0.04:
                size = rng.choice((2, 3, 4))
                while len(entry.txs) < size and i < len(entries) and _plain(entries[i]) \
                        and entries[i].day == entry.day:
                    entry.txs.append(entries[i].txs[0])
                    i += 1
                if len(entry.txs) > 1:
                    own_refs = rng.random() < 0.5  # else the parser numbers them "<entry ref>/<n>"
                    for n, tx in enumerate(entry.txs, 1):
                        tx.kind, tx.ref = "batch", f"{entry.ref}-{n}" if own_refs else ""
                    entry.text = "SAMMEL-GUTSCHRIFT"
            out.append(entry)
        return out

    def _entry(self, day: date, txs: list[_Tx]) -> _Entry:
        entry = _Entry(day, txs)
        entry.ref = "" if self.rng.random() < 0.03 else self._ref(day)  # some banks leave it out now and then
        return entry

    def _day(self, group: list[StatementClaim]) -> date:
        day = self.start + timedelta(days=self.rng.randrange(self.days))
        invoiced = max((c.invoice_date for c in group if c.invoice_date), default=None)
        if isinstance(invoiced, datetime):  # a timestamp given for the day
            invoiced = invoiced.date()
        if invoiced and day < invoiced:
            day = min(invoiced, self.start + timedelta(days=self.days - 1))
        return day

    def _ref(self, day: date) -> str:
        self.sequence += 1
        return f"{day:%y%m%d}{self.base:04d}{self.sequence:06d}"  # 16 characters: MT940's bank reference

    def _iban(self, payer: str) -> tuple[str, str]:
        """A valid German IBAN (and the bank's BIC) per payer, the same every time."""
        if payer not in self.ibans:
            crc = zlib.crc32(payer.encode("utf-8"))
            blz, bic = _BANKS[crc % len(_BANKS)]
            self.ibans[payer] = (german_iban(blz, f"{crc % 10**10:010d}"), bic)
        return self.ibans[payer]


def _plain(entry: _Entry) -> bool:
    return (entry.credit and entry.status == "BOOK" and not entry.reversal and not entry.broken
            and len(entry.txs) == 1 and entry.txs[0].kind == "exact" and bool(entry.ref))


def _form(number: str, rng: random.Random, *, full: bool = False) -> str:
    """The invoice number as people write it: as printed, spaced, glued, lower case, leading zeros dropped."""
    tokens = re.findall(r"[A-Za-z]+|\d+", number)
    roll = rng.random()
    if roll < 0.55 or len(tokens) < 2:
        return number
    if roll < 0.65:
        return " ".join(tokens)
    if roll < 0.75:
        return "".join(tokens)
    if roll < 0.85 or full:
        return number.lower()
    return "-".join(t.lstrip("0") or "0" for t in tokens)


def _typo(number: str, rng: random.Random) -> str:
    tokens = re.findall(r"[A-Za-z]+|\d+", number)
    if len(tokens) < 2:
        return number.lower()
    return rng.choice([" - ".join(tokens), " ".join(tokens).lower(), "-".join(t.lstrip("0") or "0" for t in tokens),
                       tokens[0] + "-" + "-".join(tokens[1:]).replace("-0", "-", 1), number.replace("-", "--", 1),
                       number.replace("-", " ", 1)])


def german_iban(bank_code: str, account: str) -> str:
    """DE + ISO 7064 mod 97-10 check digits + bank code (8) + account (10)."""
    bban = bank_code + account.rjust(10, "0")
    check = 98 - int(bban + "131400") % 97  # "DE00" as digits: D=13, E=14
    return f"DE{check:02d}{bban}"


def creditor_reference(text: str) -> str:
    """ISO 11649 creditor reference "RF<check><ref>" made of `text`'s letters and digits (at most 21)."""
    ref = "".join(c for c in text.upper() if c.isascii() and c.isalnum())[:21]
    digits = "".join(str(int(c, 36)) for c in ref + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{ref}"


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


# -- camt ------------------------------------------------------------------------------------------------------------

def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _CamtWriter:
    def __init__(self, out: TextIO, truth: StatementTruth, format: str, rng: random.Random,
                 balance: Decimal) -> None:
        self.out, self.truth, self.rng, self.balance = out, truth, rng, balance
        self.v08 = format.endswith(".08")
        self.message, self.report = _MESSAGES[format[5:8]]
        self.namespace = f"urn:iso:std:iso:20022:tech:xsd:{format}"
        self.line = 0  # lines written so far
        self.fallbacks: Counter[str] = Counter()

    def write(self, entries: list[_Entry]) -> None:
        first = entries[0].day if entries else date(2026, 1, 1)
        self._emit([
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<Document xmlns="{self.namespace}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
            f"<{self.message}>",
            (f"<GrpHdr><MsgId>MW{first:%Y%m%d}{self.rng.randrange(10**6):06d}</MsgId>"
             f"<CreDtTm>{first:%Y-%m-%d}T06:00:00</CreDtTm>"
             "<MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn></GrpHdr>")])
        for _, day_entries in groupby(entries, key=attrgetter("day")):  # one report per booking day
            self._report(list(day_entries))
        self._emit([f"</{self.message}>", "</Document>"])

    def _emit(self, lines: list[str]) -> None:
        self.out.write("\n".join(lines))
        self.out.write("\n")
        self.line += len(lines)

    def _report(self, entries: list[_Entry]) -> None:
        day = entries[0].day
        report_id = f"{day:%Y-%m-%d}-{self.rng.randrange(1000):03d}"
        booked = sum((e.amount if e.credit else -e.amount for e in entries if e.status == "BOOK"), ZERO)
        opening, self.balance = self.balance, self.balance + booked
        lines = [f"<{self.report}>", f"<Id>{report_id}</Id>", f"<ElctrncSeqNb>{day.toordinal() % 1000}</ElctrncSeqNb>",
                 f"<CreDtTm>{day:%Y-%m-%d}T20:00:00</CreDtTm>",
                 f"<FrToDt><FrDtTm>{day:%Y-%m-%d}T00:00:00</FrDtTm><ToDtTm>{day:%Y-%m-%d}T23:59:59</ToDtTm></FrToDt>",
                 (f"<Acct><Id><IBAN>{self.truth.account}</IBAN></Id><Ccy>EUR</Ccy><Ownr><Nm>{_x(MERCHANT)}</Nm>"
                  "</Ownr></Acct>")]
        if self.report != "Ntfctn":  # notifications carry no balances
            lines += [self._balance("PRCD", opening, day - timedelta(days=1)), self._balance("CLBD", self.balance, day)]
        for number, entry in enumerate(entries, 1):
            lines += self._entry(entry, report_id, number, self.line + len(lines) + 1)
        lines.append(f"</{self.report}>")
        self._emit(lines)

    def _balance(self, code: str, amount: Decimal, day: date) -> str:
        sign = "CRDT" if amount >= 0 else "DBIT"
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{_money(abs(amount))}</Amt>"
                f"<CdtDbtInd>{sign}</CdtDbtInd><Dt><Dt>{day:%Y-%m-%d}</Dt></Dt></Bal>")

    def _entry(self, entry: _Entry, report_id: str, number: int, line: int) -> list[str]:
        v08, day = self.v08, entry.day
        amount = f'<Amt Ccy="EUR">{_money(entry.amount)}</Amt>'
        booking = f"<BookgDt><Dt>{day:%Y-%m-%d}</Dt></BookgDt>"
        if entry.broken == "amount":
            amount = f'<Amt Ccy="EUR">{_money(entry.amount).replace(".", ",")}</Amt>'
        elif entry.broken == "currency":
            amount = f"<Amt>{_money(entry.amount)}</Amt>"
        elif entry.broken == "date":
            booking = f"<BookgDt><Dt>{day:%Y}-02-30</Dt></BookgDt>"
        status = f"<Sts><Cd>{entry.status}</Cd></Sts>" if v08 else f"<Sts>{entry.status}</Sts>"
        family = "RCDT" if entry.credit else "ICDT"
        lines = ["<Ntry>", amount + f"<CdtDbtInd>{'CRDT' if entry.credit else 'DBIT'}</CdtDbtInd>"
                 + ("<RvslInd>true</RvslInd>" if entry.reversal else "") + status,
                 booking + f"<ValDt><Dt>{day:%Y-%m-%d}</Dt></ValDt>"
                 + (f"<AcctSvcrRef>{entry.ref}</AcctSvcrRef>" if entry.ref else ""),
                 (f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn>"
                  f"<Prtry><Cd>NTRF+{entry.gvc}+00931</Cd><Issr>DK</Issr></Prtry></BkTxCd>")]
        single = len(entry.txs) == 1
        if single and entry.txs[0].charges and not v08:  # v02: charges of the entry, one Chrgs per charge
            lines.append(f'<Chrgs><Amt Ccy="EUR">{_money(entry.txs[0].charges)}</Amt><CdtDbtInd>DBIT</CdtDbtInd>'
                         "<Tp><Cd>COMM</Cd></Tp></Chrgs>")
        lines.append("<NtryDtls>")
        if not single:
            lines.append(f"<Btch><NbOfTxs>{len(entry.txs)}</NbOfTxs></Btch>")
        for n, tx in enumerate(entry.txs, 1):
            tx_line = line + len(lines)
            lines += self._tx(tx, entry)
            if entry.credit and entry.status == "BOOK" and not entry.reversal and not entry.broken:
                where = (f"statement {report_id} entry {number} (line {line})" if single else
                         f"statement {report_id} entry {number} transaction {n} (line {tx_line})")
                self._expect(entry, tx, n, single, where)
        lines += ["</NtryDtls>", f"<AddtlNtryInf>{entry.text}</AddtlNtryInf>", "</Ntry>"]
        if entry.broken:
            self.truth.problems.append(f"statement {report_id} entry {number} (line {line})")
        elif not entry.credit:
            self.truth.skipped["debit"] += 1
        elif entry.status != "BOOK":
            self.truth.skipped["not booked"] += 1
        elif entry.reversal:
            self.truth.skipped["reversal"] += 1
        return lines

    def _tx(self, tx: _Tx, entry: _Entry) -> list[str]:
        v08 = self.v08
        refs = (f"<AcctSvcrRef>{tx.ref}</AcctSvcrRef>" if tx.ref else "") \
            + f"<EndToEndId>{_x(tx.end_to_end) or 'NOTPROVIDED'}</EndToEndId>"
        instructed = ""
        if tx.original:
            sent, currency = tx.original
            instructed = (f'<InstdAmt><Amt Ccy="{currency}">{_money(sent)}</Amt><CcyXchg><SrcCcy>{currency}</SrcCcy>'
                          f"<TrgtCcy>EUR</TrgtCcy><XchgRate>{RATES[currency]}</XchgRate></CcyXchg></InstdAmt>")
        lines = ["<TxDtls>", f"<Refs>{refs}</Refs>",
                 f'<AmtDtls>{instructed}<TxAmt><Amt Ccy="EUR">{_money(tx.amount)}</Amt></TxAmt></AmtDtls>']
        if tx.charges and v08:
            fee = _money(tx.charges)
            lines.append(f'<Chrgs><TtlChrgsAndTaxAmt Ccy="EUR">{fee}</TtlChrgsAndTaxAmt><Rcrd><Amt Ccy="EUR">{fee}'
                         "</Amt><CdtDbtInd>DBIT</CdtDbtInd><ChrgInclInd>true</ChrgInclInd></Rcrd></Chrgs>")
        name = _x(tx.payer)
        party = (lambda n: f"<Pty><Nm>{n}</Nm></Pty>") if v08 else (lambda n: f"<Nm>{n}</Nm>")
        merchant = (f"<Cdtr>{party(_x(MERCHANT))}</Cdtr><CdtrAcct><Id><IBAN>{self.truth.account}</IBAN></Id>"
                    "</CdtrAcct>")
        if entry.credit:
            parties = (f"<Dbtr>{party(name)}</Dbtr>"
                       + (f"<DbtrAcct><Id><IBAN>{tx.payer_iban}</IBAN></Id></DbtrAcct>" if tx.payer_iban else "")
                       + (f"<UltmtDbtr>{party(_x(tx.ultimate))}</UltmtDbtr>" if tx.ultimate else "") + merchant)
        else:
            parties = f"<Dbtr>{party(_x(MERCHANT))}</Dbtr><Cdtr>{party(name)}</Cdtr>"
        lines.append(f"<RltdPties>{parties}</RltdPties>")
        if tx.bic:
            lines.append(f"<RltdAgts><DbtrAgt><FinInstnId><{'BICFI' if v08 else 'BIC'}>{tx.bic}"
                         f"</{'BICFI' if v08 else 'BIC'}></FinInstnId></DbtrAgt></RltdAgts>")
        remittance = [f"<Ustrd>{_x(line)}</Ustrd>" for line in tx.lines]
        if tx.creditor_ref:
            remittance.append("<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>"
                              f"<Ref>{tx.creditor_ref}</Ref></CdtrRefInf></Strd>")
        if remittance:
            lines.append("<RmtInf>" + "".join(remittance) + "</RmtInf>")
        lines.append("</TxDtls>")
        return lines

    def _expect(self, entry: _Entry, tx: _Tx, n: int, single: bool, position: str) -> None:
        remittance = "\n".join(s for line in tx.lines if (s := line.strip()))
        ref = tx.ref or (entry.ref if single or not entry.ref else f"{entry.ref}/{n}")
        if not ref:
            ref = _numbered(self.fallbacks, fallback_ref(self.truth.account, entry.day, tx.amount, "EUR", remittance))
        payer = tx.payer or tx.ultimate
        self.truth.expect(ExpectedCredit(
            ref=ref, kind=tx.kind, booked_on=entry.day, amount=tx.amount, currency="EUR", pays=tx.pays,
            payer_name=payer, payer_account=tx.payer_iban, remittance=remittance, end_to_end_id=tx.end_to_end,
            creditor_ref=tx.creditor_ref, charges=tx.charges, original_amount=tx.original[0] if tx.original else None,
            original_currency=tx.original[1] if tx.original else "", position=position))


def _numbered(seen: Counter[str], ref: str) -> str:
    """As the parsers do: the n-th identical entry without a bank reference gets "/n"."""
    seen[ref] += 1
    return ref if seen[ref] == 1 else f"{ref}/{seen[ref]}"


# -- MT940 -----------------------------------------------------------------------------------------------------------

_WIDTH = 27  # a ?2x purpose line
_PURPOSE_KEYS = [f"{n}" for n in range(20, 30)] + ["60", "61", "62", "63"]


class _Mt940Writer:
    """German DK flavour: :25: as BLZ/Kontonummer, :86: with GVC and ?-subfields, lines of at most 65 characters
    that break only between subfields."""

    def __init__(self, out: TextIO, truth: StatementTruth, encoding: str, balance: Decimal) -> None:
        self.out, self.truth, self.encoding, self.balance = out, truth, encoding, balance
        self.line = 0
        self.fallbacks: Counter[str] = Counter()
        self.statements = 0

    def write(self, entries: list[_Entry]) -> None:
        for _, day_entries in groupby(entries, key=attrgetter("day")):  # one report per booking day
            self._statement(list(day_entries))

    def _statement(self, entries: list[_Entry]) -> None:
        day = entries[0].day
        self.statements += 1
        ref = f"STARTUMS{day:%y%m%d}"
        account = self.truth.account
        opening = self.balance
        self.balance += sum((e.amount if e.credit else -e.amount for e in entries), ZERO)  # RD brings money, RC takes
        # German banks write BLZ/Kontonummer; others the IBAN.
        held = f"{account[4:12]}/{account[12:].lstrip('0')}" if account.startswith("DE") and len(account) == 22 \
            else account
        lines = [f":20:{ref}", f":25:{held}", f":28C:{self.statements:05d}/001",
                 f":60F:{_mark(opening)}{day:%y%m%d}EUR{_comma(abs(opening))}"]
        for entry in entries:
            lines += self._entry(entry, ref, self.line + len(lines) + 1)
        lines += [f":62F:{_mark(self.balance)}{day:%y%m%d}EUR{_comma(abs(self.balance))}", "-"]
        self.out.write("\n".join(lines))
        self.out.write("\n")
        self.line += len(lines)

    def _entry(self, entry: _Entry, statement: str, line: int) -> list[str]:
        tx, day = entry.txs[0], entry.day
        mark = ("RD" if entry.credit else "RC") if entry.reversal else "C" if entry.credit else "D"
        amount = _comma(entry.amount)
        value_date = f"{day:%y%m%d}"
        if entry.broken == "amount":
            amount = ","
        elif entry.broken == "currency":  # a line without its amount
            amount = ""
        elif entry.broken == "date":
            value_date = f"{day:%y}1340"
        customer_ref = (self._text(tx.end_to_end)[:16] or "NONREF")
        head = f":61:{value_date}{day:%m%d}{mark}R{amount}NTRF{customer_ref}"
        lines = [head + (f"//{entry.ref}" if entry.ref else "")]
        supplement = ""
        if tx.original:
            supplement += f"/OCMT/{tx.original[1]}{_comma(tx.original[0])}/"
        if tx.charges:
            supplement += f"/CHGS/EUR{_comma(tx.charges)}/"
        if supplement:
            lines.append(supplement)
        purpose, remittance = self._purpose(tx)
        name = self._text(tx.payer)[:2 * _WIDTH]
        # _purpose gives at most one line per key; the keys left over stay unused
        fields = [("00", entry.text), ("10", "931")] + list(zip(_PURPOSE_KEYS, purpose, strict=False))
        if entry.credit and tx.payer_iban:
            fields += [("30", tx.bic), ("31", tx.payer_iban)]
        fields += [("32", name[:_WIDTH])] + ([("33", name[_WIDTH:])] if name[_WIDTH:] else []) + [("34", "000")]
        lines += _wrap86(entry.gvc, fields)
        if entry.broken:
            self.truth.problems.append(f"statement {statement} line {line}")
        elif not entry.credit or entry.reversal:
            self.truth.skipped["reversal" if entry.reversal else "debit"] += 1
        else:
            e2e = self._text(tx.end_to_end)
            ref = entry.ref or _numbered(self.fallbacks, fallback_ref(self.truth.account, day, entry.amount, "EUR",
                                                                      remittance))
            self.truth.expect(ExpectedCredit(
                ref=ref, kind=tx.kind, booked_on=day, amount=entry.amount, currency="EUR", pays=tx.pays,
                payer_name=name.strip(), payer_account=tx.payer_iban, remittance=remittance, end_to_end_id=e2e,
                charges=tx.charges, original_amount=tx.original[0] if tx.original else None,
                original_currency=tx.original[1] if tx.original else "", position=f"statement {statement} line {line}"))
        return lines

    def _purpose(self, tx: _Tx) -> tuple[list[str], str]:
        """The ?2x lines (EREF+, SVWZ+ cut at 27 characters, ABWA+; 14 at most, the bank cuts the rest) and the
        remittance a reader gets back."""
        texts = [self._text(line) for line in tx.lines]
        if tx.creditor_ref:  # DK: the creditor reference goes into the purpose text
            texts.insert(0, tx.creditor_ref)
        eref = _pieces("EREF+" + (self._text(tx.end_to_end) or "NOTPROVIDED"))
        svwz = [piece for n, text in enumerate(texts or [""]) for piece in _pieces(("SVWZ+" if n == 0 else "") + text)]
        room = len(_PURPOSE_KEYS) - len(eref)
        svwz = svwz[:room]
        abwa = _pieces("ABWA+" + self._text(tx.ultimate))[:room - len(svwz)] if tx.ultimate else []
        remittance = "\n".join(s for piece in [svwz[0][len("SVWZ+"):]] + svwz[1:] if (s := piece.strip()))
        return eref + svwz + abwa, remittance

    def _text(self, text: str) -> str:
        """What survives the bank's character set: no "?" (the subfield mark), accents dropped where needed."""
        text = text.replace("?", ".").replace("\n", " ")
        try:
            text.encode(self.encoding)
            return text
        except UnicodeEncodeError:
            pass
        out = []
        for char in text:
            try:
                char.encode(self.encoding)
                out.append(char)
            except UnicodeEncodeError:
                plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
                out.append(plain or ".")
        return "".join(out)


def _pieces(text: str) -> list[str]:
    return [text[i:i + _WIDTH] for i in range(0, len(text), _WIDTH)] or [""]


def _wrap86(gvc: str, fields: list[tuple[str, str]]) -> list[str]:
    """:86: lines of at most 65 characters, broken only between subfields."""
    lines, current = [], f":86:{gvc}"
    for key, value in fields:
        part = f"?{key}{value}"
        if len(current) + len(part) > 65:
            lines.append(current)
            current = part
        else:
            current += part
    lines.append(current)
    return lines


def _comma(amount: Decimal) -> str:
    return f"{amount:.2f}".replace(".", ",")


def _mark(balance: Decimal) -> str:
    return "C" if balance >= 0 else "D"
