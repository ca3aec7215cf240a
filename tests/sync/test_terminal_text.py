"""Text from a shop or a bank never drives the terminal: escape sequences in a customer's name or a remittance are
shown as visible escapes by every command a person reads (claims, explain, plan, tasks, payments unmatched, status,
the log), while `--json` keeps them exact. The data comes in the real way: the sandbox shop over HTTP, a payment
imported into the real database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select

from mahnwerk.sync.cli.logs import configure_logging
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.cli.views import dumps, safe
from mahnwerk.sync.store.models import Claim, ClaimState
from tests.support import write_config
from tests.sync.test_payments import bring_in, credit, synced
from tests.sync.test_run import MERCHANT, RATES, query

CLEAR, TITLE, CSI = "\x1b[2J", "\x1b]0;pwned\x07", "\x9b31m"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what must never reach the terminal (tab, newline may)


@pytest.fixture
def etc(tmp_path: Path, woo, db_url: str) -> Path:
    return write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                    "secret": woo.consumer_secret, "extra": RATES + MERCHANT}])


def cli(etc: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["--config-dir", str(etc), *args]) == 0
    captured = capsys.readouterr()
    assert not RAW.search(captured.err), captured.err
    return captured.out


def test_safe_shows_controls_and_keeps_unicode() -> None:
    assert safe(f"Jürgen {CLEAR}{TITLE}{CSI} Ærø\tA\nB") == r"Jürgen \x1b[2J\x1b]0;pwned\x07\x9b31m Ærø A B"
    assert safe("a\u202eb") == r"a\u202eb" and safe(None) == ""
    text = f"{CLEAR}{TITLE}{CSI}\x7f\u202e ä"
    assert json.loads(dumps({"x": text})) == {"x": text} and not RAW.search(dumps({"x": text}))


def test_shop_and_bank_text_reach_the_terminal_inert(etc: Path, woo, capsys: pytest.CaptureFixture[str]) -> None:
    claim = synced(etc)[0]
    order = woo.order(int(claim.order_id))
    woo.update_order(int(claim.order_id), billing=dict(order["billing"], first_name=f"Jürgen{CLEAR}",
                                                       last_name=f"{TITLE}{CSI}Müller"))
    claims = synced(etc)
    [evil] = [c for c in claims if c.id == claim.id]
    assert CLEAR in evil.customer_name and TITLE in evil.customer_name  # stored exactly as the shop has it
    bring_in(etc, [credit("T1", "1234.56", f"Gehalt {CLEAR}{CSI}Dezember", payer=f"Arbeit{TITLE} AG")])

    shown = cli(etc, capsys, "claims")
    assert not RAW.search(shown) and "Jürgen" in shown and r"\x1b[2J" in shown
    ref = f"acme:{claim.order_number}"
    for args in (("explain", ref), ("plan",), ("tasks",), ("status",), ("claims", "--state", "all")):
        assert not RAW.search(cli(etc, capsys, *args)), args
    unmatched = cli(etc, capsys, "payments", "unmatched")
    assert not RAW.search(unmatched) and r"\x1b[2J" in unmatched and r"\x1b]0;pwned\x07" in unmatched
    assert "Gehalt" in unmatched and "Arbeit" in unmatched

    # JSON stays exact: the scripts reading it get the shop's and the bank's text unchanged
    [row] = [r for r in json.loads(cli(etc, capsys, "claims", "--json")) if r["order_id"] == claim.order_id]
    assert row["customer"] == evil.customer_name
    [waiting] = json.loads(cli(etc, capsys, "payments", "unmatched", "--json"))
    assert waiting["payer_name"] == f"Arbeit{TITLE} AG" and waiting["remittance"] == f"Gehalt {CLEAR}{CSI}Dezember"
    explained = cli(etc, capsys, "explain", ref, "--json")
    assert not RAW.search(explained) and json.loads(explained)["claim"] == ref
    planned = cli(etc, capsys, "plan", "--json")
    assert not RAW.search(planned) and json.loads(planned)
    assert query(etc, select(Claim.state).where(Claim.id == claim.id)) == [ClaimState.OPEN]


def test_the_log_on_a_terminal_shows_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "console")
    structlog.get_logger("test").warning(f"shop said {CLEAR}", error=f"{TITLE}{CSI}", spaced=f"a {CSI}")
    err = capsys.readouterr().err  # (the renderer quotes values with spaces by repr: their backslashes double)
    assert not RAW.search(err) and r"\x1b[2J" in err and r"\x1b]0;pwned\x07" in err and r"\x9b31m" in err
    configure_logging("info", "json")
    structlog.get_logger("test").warning("outbox.retry", error=f"shop said {CLEAR}{CSI}")
    assert json.loads(capsys.readouterr().err)["error"] == f"shop said {CLEAR}{CSI}"
