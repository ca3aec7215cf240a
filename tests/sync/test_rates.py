"""`mahnwerk rates` and `rates update` end to end: the Bundesbank sandbox over HTTP on 127.0.0.1, a memory shop with
one consumer claim in default across 2026-07-01, a real database (SQLite and PostgreSQL), the CLI in-process."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from mahnwerk.policy.interest import cents
from mahnwerk.policy.rates import DE_BASE_RATE, next_half_year
from mahnwerk.sandbox.bundesbank import BundesbankSandbox, BundesbankServer
from mahnwerk.sync.casework.planner import assessments
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.baserates import RatesJob, config_with_rates
from mahnwerk.sync.service.bootstrap import open_store
from tests.memoryshop import MemoryShop, invoice_order, memory_kind, open_shop

URL = "https://mem.shop.test"
SHOP_TOML = """\
[shop]
id = "mem"
kind = "memory"
url = "{url}"
timezone = "Europe/Berlin"

[shop.auth]
token = "t0k3n"

[invoice]
payment_term_days = 14

[policy]
due_date_agreed = true
{extra}
"""
# Invoice 2026-06-01 (a Monday), due 2026-06-15 (a Monday): default from 2026-06-16, across 2026-07-01.
CREATED = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
JULY_RATE = "1.02"  # the sandbox's value for 2026-07-01 (and every later half-year up to today's)


@pytest.fixture
def shop() -> Iterator[MemoryShop]:
    with memory_kind():
        yield open_shop(URL, token="t0k3n", orders=[invoice_order("1", days_ago=0, total="1000.00", now=CREATED)])


@pytest.fixture
def bundesbank() -> Iterator[BundesbankServer]:
    """The shipped rows, then 1.02 % from 2026-07-01 through the half-year of today."""
    sandbox = BundesbankSandbox({row.valid_from: row.rate for row in DE_BASE_RATE.rows})
    day = date(2026, 7, 1)
    while day <= date.today():
        sandbox.publish(day.isoformat(), JULY_RATE)
        day = next_half_year(day)
    with BundesbankServer(sandbox) as server:
        yield server


def write_etc(folder: Path, db_url: str, rates_url: str, *, extra: str = "", timeout: str = "5s") -> Path:
    (folder / "shops").mkdir(parents=True, exist_ok=True)
    (folder / "mahnwerk.toml").write_text(f'[database]\nurl = "{db_url}"\n\n[rates]\nbundesbank_url = "{rates_url}"\n'
                                          f'timeout = "{timeout}"\n', encoding="utf-8")
    (folder / "shops" / "mem.toml").write_text(SHOP_TOML.format(url=URL, extra=extra), encoding="utf-8")
    return folder


@pytest.fixture
def etc(tmp_path: Path, shop: MemoryShop, bundesbank: BundesbankServer, db_url: str) -> Path:
    folder = write_etc(tmp_path / "etc", db_url, bundesbank.series_url)
    assert main(["--config-dir", str(folder), "sync"]) == 0
    return folder


def cli(etc: Path, capsys, *args: str, code: int = 0) -> str:
    capsys.readouterr()
    assert main(["--config-dir", str(etc), *args]) == code
    out = capsys.readouterr()
    return out.out if code == 0 else out.err


def check(etc: Path, capsys) -> str:
    """`mahnwerk check`'s output, whatever its verdict (the memory shop has no [merchant] to send with)."""
    capsys.readouterr()
    main(["--config-dir", str(etc), "check"])
    return capsys.readouterr().out


def tables(etc: Path, capsys) -> dict[str, dict]:
    return {t["key"]: t for t in json.loads(cli(etc, capsys, "rates", "--json"))["tables"]}


def stored(etc: Path) -> list[tuple[str, date, Decimal, str]]:
    from sqlmodel import select

    from mahnwerk.sync.store.models import BaseRateRow
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            return [(r.table_key, r.valid_from, r.rate, r.source) for r in
                    session.exec(select(BaseRateRow).order_by(BaseRateRow.valid_from))]
    finally:
        store.close()


def test_update_stores_the_new_half_years_and_a_second_update_changes_nothing(etc: Path, capsys, bundesbank) -> None:
    """The shipped rows are published unchanged, so only 2026-07-01 and later are stored, with URL and fetch time."""
    out = cli(etc, capsys, "rates", "update")
    rows = stored(etc)
    assert rows[0] == ("de", date(2026, 7, 1), Decimal("1.02"), bundesbank.series_url)
    assert all(r[1] >= date(2026, 7, 1) and r[2] == Decimal("1.02") for r in rows)
    assert f"DE: {len(rows)} row(s) added, 0 changed from {bundesbank.series_url}" in out
    assert "added 2026-07-01: 1.02 %" in out and "AT: the OeNB publishes no machine-readable" in out
    assert bundesbank.sandbox.requests == ["/rest/data/BBIN1/M.DE.BBK.BBKBAS2.EUR.ME?format=sdmx_csv"]
    again = cli(etc, capsys, "rates", "update")
    assert "DE: up to date" in again and "nothing changed" in again
    assert stored(etc) == rows


