"""The claims list: filters, search, keyset pages, CSV, escaping, and the link to the claim page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select, update

from mahnwerk.sync.casework.claimlist import ClaimFilter, Cursor, claim_list, claim_page
from mahnwerk.sync.casework.reports import claim_rows
from mahnwerk.sync.config import Config
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, LedgerEntry, table_of
from mahnwerk.sync.web.app import create_app
from tests.web.conftest import log_in

CLAIMS, LEDGER = table_of(Claim), table_of(LedgerEntry)


def order_numbers(html: str) -> list[str]:
    return re.findall(r'<tr>\s*<td>(?:<a href="[^"]*">)?([^<]+)', html)


def claims(store: Store, **where: object) -> list[dict]:
    with store.connection() as conn:
        query = select(CLAIMS).order_by(CLAIMS.c.due_date, CLAIMS.c.id)
        for key, value in where.items():
            query = query.where(CLAIMS.c[key] == value)
        return [dict(row._mapping) for row in conn.execute(query)]


def test_the_open_claims_in_the_order_of_mahnwerk_claims(login: Callable[..., FlaskClient], config: Config,
                                                        store: Store) -> None:
    html = login("clara").get("/claims").get_data(as_text=True)
    expected = claim_rows(store, config.shops, now=utcnow())  # what `mahnwerk claims` lists, most overdue first
    assert order_numbers(html) == [row["order_number"] for row in expected]
    assert f"{len(expected)} Forderungen" in html
    assert re.search(r"\d+,\d\d\xa0€", html) and re.search(r"\d{2}\.\d{2}\.\d{4}", html)
    assert "Letzte Stufe" in html and "Fällig am" in html


def test_keyset_pages_walk_the_whole_list_both_ways(config: Config, store: Store) -> None:
    now, wanted = utcnow(), ClaimFilter(state="all")
    everything = [row["order_id"] for row in claim_list(store, config.shops, wanted, now, chunk=1000)]
    assert len(everything) == len(claims(store)) > 10
    pages, page = [], claim_page(store, config.shops, wanted, now, size=7)
    while True:
        pages.append([row["order_id"] for row in page.rows])
        assert page.total == len(everything)
        if page.next is None:
            break
        page = claim_page(store, config.shops, wanted, now, after=page.next, size=7)
    assert [order for chunk in pages for order in chunk] == everything
    assert page.previous is not None
    back = claim_page(store, config.shops, wanted, now, before=page.previous, size=7)
    assert [row["order_id"] for row in back.rows] == pages[-2]
    assert back.next is not None and back.previous is not None
    assert Cursor.parse(str(back.next)) == back.next and Cursor.parse("nonsense") is None


def test_the_pager_links_carry_the_filter(login: Callable[..., FlaskClient]) -> None:
    client = login("clara")
    first = client.get("/claims?state=all&size=5").get_data(as_text=True)
    link = re.search(r'href="(/claims\?[^"]*after=[^"]*)" rel="next"', first)
    assert link, first
    target = link.group(1).replace("&amp;", "&")
    assert "state=all" in target and "size=5" in target
    second = client.get(target).get_data(as_text=True)
    assert len(order_numbers(second)) == 5 and not set(order_numbers(first)) & set(order_numbers(second))
    assert 'rel="prev"' in second


def test_filters_state_bucket_stage_and_shop(login: Callable[..., FlaskClient], config: Config,
                                             store: Store) -> None:
    client = login("clara")
    rows = claims(store)
    some = rows[0]
    with store.connection() as conn:
        conn.execute(update(CLAIMS).where(CLAIMS.c.id == rows[1]["id"]).values(state="paid"))
        conn.execute(insert(LEDGER).values(claim_id=some["id"], at=datetime.now(UTC), kind="stage", source="cli",
                                           actor="test", data={"stage": "reminder", "kind": "reminder"}))
        conn.commit()
    closed = order_numbers(client.get("/claims?state=closed").get_data(as_text=True))
    assert rows[1]["order_number"] in closed
    assert rows[1]["order_number"] not in order_numbers(client.get("/claims").get_data(as_text=True))
    reminded = client.get("/claims?stage=reminder").get_data(as_text=True)
    assert order_numbers(reminded) == [some["order_number"]] and "Zahlungserinnerung" in reminded
    assert some["order_number"] not in order_numbers(client.get("/claims?stage=none").get_data(as_text=True))
    listed_rows = claim_rows(store, config.shops, now=utcnow())  # `mahnwerk claims`: its aging buckets
    for bucket in ("not yet due", "1-30", "31-60", "61-90", "over 90"):
        listed = order_numbers(client.get("/claims", query_string={"bucket": bucket}).get_data(as_text=True))
        assert listed == [r["order_number"] for r in listed_rows if r["aging"] == bucket]
    assert order_numbers(client.get("/claims?shop=nosuchshop").get_data(as_text=True))  # unknown shop: ignored


@pytest.mark.parametrize("field", ["order_number", "invoice_number", "name", "email"])
def test_search(login: Callable[..., FlaskClient], store: Store, field: str) -> None:
    target = claims(store)[3]
    query = {"order_number": target["order_number"], "invoice_number": target["invoice_number"],
             "name": target["customer_name"][:4].upper(), "email": target["email"][:5]}[field]
    found = order_numbers(login("clara").get("/claims", query_string={"q": query}).get_data(as_text=True))
    assert target["order_number"] in found
    if field in ("order_number", "invoice_number"):
        assert found == [target["order_number"]]
    else:
        assert all(query.lower() in (c["customer_name"].lower() + " " + c["email"].lower())
                   for c in claims(store) if c["order_number"] in found)
    assert order_numbers(login("clara").get("/claims?q=zzzznobody").get_data(as_text=True)) == []


def test_a_customer_named_script_is_shown_inert(login: Callable[..., FlaskClient], store: Store) -> None:
    target = claims(store)[0]
    with store.connection() as conn:
        conn.execute(update(CLAIMS).where(CLAIMS.c.id == target["id"])
                     .values(customer_name="<script>alert('x')</script>", company='"><img src=x onerror=alert(1)>'))
        conn.commit()
    html = login("clara").get("/claims", query_string={"q": "<script>"}).get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script" not in html and "<img" not in html


def test_csv_download_in_german_and_english(login: Callable[..., FlaskClient], store: Store) -> None:
    target = claims(store)[0]
    with store.connection() as conn:
        conn.execute(update(CLAIMS).where(CLAIMS.c.id == target["id"]).values(customer_name="=HYPERLINK(1)"))
        conn.commit()
    response = login("clara").get("/claims.csv?state=all")
    assert response.mimetype == "text/csv"
    assert re.match(r'attachment; filename="forderungen-\d{4}-\d\d-\d\d\.csv"', response.headers["Content-Disposition"])
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert table[0][:3] == ["Shop", "Bestellung", "Rechnung"]
    assert len(table) - 1 == len(claims(store))
    by_order = {row[1]: row for row in table[1:]}
    row = by_order[target["order_number"]]
    assert row[4] == "'=HYPERLINK(1)"  # a spreadsheet does not run it
    assert re.fullmatch(r"\d+,\d\d", row[12]) and re.fullmatch(r"\d\d\.\d\d\.\d{4}", row[9])
    english = login("vera", lang="en").get("/claims.csv?q=" + target["invoice_number"]).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(english.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Shop", "Order", "Invoice"] and len(rows) == 2
    assert re.fullmatch(r"\d+\.\d\d", rows[1][12])


def test_the_order_links_to_the_claim_page(config: Config, store: Store) -> None:
    client = create_app(config, store).test_client()
    log_in(client, "clara")
    first = claims(store)[0]
    html = client.get("/claims?state=all").get_data(as_text=True)
    assert f'<a href="/claims/acme/{first["order_id"]}">{first["order_number"]}</a>' in html
    page = client.get(f"/claims/acme/{first['order_id']}").get_data(as_text=True)
    assert f"acme:{first['order_number']}" in page  # the claim page (sync/web/pages/claim.py)


@pytest.mark.postgres
def test_search_filters_and_pages_on_postgresql(tmp_path, woo, pg_url: str) -> None:
    """The same list on PostgreSQL: the prefix ranges compare in byte order (COLLATE "C"), as the index does."""
    from mahnwerk.sync.cli.main import main
    from mahnwerk.sync.config import load_config
    from tests.support import write_config
    from tests.web.conftest import RATES

    etc = write_config(tmp_path / "etc", pg_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                  "secret": woo.consumer_secret, "extra": RATES}])
    assert main(["--config-dir", str(etc), "sync"]) == 0
    config = load_config(etc)
    store = Store(pg_url)
    try:
        now = utcnow()
        rows = claim_rows(store, config.shops, now=now)
        every = [r["order_id"] for r in claim_list(store, config.shops, ClaimFilter(), now, chunk=4)]
        assert every == [r["order_id"] for r in rows]
        target = claims(store)[2]
        for query in (target["order_number"], target["invoice_number"], target["customer_name"][:3].upper(),
                      target["email"][:4]):
            found = claim_page(store, config.shops, ClaimFilter(state="all", search=query), now).rows
            assert target["order_number"] in [r["order_number"] for r in found]
        for bucket in ("1-30", "over 90"):
            page = claim_page(store, config.shops, ClaimFilter(bucket=bucket), now)
            assert [r["order_id"] for r in page.rows] == [r["order_id"] for r in rows if r["aging"] == bucket]
        assert claim_page(store, config.shops, ClaimFilter(stage="none"), now).total == len(rows)
        assert claim_page(store, config.shops, ClaimFilter(stage="reminder"), now).total == 0
    finally:
        store.close()
