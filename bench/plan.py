"""Plan benchmark: `mahnwerk plan --json` over N open claims vs. a bare driver loop that streams the same claims.

    python bench/plan.py --claims 100000 1000000 --db sqlite
    python bench/plan.py --claims 100000 1000000 --db postgresql

For each N: a fresh store (an SQLite file in a temporary folder, or a fresh schema on the test PostgreSQL server)
is filled directly with N open claims of one WooCommerce shop, an "opened" ledger entry each, and policy history
(stage, payment, hold entries, as casework writes them) for `--history-share` of them. The shop is never contacted:
plan reads only the store. Then, each as a child process timed with os.wait4 (wall, user+sys CPU, peak RSS):

- baseline: a plain sqlite3/psycopg loop that streams the same open claims (`SELECT ... ORDER BY id`) and writes
  one json.dumps'd dict per row to /dev/null: what any plan must at least do;
- mahnwerk: `mahnwerk --config-dir DIR plan --json > /dev/null`, interpreter start-up and imports included.

Target (issue 4): 1,000,000 claims in at most 60 s on SQLite, memory bounded (the same peak RSS at 100,000 and
1,000,000 claims). `--verify` runs plan once more and counts its rows by status (not timed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, insert, text

from mahnwerk.sync.store.bulk import bulk_insert
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, LedgerEntry, Shop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import write_config  # noqa: E402  (tests/ is not installed: importable once ROOT is on sys.path)

sys.path.insert(0, str(ROOT / "bench"))
from against import WORKING_TREE, Code, code_at, output_digest  # noqa: E402  (bench/against.py, beside this file)

PG = os.environ.get("MAHNWERK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHOP = "bench"
TZ = ZoneInfo("Europe/Berlin")
BATCH = 20_000
# The shipped DE base-rate table ends 2026-06-30 (no published value for 2026-07-01 yet); without this row every
# claim in default would be "blocked: no interest rate" instead of computed.
BASE_RATE = """
[policy]
preset = "de-b2c"

# Benchmark assumption, not a published value: the Basiszinssatz stays at 1.27 % from 2026-07-01, so claims in
# default get their interest computed instead of being blocked for a missing rate.
[[policy.base_rates]]
table = "de"
valid_from = 2026-07-01
rate = "1.27"
"""

# The baseline child: only the standard driver, json and the claims query. argv: dialect, database, schema.
BASELINE = r"""
import json, sys
dialect, database, schema = sys.argv[1:4]
query = ("SELECT id, shop_id, order_id, order_number, currency, open_amount, invoice_date, due_date, is_b2b "
         "FROM claims WHERE shop_id = {p} AND state = 'open' ORDER BY id")
names = ("id", "shop_id", "order_id", "order_number", "currency", "open_amount", "invoice_date", "due_date", "is_b2b")
if dialect == "sqlite":
    import sqlite3
    connection = sqlite3.connect(database)
    cursor = connection.execute(query.format(p="?"), ("bench",))
else:
    import psycopg
    connection = psycopg.connect(database, options=f"-csearch_path={schema}")
    cursor = connection.cursor(name="plan_baseline")  # server-side: streamed, not fetched at once
    cursor.itersize = 5000
    cursor.execute(query.format(p="%s"), ("bench",))
out, count = sys.stdout, 0
for row in cursor:
    out.write(("," if count else "[") + "\n  " + json.dumps(dict(zip(names, row)), default=str))
    count += 1
out.write("\n]\n")
print(count, file=sys.stderr)
"""


# Starts argv[1:] with stdout on /dev/null, waits for it with wait4 and prints "wall cpu peak_rss_kb". CPU is the
# process's and its reaped children's (wait4 adds them up). Peak RSS: the larger of wait4's (the biggest single
# process) and the process tree's sum (the process and its children, e.g. `payments import`'s reading process),
# sampled every 50 ms from /proc (shared pages counted in each process: an upper bound).
LAUNCHER = r"""
import os, sys, time
null = os.open(os.devnull, os.O_WRONLY)
page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
begun = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
tree_kb = 0
while True:
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * page_kb
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    tree_kb = max(tree_kb, total)
    time.sleep(0.05)
