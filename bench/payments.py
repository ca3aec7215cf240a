"""Payments benchmark: `mahnwerk payments import FILE --json` of a bank statement with ~N entries against N open
claims, vs. a child that only parses the same file.

    python bench/payments.py --entries 10000 100000 --db sqlite
    python bench/payments.py --entries 10000 100000 --db postgresql
    python bench/payments.py --entries 10000 100000 --db sqlite --format mt940
    python bench/payments.py --entries 113000 --db sqlite     # the first N with >= 100,000 entries
    python bench/payments.py --entries 10000 --examples 10     # and print the first 10 credits booked wrongly
    python bench/payments.py --entries 113000 --claims 1000000 # a statement for the first 113,000 of 1,000,000

For each N: a fresh store (an SQLite file in a temporary folder, or a fresh schema on the test PostgreSQL server)
filled with N open claims of one WooCommerce shop as bench/plan.py fills it (`fill`, with `--history-share` of
casework history), and a statement written by the sandbox's generator (`write_statement`, seed `--seed`, one day
from today, 15 % noise) for those claims: what each customer paid (exact, typos, split lines, several invoices,
part, surplus, fees deducted, foreign currency, name only, structured reference, 13 % unpaid) plus debits, pending,
reversed and unrelated credits. N claims give ~0.89 N entries (100,000: 88,574). Then, each as a child process
timed with os.wait4 (wall, user+sys CPU, peak RSS) through bench/plan.py's launcher:

- baseline: `python -c` that iterates `read_statement(FILE)` and counts the records: what any import must do;
- mahnwerk: `mahnwerk --config-dir DIR payments import FILE --json` (interpreter start-up, imports, config and the
  migrations check included): import, matching and booking. For files of 10 MB or more the reading and matching run
  in a child process (sync/payments/matchrun.py): CPU is both processes' (wait4 adds up reaped children), peak RSS the
  larger of the biggest process's and the sum over both, sampled every 50 ms (bench/plan.py's launcher).

Before the run (timed apart, skipped with `--cold`), the store-side matching index is brought up to date
(sync/payments/claimindex.py `refresh`), as the first matching run after a sync does for the claims new since the
last one. Afterwards (not timed) the bookings are compared with the generator's ground truth: per credit, the claims its
`payment` ledger entries (source "payments") went to against the invoices the payer meant.

Target (issue 7): 100,000 entries against 100,000 open claims in at most 30 s, memory bounded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, select

from mahnwerk.sandbox.statements import ExpectedCredit, StatementClaim, StatementTruth, write_statement
from mahnwerk.sync.payments.claimindex import refresh
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, IncomingPaymentRow, LedgerEntry

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))  # bench/plan.py, which puts the repository on the path for tests.support

from plan import SHOP, TZ, bench_store, run_child, run_header  # noqa: E402  (bench/plan.py: BENCH goes on sys.path first)

CLAIMS, LEDGER, PAYMENTS = Claim.__table__, LedgerEntry.__table__, IncomingPaymentRow.__table__
FORMATS = {"camt.053": "camt.053.001.02", "camt.053.001.08": "camt.053.001.08", "mt940": "mt940"}

# The baseline child: the statement parser alone, every record read and counted. argv: the file.
BASELINE = r"""
import sys
from mahnwerk.connectors.statements import StatementSummary, read_statement
summary = StatementSummary()
records = sum(1 for _ in read_statement(sys.argv[1], summary))
print(records, summary.credits, summary.problems, file=sys.stderr)
"""


def mahnwerk_command(config_dir: Path, statement: Path, out: Path) -> list[str]:
    """`mahnwerk payments import --json` with its stdout into `out`. The launcher sends a child's stdout to
    /dev/null; `sh -c 'exec ...'` redirects it and then becomes mahnwerk (the same process, so wait4 measures
    mahnwerk; the shell's ~1 MB before exec is far below mahnwerk's peak)."""
    script = Path(sys.executable).with_name("mahnwerk")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "mahnwerk"]
    return ["/bin/sh", "-c", 'out=$1; shift; exec "$@" > "$out"', "sh", str(out),
            *head, "--config-dir", str(config_dir), "payments", "import", str(statement), "--json"]


def statement_claims(url: str, limit: int | None = None) -> list[StatementClaim]:
    """The open claims as the store holds them (the first `limit`), in id order, as the generator needs them."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(CLAIMS.c.invoice_number, CLAIMS.c.order_number, CLAIMS.c.open_amount,
                                       CLAIMS.c.currency, CLAIMS.c.customer_name, CLAIMS.c.company,
                                       CLAIMS.c.invoice_date)
                                .where(CLAIMS.c.shop_id == SHOP, CLAIMS.c.state == "open").order_by(CLAIMS.c.id)
                                .limit(limit))
            return [StatementClaim(*row) for row in rows]
    finally:
        engine.dispose()


