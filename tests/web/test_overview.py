"""The overview page: the same figures as `mahnwerk claims`, `plan` and `status`, in German and English, with an
aging chart whose bars stay inside their box."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from flask.testing import FlaskClient

from mahnwerk.policy.aging import AgingLine
from mahnwerk.sync.casework.outlook import outlook
from mahnwerk.sync.casework.planner import plan_rows
from mahnwerk.sync.casework.reports import aging, claim_rows
from mahnwerk.sync.config import Config, load_config
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.web.app import create_app
from mahnwerk.sync.web.charts import aging_chart
from tests.web.conftest import RATES, log_in


def test_the_outlook_agrees_with_claims_and_plan(config: Config, store: Store) -> None:
    now = utcnow()
    shop = config.shops[0]
    found = outlook(store, shop, now)
    assert found.aging == aging(claim_rows(store, [shop], now=now))  # the same aging as `mahnwerk claims`
    due = Counter(row["action"] for row in plan_rows(store, [shop], on=None, now=now) if row["status"] == "due")
    assert found.next_run == due and sum(due.values()) > 0  # what `mahnwerk plan` says is due today


def test_overview_in_german(login: Callable[..., FlaskClient], config: Config, store: Store) -> None:
    html = login("clara").get("/").get_data(as_text=True)
    assert "<h1>Übersicht</h1>" in html and "Letzter Abgleich" in html and "erfolgreich" in html
    totals = outlook(store, config.shops[0], utcnow()).totals()
    count, amount = totals["EUR"]
    euros = f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")  # 1.234,56
    assert f"{count} offen, zusammen {euros}\xa0€" in html
    assert re.search(r"\d+ × Zahlungserinnerung", html)
    assert re.search(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}", html)  # dd.mm.yyyy hh:mm
    assert not re.search(r"\s[,.;:]", re.sub(r"<[^>]+>", "", html))  # no stray space before a comma or stop
    assert "Unzustellbare Aufträge" in html and "Zahlungen warten auf Zuordnung" in html
    assert "über 90 Tage" in html and "1 Forderungen" not in html


def test_overview_in_english(login: Callable[..., FlaskClient]) -> None:
    html = login("vera", lang="en").get("/").get_data(as_text=True)  # vera's own setting is English
    assert "<h1>Overview</h1>" in html and "Last sync" in html and "payment reminder" in html
    assert re.search(r"\d+ open, €[\d,]+\.\d\d in total", html)


def test_blocked_claims_show_the_fix(etc: Path, store: Store) -> None:
    shop_file = etc / "shops" / "acme.toml"
    shop_file.write_text(shop_file.read_text(encoding="utf-8").replace(RATES, ""), encoding="utf-8")
    client = create_app(load_config(etc), store).test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de-DE,de;q=0.9,en;q=0.5"
    log_in(client, "clara")
    html = client.get("/").get_data(as_text=True)
    assert "Blockierte Forderungen" in html
    assert re.search(r"\d+ Forderungen? warte[tn]? auf den Basiszinssatz \(DE, §247 BGB\) ab 01\.07\.2026", html)
    assert "<code>mahnwerk rates update</code>" in html


def test_the_aging_bars_stay_inside_their_box() -> None:
    lines = [AgingLine("EUR", "1-30", 3, Decimal("999999.99")), AgingLine("EUR", "over 90", 1, Decimal("0.01")),
             AgingLine("USD", "1-30", 1, Decimal("5"))]
    chart = aging_chart(lines, "EUR")
    assert len(chart.bars) == 5
    for bar in chart.bars:
        assert bar.x >= 0 and bar.x + bar.width <= chart.width
        assert bar.y > 0 and bar.y + bar.height <= chart.baseline + 0.05 < chart.height
        assert bar.height >= (1 if bar.amount else 0)  # a cent still shows
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.bucket == "1-30" and tallest.y - 20 >= 0  # room for its amount above it
    assert aging_chart([], "EUR").bars[0].height == 0


def test_the_svg_draws_the_chart_without_inline_style(login: Callable[..., FlaskClient]) -> None:
    html = login("clara").get("/").get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<rect") == 5 and "style=" not in svg
    for y, height in re.findall(r'<rect class="bar" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg):
        assert float(y) >= 0 and float(y) + float(height) <= 240


def test_the_cache_answers_the_old_value_while_it_computes_the_new_one() -> None:
    import threading

    from mahnwerk.sync.web.cache import TimedCache

    clock = [0.0]
    cache = TimedCache(ttl=120, clock=lambda: clock[0])
    computed: list[int] = []
    release = threading.Event()

    def compute() -> int:
        computed.append(len(computed) + 1)
        if len(computed) > 1:
            release.wait(10)
        return computed[-1]

    assert cache.get("k", compute) == 1
    clock[0] = 60
    assert cache.get("k", compute) == 1 and computed == [1]  # fresh: not computed again
    clock[0] = 200
    assert cache.get("k", compute) == 1  # stale: answered at once, refreshed in a thread
    assert cache.get("k", compute) == 1  # a second request starts no second refresh
    release.set()
    for _ in range(200):
        if cache.get("k", lambda: 99) == 2:
            break
        threading.Event().wait(0.01)
    assert cache.get("k", compute) == 2 and computed == [1, 2]