wall = time.perf_counter() - begun
print(f"{wall:.3f} {usage.ru_utime + usage.ru_stime:.3f} {max(usage.ru_maxrss, tree_kb)}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def mahnwerk_command(config_dir: Path) -> list[str]:
    script = Path(sys.executable).with_name("mahnwerk")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "mahnwerk"]
    return head + ["--config-dir", str(config_dir), "plan", "--json"]


def run_child(command: list[str], code: Code = WORKING_TREE) -> tuple[float, float, float, str]:
    """Run `command` with stdout to /dev/null: wall seconds, CPU seconds, peak RSS MB, and its stderr. `code`: which
    mahnwerk it imports (bench/against.py).

    It is started and waited for (wait4) by a small launcher process, not by this one: Linux counts the RSS a child
    inherits from its parent's address space up to exec (fork or vfork alike), and this process holds the fill's
    memory. The launcher (`python -I -S`, os and time only) peaks at a few MB, below any child measured here."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER, *command], stdout=subprocess.PIPE,
                              stderr=err, text=True, check=False, env=code.env, cwd=code.cwd)
        err.seek(0)
        message = err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{message}")
    wall, cpu, rss_kb = proc.stdout.split()
    return float(wall), float(cpu), int(rss_kb) / 1024, message


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def fill(store: Store, claims: int, history_share: float, today: date, seed: int = 1) -> Counter:
    """N open claims of SHOP with an "opened" entry each, and policy history for `history_share` of them."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    counts: Counter = Counter()
    claims_table, ledger = Claim.__table__, LedgerEntry.__table__
    with store.connection() as conn:
        conn.execute(insert(Shop.__table__).values(id=SHOP, kind="woocommerce", url="http://127.0.0.1:9",
                                                   created_at=now))
        conn.commit()
        for start in range(1, claims + 1, BATCH):
            rows, entries, history = [], [], []
            for claim_id in range(start, min(start + BATCH, claims + 1)):
                row = claim_row(rng, claim_id, today)
                rows.append(row)
                seen = row["first_seen_at"]
                entries.append({"claim_id": claim_id, "at": seen, "kind": "opened", "source": "sync", "actor": "",
                                "data": {"order_number": row["order_number"],
                                         "gross_amount": str(row["gross_amount"]),
                                         "open_amount": str(row["open_amount"]), "currency": "EUR",
                                         "due_date": row["due_date"].isoformat(), "shop_status": "on-hold"}})
                if rng.random() < history_share:
                    history += claim_history(rng, claim_id, row["invoice_date"], row["due_date"], today)
            counts.update(entry["kind"] for entry in history)
            bulk_insert(conn, claims_table, rows)
            bulk_insert(conn, ledger, entries + history)
            conn.commit()
        counts["opened"] = claims
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('claims', 'id'), :n)"), {"n": claims})
            conn.commit()
    return counts


def claim_row(rng: random.Random, claim_id: int, today: date) -> dict[str, Any]:
    """One open invoice claim: due between 120 days ago and 14 days ahead, 10 % businesses, €15–€900."""
    due = today + timedelta(days=rng.randint(-120, 14))
    invoiced = due - timedelta(days=14)
    ordered = datetime.combine(invoiced, clock(9, 30), TZ).astimezone(UTC) - timedelta(minutes=rng.randint(0, 900))
    b2b = rng.random() < 0.10
    number = str(100_000 + claim_id)
    company = f"Beispiel {claim_id} GmbH" if b2b else ""
    email = f"kunde{claim_id}@example.org"
    country = "DE" if rng.random() < 0.9 else "NL"
    address = {"first_name": "Erika", "last_name": f"Muster{claim_id}", "company": company,
               "address_1": f"Hauptstraße {claim_id % 200 + 1}", "address_2": "",
               "postcode": f"{10000 + claim_id}"[-5:], "city": "Berlin", "state": "", "country": country,
               "email": email, "phone": ""}
    amount = money(rng.randint(1_500, 90_000))
    return {
        "id": claim_id, "shop_id": SHOP, "order_id": number, "order_number": number,
        "invoice_number": f"RE-{claim_id:08d}", "invoice_date": invoiced, "due_date": due,
        "customer_name": f"Erika Muster{claim_id}", "email": email, "company": company,
        "vat_id": f"DE{100_000_000 + claim_id}" if b2b and claim_id % 2 else "", "is_b2b": b2b,
        "billing_address": address,  # the keys of connectors.records.BillingAddress
        "language": "de" if country == "DE" else "en", "currency": "EUR",
        "gross_amount": amount, "open_amount": amount, "state": "open", "shop_status": "on-hold",
        "payment_method": rng.choice(("invoice", "bacs")), "ordered_at": ordered, "shop_modified_at": ordered,
        "first_seen_at": ordered + timedelta(minutes=5), "updated_at": ordered + timedelta(minutes=5),
    }