def index_claims(url: str) -> tuple[int, float]:
    """Bring the store-side matching index up to date, as the first matching run after a sync does for the claims
    new since the last one: how many claims, in how many seconds."""
    begun = time.perf_counter()
    store = Store(url, migrate=False)
    try:
        with store.connection() as conn:
            indexed = refresh(conn, SHOP)
            conn.commit()
    finally:
        store.close()
    return indexed, time.perf_counter() - begun


def bookings(url: str) -> tuple[dict[str, Counter], dict[str, str]]:
    """Per payment reference: the (invoice number, amount) shares booked by `payments import` (ledger entries of
    kind "payment", source "payments"; fill's casework payments are source "cli"), and each payment's state."""
    engine = create_engine(url)
    booked: dict[str, Counter] = {}
    try:
        with engine.connect() as conn:
            for data, invoice in conn.execute(
                    select(LEDGER.c.data, CLAIMS.c.invoice_number).join(CLAIMS, CLAIMS.c.id == LEDGER.c.claim_id)
                    .where(LEDGER.c.kind == "payment", LEDGER.c.source == "payments")):
                booked.setdefault(data["reference"], Counter())[(invoice, Decimal(data["amount"]))] += 1
            states = dict(conn.execute(select(PAYMENTS.c.ref, PAYMENTS.c.state)
                                       .where(PAYMENTS.c.shop_id == SHOP)).all())
    finally:
        engine.dispose()
    return booked, states


def judge(credit: ExpectedCredit, got: Counter, states: dict[str, str]) -> str:
    """What became of one credit of the ground truth, by what was booked for it:
    - a credit paying claims: "exact" (the claims the payer meant, the amounts meant), "right" (those claims,
      another amount: fees deducted, or a share left for review), "part" (some of its claims, no other), "wrong"
      (a claim the payer did not mean), else "review"/"unmatched" by the payment's state;
    - a credit paying none (tax refund, supplier, salary): "other_left" (not booked) or "other_wrong"."""
    got_claims = {invoice for invoice, _ in got}
    meant = {invoice for invoice, _ in credit.pays}
    if not credit.pays:
        return "other_wrong" if got else "other_left"
    if got_claims - meant:
        return "wrong"
    if got == Counter(credit.pays):
        return "exact"
    if got_claims == meant:
        return "right"
    if got_claims:
        return "part"
    return states.get(credit.ref[:140], "missing")


def accuracy(truth: StatementTruth, booked: dict[str, Counter], states: dict[str, str], examples: int = 0
             ) -> tuple[Counter, Counter]:
    """Every credit of the ground truth judged (`judge`): the verdicts, and the verdicts by the generator's kind.
    Prints the first `examples` credits booked to a claim the payer did not mean."""
    verdicts: Counter = Counter()
    by_kind: Counter = Counter()
    for credit in truth.credits:
        got = booked.get(credit.ref, Counter())
        verdict = judge(credit, got, states)
        verdicts[verdict] += 1
        by_kind[(verdict, credit.kind)] += 1
        if verdict in ("wrong", "other_wrong") and verdicts[verdict] <= examples:
            print(f"  {verdict}: {credit.kind} {credit.amount} {credit.remittance!r} e2e={credit.end_to_end_id!r} "
                  f"cref={credit.creditor_ref!r} payer={credit.payer_name!r} meant {list(credit.pays)} "
                  f"booked {list(got.elements())}", flush=True)
    verdicts["unknown_refs"] = len(set(booked) - {c.ref for c in truth.credits})
    return verdicts, by_kind


