"""Matching against a store-side index of the claims, so that a run's memory grows with the statement, not with the
open claims (a million of them held in a `Matcher` took ~1 GB).

`claim_keys` holds the forms a payer's text is searched by (policy.matching.key_forms of each claim's invoice and
order number, and "*" + an invoice number's core digits), `claim_index` what they were computed from and the open
amount (indexed for the amount rule). `refresh()` brings both up to date at the start of a run for the claims that
are new or changed since the last one, so the mirror pays nothing for them.

`StoreMatcher` matches a chunk of payments: it asks the store for every claim the chunk's texts and order ids could
name, and the amounts of those payments that name no open claim could pay, builds a `Matcher` over just those, and
replays on it this run's earlier bookings to them. The
claims loaded are a superset of those a `Matcher` over all claims could reach for these payments, each in the state
that one would have, so the outcomes are the same, payment for payment.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Numeric, bindparam, cast, delete, or_, select

from mahnwerk.policy.matching import (
    ClosedClaim,
    Credit,
    Ids,
    Match,
    Matcher,
    OpenClaim,
    add_id,
    core,
    ids_of,
    key_forms,
    lookups,
)
from mahnwerk.sync.casework.casefile import LEDGER, POLICY_KINDS, histories
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.payments.reconcile import CLAIM_COLUMNS, CLAIMS, closed_since, open_claim, owed_today
from mahnwerk.sync.store.bulk import bulk_insert, chunked, for_ids
from mahnwerk.sync.store.coltypes import tidy
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import ClaimIndexRow, ClaimKey, ClaimState, table_of

INDEX, KEYS = table_of(ClaimIndexRow), table_of(ClaimKey)
CORE = "*"  # the prefix of an invoice number's core digits among the keys (key forms are letters and digits)
REFRESH_CHUNK = 5000
LOOKUP_CHUNK = 10_000  # keys per query (SQLite allows 32,766 parameters)

# The shop's claims whose numbers or amount differ from what they were indexed with, or that were never indexed: one
# scan of the shop's claims with a look-up of each in claim_index (in no order: with ORDER BY id and LIMIT, SQLite
# would read the shop's claims through an index on shop_id and sort them, once per chunk).
STALE = (select(CLAIMS.c.id).select_from(CLAIMS.outerjoin(INDEX, INDEX.c.claim_id == CLAIMS.c.id))
         .where(CLAIMS.c.shop_id == bindparam("shop"),
                or_(INDEX.c.claim_id.is_(None), INDEX.c.invoice_number != CLAIMS.c.invoice_number,
                    INDEX.c.order_number != CLAIMS.c.order_number, INDEX.c.currency != CLAIMS.c.currency,
                    # by value: SQLite holds money as text, claims' as the shop wrote it ("119.5"), the index's
                    # tidied ("119.50", which look-ups can name exactly)
                    cast(INDEX.c.open_amount, Numeric) != cast(CLAIMS.c.open_amount, Numeric))))
NUMBERS = for_ids(lambda among: select(CLAIMS.c.id, CLAIMS.c.invoice_number, CLAIMS.c.order_number, CLAIMS.c.currency,
                                       CLAIMS.c.open_amount).where(among), CLAIMS.c.id)
DROP_KEYS = for_ids(lambda among: delete(KEYS).where(among), KEYS.c.claim_id)
DROP_INDEX = for_ids(lambda among: delete(INDEX).where(among), INDEX.c.claim_id)
BY_KEY = for_ids(lambda among: select(KEYS.c.key, KEYS.c.claim_id).where(KEYS.c.shop_id == bindparam("shop"), among),
                 KEYS.c.key)
BY_ORDER = for_ids(lambda among: select(CLAIMS.c.id).where(CLAIMS.c.shop_id == bindparam("shop"), among),
                   CLAIMS.c.order_id)
# The open amount as indexed: as it was when the run began (booking does not change claims.open_amount).
BY_AMOUNT = for_ids(lambda among: select(INDEX.c.claim_id).where(
    INDEX.c.shop_id == bindparam("shop"), INDEX.c.currency == bindparam("currency"), among), INDEX.c.open_amount)
ROWS = for_ids(lambda among: select(*CLAIM_COLUMNS, CLAIMS.c.closed_at).where(among).order_by(CLAIMS.c.id),
               CLAIMS.c.id)
# The shop's open claims with policy events (notices, payments, holds...): those owe what the policy says today
# rather than their invoice's open amount.
WITH_HISTORY = (select(LEDGER.c.claim_id).distinct().join(CLAIMS, CLAIMS.c.id == LEDGER.c.claim_id)
                .where(LEDGER.c.kind.in_(POLICY_KINDS), CLAIMS.c.shop_id == bindparam("shop"),
                       CLAIMS.c.state == ClaimState.OPEN))
OPEN_ROWS = for_ids(lambda among: select(*CLAIM_COLUMNS).where(among), CLAIMS.c.id)


def amount_key(amount: Decimal) -> int | Decimal:
    """An amount as a small dictionary key: whole cents as an int (28 bytes, not a Decimal's 104)."""
    cents = amount * 100
    return int(cents) if cents == cents.to_integral_value() else amount


def claim_keys(invoice_number: str, order_number: str) -> set[str]:
    """The keys a claim is found by in `claim_keys`."""
    keys = {*key_forms(invoice_number), *key_forms(order_number)}
    if digits := core(invoice_number, order_number):
        keys.add(CORE + digits)
    return keys


def refresh(conn: Connection, shop_id: str) -> int:
    """Index the shop's claims that are new or changed since the last refresh, in the current transaction; how many."""
    stale = array("q", conn.execute(STALE, {"shop": shop_id}).scalars())  # 8 bytes a claim, at most once
    for part in chunked(sorted(stale), REFRESH_CHUNK):
        conn.execute(DROP_KEYS(conn), {"ids": part})
        conn.execute(DROP_INDEX(conn), {"ids": part})
        rows = conn.execute(NUMBERS(conn), {"ids": part}).all()
        bulk_insert(conn, INDEX, [{"claim_id": id_, "shop_id": shop_id, "invoice_number": invoice,
                                   "order_number": order, "currency": currency, "open_amount": tidy(amount)}
                                  for id_, invoice, order, currency, amount in rows])
        bulk_insert(conn, KEYS, [{"shop_id": shop_id, "key": key, "claim_id": id_}
                                 for id_, invoice, order, _, _ in rows for key in claim_keys(invoice, order)])
    return len(stale)


def padded(conn: Connection, values: list[Any]) -> list[Any]:
    """`values` for an `IN (...)` on SQLite, repeated up to the next power of two: each length is a statement of its
    own, which SQLite keeps prepared (128 of them, ~100 bytes per parameter: a new length per chunk grew a run by
    over 100 MB), and a few lengths are a few statements. PostgreSQL gets one array: unchanged."""
    if conn.dialect.name != "sqlite" or not values:
        return values
    return values + [values[0]] * ((1 << (len(values) - 1).bit_length()) - len(values))


def among(conn: Connection, query: Any, values: Iterable[Any], *, scalars: bool = True, **params: Any
          ) -> Iterator[Any]:
    """The rows of `query` (a `for_ids` statement; with `scalars` their first column) for `values`, LOOKUP_CHUNK at a
    time."""
    statement = query(conn)
    for part in chunked(list(values), LOOKUP_CHUNK):
        result = conn.execute(statement, {"ids": padded(conn, part), **params})
        yield from result.scalars() if scalars else result


class StoreMatcher:
    """One run's matching against the store (open and recently closed claims as they were when it began): `match()`
    a chunk of payments at a time. Held in memory: which open claims with a ledger history owe today an amount that
    is not their open amount (the amount rule looks for it), and the claims this run booked to with their bookings:
    both grow with the statement, or with the claims in casework, not with all open claims."""

    def __init__(self, store: Store, shop: ShopConfig, today: date) -> None:
        self.store, self.shop, self.today = store, shop, today
        self.closed_since = closed_since(shop, today)
        # currency -> amount (`amount_key`) -> the open claims with a history that owe it today: ~100 B a claim
        self.by_owed: dict[str, dict[int | Decimal, Ids]] = {}
        with store.connection() as conn:
            refresh(conn, shop.id)
            conn.commit()
            with_history = sorted(conn.execute(WITH_HISTORY, {"shop": shop.id}).scalars())
            for part in chunked(with_history, REFRESH_CHUNK):
                for row, owed in self.owing(conn, conn.execute(OPEN_ROWS(conn), {"ids": padded(conn, part)}).all()):
                    if owed is not None and owed != row.open_amount:  # the open amount is looked up anyway
                        add_id(self.by_owed.setdefault(row.currency, {}), amount_key(owed), row.id)
        # Claims this run booked to, with the amounts booked (Matcher.paid() in order: their rows and ledgers have
        # changed since, but not their numbers, names or invoice's open amount), what those with a history owed at
        # the start, and what those not paid in full owe since, for the amount rule.
        self.booked: dict[int, list[Decimal]] = {}
        self.booked_owed: dict[int, Decimal] = {}
        self.by_booked: dict[tuple[str, Decimal], set[int]] = {}

    def owing(self, conn: Connection, rows: Sequence[Any]) -> Iterator[tuple[Any, Decimal | None]]:
        """Each open claims row with what it owes today by its ledger history (None: no history, or not known)."""
        events = histories(conn, padded(conn, [row.id for row in rows]), self.shop.timezone)
        for row in rows:
            yield row, owed_today(row, events[row.id], self.today, self.shop) if row.id in events else None

    def match(self, credits: Sequence[Credit], sure: Callable[[Match | None], bool]) -> list[Match | None]:
        """Each credit's proposal, in order; a `sure` one is booked for those that follow."""
        matcher = self.matcher(credits)
        matches = []
        for credit in credits:
            match = matcher.proposal(credit)
            if match is not None and sure(match):
                for share in match.shares:
                    claim = matcher.claim(share.claim_id)
                    if claim.id not in self.booked and claim.also != (claim.open_amount,):
                        self.booked_owed[claim.id] = claim.open_amount
                    matcher.paid(share.claim_id, share.amount)
                    self.booked.setdefault(share.claim_id, []).append(share.amount)
                    if (left := matcher.open_amount(share.claim_id)) > 0:  # else not in the amount index
                        self.by_booked.setdefault((claim.currency, left), set()).add(share.claim_id)
            matches.append(match)
        return matches

    def matcher(self, credits: Sequence[Credit]) -> Matcher:
        """A `Matcher` over every claim these credits could name or pay, standing as a `Matcher` over all claims
        would at this point of the run."""
        texts = [lookups(credit.text) for credit in credits]
        keys = set().union(*texts)
        keys.update([CORE + digits for key in keys if key.isdigit() and (digits := key.lstrip("0"))])
        orders = {credit.order_hint for credit in credits if credit.order_hint}
        shop = self.shop.id
        open_: dict[int, OpenClaim] = {}
        closed: dict[int, ClosedClaim] = {}
        with self.store.connection() as conn:
            named: dict[str, list[int]] = {}
            for key, claim_id in among(conn, BY_KEY, keys, scalars=False, shop=shop):
                named.setdefault(key, []).append(claim_id)
            self.load(conn, {i for ids in named.values() for i in ids} | set(among(conn, BY_ORDER, orders, shop=shop)),
                      open_, closed)
            # The amount rule is only reached by a payment whose text names no open claim: the reference rule finds
            # one as soon as any of its keys is an open claim's (a hit at a position is found, longest first), and
            # then decides. Only the other payments' amounts are looked up (most payments name their claim).
            amounts: set[tuple[str, Decimal]] = set()
            for credit, found in zip(credits, texts, strict=True):
                if not any(i in open_ for key in found for i in named.get(key, ())):
                    amounts.add((credit.currency, credit.amount))
                    if credit.original_amount is not None:
                        amounts.add((credit.original_currency, credit.original_amount))
            ids: set[int] = set()
            for currency in {currency for currency, _ in amounts}:
                ids.update(among(conn, BY_AMOUNT, [tidy(a) for c, a in amounts if c == currency], shop=shop,
                                 currency=currency))
            for currency, amount in amounts:
                ids.update(ids_of(self.by_owed.get(currency, {}), amount_key(amount)))
                ids.update(self.by_booked.get((currency, amount), ()))
            self.load(conn, ids - open_.keys() - closed.keys(), open_, closed)
        # In id order, as one over all claims has them: which of several claims named alike comes first.
        matcher = Matcher(sorted(open_.values(), key=lambda claim: claim.id),
                          window_days=self.shop.payments.name_window_days,
                          closed=sorted(closed.values(), key=lambda claim: claim.id))
        for claim_id in open_.keys() & self.booked.keys():
            for booked in self.booked[claim_id]:
                matcher.paid(claim_id, booked)
        return matcher

    def load(self, conn: Connection, ids: set[int], open_: dict[int, OpenClaim],
             closed: dict[int, ClosedClaim]) -> None:
        """The claims `ids` into `open_` and `closed` as they stood at the run's start (others are left out)."""
        statement = ROWS(conn)
        for part in chunked(sorted(ids), LOOKUP_CHUNK):
            rows = conn.execute(statement, {"ids": padded(conn, part)}).all()
            # One booked to in this run is open, perhaps paid since, and owes what it did at the start.
            for row in rows:
                if row.id in self.booked:
                    open_[row.id] = open_claim(row, self.booked_owed.get(row.id))
                elif row.state in ClaimState.CLOSED and (row.closed_at is None or row.closed_at >= self.closed_since):
                    closed[row.id] = ClosedClaim(row.id, row.invoice_number, row.order_number, row.order_id, row.state)
            unbooked = [row for row in rows if row.state == ClaimState.OPEN and row.id not in self.booked]
            open_.update((row.id, open_claim(row, owed)) for row, owed in self.owing(conn, unbooked))
