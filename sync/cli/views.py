"""How people see the plain data of sync/casework/reports.py: rich tables, a progress bar. Scripts get JSON instead."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]
from typing import Any

from rich.console import Console, JustifyMethod, OverflowMethod
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mahnwerk.policy.aging import AgingLine
from mahnwerk.policy.engine import RateGap
from mahnwerk.sync.casework.blocked import Blocked
from mahnwerk.sync.mirror.mirror import SyncCounts
from mahnwerk.sync.service.syncing import ShopSyncResult

# C0 and C1 controls, DEL, and the bidi overrides that reorder what a terminal shows: a customer's name or a bank
# text could clear the screen, set the window title or fake a line; shown as escapes instead (umlauts stay).
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
UNESCAPED = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # what json.dumps leaves raw


def _visible(char: str, lines: bool) -> str:
    if char == "\n" and lines:
        return char
    return " " if char in "\t\n\r" else f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def safe(value: Any, *, lines: bool = False) -> str:
    """Text from a shop or a bank, fit for a terminal: control characters shown as `\\x1b`-style escapes, tabs and
    line breaks as spaces (`lines` keeps line breaks). Everything printed for people goes through this (tables via
    `plain`)."""
    return CONTROLS.sub(lambda m: _visible(m.group(), lines), "" if value is None else str(value))


def plain(value: Any, *, lines: bool = False) -> Text:
    """Shop data as inert text: rich markup in a customer's name is shown, never interpreted; controls via `safe`
    (`lines` keeps line breaks)."""
    return Text(safe(value, lines=lines))


ROW_ENCODER = json.JSONEncoder(ensure_ascii=False)  # json.dumps(row, ensure_ascii=False), built once


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# What ROW_ENCODER.encode runs, made once instead of per row (JSONEncoder.iterencode builds it on each call) and
# without the check for circular references (rows are plain data): ~1.2 µs less per row of `plan --json`.
_ENCODE_ROW = c_make_encoder(None, _no_default, c_encode_basestring, None, ": ", ", ", False, False, True) \
    if c_make_encoder is not None else None


def _inert(text: str) -> str:
    return UNESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps(data: Any, **options: Any) -> str:
    """JSON for scripts, exact and still inert on a terminal: json.dumps escapes C0 controls but with
    ensure_ascii=False passes DEL, C1 (U+009B is CSI to some terminals) and bidi overrides through; escaped too."""
    return _inert(json.dumps(data, ensure_ascii=False, **options))


def dumps_joined(rows: Iterable[Any], separator: str) -> str:
    """`separator.join(dumps(row) for row in rows)`, with one encoder and one escaping pass for all of them: the
    per-row cost of `plan --json` over a million claims."""
    if _ENCODE_ROW is None:  # no C accelerator (another interpreter)
        return _inert(separator.join(map(ROW_ENCODER.encode, rows)))
    encode = _ENCODE_ROW
    return _inert(separator.join(["".join(encode(row, 0)) for row in rows]))


def claims_table(rows: Sequence[dict[str, Any]], *, title: str, width: int = 200) -> Table:
    """Who owes what since when: the principal still open, and everything owed today ("?" while interest is
    blocked). Below 110 columns the claim is SHOP:ORDER and the invoice and aging bucket are left to `--json` and
    the totals, so that an 80-column terminal keeps the figures on one line."""
    wide = width >= 110
    mixed = len({r["state"] for r in rows}) > 1
    columns = (("shop", "order", "invoice") if wide else ("claim",)) + ("customer",) \
        + (("state",) if wide or mixed else ()) + ("open", "owed", "due", "overdue" if wide else "days") \
        + (("aging",) if wide else ())
    table = Table(title=title, title_justify="left", show_edge=wide)
    for name in columns:
        wrap = name == "customer"  # names may be long; the figures must stay readable on one line
        justify: JustifyMethod = "right" if name in ("order", "open", "owed", "overdue", "days") else "left"
        overflow: OverflowMethod = "fold" if wrap else "ellipsis"
        table.add_column(name, justify=justify, overflow=overflow,
                         no_wrap=not wrap, max_width=40 if wrap else None, min_width=12 if wrap else None)
    for r in rows:
        customer = r["customer"] + (f" ({r['company']})" if r["company"] and r["company"] != r["customer"] else "")
        cells = {"shop": r["shop"], "order": r["order_number"], "invoice": r["invoice_number"],
                 "claim": f"{r['shop']}:{r['order_number']}", "customer": customer, "state": r["state"],
                 "open": f"{r['open_amount']} {r['currency']}",
                 "owed": f"{r['owed']} {r['currency']}" if r["owed"] is not None else "?", "due": r["due_date"],
                 "overdue": r["days_overdue"] if r["state"] == "open" else "", "aging": r["aging"] or ""}
        cells["days"] = cells["overdue"]
        table.add_row(*(plain(cells[name]) for name in columns))
    return table


def aging_table(lines: Sequence[AgingLine]) -> Table:
    """Open amounts per currency and aging bucket."""
    table = Table(title="Open claims by age", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("currency", "left"), ("aging", "left"), ("claims", "right"),
                                                      ("open amount", "right"))
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for line in lines:
        table.add_row(plain(line.currency), line.bucket, str(line.count), plain(f"{line.amount} {line.currency}"))
    return table


def quarantine_table(rows: Sequence[dict[str, Any]]) -> Table:
    """Records the mirror could not read, with the reason."""
    table = Table(title="Quarantined records", title_justify="left")
    for name in ("shop", "order id", "field", "reason", "seen", "last seen"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(plain(r["shop"]), plain(r["order_id"]), plain(r["field"]), plain(r["reason"]),
                      plain(r["times_seen"]), plain(r["last_seen"][:19]))
    return table


def sync_table(results: Sequence[ShopSyncResult]) -> Table:
    """One line per shop: what the sync did."""
    table = Table(title="Sync", title_justify="left")
    for name in ("shop", "result", "new", "updated", "closed", "quarantined", "requests", "seconds"):
        table.add_column(name, justify="left" if name in ("shop", "result") else "right")
    for res in results:
        c = res.counts
        verdict = Text("ok", style="green") if res.ok else Text("BUSY", style="yellow") if res.busy else \
            Text("FAILED", style="bold red")
        table.add_row(plain(c.shop), verdict,
                      str(c.new), str(c.updated), str(c.closed), str(c.quarantined), str(c.requests),
                      f"{c.seconds:.2f}")
    return table


def _bars(console: Console, unit: str) -> Progress:
    """Transient progress bars on the console: what, bar, done/total `unit`, time elapsed."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                    TimeElapsedColumn(), console=console, transient=True)


