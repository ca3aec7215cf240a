"""Money is booked once: the same bank booking in the intraday camt.052, the day's camt.053 and an MT940 of the day
is one payment, whatever the order they come in, with the bank's reference or without one; the statement confirms
the intraday report's row instead of adding one; databases from before (0005) get the identity, duplicates kept."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from itertools import permutations
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import insert, select

from mahnwerk.connectors.payment_records import PROVISIONAL, IncomingPayment, booking_id
from mahnwerk.connectors.statements import read_statement
from mahnwerk.sandbox.statements import StatementTruth, sample_claims, write_day
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.payments.intake import Imported, import_payments
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import IncomingPaymentRow, PaymentEvent, Shop
from tests.sync.test_payment_sources import config, sync
from tests.sync.test_payments import TODAY
from tests.sync.test_run import NOW

SOURCES = ("camt.052", "camt.053", "mt940")


def day(tmp_path: Path, *, unreferenced: float = 0.0) -> dict[str, StatementTruth]:
    return write_day(tmp_path / "bank", sample_claims(40, seed=3), seed=11, day=TODAY, unreferenced=unreferenced)


def bookings(truth: StatementTruth) -> set[str]:
    return {r.booking for r in read_statement(truth.path) if isinstance(r, IncomingPayment)}


def expected(truths: dict[str, StatementTruth], order: tuple[str, ...]) -> list[tuple[int, int, int]]:
    """(new, confirmed, duplicates) per file: a statement confirms what only an intraday report brought."""
    stored: dict[str, str] = {}
    counts = []
    for source in order:
        new = confirmed = duplicates = 0
        for booking in bookings(truths[source]):
            if booking not in stored:
                new += 1
            elif stored[booking] in PROVISIONAL and source not in PROVISIONAL:
                confirmed += 1
            else:
                duplicates += 1
            if booking not in stored or stored[booking] in PROVISIONAL:
                stored[booking] = source
        counts.append((new, confirmed, duplicates))
    return counts


def stored_rows(etc: Path) -> list[IncomingPaymentRow]:
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            return list(session.execute(select(IncomingPaymentRow)).scalars())
    finally:
        store.close()


@pytest.mark.parametrize("unreferenced", [0.0, 1.0], ids=["bank-refs", "no-bank-refs"])
@pytest.mark.parametrize("order", list(permutations(SOURCES)), ids="+".join)
def test_one_days_bookings_are_stored_once_in_every_order(tmp_path: Path, woo, db_url: str,
                                                          order: tuple[str, ...], unreferenced: float) -> None:
    etc = config(tmp_path, woo, db_url)
    truths = day(tmp_path, unreferenced=unreferenced)
    assert bookings(truths["camt.052"]) < bookings(truths["camt.053"]) == bookings(truths["mt940"])
    shop = load_config(etc).shops[0]
    store = open_store(load_config(etc))
    try:
        results = [import_payments(store, shop, read_statement(truths[source].path), origin=source, now=NOW)
                   for source in order]
    finally:
        store.close()
    assert [(r.new, r.confirmed, r.duplicates) for r in results] == expected(truths, order)
    rows = stored_rows(etc)
    assert len(rows) == len(truths["camt.053"].credits) == len({r.booking for r in rows})
    assert sorted(r.amount for r in rows) == sorted(c.amount for c in truths["camt.053"].credits)
    # An intraday row a statement came after carries the statement's source; before it, it stays as it was.
    statement_after = order.index("camt.052") < max(order.index("camt.053"), order.index("mt940"))
    assert any(r.source == "camt.052" for r in rows) is (not statement_after and order[0] == "camt.052")
    confirmed = sum(r.confirmed for r in results)
    assert confirmed == (len(truths["camt.052"].credits) if order[0] == "camt.052" else 0)


def test_a_statement_confirms_the_intraday_row_and_says_so(tmp_path: Path, woo, db_url: str, capsys) -> None:
    """Through `payments import --json` (the matching run): the camt.053 confirms the camt.052's rows (same id,
    its state and booking kept), the MT940 of the day brings duplicates only."""
    etc = config(tmp_path, woo, db_url)
    sync(etc)
    truths = day(tmp_path)
    intraday, statement = truths["camt.052"].credits, truths["camt.053"].credits
    capsys.readouterr()
    assert main(["--config-dir", str(etc), "payments", "import", str(truths["camt.052"].path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["new"] == len(intraday)
    before = {r.booking: (r.id, r.state, r.source) for r in stored_rows(etc)}
    assert Counter(source for *_, source in before.values()) == {"camt.052": len(intraday)}

    assert main(["--config-dir", str(etc), "payments", "import", str(truths["camt.053"].path),
                 str(truths["mt940"].path), "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert [(f["new"], f["confirmed"], f["duplicates"]) for f in files] == [
        (len(statement) - len(intraday), len(intraday), 0), (0, 0, len(statement))]
    after = {r.booking: r for r in stored_rows(etc)}
    assert len(after) == len(statement) and {r.source for r in after.values()} == {"camt.053"}
    for booking, (id_, state, _) in before.items():
        assert (after[booking].id, after[booking].state) == (id_, state)
        assert after[booking].origin == str(truths["camt.053"].path)
    store = open_store(load_config(etc))
    try:
        with store.session() as session:
            events = session.execute(select(PaymentEvent).where(PaymentEvent.kind == "confirmed")).scalars().all()
    finally:
        store.close()
    assert len(events) == len(intraday) and {e.data["was"] for e in events} == {"camt.052"}


def test_the_inbox_with_all_three_reports_stores_each_booking_once(tmp_path: Path, woo, db_url: str) -> None:
    """The sync's `collect` path: the three files dropped into the inbox together."""
    etc = config(tmp_path, woo, db_url, '\n[payments]\ninbox = "inbox"\n')
    sync(etc)
    truths = write_day(etc / "inbox", sample_claims(40, seed=3), seed=12, day=TODAY, unreferenced=0.2)
    result = sync(etc)
    assert result.payments.new == len(truths["camt.053"].credits) and not result.payments.rejected
    assert sum(i.confirmed for i in result.payments.imported) in (0, len(truths["camt.052"].credits))
    assert len(stored_rows(etc)) == len(truths["camt.053"].credits)
    assert sorted(p.name for p in (etc / "inbox" / "processed").iterdir()) == ["camt052.xml", "camt053.xml",
                                                                               "mt940.sta"]


