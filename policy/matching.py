"""Which claims an incoming payment pays, how that was found, and how sure it is.

Three rules, in this order:
1. reference: the invoice or order number printed on every notice, found in the payer's text. Tolerant of spaces,
   dashes, dots, case, leading zeros and a number split across two lines ("RE-2026-00" / "42"). A transfer that
   names several claims is split between them in the order they are named.
2. provider: the shop order id a payment provider carries in its metadata.
3. amount and name: exactly one open claim in the currency with that open amount, whose customer's name matches
   the payer's, invoiced no longer than `window_days` before the payment.
A payment that names no open claim but a closed one (paid, cancelled...) is money for a person to refund or assign:
a guess naming that claim, never a booking. `proposal()` is what may be booked: a payment in another currency than
its claim only ever goes to a person, who knows what the bank converted.
Pure: the caller hands in the open claims once and each payment; nothing here reads a database or a clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar

ZERO = Decimal(0)
# Words that announce a number: a short number right after one of these is a reference, not an amount or a date.
# Prefixes, so that "Rechnug", "Rechnungsnumer", "Best.-Nr." and "Invoice" count as well.
KEYWORDS = ("RE", "RG", "INV", "BEST", "ORDER", "AUFTR", "BELEG", "NR", "NO", "KD", "KUND", "REF", "VWZ")
SHORT = 5  # numbers with fewer digits than this (and no letters) need a keyword in front, or the right amount
_TOKEN = re.compile(r"[A-Z0-9]+")
_DIGITS = re.compile(r"\d+")
_LEADING_ZEROS = re.compile(r"(?<!\d)0+(?=\d)")
_UMLAUTS = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS"})


@dataclass(frozen=True, slots=True)
class OpenClaim:
    """What matching needs to know of an open claim."""

    id: int
    invoice_number: str
    order_number: str
    order_id: str
    currency: str
    open_amount: Decimal  # what is owed today: principal, fees, interest
    names: tuple[str, ...]  # the customer's name and company
    invoice_date: date
    also: tuple[Decimal, ...] = ()  # other amounts a customer pays for it: the invoice's open amount alone


@dataclass(frozen=True, slots=True)
class ClosedClaim:
    """A claim no longer open, as far as matching needs it: the numbers it is known by and its state."""

    id: int
    invoice_number: str
    order_number: str
    order_id: str
    state: str  # paid, cancelled, refunded...


@dataclass(frozen=True, slots=True)
class Credit:
    """What matching needs to know of a payment."""

    amount: Decimal
    currency: str
    booked_on: date
    text: str  # remittance lines ("\n" between them); other fields (end-to-end id, reference) after an empty line
    payer_name: str = ""
    order_hint: str = ""
    original_amount: Decimal | None = None  # sent in another currency (the claim's, perhaps)
    original_currency: str = ""


@dataclass(frozen=True, slots=True)
class Share:
    claim_id: int
    amount: Decimal  # in the claim's currency


@dataclass(frozen=True, slots=True)
class Match:
    """Where the money goes: one share per claim (the last one takes any surplus), the rule, the confidence."""

    shares: tuple[Share, ...]
    rule: str  # reference, provider, amount_name
    confidence: Decimal  # 0..1; below the shop's threshold a person decides (`payments unmatched`)
    reason: str
    candidates: tuple[int, ...] = ()

    @property
    def claim_ids(self) -> tuple[int, ...]:
        return tuple(share.claim_id for share in self.shares)


def compact(text: str) -> str:
    """Upper case, letters and digits only: "re-2026/0042" -> "RE20260042"."""
    return "".join(_TOKEN.findall(fold(text)))


def fold(text: str) -> str:
    """Upper case without accents, umlauts written out: "Größmann" -> "GROESSMANN"."""
    if text.isascii():
        return text.upper()
    text = text.upper().translate(_UMLAUTS)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def key_forms(number: str) -> list[str]:
    """The forms a printed number is searched by: compact, and compact with each digit group's leading zeros gone
    ("RE-2026-0042" -> "RE20260042", "RE202642"). The payer's text is searched as written, never stripped: a
    number the bank cut in two ("RE-00007" + "417") must not name claim RE-00000007."""
    if number.isascii() and number.isalnum():  # most order numbers: one token, no folding to do
        exact = number.upper()
        if exact.isdigit():
            stripped = exact.lstrip("0") or "0"
            return [exact] if stripped == exact else [exact, stripped]
    tokens = _TOKEN.findall(fold(number))
    exact = "".join(tokens)
    if exact.isalpha() or not exact:
        return []
    stripped = "".join((t.lstrip("0") or "0") if t.isdigit() else _LEADING_ZEROS.sub("", t) for t in tokens)
    return [exact] if stripped == exact else [exact, stripped]


# Legal forms say nothing about who paid: "Müller GmbH" and "Weber GmbH" share no name.
LEGAL_FORMS = frozenset({"GMBH", "AG", "KG", "UG", "OHG", "GBR", "EK", "EG", "MBH", "CO", "LTD", "LLC", "INC", "SA",
                         "SARL", "SAS", "BV", "NV", "AB", "AS", "OY", "SRL", "SPA", "PLC", "HAFTUNGSBESCHRAENKT"})


def name_tokens(name: str) -> frozenset[str]:
    return frozenset(t for t in _TOKEN.findall(fold(name)) if len(t) > 1 and t not in LEGAL_FORMS)


# A compact multimap: most keys name one claim, so the value is an int until a second claim shares the key.
Ids = int | tuple[int, ...]
K = TypeVar("K")


def add_id(index: dict[K, Ids], key: K, claim_id: int) -> None:
    """`claim_id` under `key`, once."""
    old = index.get(key)
    if old is None:
        index[key] = claim_id
    elif isinstance(old, int):
        if old != claim_id:
            index[key] = (old, claim_id)
    elif claim_id not in old:
        index[key] = (*old, claim_id)


def _remove(index: dict[K, Ids], key: K, claim_id: int) -> None:
    old = index.get(key)
    if old == claim_id:
        del index[key]
    elif isinstance(old, tuple) and claim_id in old:
        rest = tuple(i for i in old if i != claim_id)
        index[key] = rest[0] if len(rest) == 1 else rest


def ids_of(index: dict[K, Ids], key: K) -> tuple[int, ...]:
    """The claims under `key`."""
    found = index.get(key)
    return () if found is None else (found,) if isinstance(found, int) else found


@dataclass
class _Found:
    claim_id: int
    position: int  # where in the text: the order to split in
    keyword: bool  # announced by a keyword ("Rechnung 42")
    key: str  # the number as found

    @property
    def short(self) -> bool:
        return self.key.isdigit() and len(self.key) < SHORT


def _words(text: str) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """The text's words, plain and with a word cut at a line's end joined to the next line's first: each as
    (word, first and last index of the plain words it covers)."""
    raw = text.split("\n")  # an empty line (between fields) is a break nothing is joined across
    per_line = [_TOKEN.findall(fold(line)) for line in raw]
    plain: list[tuple[str, int, int]] = []
    merged: list[tuple[str, int, int]] = []
    for n, words in enumerate(per_line):
        cut = n > 0 and raw[n - 1].rstrip()[-1:].isalnum() and raw[n].lstrip()[:1].isalnum()
        for j, word in enumerate(words):
            k = len(plain)
            plain.append((word, k, k))
            if j == 0 and cut and merged:
                merged[-1] = (merged[-1][0] + word, merged[-1][1], k)
            else:
                merged.append((word, k, k))
    return plain, merged


def lookups(text: str) -> set[str]:
    """Every key `Matcher` may look up for a payment's text (more, not fewer: what is covered by a longer match
    is not left out). A store-side index answers these for a chunk of payments, and a `Matcher` over the claims
    it names matches them as one over all claims would. Digit-only keys are also looked up without leading
    zeros as an invoice number's core (see `core`)."""
    plain, merged = _words(text)
    keys: set[str] = set()
    for words in (merged, plain) if len(merged) < len(plain) else (plain,):
        texts = [w for w, _, _ in words]
        digits = [not w.isalpha() for w in texts]
        for i, word in enumerate(texts):
            for n in range(1, min(3, len(texts) - i) + 1):
                if any(digits[i:i + n]):
                    keys.add("".join(texts[i:i + n]))
            if digits[i] and word[:1].isalpha():
                keys.update(_DIGITS.findall(word))
    return keys


