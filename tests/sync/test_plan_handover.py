"""A payment plan without acceleration that breaks while the agency is the next stage: the agency gets what is due,
not the instalments still to come (end to end: the sandbox shop, a real database, the command line, the CSV)."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from mahnwerk.sync.cli.main import main
from tests.sync.test_casework_cli import RATES
from tests.sync.test_defects import AGENCY_FIRST, cli, config
from tests.sync.test_run import MERCHANT, NOW, run_at


def test_the_agency_gets_the_missed_instalment_not_the_later_ones(tmp_path: Path, woo, db_url: str,
                                                                   capsys) -> None:
    """Three instalments, the first missed beyond its 7 days of grace: the hand-over's total is that instalment and
    its interest; the two later instalments are named in the note and left out of the total."""
    etc = config(tmp_path, woo, db_url, RATES + MERCHANT + AGENCY_FIRST)
    assert main(["--config-dir", str(etc), "sync"]) == 0
    code, out, err = cli(etc, capsys, "claims", "--json")
    assert code == 0, err
    ref = next(f"{r['shop']}:{r['order_number']}" for r in json.loads(out))
    today = NOW.date()
    first = today + timedelta(days=1)
    code, out, err = cli(etc, capsys, "instalments", ref, "--count", "3", "--first", first.isoformat())
    assert code == 0, err
    amounts = [Decimal(line.split()[-1]) for line in out.splitlines() if line.strip()[:2] in ("1.", "2.", "3.")]
    assert len(amounts) == 3
    code, out, err = cli(etc, capsys, "explain", ref, "--json")
    balance = json.loads(out)["balance"]
    assert (balance["deferred"], balance["due_now"]) == (str(sum(amounts)), "0.00")  # nothing due yet
    # Due tomorrow, 7 days of grace: broken on the 9th day from today, when the agency stage is due again.
    [result] = run_at(etc, (first - today).days + 8)
    assert result.ok and result.outcome.exports > 0, result.as_dict()
    [export] = (etc / "exports").glob("*.csv")
    with export.open(encoding="utf-8", newline="") as f:
        rows = {row["claim"]: row for row in csv.DictReader(f, delimiter=";")}
    row = rows[ref]
    total, later = Decimal(row["total"]), amounts[1] + amounts[2]
    # The 1st instalment plus 8 days of interest on (at most) its amount: well under a euro for any sandbox order.
    assert amounts[0] < total < amounts[0] + 1
    assert row["note"] == f"payment plan: instalments of {later:.2f} EUR not yet due are not in total"
    assert date.fromisoformat(row["handed_over_on"]) == first + timedelta(days=8)