def test_imported_says_confirmed_next_to_new_and_duplicates() -> None:
    assert Imported("x.xml", new=2, confirmed=3, duplicates=4).as_dict() == {
        "origin": "x.xml", "new": 2, "confirmed": 3, "duplicates": 4, "skipped": {}, "problems": []}


def test_providers_keep_source_and_ref_as_their_identity() -> None:
    def paid(source: str, ref: str) -> IncomingPayment:
        return IncomingPayment(source=source, ref=ref, booked_on=TODAY, amount=Decimal("10"), currency="EUR")
    assert paid("stripe", "in_1").booking == paid("stripe", "in_1").booking != paid("mollie", "in_1").booking
    assert paid("stripe", "in_1").booking != paid("stripe", "in_2").booking


def test_migration_0006_gives_old_rows_their_identity_and_keeps_duplicates(db_url: str) -> None:
    """Rows stored before 0006, among them one booking twice (camt.052 and camt.053 with the same bank reference)
    and two fallback twins: every row is kept, the later duplicate's identity made unique, and a new import of
    the same booking is a duplicate."""
    store = Store(db_url, migrate=False)
    store.migrate("0005")
    base = {"shop_id": "acme", "origin": "", "position": "", "account": "DE02 1203 0000 0000 2020 51",
            "booked_on": TODAY, "currency": "EUR", "charges": Decimal(0), "original_amount": None,
            "original_currency": "",
            "payer_name": "Anna Müller", "payer_account": "DE89370400440532013000", "remittance": "RE-1",
            "end_to_end_id": "", "creditor_ref": "", "order_hint": "", "provider_ids": [], "state": "unmatched",
            "rule": "", "confidence": None, "reason": "", "candidates": [], "imported_at": NOW, "decided_at": None,
            "decided_by": ""}
    rows = [("camt.052", "R1", "119.00"), ("camt.053", "R1", "119.00"), ("mt940", "h:abc", "50.00"),
            ("mt940", "h:abc/2", "50.00"), ("stripe", "in_1", "10.00")]
    table = sa.table("payments", *(sa.column(name, IncomingPaymentRow.__table__.c[name].type)
                                   for name in [*base, "source", "ref", "amount", "unallocated"]))
    with store.engine.begin() as connection:
        connection.execute(insert(Shop.__table__).values(id="acme", kind="woocommerce", url="https://a.example",
                                                         created_at=NOW))
        for source, ref, amount in rows:
            value = Decimal(amount)
            connection.execute(insert(table).values(base | {"source": source, "ref": ref, "amount": value,
                                                            "unallocated": value}))
    store.migrate()
    with store.session() as session:
        found = session.execute(select(IncomingPaymentRow).order_by(IncomingPaymentRow.id)).scalars().all()
    assert [(r.source, r.ref) for r in found] == [(s, r) for s, r, _ in rows]
    identity = [r.booking for r in found]
    assert len(set(identity)) == len(rows)
    assert identity[1] == f"{identity[0]}~{found[1].id}"  # the second of one booking: kept, made unique
    assert identity[2] != identity[3]  # twins stay two
    assert identity[4] == booking_id(IncomingPayment("stripe", "in_1", TODAY, found[4].amount, "EUR"))
    again = IncomingPayment("camt.053", "R1", TODAY, found[0].amount, "EUR", account="DE02120300000000202051")
    assert again.booking == identity[0]
    store.close()
