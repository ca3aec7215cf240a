"""The day's run always happens (issue 19 §5): a statement in the inbox with an amount no database column holds
does not stop the reminders. The bad entry is reported with its position and skipped, the rest is stored, and
the file leaves the inbox; real `mahnwerk run` processes on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

from sqlalchemy import select

from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders
from mahnwerk.sync.store.models import IncomingPaymentRow, OutboxRow
from tests.connectors.test_mt940_statement import statement, write
from tests.e2e.racing import Mahnwerk, read
from tests.e2e.test_races import config, customer_notes
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT


def test_an_absurd_amount_in_the_inbox_does_not_stop_the_days_run(tmp_path, db_url) -> None:
    shop = WooSandbox(orders=generate_orders(30, seed=5))
    bad = write(tmp_path, statement(":61:2603040304C999999999999999,NTRFNONREF//ABSURD1",
                                    ":86:166?00GUTSCHRIFT?20SVWZ+RE-1",
                                    ":61:2603040304C12,50NTRFNONREF//GOOD1",
                                    ":86:166?00GUTSCHRIFT?20SVWZ+RE-2"))
    with SandboxServer(shop) as server:
        shop.url = server.url
        etc = config(tmp_path, db_url, shop, RATES + MERCHANT + '\n[payments]\ninbox = "inbox"\n')
        (etc / "inbox").mkdir()
        shutil.copy(bad, etc / "inbox" / bad.name)
        done = Mahnwerk(etc, "run", "--json").finish()
        notes = sum(customer_notes(shop).values())
    assert done.code in (0, 1), str(done)  # 1: the bad entry is worth the merchant's attention
    assert "Traceback" not in done.err, str(done)
    summary = json.loads(done.out)[0]
    assert notes > 3 and summary["sent"] == notes, summary  # the reminders went out
    assert read(db_url, select(OutboxRow.id))
    stored = read(db_url, select(IncomingPaymentRow))
    assert [(p.ref, p.amount) for p in stored] == [("GOOD1", Decimal("12.50"))]
    assert not (etc / "inbox" / bad.name).exists()  # processed (or rejected), not read again every run
    assert "ABSURD1" not in done.out or "999999999999999" in done.err + done.out  # reported, never misread
