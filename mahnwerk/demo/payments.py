"""The demo's last part: a bank statement arrives. A generated camt.053 file with what the demo's customers paid
(exact, partial, several invoices at once, typos, no reference, fees deducted, plus unrelated bookings and one
broken entry) is imported like `mahnwerk payments import`; the shop is told on the next run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from mahnwerk.demo.shops import DemoShop
from mahnwerk.policy.interest import cents
from mahnwerk.sandbox.statements import StatementClaim, write_statement
from mahnwerk.sync.casework.planner import assessments, shop_today
from mahnwerk.sync.cli import views
from mahnwerk.sync.payments.matchrun import run
from mahnwerk.sync.store.models import Claim, ClaimState, IncomingPaymentRow, PaymentState


def show_payments(ctx: Any, store: Any, config: Any, shop_sandbox: DemoShop, now: datetime) -> None:
    """Write a statement for the open claims, import and match it, show the queue, then tell the shop."""
    from mahnwerk.sync.service.running import run_shops

    out, shop = ctx.out, config.shops[0]
    # Customers pay what their last notice asked for: principal, fees and interest as of the statement's days.
    owed = {row.id: cents(result.balance.total) for row, result in assessments(store, shop, shop_today(shop, now))
            if result.balance is not None}
    with store.session() as session:
        claims = session.execute(select(Claim).where(col(Claim.shop_id) == shop.id, col(Claim.state).in_(
            (ClaimState.OPEN, ClaimState.IN_COLLECTION)))).scalars().all()
        paying = [StatementClaim(c.invoice_number, c.order_number, owed.get(c.id, c.open_amount), c.currency,
                                 c.customer_name, c.company, c.invoice_date)
                  for c in claims if c.state == ClaimState.OPEN]
    path = config.config_dir / "statement-camt053.xml"
    truth = write_statement(path, paying, seed=2026, start=shop_today(shop, now), days=1,
                            malformed=1, account=shop.merchant.iban or "DE14370400441234567890")
    out.print(f"\n[bold]mahnwerk payments import {path.name}[/] (a camt.053 statement the demo wrote: "
              f"{truth.entries} entries for {len(paying)} open claims)")
    [imported], matched = run(store, shop, [path], now=now)
    out.print(views.plain(f"  {imported.new} credits imported ({truth.entries - imported.new - len(imported.problems)}"
                          f" debits, pending or reversed entries skipped), {len(imported.problems)} bad entry:"))
    for problem in imported.problems:
        out.print(views.plain(f"    {problem.position}: {problem.reason}"))
    [again], _ = run(store, shop, [path], now=now)
    out.print(views.plain(f"  the same file again: {again.new} new, {again.duplicates} already imported"))
    out.print(views.plain(f"  matched: {matched.booked} payments booked, {matched.closed} claims paid in full, "
                          f"{matched.partial} paid in part, {matched.credit} with a credit; {matched.review} to "
                          f"review, {matched.unmatched} unmatched"))
    with store.session() as session:
        waiting = session.execute(select(IncomingPaymentRow).where(
            col(IncomingPaymentRow.state).in_(PaymentState.WAITING)).order_by(col(IncomingPaymentRow.id)).limit(5)
        ).scalars()
        out.print("  mahnwerk payments unmatched (the first five):")
        for p in waiting:
            text = " ".join(p.remittance.split())[:36]
            out.print(views.plain(f"    {p.id:>5}  {p.booked_on}  {p.unallocated:>9} {p.currency}  "
                                  f"{p.payer_name[:24]:<24}  {text:<36}  {p.reason[:60]}"))
    [result] = run_shops(store, config, config.shops, now=lambda: now, sleep=lambda seconds: None)
    notes = [n for n in shop_sandbox.private_notes(c.order_id for c in claims[:200]) if "Mahnwerk: paid in full" in n]
    out.print(views.plain(f"  next run: the shop was told {result.outcome.written_back if result.outcome else 0} "
                          "times (paid orders marked paid there, a private note each), e.g.:"))
    if notes:
        out.print(views.plain(f"    {notes[0]}"))