@contextmanager
def sync_progress(console: Console, *, enabled: bool) -> Iterator[Callable[[SyncCounts], None] | None]:
    """A progress bar per shop on a terminal; nothing otherwise (the structured log tells the story there)."""
    if not enabled:
        yield None
        return
    with _bars(console, "orders") as progress:
        tasks: dict[str, Any] = {}

        def on_page(counts: SyncCounts) -> None:
            if counts.shop not in tasks:
                tasks[counts.shop] = progress.add_task(f"sync {counts.shop}", total=counts.orders_expected)
            task = tasks[counts.shop]
            total = max(counts.orders_expected or 0, counts.orders_seen)
            progress.update(task, completed=counts.orders_seen, total=total or None)

        yield on_page


@contextmanager
def row_progress(console: Console, *, enabled: bool) -> Iterator[Callable[[str], Callable[[int, int], None]] | None]:
    """On a terminal, a factory of progress bars over outbox rows: `bar("day +14")` gives the callback that a run
    tells (rows done, rows due); nothing otherwise."""
    if not enabled:
        yield None
        return
    with _bars(console, "actions") as progress:
        shown: list[Any] = []

        def bar(description: str) -> Callable[[int, int], None]:
            for task in shown:  # one bar at a time: the run before has printed its line
                progress.remove_task(task)
            shown[:] = [progress.add_task(description, total=None)]
            return lambda done, due: progress.update(shown[0], completed=done, total=due)

        yield bar


PLAN_HEADER = f"{'claim':<22} {'action':<14} {'on':<10} {'fee':>8} {'interest':>9} {'owed':>12}  reason"