def bench(paying: int, args: argparse.Namespace, today: date) -> None:
    claims = max(paying, args.claims or 0)
    with bench_store(args.db, claims, args.history_share, today, prefix="mahnwerk-bench-payments-") as store:
        statement = store.folder / ("statement.sta" if args.format == "mt940" else "statement.xml")
        begun = time.perf_counter()
        truth = write_statement(statement, statement_claims(store.url, paying), seed=args.seed,
                                format=FORMATS[args.format], start=today, days=1, noise=0.15)
        written = time.perf_counter() - begun
        kinds = Counter(c.kind for c in truth.credits)
        print(f"setup:     {claims:>9,} claims (ledger {dict(store.ledger)}) in {store.seconds:.1f} s; {truth.source} "
              f"{truth.entries:,} entries for the first {paying:,}, {len(truth.credits):,} credits, skipped "
              f"{dict(truth.skipped)}, {statement.stat().st_size / 2**20:.0f} MB, in {written:.1f} s", flush=True)
        if not args.cold:
            indexed, seconds = index_claims(store.url)
            print(f"index:     {indexed:,} claims indexed in {seconds:.1f} s (the store-side matching index, "
                  "before the run: as after a sync)", flush=True)
        print(f"           credits by kind {dict(kinds.most_common())}", flush=True)

        base = run_child([sys.executable, "-c", BASELINE, str(statement)])
        _, credits, _ = map(int, base[3].split()[-3:])  # records, credits, unreadable
        if credits != len(truth.credits):
            raise SystemExit(f"baseline read {credits} credits, the generator wrote {len(truth.credits)}")
        out = store.folder / "import.json"
        mine = run_child(mahnwerk_command(store.config_dir, statement, out))
        outcome = json.loads(out.read_text(encoding="utf-8"))
        [imported] = outcome["files"]
        if imported.get("new") != len(truth.credits):
            raise SystemExit(f"mahnwerk imported {imported}, the generator wrote {len(truth.credits)} credits")
        for name, (wall, cpu, rss, _) in (("baseline", base), ("mahnwerk", mine)):
            print(f"{name}:  {truth.entries:>9,} entries {claims:>9,} claims  {wall:7.2f} s wall  {cpu:7.2f} s CPU"
                  f"  {rss:6.0f} MB peak RSS  {wall / base[0]:5.2f} x baseline", flush=True)
        print(f"import:    {imported['new']:,} new, {imported['duplicates']} duplicates, skipped "
              f"{imported['skipped']}, {len(imported['problems'])} unreadable; matched: "
              + ", ".join(f"{k} {outcome[k]:,}" for k in ("booked", "closed", "partial", "credit", "review",
                                                         "unmatched")), flush=True)
        verdicts, by_kind = accuracy(truth, *bookings(store.url), examples=args.examples)
        paying = sum(1 for c in truth.credits if c.pays)
        print(f"accuracy:  {paying:,} credits pay claims: exact {verdicts['exact']:,}, right claims other amount "
              f"{verdicts['right']:,}, some of its claims {verdicts['part']:,}, WRONG claim {verdicts['wrong']:,}, "
              f"review {verdicts['review']:,}, unmatched {verdicts['unmatched']:,}; "
              f"{len(truth.credits) - paying:,} pay none: left {verdicts['other_left']:,}, "
              f"booked {verdicts['other_wrong']:,}; refs unknown to the truth {verdicts['unknown_refs']}",
              flush=True)
        for verdict in ("right", "part", "wrong", "review", "unmatched", "other_wrong"):
            kinds = {kind: n for (v, kind), n in by_kind.most_common() if v == verdict}
            if kinds:
                print(f"           {verdict} by kind {kinds}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000],
                        help="open claims per run (the statement gets about as many entries); one run per value, "
                             "each on a fresh store")
    parser.add_argument("--claims", type=int, default=None, metavar="M",
                        help="open claims in the store (default: as many as --entries); the statement pays the first "
                             "N of them")
    parser.add_argument("--cold", action="store_true",
                        help="leave the store-side matching index empty: the import builds it for all claims")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--format", choices=list(FORMATS), default="camt.053")
    parser.add_argument("--seed", type=int, default=7, help="the statement generator's seed")
    parser.add_argument("--history-share", type=float, default=0.1,
                        help="share of claims with casework history in the ledger (as bench/plan.py)")
    parser.add_argument("--examples", type=int, default=0, metavar="K",
                        help="print the first K credits booked to a claim the payer did not mean")
    args = parser.parse_args()
    today = datetime.now(TZ).date()  # the shop's today: the statement's day, and what booking takes as today
    print(run_header(today, args.db, format=args.format, seed=args.seed, history_share=args.history_share,
                     claims=args.claims or "as entries", cold=args.cold),
          flush=True)
    for claims in args.entries:
        bench(claims, args, today)


if __name__ == "__main__":
    main()
