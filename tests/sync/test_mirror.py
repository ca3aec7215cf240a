"""The mirror against the sandbox shop over real HTTP, into a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from mahnwerk.sync.config import ShopConfig, load_config
from mahnwerk.sync.service.syncing import sync_one
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry, Quarantine, SyncCursor
from tests.support import write_config

INVOICE_METHODS = {"bacs", "cheque", "invoice"}


def shop_config(tmp_path: Path, woo, db_url: str, *, shop_id: str = "acme", extra: str = "",
                secret: str | None = None) -> ShopConfig:
    """Load a real config folder pointing at the sandbox."""
    write_config(tmp_path / "etc", db_url, [{"shop_id": shop_id, "url": woo.url, "key": woo.consumer_key,
                                              "secret": secret or woo.consumer_secret, "extra": extra}])
    return load_config(tmp_path / "etc").shop(shop_id)


def all_orders(woo) -> list[dict]:
    """Every order the shop's own API lists (status any), read page by page."""
    orders, page = [], 1
    while True:
        r = requests.get(f"{woo.url}/wp-json/wc/v3/orders", auth=(woo.consumer_key, woo.consumer_secret),
                         params={"per_page": 100, "page": page, "status": "any"}, timeout=10)
        r.raise_for_status()
        orders += r.json()
        if page >= int(r.headers["X-WP-TotalPages"]):
            return orders
        page += 1


def unpaid_invoice_ids(woo) -> set[str]:
    """What the shop itself says is unpaid on invoice: on-hold invoice orders with money still open."""
    ids = set()
    for o in all_orders(woo):
        try:
            open_amount = Decimal(o["total"]) - sum(-Decimal(r["total"]) for r in o["refunds"])
        except (KeyError, TypeError, InvalidOperation):  # a malformed order: the shop cannot say either
            open_amount = Decimal("1")
        if o["payment_method"] in INVOICE_METHODS and o["status"] == "on-hold" and open_amount > 0:
            ids.add(str(o["id"]))
    return ids


def claims(store: Store, state: str | None = None) -> dict[str, Claim]:
    """The stored claims by order id."""
    with store.session() as session:
        query = select(Claim) if state is None else select(Claim).where(Claim.state == state)
        return {c.order_id: c for c in session.execute(query).scalars()}


def ledger_kinds(store: Store, order_id: str) -> list[str]:
    """The ledger entry kinds of one claim, oldest first."""
    with store.session() as session:
        return list(session.execute(select(LedgerEntry.kind).join(Claim, Claim.id == LedgerEntry.claim_id)
                                    .where(Claim.order_id == order_id).order_by(LedgerEntry.id)).scalars())


@pytest.fixture
def store(db_url: str):
    """A migrated store on each database."""
    store = Store(db_url)
    yield store
    store.close()


def test_backfill_mirrors_exactly_the_unpaid_invoice_orders(tmp_path, woo, store) -> None:
    """After the first sync the open claims are exactly the shop's unpaid invoice orders, with amounts net of
    refunds."""
    shop = shop_config(tmp_path, woo, store.url, extra="[sync]\npage_size = 7")
    result = sync_one(store, shop)
    assert result.ok, result.error
    expected = unpaid_invoice_ids(woo)
    assert set(claims(store, ClaimState.OPEN)) == expected and len(expected) > 10
    for order_id, claim in claims(store).items():
        raw = woo.order(int(order_id))
        refunded = sum(-Decimal(r["total"]) for r in raw["refunds"])
        assert claim.open_amount == Decimal(raw["total"]) - refunded and claim.currency == raw["currency"]
        assert ledger_kinds(store, order_id) == ["opened"]
    assert result.counts.new == len(expected) and result.counts.pages >= 60 // 7


def test_idle_poll_is_one_request(tmp_path, woo, store) -> None:
    """A second sync with nothing changed sends exactly one HTTP request and changes nothing."""
    shop = shop_config(tmp_path, woo, store.url, extra="[sync]\npage_size = 10")
    sync_one(store, shop)
    woo.clear_requests()
    result = sync_one(store, shop)
    assert result.ok and result.counts.requests == 1 and len(woo.requests) == 1
    assert (result.counts.new, result.counts.updated, result.counts.closed) == (0, 0, 0)


def test_paid_order_leaves_open_claims_with_a_ledger_entry(tmp_path, woo, store) -> None:
    """An order marked paid in the shop closes its claim on the next sync, and the ledger says so."""
    shop = shop_config(tmp_path, woo, store.url)
    sync_one(store, shop)
    order_id = sorted(claims(store, ClaimState.OPEN))[0]
    woo.update_order(int(order_id), status="processing")
    result = sync_one(store, shop)
    assert result.counts.closed == 1
    claim = claims(store)[order_id]
    assert claim.state == ClaimState.PAID and claim.closed_at is not None
    assert ledger_kinds(store, order_id) == ["opened", "closed"]