def at_noon(day: date) -> datetime:
    return datetime.combine(day, clock(12), TZ).astimezone(UTC)


def claim_history(rng: random.Random, claim_id: int, invoiced: date, due: date, today: date) -> list[dict[str, Any]]:
    """Casework as the ledger holds it: a reminder sent 7 days after the due date (deadline 10 days later) where
    that day has passed, then a €10 payment for ~30 % and a dispute for ~5 %; before it, a €10 part payment."""
    def entry(kind: str, day: date, data: dict[str, Any]) -> dict[str, Any]:
        return {"claim_id": claim_id, "at": at_noon(day), "kind": kind, "source": "cli", "actor": "bench",
                "data": data}

    sent = due + timedelta(days=7)
    if sent > today:
        paid = invoiced + timedelta(days=rng.randint(0, (today - invoiced).days))
        return [entry("payment", paid, {"amount": "10.00", "currency": "EUR", "on": paid.isoformat(),
                                        "source": "manual", "note": ""})]
    found = [entry("stage", sent, {"stage": "reminder", "kind": "reminder",
                                   "deadline": (sent + timedelta(days=10)).isoformat(), "fee": "0",
                                   "channel": "shop"})]
    if rng.random() < 0.30 and (paid := sent + timedelta(days=5)) <= today:
        found.append(entry("payment", paid, {"amount": "10.00", "currency": "EUR", "on": paid.isoformat(),
                                             "source": "manual", "note": ""}))
    if rng.random() < 0.05 and (disputed := sent + timedelta(days=3)) <= today:
        found.append(entry("hold", disputed, {"kind": "dispute", "reason": "", "until": None}))
    return sorted(found, key=lambda e: e["at"])


def pg_schema() -> tuple[str, str]:
    """A fresh schema on the test PostgreSQL server: its name and a URL that uses it."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with create_engine(PG).begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema, f"{PG}?options=-csearch_path%3D{schema}"


def settle(store: Store) -> None:
    """What a database that has been running looks like: SQLite's WAL checkpointed; PostgreSQL vacuumed and
    analysed, as autovacuum would have done after the bulk load."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.connection.dbapi_connection.autocommit = True
            conn.exec_driver_sql("VACUUM ANALYZE claims")
            conn.exec_driver_sql("VACUUM ANALYZE ledger")
    store.close()


@dataclass(frozen=True)
class BenchStore:
    """A filled store in a temporary folder: its URL (and PostgreSQL schema), a config dir for it, what fill wrote
    and how long filling took."""

    folder: Path
    url: str
    schema: str | None
    config_dir: Path
    ledger: Counter
    seconds: float