def test_a_changed_published_value_is_reported_and_wins(etc: Path, capsys, bundesbank) -> None:
    """The Bundesbank corrects 2026-07-01 from 1.02 to 1.12: printed, logged as a warning, the store follows."""
    cli(etc, capsys, "rates", "update")
    bundesbank.sandbox.publish("2026-07-01", "1.12")
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "rates", "update"]) == 0
    out, err = capsys.readouterr()
    assert "1 changed" in out and "changed 2026-07-01: 1.02 % -> 1.12 % (the Bundesbank now publishes 1.12)" in out
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(e["event"] == "rates.changed" and e["level"] == "warning" and e["was"] == "1.02" for e in logged)
    assert stored(etc)[0][:3] == ("de", date(2026, 7, 1), Decimal("1.12"))


def test_a_published_value_beats_a_typed_in_shipped_row_but_says_so(etc: Path, capsys, bundesbank) -> None:
    """The sandbox publishes 2.00 for 2026-01-01 where the shipped table says 1.27: stored and noted."""
    bundesbank.sandbox.publish("2026-01-01", "2.00")
    out = cli(etc, capsys, "rates", "update")
    assert ("note 2026-01-01: the shipped table says 1.27 %, the Bundesbank publishes 2.00 %: the published value is "
            "used") in out
    assert ("de", date(2026, 1, 1), Decimal("2.00")) in [r[:3] for r in stored(etc)]


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/rest/data/BBIN1/M.DE.BBK.BBKBAS2.EUR.ME?format=sdmx_csv"


@pytest.mark.parametrize(("fault", "cause"), [
    ("offline", "cannot connect: Connection refused"),
    ("500", 'HTTP 500 ({"title": "Internal Server Error"})'),
    ("malformed", "malformed answer: no SDMX-CSV header with TIME_PERIOD and OBS_VALUE"),
    ("slow", "timed out waiting for an answer"),
])
def test_a_failed_update_says_why_in_one_line_and_changes_nothing(tmp_path: Path, shop, bundesbank, capsys,
                                                                  fault: str, cause: str) -> None:
    url = closed_port_url() if fault == "offline" else bundesbank.series_url
    etc = write_etc(tmp_path / "etc", f"sqlite:///{tmp_path / 'm.db'}", url, timeout="1s")
    if fault != "offline":
        bundesbank.sandbox.fail_next(fault, seconds=2.5)
    err = cli(etc, capsys, "rates", "update", code=1)
    assert err.splitlines()[-1] == f"error: Bundesbank {url}: {cause}; nothing changed"  # before it: the log line
    assert stored(etc) == []


def test_rates_shows_sources_and_the_claims_a_missing_half_year_blocks(etc: Path, capsys, bundesbank) -> None:
    """Offline (no update yet) the claim in default since 2026-06-16 is blocked by DE; after the update it is not,
    and its interest to 2026-08-01 is computed with the fetched row:

    2026-06-16 … 06-30: 15 days at 1.27 + 5 = 6.27 %: 1000 × 6.27 × 15 / 36500 = 2.5767123…
    2026-07-01 … 07-31: 31 days at 1.02 + 5 = 6.02 %: 1000 × 6.02 × 31 / 36500 = 5.1128767…
    total 7.6895890… → €7.69
    """
    before = tables(etc, capsys)
    assert (before["de"]["known_until"], before["de"]["blocked_claims"]) == ("2026-06-30", 1)
    assert (before["at"]["known_until"], before["at"]["blocked_claims"], before["at"]["shops"]) == ("2026-06-30", 0, [])
    assert before["de"]["rows"][-1] == {"valid_from": "2026-01-01", "rate": "1.27", "origin": "shipped",
                                        "source": "shipped", "fetched_at": None}
    assert len(before["de"]["rows"]) == 6 and before["de"]["row_count"] == len(DE_BASE_RATE.rows)
    text = cli(etc, capsys, "rates")
    assert "DE Basiszinssatz (DE, §247 BGB): known until 2026-06-30; 1 open claim(s) blocked" in text
    assert "to unblock them: run `mahnwerk rates update`, or add the missing half-year" in text
    plan = json.loads(cli(etc, capsys, "plan", "--json", "--date", "2026-07-31"))
    # The first stage is a reminder: it goes out without interest while the rate is missing (the claim still waits).
    assert [(row["status"], row["rate_gap"]) for row in plan] == [
        ("due", {"table": "Basiszinssatz (DE, §247 BGB)", "from": "2026-07-01"})]
    assert "table ends 2026-06-30: interest for later days is refused" in check(etc, capsys)
    assert "until you run `mahnwerk rates update` (or add the published rate" in check(etc, capsys)

    cli(etc, capsys, "rates", "update")
    after = tables(etc, capsys)
    assert after["de"]["blocked_claims"] == 0
    fetched = next(r for r in after["de"]["rows"] if r["valid_from"] == "2026-07-01")
    assert (fetched["rate"], fetched["origin"], fetched["source"]) == ("1.02", "fetched", bundesbank.series_url)
    assert datetime.fromisoformat(fetched["fetched_at"]).date() == datetime.now(UTC).date()
    every = json.loads(cli(etc, capsys, "rates", "--json", "--all"))["tables"][0]["rows"]
    assert len(every) == after["de"]["row_count"]
    plan = json.loads(cli(etc, capsys, "plan", "--json", "--date", "2026-07-31"))
    assert [(row["status"], row["rate_gap"]) for row in plan] == [("due", None)]
    assert "Basiszinssatz (DE, §247 BGB) table ends" not in check(etc, capsys)

    config = load_config(etc)
    store = open_store(config)
    try:
        shop = config_with_rates(config, store).shops[0]
        [(_, result)] = list(assessments(store, shop, date(2026, 8, 1)))
    finally:
        store.close()
    assert result.default_on == date(2026, 6, 16) and result.balance is not None
    assert [(p.start, p.days, p.annual_rate) for p in result.balance.periods] == [
        (date(2026, 6, 16), 15, Decimal("6.27")), (date(2026, 7, 1), 31, Decimal("6.02"))]
    assert cents(result.balance.interest) == Decimal("7.69")


