"""How people see the plain data of sync/reports.py: rich tables and a progress bar. Scripts get JSON instead."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mahnwerk.policy.aging import AgingLine
from mahnwerk.sync.mirror import SyncCounts
from mahnwerk.sync.service import ShopSyncResult


def plain(value: Any) -> Text:
    """Shop data as inert text: rich markup in a customer's name is shown, never interpreted."""
    return Text("" if value is None else str(value))


def claims_table(rows: Sequence[dict[str, Any]], *, title: str) -> Table:
    """Who owes what since when."""
    table = Table(title=title, title_justify="left")
    for name, justify in (("shop", "left"), ("order", "right"), ("invoice", "left"), ("customer", "left"),
                          ("state", "left"), ("open", "right"), ("due", "left"), ("overdue", "right"),
                          ("aging", "left")):
        wrap = name == "customer"  # names may be long; the figures must stay readable on one line
        table.add_column(name, justify=justify, overflow="fold" if wrap else "ellipsis",  # type: ignore[arg-type]
                         no_wrap=not wrap, max_width=40 if wrap else None)
    for r in rows:
        customer = r["customer"] + (f" ({r['company']})" if r["company"] and r["company"] != r["customer"] else "")
        table.add_row(plain(r["shop"]), plain(r["order_number"]), plain(r["invoice_number"]), plain(customer),
                      plain(r["state"]), plain(f"{r['open_amount']} {r['currency']}"), plain(r["due_date"]),
                      plain(r["days_overdue"] if r["state"] == "open" else ""), plain(r["aging"] or ""))
    return table


def aging_table(lines: Sequence[AgingLine]) -> Table:
    """Open amounts per currency and aging bucket."""
    table = Table(title="Open claims by age", title_justify="left")
    for name, justify in (("currency", "left"), ("aging", "left"), ("claims", "right"), ("open amount", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for line in lines:
        table.add_row(line.currency, line.bucket, str(line.count), f"{line.amount} {line.currency}")
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
        table.add_row(plain(c.shop), Text("ok", style="green") if res.ok else Text("FAILED", style="bold red"),
                      str(c.new), str(c.updated), str(c.closed), str(c.quarantined), str(c.requests),
                      f"{c.seconds:.2f}")
    return table


@contextmanager
def sync_progress(console: Console, *, enabled: bool) -> Iterator[Callable[[SyncCounts], None] | None]:
    """A progress bar per shop on a terminal; nothing otherwise (the structured log tells the story there)."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("orders"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, Any] = {}

        def on_page(counts: SyncCounts) -> None:
            if counts.shop not in tasks:
                tasks[counts.shop] = progress.add_task(f"sync {counts.shop}", total=counts.orders_expected)
            task = tasks[counts.shop]
            total = max(counts.orders_expected or 0, counts.orders_seen)
            progress.update(task, completed=counts.orders_seen, total=total or None)

        yield on_page