@contextmanager
def bench_store(db: str, claims: int, history_share: float, today: date, *, prefix: str) -> Iterator[BenchStore]:
    """A fresh store with `claims` open claims of SHOP (`fill`, then `settle`): an SQLite file in a temporary folder,
    or a schema of its own on the test PostgreSQL server, dropped afterwards; the shop's config beside it."""
    schema = None
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        try:
            if db == "sqlite":
                url = f"sqlite:///{tmp}/bench.db"
            else:
                schema, url = pg_schema()
            config_dir = write_config(Path(tmp) / "etc", url, [{
                "shop_id": SHOP, "url": "http://127.0.0.1:9", "key": "ck_bench", "secret": "cs_bench",
                "extra": BASE_RATE}])
            begun = time.perf_counter()
            store = Store(url)
            ledger = fill(store, claims, history_share, today)
            settle(store)
            yield BenchStore(Path(tmp), url, schema, config_dir, ledger, time.perf_counter() - begun)
        finally:
            if schema:
                with create_engine(PG).begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def run_header(today: date, db: str, **settings: object) -> str:
    """The first line of a bench run: day, commit, machine, CPU, Python, the database and its version, settings."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or "?"
    version = sqlite3.sqlite_version
    if db == "postgresql":
        with create_engine(PG).connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
    return (f"date={today.isoformat()} commit={commit} machine={platform.node()} cpu={cpu_model()!r} "
            f"cpus={os.cpu_count()} python={platform.python_version()} db={db} {version} "
            + " ".join(f"{name}={value}" for name, value in settings.items()))


def verify(config_dir: Path) -> Counter:
    """Run plan once more and count its rows by status (write_json_stream writes one row per line)."""
    proc = subprocess.Popen(mahnwerk_command(config_dir), stdout=subprocess.PIPE, text=True)
    statuses: Counter = Counter()
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.strip().rstrip(",")
        if line.startswith("{"):
            statuses[json.loads(line)["status"]] += 1
    if proc.wait() != 0:
        raise SystemExit("mahnwerk plan failed")
    return statuses


def bench(claims: int, args: argparse.Namespace, today: date, against: Code | None) -> None:
    with bench_store(args.db, claims, args.history_share, today, prefix="mahnwerk-bench-plan-") as filled:
        print(f"setup:     {claims:>9,} claims, ledger {dict(filled.ledger)} in {filled.seconds:.1f} s", flush=True)
        database = (str(filled.folder / "bench.db") if args.db == "sqlite"
                    else PG.replace("postgresql+psycopg://", "postgresql://"))
        base = run_child([sys.executable, "-c", BASELINE, args.db, database, filled.schema or ""])
        if int(base[3].strip()) != claims:
            raise SystemExit(f"baseline streamed {base[3].strip()} claims, expected {claims}")
        command = mahnwerk_command(filled.config_dir)
        # the other commit first: whatever the machine does meanwhile, it does not favour the working tree
        runs = [(f"at {against.label}", run_child(command, against))] if against else []
        runs.append(("mahnwerk", run_child(command)))
        for name, (wall, cpu, rss, _) in (("baseline", base), *runs):
            print(f"{name + ':':12}{claims:>9,} claims  {wall:7.2f} s wall  {cpu:7.2f} s CPU  {rss:6.0f} MB peak RSS"
                  f"  {wall / base[0]:5.2f} x baseline", flush=True)
        if against:
            theirs, mine = output_digest(command, against), output_digest(command)
            verdict = "identical" if theirs == mine else f"DIFFERENT ({theirs[0][:12]} vs {mine[0][:12]})"
            print(f"output:    {verdict}: sha256 {mine[0][:16]}…, {mine[1]:,} bytes", flush=True)
        if args.verify:
            print(f"verify:    statuses {dict(verify(filled.config_dir).most_common())}", flush=True)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="one run per value, each on a fresh store")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--history-share", type=float, default=0.1,
                        help="share of claims with policy history in the ledger")
    parser.add_argument("--verify", action="store_true", help="run plan once more and count rows by status")
    parser.add_argument("--against", metavar="REF",
                        help="also time plan as it was at this commit (e.g. main), and compare both outputs' sha256")
    args = parser.parse_args()
    today = datetime.now(TZ).date()  # what plan takes as today (the shop's timezone)
    print(run_header(today, args.db, history_share=args.history_share), flush=True)
    with code_at(args.against) if args.against else nullcontext() as against:
        for claims in args.claims:
            bench(claims, args, today, against)


if __name__ == "__main__":
    main()