def test_a_config_row_wins_over_the_published_one_and_the_difference_is_reported(tmp_path: Path, shop, bundesbank,
                                                                                  capsys, db_url: str) -> None:
    """The merchant typed 1.27 for 2026-07-01; the Bundesbank publishes 1.02: the shop keeps 1.27, update says so."""
    etc = write_etc(tmp_path / "etc", db_url, bundesbank.series_url,
                    extra='[[policy.base_rates]]\ntable = "de"\nvalid_from = 2026-07-01\nrate = "1.27"\n')
    out = cli(etc, capsys, "rates", "update")
    assert ("note 2026-07-01: shop mem sets 1.27 % in shops/mem.toml:15, the Bundesbank publishes 1.02 %: the shop's "
            "row is used") in out
    row = next(r for r in tables(etc, capsys)["de"]["rows"] if r["valid_from"] == "2026-07-01")
    assert (row["rate"], row["origin"], row["source"], row["shop"]) == ("1.27", "config", "shops/mem.toml:15", "mem")
    config = load_config(etc)
    store = open_store(config)
    try:
        table = config_with_rates(config, store).shops[0].policy.interest_b2c.table
    finally:
        store.close()
    assert table is not None and table.rate_on(date(2026, 9, 1)) == Decimal("1.27")
    assert table.known_until >= date(2026, 12, 31)  # the later fetched half-years count too


def test_the_daemon_job_updates_once_a_day_and_logs_the_outcome(etc: Path, bundesbank) -> None:
    """On 2027-01-05 the job fetches (rates.updated), a second call that day does nothing; a failure on the next
    day is logged as rates.update_failed with the reason and raises nothing."""
    config = load_config(etc)
    store = open_store(config)
    moment = [datetime(2027, 1, 5, 9, 0, tzinfo=UTC)]
    job = RatesJob(store, config, now=lambda: moment[0])
    try:
        with capture_logs() as logs:
            job()
            job()
            moment[0] = datetime(2027, 1, 6, 9, 0, tzinfo=UTC)
            bundesbank.sandbox.fail_next(500)
            job()
    finally:
        store.close()
    events = [(e["event"], e.get("reason")) for e in logs if e["event"].startswith("rates.update")]
    assert events[0][0] == "rates.updated" and len(bundesbank.sandbox.requests) == 2
    assert events[1:] == [("rates.update_failed", f"Bundesbank {bundesbank.series_url}: HTTP 500 "
                                                  '({"title": "Internal Server Error"})')]


@pytest.mark.parametrize(("today", "last", "due"), [
    ("2027-01-01", None, True), ("2027-01-14", "2027-01-13", True), ("2027-01-14", "2027-01-14", False),
    ("2027-01-15", None, False), ("2026-12-31", None, False), ("2027-07-01", "2027-01-14", True),
    ("2027-07-14", None, True), ("2027-07-15", None, False), ("2027-03-01", None, False),
])
def test_an_update_is_due_once_a_day_on_the_first_14_days_of_january_and_july(today: str, last: str | None,
                                                                               due: bool) -> None:
    from mahnwerk.sync.service.baserates import update_due
    assert update_due(date.fromisoformat(today), date.fromisoformat(last) if last else None) is due


def test_the_daemon_has_one_rates_job_besides_the_shop_jobs(etc: Path) -> None:
    """One job for the daemon, not per shop; without a config (tests of the shop jobs alone) there is none."""
    from mahnwerk.sync.service.daemon import build_scheduler

    config = load_config(etc)
    store = open_store(config)
    try:
        jobs = sorted(job.id for job in build_scheduler(store, config.shops, config).get_jobs())
        bare = [job.id for job in build_scheduler(store, config.shops).get_jobs()]
    finally:
        store.close()
    assert jobs == ["rates", "shop:mem"] and bare == ["shop:mem"]
