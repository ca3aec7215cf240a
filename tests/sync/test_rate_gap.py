"""While the base rate of a half-year is missing (the shipped table ends 2026-06-30; today is later and this shop
adds no [[policy.base_rates]] row): business claims in default still get their reminder, with no interest figure;
`run`, `status`, `check` and `plan` count them once per table and name `mahnwerk rates update`; `mark-paid` and the
shop's private note say what is known instead of None or "?". The memory shop, a real database, the CLI in-process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.daemon import shop_job
from mahnwerk.sync.service.running import run_shops
from tests.memoryshop import MemoryShop, invoice_order, memory_kind, open_shop
from tests.sync.test_memory_kind import SHOP_TOML, TOKEN, URL, camt, cli
from tests.sync.test_run import MERCHANT

FIX = "`mahnwerk rates update`"
GAP = "for the Basiszinssatz (DE, §247 BGB) from 2026-07-01"


@pytest.fixture
def shop() -> Iterator[MemoryShop]:
    # Placed 60 days ago, payment term 14 days: due 46 days ago; businesses (a VAT id) are in default once 30 days
    # after the due date have passed (§286(3) BGB, moved past a weekend by §193), i.e. from about 15 days ago:
    # a day of 2026-H2 or later, for which no base rate is known.
    orders = [invoice_order("1", days_ago=60, total="119.00", company="Blumen Berger GmbH",
                            vat_id="DE123456789"),
              invoice_order("2", days_ago=60, total="80.00"),  # a consumer: not in default without a notice
              invoice_order("3", days_ago=60, total="59.90", company="Gärtnerei Groß KG", country="AT",
                            vat_id="ATU12345678")]
    with memory_kind():
        yield open_shop(URL, token=TOKEN, orders=orders)


@pytest.fixture
def etc(tmp_path: Path, shop: MemoryShop, db_url: str) -> Path:
    folder = tmp_path / "etc"
    (folder / "shops").mkdir(parents=True)
    (folder / "mahnwerk.toml").write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    (folder / "shops" / "mem.toml").write_text(SHOP_TOML.format(url=URL, token=TOKEN, extra=MERCHANT),
                                               encoding="utf-8")
    return folder


def test_a_blocked_business_claim_gets_its_reminder_without_any_interest_figure(etc: Path, shop: MemoryShop,
                                                                                capsys) -> None:
    out = cli(etc, capsys, "run")
    assert "mem: 3 decided, 3 sent" in out
    assert f"2 claims wait {GAP}" in out and "2 of them get their reminder without interest" in out and FIX in out
    [mail] = shop.messages_to("1")
    text = mail.message.text
    # 119.00 + the €40 flat fee of §288(5) BGB (due with default, no rate needed) = 159.00; no interest at all
    # (the reminder itemises no cost, as with a known rate: policy/templates/README.md)
    assert "Rechnungsbetrag: 119,00\xa0€" in text and "Offener Betrag: 159,00\xa0€" in text
    assert "Zins" not in text and "None" not in text and "?" not in text
    [consumer] = shop.messages_to("2")
    assert "Offener Betrag: 80,00\xa0€" in consumer.message.text
    [note] = [n for n in shop.notes_of("1") if n.startswith("Mahnwerk: reminder sent")]
    # after the reminder the claim waits for the rate: the note says what is known, 159.00 without interest
    assert "Open: open principal and fees €159.00; interest not yet computable: base rate for 2026-H2 missing " \
           f"({FIX})" in note
    assert "?" not in note and "None" not in note


def test_run_and_status_json_count_the_claims_per_table(etc: Path, shop: MemoryShop, capsys) -> None:
    [result] = cli(etc, capsys, "run", "--json")
    assert result["sent"] == 3 and result["blocked"]["rate_missing"] == 2
    assert result["blocked"]["tables"] == [{"table": "Basiszinssatz (DE, §247 BGB)", "from": "2026-07-01",
                                            "half_year": "2026-H2", "claims": 2, "reminders_without_interest": 2,
                                            "fix": "mahnwerk rates update"}]
    [status] = cli(etc, capsys, "status", "--json")
    # the reminders went out: now every dunning notice waits for the rate, the consumer's too (in default from
    # the day after its reminder's deadline, in 2026-H2 or later)
    assert status["open_claims"] == 3 and status["blocked"]["rate_missing"] == 3
    assert status["blocked"]["tables"][0]["reminders_without_interest"] == 0
    out = cli(etc, capsys, "status")
    assert f"mem: 3 claims wait {GAP} (no dunning notice with interest until then): run {FIX}" in " ".join(
        out.split())


def test_check_names_the_count_and_the_command(etc: Path, shop: MemoryShop, capsys) -> None:
    cli(etc, capsys, "sync")
    out = " ".join(cli(etc, capsys, "check").split())
    assert "the Basiszinssatz (DE, §247 BGB) table ends 2026-06-30" in out and f"until you run {FIX}" in out
    assert f"warning: 2 claims wait {GAP}" in out
    [verdict] = cli(etc, capsys, "check", "--json")
    assert verdict["blocked"]["rate_missing"] == 2


def test_plan_says_it_once_per_table(etc: Path, shop: MemoryShop, capsys) -> None:
    cli(etc, capsys, "run")
    out = cli(etc, capsys, "plan")
    lines = out.splitlines()
    assert [line for line in lines if GAP in line] == [
        f"3 claims wait {GAP} (no dunning notice with interest until then): run {FIX} (or add the rate as a "
        "[[policy.base_rates]] row in the shop file); * owed without interest"]
    assert "None" not in out and " ? " not in out
    rows = {r["order_number"]: r for r in cli(etc, capsys, "plan", "--json")}
    blocked = rows["M-1"]
    assert (blocked["status"], blocked["interest"], blocked["open_amount"]) == ("blocked", None, None)
    assert blocked["open_without_interest"] == "159.00" and blocked["problem"] == \
        "no Basiszinssatz (DE, §247 BGB) from 2026-07-01"
    assert blocked["rate_gap"] == {"table": "Basiszinssatz (DE, §247 BGB)", "from": "2026-07-01"}
    # the consumer's dunning_1 falls after its reminder's deadline: in default, it waits for the rate too
    assert rows["M-2"]["rate_gap"] == blocked["rate_gap"] and rows["M-2"]["open_without_interest"] == "80.00"


def test_mark_paid_says_what_is_known(etc: Path, shop: MemoryShop, capsys) -> None:
    cli(etc, capsys, "sync")
    out = cli(etc, capsys, "mark-paid", "mem:M-1", "--amount", "50.00")
    # §367 BGB without interest: 50.00 pays the €40 flat fee, 10.00 the principal: 119.00 - 10.00 = 109.00 open
    assert "still open: open principal 109.00 EUR; interest not yet computable: base rate for 2026-H2 missing " \
           f"({FIX})" in " ".join(out.split())
    assert "None" not in out
    outcome = cli(etc, capsys, "mark-paid", "mem:M-3", "--amount", "10.00", "--json")
    # the same for the AT-addressed business under the German preset: 10.00 goes to the flat fee, 30.00 + 59.90 left
    assert outcome["open_amount"] is None and outcome["interest_unknown"] is True
    assert outcome["open"].startswith("open principal and fees 89.90 EUR; interest not yet computable")


def test_run_shops_reports_the_count_for_the_daemon(etc: Path, shop: MemoryShop) -> None:
    config = load_config(etc)
    store = open_store(config)
    try:
        [result] = run_shops(store, config, config.shops, now=lambda: datetime.now(UTC), sleep=lambda s: None)
    finally:
        store.close()
    assert result.blocked.total == 2 and result.blocked.lines()[0].startswith(f"2 claims wait {GAP}")


def test_the_daemons_days_run_logs_the_count_and_the_command(etc: Path, shop: MemoryShop) -> None:
    config = load_config(etc)
    store = open_store(config)
    zone = config.shops[0].timezone
    late = datetime.now(zone).replace(hour=23, minute=30)  # after the day's run_at, still today
    try:
        with capture_logs() as logs:
            shop_job(store, config.shops[0], config, now=lambda: late)
    finally:
        store.close()
    [event] = [e for e in logs if e["event"] == "daemon.rate_missing"]
    assert (event["log_level"], event["table"], event["since"], event["claims"], event["fix"]) == (
        "warning", "Basiszinssatz (DE, §247 BGB)", "2026-07-01", 2, "mahnwerk rates update")
    assert event["message"].startswith(f"2 claims wait {GAP}")


def test_a_part_payment_note_says_the_figure_leaves_interest_out(tmp_path: Path, etc: Path, shop: MemoryShop,
                                                                 capsys) -> None:
    cli(etc, capsys, "sync")
    statement = camt(tmp_path / "statement.xml", ("BANK-2", "50.00", "RE-2026-00001 Teilzahlung"))
    imported = cli(etc, capsys, "payments", "import", str(statement), "--json")
    assert (imported["booked"], imported["partial"]) == (1, 1)
    cli(etc, capsys, "run")
    [note] = [n for n in shop.notes_of("1") if n.startswith("Mahnwerk: payment of 50.00 EUR")]
    # no base rate, so no interest in the split: 50.00 less the €40 flat fee pays 10.00 of 119.00 → 109.00
    assert "still open: 109.00 EUR without interest; interest not yet computable: a base rate is missing " \
           f"({FIX})." in note
