"""Web console benchmark (issue 18): the claims page's server-side time with 100,000 claims in the store.

    python bench/webclaims.py --claims 100000 --db sqlite
    python bench/webclaims.py --claims 100000 --db postgresql      # MAHNWERK_TEST_PG_URL, default 127.0.0.1:5432/test

(without --db: both, PostgreSQL only when its server answers). Exit code 1 when a case is over the target.

A fresh store is filled as for bench/plan.py (N claims of one shop, an "opened" entry each, a reminder, payments
and disputes for `--history-share` of them); then every 10th claim is paid and every 40th with the agency, so the
state filter has something to tell apart. The console (`create_app`) answers through Flask's test client, logged in
as a viewer: what is timed is the whole request inside the server (routing, access checks, queries, the template),
without a network. Each case runs once to warm up, then `--repeat` times; the median and the worst are printed.

Baseline, in the same run: the bare SQL a claims list needs at least (one page of 50 open claims by due date and
their count) on the same connection pool, and the console's login page (the framework and layout without a query).
Target: every case <= 300 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.plan import SHOP, TZ, bench_store, run_header  # noqa: E402  (bench/ is importable once ROOT is on sys.path)
from tests.conftest import postgres_problem  # noqa: E402

TARGET_MS = 300.0
PAGE = 50
ROW = f'href="/claims/{SHOP}/'  # a claim's row links to its page
USER, PASSWORD = "bench", "bench-password"


@dataclass(frozen=True)
class Case:
    """One request to the claims page: a label, its path and query, and a text the answer must contain (or, for
    `absent`, must not), so that a filter or search that does nothing is noticed, not timed."""

    label: str
    path: str
    expect: str = ROW
    absent: bool = False


def cases(claims: int, deep: str, last: str) -> list[Case]:
    """The default list, each filter, pages deep in the list and each kind of search, for claim ids 1..N.
    `deep` and `last` are list cursors ("due.id") 90 % of the way down the open claims and at their end."""
    probe = claims // 2 + 7  # a claim in the middle (open: not a multiple of 10, not 1 mod 40)
    number = str(100_000 + probe)
    found = f"/claims/{SHOP}/{number}\""
    return [
        Case("default list (open, most overdue first)", "/claims"),
        Case("filter shop", f"/claims?shop={SHOP}"),
        Case("filter state in_collection", "/claims?state=in_collection"),
        Case("filter state closed", "/claims?state=closed"),
        Case("filter state all", "/claims?state=all"),
        Case("filter stage reminder", "/claims?stage=reminder"),
        Case("filter stage none (nothing sent)", "/claims?stage=none"),
        Case("filter aging 31-60", "/claims?bucket=31-60"),
        Case("filter aging over 90", "/claims?bucket=over+90"),
        Case("filter aging not yet due", "/claims?bucket=not+yet+due"),
        Case("filter stage + aging + shop", f"/claims?shop={SHOP}&stage=reminder&bucket=31-60"),
        Case("page 90 % down (after=)", f"/claims?after={deep}"),
        Case("last page (before= the end)", f"/claims?before={last}"),
        Case("page 90 % down, state all", f"/claims?state=all&after={deep}"),
        Case("search order number", f"/claims?q={number}", found),
        Case("search invoice number", f"/claims?q=RE-{probe:08d}", found),
        Case("search name (full)", f"/claims?q=Erika+Muster{probe}", found),
        Case("search name prefix matching all", "/claims?q=Erika"),
        Case("search e-mail", f"/claims?q=kunde{probe}@example.org", found),
        Case("search nothing found", "/claims?q=zzzz-nobody", absent=True),
    ]


def cursors(store: Any) -> tuple[str, str]:
    """List cursors ("due.id") of the open claim 90 % of the way down the list's order, and of the last one."""
    with store.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM claims WHERE state = 'open'")).scalar()
        found = []
        for offset in (count * 9 // 10, count - 1):
            due, claim_id = conn.execute(text("SELECT due_date, id FROM claims WHERE state = 'open' "
                                              "ORDER BY due_date, id LIMIT 1 OFFSET :n"), {"n": offset}).one()
            found.append(f"{due if isinstance(due, str) else due.isoformat()}.{claim_id}")
    return found[0], found[1]


def mix_states(url: str) -> dict[str, int]:
    """Every 10th claim paid, every 40th (of the rest) with the agency; the claims by state afterwards."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE claims SET state = 'paid', open_amount = 0 WHERE id % 10 = 0"))
        conn.execute(text("UPDATE claims SET state = 'in_collection' WHERE id % 40 = 1"))
        found = dict(conn.execute(text("SELECT state, count(*) FROM claims GROUP BY state")).all())
    engine.dispose()
    return found


def logged_in(app: Any) -> Any:
    """A test client with a viewer's session, logged in through the login form."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token in the login form"
    answer = client.post("/login", data={"name": USER, "password": PASSWORD, "csrf_token": token.group(1)})
    assert answer.status_code == 302, f"login answered {answer.status_code}"
    return client


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and worst milliseconds of `repeat` calls after one warm-up call."""
    call()
    times = []
    for _ in range(repeat):
        begun = time.perf_counter()
        call()
        times.append((time.perf_counter() - begun) * 1000)
    return statistics.median(times), max(times)


def request(client: Any, case: Case) -> Callable[[], None]:
    def get() -> None:
        answer = client.get(case.path)
        body = answer.get_data(as_text=True)
        if answer.status_code != 200 or (case.expect in body) == case.absent:
            raise SystemExit(f"{case.label}: GET {case.path} answered {answer.status_code} "
                             f"{'with' if case.absent else 'without'} {case.expect!r}:\n{body[:3000]}")
    return get


def bare_sql(store: Any) -> Callable[[], None]:
    """The least a claims page must ask the database: one page of open claims by due date and their count."""
    def query() -> None:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT id, order_number, customer_name, email, open_amount, currency, due_date "
                              "FROM claims WHERE shop_id = :shop AND state = 'open' ORDER BY due_date, id "
                              f"LIMIT {PAGE}"), {"shop": SHOP}).all()
            conn.execute(text("SELECT count(*) FROM claims WHERE shop_id = :shop AND state = 'open'"),
                         {"shop": SHOP}).scalar()
    return query


def bench(args: argparse.Namespace, db: str) -> int:
    from mahnwerk.sync.config import load_config
    from mahnwerk.sync.service.bootstrap import open_store
    from mahnwerk.sync.web.app import create_app
    from mahnwerk.sync.web.users import add_user

    today = datetime.now(TZ).date()
    over = 0
    with bench_store(db, args.claims, args.history_share, today, prefix="mahnwerk-bench-web-") as filled:
        states = mix_states(filled.url)
        print(f"setup: {args.claims:,} claims {states}, ledger {dict(filled.ledger)} in {filled.seconds:.1f} s",
              flush=True)
        config = load_config(filled.config_dir)
        with closing(open_store(config)) as store:
            add_user(store, USER, "viewer", PASSWORD)
            client = logged_in(create_app(config, store))
            rows = [("baseline: bare SQL (page + count)", timed(bare_sql(store), args.repeat)),
                    ("baseline: GET /login", timed(lambda: client.get("/login"), args.repeat))]
            for case in cases(args.claims, *cursors(store)):
                rows.append((f"{case.label}: GET {case.path}", timed(request(client, case), args.repeat)))
        for label, (median, worst) in rows:
            verdict = "" if label.startswith("baseline") else "ok" if median <= TARGET_MS else "OVER TARGET"
            over += verdict == "OVER TARGET"
            print(f"  {median:8.1f} ms median  {worst:8.1f} ms worst  {verdict:11}  {label}", flush=True)
    return over


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], nargs="+", default=["sqlite", "postgresql"],
                        help="one run each (PostgreSQL only when its server answers)")
    parser.add_argument("--history-share", type=float, default=0.3,
                        help="share of claims with policy history in the ledger (reminders, payments, disputes)")
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per case, after one warm-up")
    args = parser.parse_args()
    over = 0
    for db in args.db:
        if db == "postgresql" and (problem := postgres_problem()):
            print(f"db=postgresql skipped: {problem}")
            continue
        print(run_header(datetime.now(TZ).date(), db, claims=args.claims, history_share=args.history_share,
                         repeat=args.repeat), flush=True)
        over += bench(args, db)
    print(f"{over} case(s) over the {TARGET_MS:.0f} ms target" if over else f"all cases within {TARGET_MS:.0f} ms")
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