def core(invoice_number: str, order_number: str) -> str:
    """An invoice number's digits alone, without leading zeros ("RE-00100001" -> "100001"), when that could be
    read as another claim's order number; "" when not (no letters in it, or it is its own order number)."""
    digits = "".join(_DIGITS.findall(invoice_number)).lstrip("0")
    return digits if digits and digits != order_number and not invoice_number.isdigit() else ""


@dataclass
class Matcher:
    """An index over a shop's open claims; `match()` one payment at a time, `paid()` after booking it.

    Memory matters (a shop may have 100,000 open claims): keys map to an int, not a set, and an open amount is
    kept separately only once a payment has changed it."""

    claims: Iterable[OpenClaim]
    window_days: int = 120
    closed: Iterable[ClosedClaim] = ()  # only their numbers are kept: a payment naming one is not booked
    _by_id: dict[int, OpenClaim] = field(init=False, default_factory=dict)
    _paid: dict[int, Decimal] = field(init=False, default_factory=dict)  # open amounts changed by payments
    _by_key: dict[str, Ids] = field(init=False, default_factory=dict)
    _by_order: dict[str, int] = field(init=False, default_factory=dict)
    _by_amount: dict[str, dict[Decimal, Ids]] = field(init=False, default_factory=dict)  # currency -> amount
    _cores: dict[str, Ids] = field(init=False, default_factory=dict)  # an invoice number's digits alone
    _closed_by_id: dict[int, tuple[str, str]] = field(init=False, default_factory=dict)  # (invoice number, state)
    _closed_keys: dict[str, Ids] = field(init=False, default_factory=dict)
    _closed_orders: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for claim in self.claims:
            self._by_id[claim.id] = claim
            for number in (claim.invoice_number, claim.order_number):
                for form in key_forms(number):
                    add_id(self._by_key, form, claim.id)
            self._by_order[claim.order_id] = claim.id
            if digits := core(claim.invoice_number, claim.order_number):
                add_id(self._cores, digits, claim.id)
            amounts = self._by_amount.setdefault(claim.currency, {})
            for amount in (claim.open_amount, *claim.also):
                add_id(amounts, amount, claim.id)
        for gone in self.closed:
            self._closed_by_id[gone.id] = (gone.invoice_number, gone.state)
            for number in (gone.invoice_number, gone.order_number):
                for form in key_forms(number):
                    add_id(self._closed_keys, form, gone.id)
            self._closed_orders[gone.order_id] = gone.id
        self.claims = self.closed = ()  # the index holds what is needed; the caller's iterables may be generators

    def claim(self, claim_id: int) -> OpenClaim:
        return self._by_id[claim_id]

    def open_amount(self, claim_id: int) -> Decimal:
        return self._paid.get(claim_id, self._by_id[claim_id].open_amount)

    def paid(self, claim_id: int, amount: Decimal) -> None:
        """A payment was booked: the claim owes less (or nothing) for the payments that follow."""
        claim = self._by_id[claim_id]
        amounts = self._by_amount[claim.currency]
        before = self.open_amount(claim_id)
        _remove(amounts, before, claim_id)
        self._paid[claim_id] = max(before - amount, ZERO)
        if self._paid[claim_id] > 0:
            add_id(amounts, self._paid[claim_id], claim_id)

    def match(self, credit: Credit) -> Match | None:
        """The best match for `credit`, or None when no rule finds a claim."""
        return (self._by_reference(credit) or self._already_paid(credit) or self._by_provider(credit)
                or self._by_amount_and_name(credit))

    def proposal(self, credit: Credit) -> Match | None:
        """What to book for `credit`: its match, but as a guess for a person when a share is in another currency
        than the payment (what the bank converted, and what the rest of the payment is, a person says)."""
        match = self.match(credit)
        other = next((self._by_id[s.claim_id] for s in match.shares
                      if self._by_id[s.claim_id].currency != credit.currency), None) if match else None
        if match is None or other is None:
            return match
        return Match((), match.rule, min(match.confidence, Decimal("0.5")),
                     f"{match.reason}; the payment is in {credit.currency}, {other.invoice_number} in {other.currency}:"
                     f" a person books it with the amount in {other.currency}", match.candidates)

    def _already_paid(self, credit: Credit) -> Match | None:
        """A payment naming a claim that is no longer open (by its number, or the provider's order id): a second
        payment, or one for a cancelled order."""
        if not self._closed_by_id:
            return None
        found = [f for f in self._references(credit.text, self._closed_keys) if f.keyword or not f.short]
        ids = [f.claim_id for f in sorted(found, key=lambda f: f.position)]
        if credit.order_hint and credit.order_hint in self._closed_orders:
            ids.append(self._closed_orders[credit.order_hint])
        if not ids:
            return None
        named = tuple(dict.fromkeys(ids))
        which = ", ".join(f"{number} ({state})" for number, state in (self._closed_by_id[i] for i in named))
        return Match((), "reference" if found else "provider", Decimal("0.3"),
                     f"names {which}, no longer open: already paid: refund or assign", named)

    # -- rule 1 ---------------------------------------------------------------------------------------------------

    def _by_reference(self, credit: Credit) -> Match | None:
        found = self._references(credit.text)
        if (doubt := self._doubt(credit, found)) is not None:
            return doubt
        usable = [f for f in found if f.keyword or not f.short or self._amount_in(credit, self._by_id[f.claim_id])
                  == self.open_amount(f.claim_id)]
        listed = {f.claim_id for f in found} - {f.claim_id for f in usable}
        if listed and self._owed(credit, {f.claim_id for f in found}):
            usable = found  # "RE 1000 + 1001", "Sammelzahlung 51 + 53": the sum is exactly what they owe
        if not usable:  # only a bare short number and another amount: a guess for a person, not a booking
            return self._guess(credit, found) if found else None
        ids = list(dict.fromkeys(f.claim_id for f in sorted(usable, key=lambda f: f.position)))
        claims = [self._by_id[i] for i in ids if self._amount_in(credit, self._by_id[i]) is not None]
        claims = [c for c in claims if c.currency == claims[0].currency]  # one transfer, one currency to split
        if not claims:
            return Match((), "reference", Decimal("0.3"), "names a claim in another currency", tuple(ids))
        shares = self._split(credit, claims)
        paid = self._amount_in(credit, claims[0])
        exact = paid == sum((self.open_amount(c.id) for c in claims), ZERO) or (
            len(claims) == 1 and paid in claims[0].also)
        weak = any(f.short and not f.keyword for f in usable)
        # A bare short number only counts with the exact amount (see `usable`): two facts agreeing, not one.
        confidence = Decimal("1.0") if exact and not weak else Decimal("0.9") if not weak else Decimal("0.8")
        numbers = ", ".join(c.invoice_number for c in claims)
        how = "the amount owed" if exact else "a different amount (part or surplus)"
        return Match(shares, "reference", confidence, f"the text names {numbers}; pays {how}", tuple(ids))

    def _doubt(self, credit: Credit, found: list[_Found]) -> Match | None:
        """A bare number that is one claim's order number and another's invoice number without its letters
        ("100001" for RE-00100001): the amount decides, else a person does."""
        for f in found:
            if not f.key.isdigit():
                continue
            others = [i for i in ids_of(self._cores, f.key.lstrip("0")) if i != f.claim_id]
            if not others:
                continue
            fits = [i for i in (f.claim_id, *others) if self._amount_in(credit, self._by_id[i]) == self.open_amount(i)]
            if len(fits) == 1:
                claim = self._by_id[fits[0]]
                return Match(self._split(credit, [claim]), "reference", Decimal("0.8"),
                             f"{f.key} is an order and an invoice number; the amount owed names {claim.invoice_number}",
                             (f.claim_id, *others))
            return Match((), "reference", Decimal("0.3"), f"{f.key} is an order number and an invoice number",
                         (f.claim_id, *others))
        return None

    def _guess(self, credit: Credit, found: list[_Found]) -> Match | None:
        ids = tuple(dict.fromkeys(f.claim_id for f in sorted(found, key=lambda f: f.position)))
        claim = self._by_id[ids[0]]
        if len(ids) > 1 or self._amount_in(credit, claim) is None:
            return Match((), "reference", Decimal("0.3"), "short numbers in the text fit several claims", ids)
        return Match(self._split(credit, [claim]), "reference", Decimal("0.5"),
                     f"the text has {claim.invoice_number} without a word like Rechnung, and another amount", ids)

    def _references(self, text: str, keys: dict[str, Ids] | None = None) -> list[_Found]:
        """Every claim whose number appears in the text. A number the bank cut at the end of a purpose line is read
        joined across the break first, and then its halves do not count on their own ("RE-00007" / "417")."""
        plain, merged = _words(text)
        found: list[_Found] = []
        covered: set[int] = set()
        keys = self._by_key if keys is None else keys
        if len(merged) < len(plain):
            self._scan(merged, found, covered, keys, cover=True)
        self._scan(plain, found, covered, keys, cover=False)
        return found

    def _scan(self, words: list[tuple[str, int, int]], found: list[_Found], covered: set[int],
              keys: dict[str, Ids], *, cover: bool) -> None:
        """Longest match first: where "RE 100001" names an invoice, its "100001" is not also an order number."""
        texts = [w for w, _, _ in words]
        digits = [not w.isalpha() for w in texts]  # tokens are letters and digits only
        size, i = len(texts), 0
        while i < size:
            first = words[i][1]
            keyword = i > 0 and not digits[i - 1] and texts[i - 1].startswith(KEYWORDS)
            taken = 0
            for n in range(min(3, size - i), 0, -1):
                last = words[i + n - 1][2]
                if not any(digits[i:i + n]) or (covered and not cover and not covered.isdisjoint(
                        range(first, last + 1))):
                    continue
                candidate = "".join(texts[i:i + n])
                ids = ids_of(keys, candidate)
                if ids:
                    found += [_Found(claim_id, first, keyword, candidate) for claim_id in ids]
                    if cover:
                        covered.update(range(first, last + 1))
                    taken = n
                    break
            word = texts[i]
            if not taken and digits[i] and word[:1].isalpha() and not (not cover and first in covered):
                for part in _DIGITS.findall(word):  # "RE42", "NR0042": a number glued to its word
                    for claim_id in ids_of(keys, part):
                        found.append(_Found(claim_id, first, True, part))
            i += taken or 1

    # -- rule 2 ---------------------------------------------------------------------------------------------------

    def _by_provider(self, credit: Credit) -> Match | None:
        claim_id = self._by_order.get(credit.order_hint) if credit.order_hint else None
        if claim_id is None or self._amount_in(credit, self._by_id[claim_id]) is None:
            return None
        [share] = self._split(credit, [self._by_id[claim_id]])
        exact = share.amount == self.open_amount(claim_id)
        return Match((share,), "provider", Decimal("1.0") if exact else Decimal("0.9"),
                     f"the payment provider names order {credit.order_hint}", (claim_id,))

    # -- rule 3 ---------------------------------------------------------------------------------------------------

    def _by_amount_and_name(self, credit: Credit) -> Match | None:
        payer = name_tokens(credit.payer_name)
        candidates = []
        for currency, amount in dict.fromkeys([(credit.currency, credit.amount),
                                               (credit.original_currency, credit.original_amount)]):
            if amount is None:  # not sent in another currency
                continue
            for claim_id in ids_of(self._by_amount.get(currency, {}), amount):
                claim = self._by_id[claim_id]
                if 0 <= (credit.booked_on - claim.invoice_date).days <= self.window_days:
                    candidates.append(claim)
        if not candidates:
            return None
        scored = sorted(((self._name_score(payer, c), c.id) for c in candidates), reverse=True)
        best, claim_id = scored[0]
        ids = tuple(i for _, i in scored)
        if best == 0 or (len(scored) > 1 and scored[1][0] == best):
            why = "several open claims have this amount" if best else "the amount fits, the payer's name does not"
            return Match((), "amount_name", Decimal("0.3"), why, ids)
        [share] = self._split(credit, [self._by_id[claim_id]])
        confidence = Decimal("0.8") if best == 1 else Decimal("0.6")
        return Match((share,), "amount_name", confidence,
                     f"the open amount and {'the' if best == 1 else 'part of the'} customer's name match", ids)

    def _name_score(self, payer: frozenset[str], claim: OpenClaim) -> float:
        wanted = frozenset().union(*(name_tokens(n) for n in claim.names))
        if not payer or not wanted:
            return 0.0
        return len(payer & wanted) / min(len(payer), len(wanted))

    def _owed(self, credit: Credit, claim_ids: set[int]) -> bool:
        """Does the payment equal what these claims owe together?"""
        amounts = [self._amount_in(credit, self._by_id[i]) for i in claim_ids]
        return len(set(amounts)) == 1 and amounts[0] == sum((self.open_amount(i) for i in claim_ids), ZERO)

    # -- shares ---------------------------------------------------------------------------------------------------

    def _amount_in(self, credit: Credit, claim: OpenClaim) -> Decimal | None:
        """The payment in the claim's currency, None when it cannot be said."""
        if claim.currency == credit.currency:
            return credit.amount
        if claim.currency == credit.original_currency and credit.original_amount is not None:
            return credit.original_amount
        return None

    def _split(self, credit: Credit, claims: list[OpenClaim]) -> tuple[Share, ...]:
        """Each named claim gets what it owes, in the order named, until the money runs out."""
        shares: list[Share] = []
        left = self._amount_in(credit, claims[0]) or ZERO
        for claim in claims:
            # One claim takes all (a surplus becomes its credit); of several, each takes at most what it owes and
            # what is left over waits for a person rather than landing as a credit on whichever came last.
            take = left if len(claims) == 1 else min(left, self.open_amount(claim.id))
            if take > 0:
                shares.append(Share(claim.id, take))
            left -= take
        return tuple(shares)