def test_trashed_order_leaves_open_claims_on_the_next_sync(tmp_path, woo, store) -> None:
    """Trash bumps only date_modified and "status=any" never lists trash (real WooCommerce 10): the incremental
    read names its statuses, trash included, so the next poll sees it without waiting for the re-read."""
    shop = shop_config(tmp_path, woo, store.url)
    sync_one(store, shop)
    order_id = sorted(claims(store, ClaimState.OPEN))[0]
    woo.trash(int(order_id))
    woo.clear_requests()
    result = sync_one(store, shop)
    assert result.ok and result.counts.closed == 1 and not result.counts.reread
    assert claims(store)[order_id].state == ClaimState.TRASHED and len(woo.requests) == 1
    assert "trash" in woo.requests[0].query["status"][0].split(",")


def test_refund_reduces_open_amount_and_full_refund_closes(tmp_path, woo, store) -> None:
    """A partial refund lowers the open amount; a full refund closes the claim as refunded."""
    shop = shop_config(tmp_path, woo, store.url)
    sync_one(store, shop)
    first, second = sorted(claims(store, ClaimState.OPEN))[:2]
    woo.refund(int(first), "1.00")
    woo.refund(int(second), woo.order(int(second))["total"])
    sync_one(store, shop)
    now = claims(store)
    assert now[first].open_amount == now[first].gross_amount - Decimal("1.00") and now[first].state == "open"
    assert now[second].state == ClaimState.REFUNDED
    assert ledger_kinds(store, first) == ["opened", "changed"]


def test_same_second_changes_across_pages_are_not_skipped(tmp_path, woo, store) -> None:
    """Twenty-five orders changed in the same second, read three per page, all arrive."""
    shop = shop_config(tmp_path, woo, store.url, extra="[sync]\npage_size = 3")
    sync_one(store, shop)
    tick = woo.clock()
    woo.clock = lambda: tick.replace(year=tick.year + 1)  # every change below lands in one and the same second
    targets = sorted(claims(store, ClaimState.OPEN))[:25]
    for order_id in targets:
        woo.update_order(int(order_id), status="completed")
    result = sync_one(store, shop)
    assert result.ok and result.counts.closed == len(targets)
    assert all(claims(store)[t].state == ClaimState.PAID for t in targets)


@pytest.mark.parametrize("fault", ["429", "500", "truncated", "slow"])
def test_transient_faults_are_retried(tmp_path, woo, store, fault) -> None:
    """429 with Retry-After, 500, a truncated body: retried, and the sync completes with the same result."""
    shop = shop_config(tmp_path, woo, store.url, extra="[http]\nmax_backoff = \"1s\"\ntimeout = \"2s\"")
    if fault == "429":
        woo.fail_next(429, retry_after=0, times=2)
    elif fault == "500":
        woo.fail_next(500, retry_after=None)
    elif fault == "truncated":
        woo.truncate_next()
    else:
        woo.slow_next(2.5)  # longer than the read timeout: the first attempt times out
    result = sync_one(store, shop)
    assert result.ok, result.error
    assert set(claims(store, ClaimState.OPEN)) == unpaid_invoice_ids(woo)


def test_persistent_broken_pages_fail_the_run_without_moving_the_cursor(tmp_path, woo, store) -> None:
    """When every retry gets a truncated page, the run fails and the cursor stays where it was."""
    shop = shop_config(tmp_path, woo, store.url, extra="[http]\nmax_attempts = 2\nmax_backoff = \"1s\"")
    sync_one(store, shop)
    with store.session() as session:
        before = session.get(SyncCursor, ("acme", "orders")).value
    woo.update_order(int(sorted(claims(store, ClaimState.OPEN))[0]), status="completed")
    woo.truncate_next(times=2)
    result = sync_one(store, shop)
    assert not result.ok and "truncated response body" in result.error
    with store.session() as session:
        assert session.get(SyncCursor, ("acme", "orders")).value == before
    assert sync_one(store, shop).counts.closed == 1


def test_wrong_secret_stops_that_shop_only(tmp_path, woo, store) -> None:
    """A rejected secret fails its shop with a clear message; a second shop syncs regardless."""
    bad = shop_config(tmp_path / "bad", woo, store.url, shop_id="bad", secret="cs_" + "0" * 40)
    good = shop_config(tmp_path / "good", woo, store.url, shop_id="good")
    from mahnwerk.sync.service.syncing import sync_shops

    results = sync_shops(store, [bad, good])
    assert [r.ok for r in results] == [False, True]
    assert results[0].auth_failed and "Consumer secret is invalid" in results[0].error
    assert "cs_000" not in results[0].error