def print_plan(console: Console, rows: Iterator[dict[str, Any]] | Sequence[dict[str, Any]], *,
               limit: int | None = None) -> Counter[str]:
    """One line per claim as the rows stream in (a table would hold them all), at most `limit` lines; then each
    distinct problem once. Returns the count per action."""
    counts: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    gaps: Blocked = Blocked()  # one line per table and half-year, not one per claim
    total = 0
    for total, r in enumerate(rows, 1):
        if total == 1:
            console.print(Text(PLAN_HEADER, style="bold"))
        counts[r["action"]] += 1
        if gap := r.get("rate_gap"):
            since = date.fromisoformat(gap["from"])
            gaps.claims[RateGap(gap["table"], since)] += 1
            gaps.reminders[RateGap(gap["table"], since)] += r["status"] != "blocked"
        elif r.get("problem"):
            problems[r["problem"]] += 1
        if limit is not None and total > limit:
            continue
        amount = r["open_amount"] if r["open_amount"] is not None else r.get("open_without_interest")
        owed = f"{amount} {r['currency']}" + ("*" if gap else "") if amount is not None else ""
        line = (f"{r['claim'][:22]:<22} {r['action'][:14]:<14} {r['due_on'] or '':<10} {r['fee']:>8} "
                f"{r['interest'] if r['interest'] is not None else '-':>9} {owed:>12}  {r['reason']}")
        console.print(plain(line), soft_wrap=True)
    if limit is not None and total > limit:
        console.print(plain(f"... and {total - limit} more (mahnwerk plan lists them all)"))
    for line in gaps.lines():
        console.print(Text(safe(f"{line}; * owed without interest"), style="yellow"), soft_wrap=True)
    for problem, count in problems.items():
        console.print(Text(safe(f"blocked ({count} claims): {problem}"), style="yellow"), soft_wrap=True)
    return counts


def plan_summary(counts: Counter[str]) -> Table:
    """How many claims get which next action."""
    table = Table(title="Next actions", title_justify="left")
    table.add_column("action")
    table.add_column("claims", justify="right")
    for action, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(plain(action), str(count))
    return table


def tasks_table(rows: Sequence[dict[str, Any]]) -> Table:
    """Manual tasks due: which claim, which task, since when."""
    table = Table(title="Open tasks", title_justify="left")
    for name in ("claim", "task", "due", "owed", "reason"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(plain(r["claim"]), plain(r["action"]), plain(r["due_on"]),
                      plain(f"{r['open_amount']} {r['currency']}"), plain(r["reason"]))
    return table


def print_explanation(console: Console, report: dict[str, Any]) -> None:
    """`explain` for people: the claim, its timeline, its balance and what comes next."""
    r = report
    console.print(Text(safe(f"{r['claim']}  invoice {r['invoice_number']} of {r['invoice_date']}, due "
                            f"{r['due_date']}, {r['gross_amount']} {r['currency']}, "
                            f"{'business' if r['b2b'] else 'consumer'}, state {r['state']}"), style="bold"))
    console.print(plain(r["b2b_reason"]))
    console.print(plain(f"policy {r['policy']}; interest: {r['interest_rule']}"))
    table = Table(title="Timeline", title_justify="left")
    for name in ("day", "what", "by"):
        table.add_column(name, overflow="fold")
    for item in r["timeline"]:
        table.add_row(plain(item["day"]), plain(item["what"]), plain(item["actor"] or item["source"]))
    console.print(table)
    if (b := r["balance"]) is not None:
        console.print(plain(f"owed on {b['on']}: principal {b['principal']}, fees {b['fees']}, flat fee "
                            f"{b['flat_fee']}, interest {b['interest']}, paid {b['paid']} → total {b['total']} "
                            f"{r['currency']}" + (f" (credit {b['credit']})" if b["credit"] != "0.00" else "")
                            + (f"; due now {b['due_now']}, instalments not yet due {b['deferred']}"
                               if b.get("deferred", "0.00") != "0.00" else "")))
        for p in b["interest_periods"]:
            console.print(plain(f"  interest {p['from']} to {p['to']} (excl.): {p['days']} days × {p['annual_rate']} % "
                                f"on {p['principal']} = {Decimal(p['amount']):.4f}"))
    if (k := r.get("without_interest")) is not None and (gap := r.get("rate_gap")) is not None:
        console.print(plain(f"owed on {k['on']} without interest: principal {k['principal']}, fees {k['fees']}, "
                            f"flat fee {k['flat_fee']}, paid {k['paid']} → {k['total']} {r['currency']}; interest "
                            f"not yet computable: no {gap['table']} from {gap['from']} (run `{gap['fix']}`)"))
    if r["default_since"]:
        console.print(plain(f"in default since {r['default_since']}"))
    nxt = r["next"]
    what = (f"next: {nxt['action']} on {nxt['on']}" + (f", deadline {nxt['deadline']}" if nxt["deadline"] else "")
            + (f", fee {nxt['fee']}" if nxt["fee"] != "0.00" else "")) if nxt else "next: nothing"
    later = r.get("next_balance")
    if nxt and later and b is not None and later["on"] != b["on"]:
        what += f", owed by then {later['total']} {r['currency']} (interest {later['interest']})"
    console.print(Text(safe(f"{what} ({r['status']})"), style="bold"))
    console.print(plain(f"why: {r['reason']}"))
