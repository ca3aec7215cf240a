"""The claims list as the web console shows it: filtered by shop, state, stage and aging bucket, searched by exact
order or invoice number or the start of the customer's name or e-mail address, in pages of most overdue first.

Everything is SQL over indexes (migration 0010): a page reads its `size` claims and their histories, never the
whole store, so 100,000 claims answer as fast as 100. Rows are `reports.claim_row` dicts (what `mahnwerk claims
--json` prints) plus the claim's last stage; the CSV export walks the same query in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, tuple_, union
from sqlmodel import col

from mahnwerk.policy.aging import BUCKET_NAMES, BUCKETS, NOT_DUE
from mahnwerk.sync.casework.casefile import histories
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.casework.reports import OWING, STATES, claim_row, state_condition
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry, table_of

NO_STAGE = "none"  # the stage filter's word for "nothing sent yet"
LEDGER = table_of(LedgerEntry)
PAGE_SIZE = 50


@dataclass(frozen=True)
class ClaimFilter:
    """What the list shows: "" means any. `bucket` implies open claims (aging counts only those)."""

    shop: str = ""
    state: str = "open"  # one of reports.STATES
    stage: str = ""  # a stage name, or NO_STAGE
    bucket: str = ""  # one of policy.aging.BUCKET_NAMES
    search: str = ""

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)} (got {self.state!r})")
        if self.bucket and self.bucket not in BUCKET_NAMES:
            raise ValueError(f"bucket must be one of {', '.join(BUCKET_NAMES)} (got {self.bucket!r})")


@dataclass(frozen=True)
class Cursor:
    """A place in the list's order (due date, id): the page starts after it or ends before it."""

    due: date
    id: int

    def __str__(self) -> str:
        return f"{self.due.isoformat()}.{self.id}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """None for a missing or malformed cursor (the first page)."""
        due, _, claim_id = (text or "").partition(".")
        try:
            return cls(date.fromisoformat(due), int(claim_id))
        except ValueError:
            return None


@dataclass
class ClaimPage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0  # claims matching the filter, on all pages
    next: Cursor | None = None
    previous: Cursor | None = None


def conditions(store: Store, shops: Sequence[ShopConfig], wanted: ClaimFilter, now: datetime) -> list[Any]:
    """The WHERE conditions for `wanted` over the given shops (a shop filter picks one of them)."""
    shops = [shop for shop in shops if not wanted.shop or shop.id == wanted.shop]
    # coalesce() keeps the planner off ix_claims_shop_state: most stores hold one shop or a few, so the shop says
    # little, and that index would make it sort every claim instead of reading one index range in list order.
    found: list[Any] = [func.coalesce(col(Claim.shop_id), "").in_([shop.id for shop in shops])]
    found += state_condition(ClaimState.OPEN if wanted.bucket else wanted.state)
    if wanted.bucket:
        found.append(or_(*(and_(col(Claim.shop_id) == shop.id, due_in(wanted.bucket, shop_today(shop, now)))
                           for shop in shops)))
    if wanted.stage:
        found.append(stage_condition(wanted.stage))
    if wanted.search.strip():
        found.append(search_condition(wanted.search.strip(), store.engine.dialect.name))
    return found


def due_in(name: str, today: date) -> Any:
    """Due dates of the aging bucket `name` on `today` (policy.aging: days overdue = today - due date)."""
    if name == NOT_DUE:
        return col(Claim.due_date) >= today
    low, high = next((low, high) for bucket, low, high in BUCKETS if bucket == name)
    latest = col(Claim.due_date) <= today - timedelta(days=low)
    return latest if high is None else and_(latest, col(Claim.due_date) >= today - timedelta(days=high))


def stage_condition(stage: str) -> Any:
    """Claims whose last stage entry in the ledger is `stage` (NO_STAGE: claims without any): `claims.last_stage`,
    which a trigger on the ledger keeps (migration 0012), one range of ix_claims_state_stage_due."""
    return col(Claim.last_stage) == ("" if stage == NO_STAGE else stage)


def search_condition(text: str, dialect: str) -> Any:
    """An exact order or invoice number ("#" before it allowed), or the start of the name or e-mail address,
    case-insensitive: each one index range (ix_claims_order_number, ..._name_prefix, ..._email_prefix). SQLite
    gets the ids looked up apart and united: with the terms OR-ed beside the state and the list order it walks
    every open claim in ix_claims_state_due instead (1 s at 100,000 claims, bench/webclaims.py). PostgreSQL ORs
    the index ranges in one bitmap, which also stays fast for a prefix most claims share (the union is not)."""
    numbers = {text, text.removeprefix("#")}
    terms: list[Any] = [col(Claim.order_number).in_(numbers), col(Claim.invoice_number).in_(numbers)]
    for prefix in prefixes(text, dialect):
        for column in (col(Claim.customer_name), col(Claim.email)):
            lowered: Any = func.lower(column)
            if dialect == "postgresql":
                lowered = lowered.collate("C")  # as the index is (byte order)
            terms.append(and_(lowered >= prefix, lowered < prefix[:-1] + chr(ord(prefix[-1]) + 1)))
    if dialect == "sqlite":
        return col(Claim.id).in_(union(*(select(col(Claim.id)).where(term) for term in terms)))
    return or_(*terms)


def prefixes(text: str, dialect: str) -> list[str]:
    """What lower(column) starts with when the column starts with `text`, case aside. SQLite's lower() folds
    ASCII letters only ("Ö" stays): there the typed, the lower-case and the capitalised forms are tried."""
    if dialect != "sqlite":
        return [text.lower()]
    ascii_lower = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    forms = (text, text.lower(), text[:1].upper() + text[1:].lower())
    return list(dict.fromkeys(form.translate(ascii_lower) for form in forms))


def claim_page(store: Store, shops: Sequence[ShopConfig], wanted: ClaimFilter, now: datetime, *,
               after: Cursor | None = None, before: Cursor | None = None, size: int = PAGE_SIZE,
               count: bool = True) -> ClaimPage:
    """One page of the list, most overdue first: the first, the one after `after`, or the one before `before`;
    with the number of matching claims unless `count` is false."""
    where = conditions(store, shops, wanted, now)
    order = tuple_(col(Claim.due_date), col(Claim.id))
    query = select(Claim).where(*where)
    if before is not None:
        query = query.where(order < tuple_(before.due, before.id))
        query = query.order_by(col(Claim.due_date).desc(), col(Claim.id).desc())
    else:
        if after is not None:
            query = query.where(order > tuple_(after.due, after.id))
        query = query.order_by(col(Claim.due_date), col(Claim.id))
    with store.session() as session:
        claims = list(session.execute(query.limit(size + 1)).scalars())
        more = len(claims) > size
        claims = claims[:size]
        if before is not None:
            claims.reverse()
        total = session.execute(select(func.count()).select_from(Claim).where(*where)).scalar_one() if count else 0
        rows = list_rows(session.connection(), shops, claims, now)
    page = ClaimPage(rows, total)
    if claims:
        first, last = claims[0], claims[-1]
        page.next = Cursor(last.due_date, last.id or 0) if more or before is not None else None
        page.previous = Cursor(first.due_date, first.id or 0) if after is not None or (before and more) else None
    return page


def claim_list(store: Store, shops: Sequence[ShopConfig], wanted: ClaimFilter, now: datetime, *,
               chunk: int = 1000) -> Iterator[dict[str, Any]]:
    """Every claim of the filtered list in its order, `chunk` claims per query (the CSV download)."""
    after: Cursor | None = None
    while True:
        page = claim_page(store, shops, wanted, now, after=after, size=chunk, count=False)
        yield from page.rows
        if page.next is None:
            return
        after = page.next


def list_rows(conn: Connection, shops: Sequence[ShopConfig], claims: Sequence[Claim],
              now: datetime) -> list[dict[str, Any]]:
    """The claims as `claim_row` dicts with their last stage ("" for none), histories read for these only."""
    by_id = {shop.id: shop for shop in shops}
    events: dict[int, Any] = {}
    for shop in shops:
        owing = [c.id for c in claims if c.shop_id == shop.id and c.state in OWING and c.id is not None]
        events.update(histories(conn, owing, shop.timezone))
    rows = []
    for claim in claims:
        shop = by_id[claim.shop_id]
        row = claim_row(claim, events.get(claim.id or 0, ()), shop_today(shop, now), shop.policy)
        rows.append(row | {"stage": claim.last_stage})
    return rows


def stage_names(shops: Sequence[ShopConfig]) -> list[str]:
    """The stages of the shops' policies, in ladder order, each once (for the stage filter)."""
    return list(dict.fromkeys(stage.name for shop in shops for stage in shop.policy.stages))