def test_malformed_orders_are_quarantined_and_the_rest_goes_on(tmp_path, woo, store) -> None:
    """Broken invoice orders land in quarantine with their reason; every good order is mirrored."""
    from mahnwerk.sandbox import malformed_orders

    for raw in malformed_orders():
        woo.add_order(raw)
    shop = shop_config(tmp_path, woo, store.url)
    result = sync_one(store, shop)
    assert result.ok and result.counts.quarantined == len(malformed_orders())
    with store.session() as session:
        rows = session.execute(select(Quarantine)).scalars().all()
    assert {r.field for r in rows} >= {"total", "currency"} and all(r.reason and r.raw for r in rows)
    assert set(claims(store, ClaimState.OPEN)) == unpaid_invoice_ids(woo) - {r.record_id for r in rows}


def test_quarantined_order_is_mirrored_once_fixed(tmp_path, woo, store) -> None:
    """An order fixed in the shop leaves quarantine and becomes a claim."""
    from mahnwerk.sandbox import malformed_orders

    broken = woo.add_order(next(o for o in malformed_orders() if o.get("total") is None))
    shop = shop_config(tmp_path, woo, store.url)
    sync_one(store, shop)
    woo.update_order(broken["id"], total="49.90")
    sync_one(store, shop)
    assert claims(store)[str(broken["id"])].open_amount == Decimal("49.90")
    with store.session() as session:
        row = session.execute(select(Quarantine).where(Quarantine.record_id == str(broken["id"]))).scalar_one()
    assert row.resolved_at is not None


def test_reread_catches_trash_deletion_and_silent_changes(tmp_path, woo, store) -> None:
    """Deleted orders and changes that keep date_modified are found by the re-read by id (trash even before)."""
    shop = shop_config(tmp_path, woo, store.url)
    sync_one(store, shop)
    trashed, deleted, silent = sorted(claims(store, ClaimState.OPEN))[:3]
    woo.trash(int(trashed))
    woo.delete(int(deleted))
    woo.touch_without_modifying(int(silent), status="completed")
    assert sync_one(store, shop, reread=False).counts.closed == 1  # the trash: its date_modified moved
    result = sync_one(store, shop, reread=True)
    assert result.counts.closed == 2 and result.counts.reread
    now = claims(store)
    assert (now[trashed].state, now[deleted].state, now[silent].state) == ("trashed", "deleted", "paid")


def test_hostile_customer_data_round_trips_verbatim(tmp_path, woo, store) -> None:
    """Formulas, markup and SQL in names are stored exactly as the customer typed them."""
    shop = shop_config(tmp_path, woo, store.url)
    hostile = '=HYPERLINK("http://x","y")'
    order = woo.add_order({"status": "on-hold", "payment_method": "bacs", "currency": "EUR", "total": "10.00",
                           "billing": {"first_name": hostile, "last_name": "<script>alert(1)</script>",
                                       "company": "Robert'); DROP TABLE claims;--", "country": "DE",
                                       "email": "x@example.org"}})
    sync_one(store, shop)
    claim = claims(store)[str(order["id"])]
    assert claim.customer_name == f"{hostile} <script>alert(1)</script>"
    assert claim.company == "Robert'); DROP TABLE claims;--" and not claim.is_b2b  # business_when = ["vat_id"]
    with store.session() as session:
        assert session.execute(select(func.count()).select_from(Claim)).scalar() >= 1


def test_orders_modified_while_paging_do_not_hide_others(tmp_path, woo, store) -> None:
    """Orders already read that change mid-backfill move to the end of the list; nothing after them is skipped."""
    shop = shop_config(tmp_path, woo, store.url, extra="[sync]\npage_size = 5")
    tick = woo.clock()
    woo.clock = lambda: tick.replace(year=tick.year + 1)  # changes made now sort after every existing order
    seen_pages: list[int] = []

    def meanwhile(counts) -> None:
        """After each of the first pages, the shop changes two orders that were already read."""
        seen_pages.append(counts.pages)
        if counts.pages <= 3:
            for order_id in sorted(claims(store, ClaimState.OPEN))[:2]:
                woo.update_order(int(order_id), customer_note=f"edited after page {counts.pages}")

    from mahnwerk.sync.service.syncing import sync_one as sync

    result = sync(store, shop, on_page=meanwhile)
    assert result.ok and len(seen_pages) > 5
    assert set(claims(store, ClaimState.OPEN)) == unpaid_invoice_ids(woo)
