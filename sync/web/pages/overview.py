"""The overview: per shop the last sync, what is open and how old, what the next run sends, dead letters, claims
waiting for a base rate (with the fix) and payments waiting for a person."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from mahnwerk.policy.aging import AgingLine
from mahnwerk.sync.casework.outlook import Outlook, outlook
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.casework.status import status_report
from mahnwerk.sync.web import context, texts
from mahnwerk.sync.web.cache import app_cache
from mahnwerk.sync.web.charts import aging_chart

bp = Blueprint("overview", __name__)
OUTLOOK_SECONDS = 120.0  # the planner's pass takes seconds for 100,000 claims: kept this long per shop and day
texts.add({
    "overview.title": ("Übersicht", "Overview"),
    "overview.no_shops": ("Es ist noch kein Shop eingerichtet.", "No shop is configured yet."),
    "overview.last_sync": ("Letzter Abgleich", "Last sync"),
    "overview.never": ("noch nie", "never"),
    "overview.outcome.ok": ("erfolgreich", "ok"),
    "overview.outcome.failed": ("fehlgeschlagen", "failed"),
    "overview.outcome.running": ("läuft", "running"),
    "overview.open": ("Offene Forderungen", "Open claims"),
    "overview.open_line": ("{n} offen, zusammen {amount}", "{n} open, {amount} in total"),
    "overview.in_collection": ("{n} beim Inkasso", "{n} with the agency"),
    "overview.next_run": ("Beim nächsten Lauf", "On the next run"),
    "overview.nothing_due": ("Nichts fällig.", "Nothing due."),
    "overview.dead_letters": ("Unzustellbare Aufträge", "Dead letters"),
    "overview.payments_waiting": ("Zahlungen warten auf Zuordnung", "Payments waiting"),
    "overview.open_tasks": ("Offene Aufgaben", "Open tasks"),
    "overview.blocked": ("Blockierte Forderungen", "Blocked claims"),
    "overview.blocked_line": ("{n} Forderungen warten auf den {table} ab {since}.",
                              "{n} claims wait for the {table} from {since}."),
    "overview.blocked_line.one": ("1 Forderung wartet auf den {table} ab {since}.",
                                  "1 claim waits for the {table} from {since}."),
    "overview.blocked_reminders": ("{n} davon erhalten ihre Zahlungserinnerung ohne Zinsen.",
                                   "{n} of them get their reminder without interest."),
    "overview.blocked_reminders.one": ("Eine davon erhält ihre Zahlungserinnerung ohne Zinsen.",
                                       "One of them gets its reminder without interest."),
    "overview.fix": ("Abhilfe:", "Fix:"),
    "overview.aging": ("Altersstruktur", "Aging"),
    "overview.aging_of": ("Offene Beträge nach Tagen über Fälligkeit ({currency})",
                          "Open amounts by days overdue ({currency})"),
    "overview.claims": ("{n} Forderungen", "{n} claims"),
    "overview.claims.one": ("1 Forderung", "1 claim"),
    "overview.as_of": ("Stand {time}", "As of {time}"),
    "overview.show": ("anzeigen", "show"),
})


def shop_outlook(shop_id: str) -> Outlook:
    """The shop's outlook today, from the cache when it is fresh enough."""
    shop, now = context.config().shop(shop_id), context.now()
    compute = partial(outlook, context.store(), shop, now)
    return app_cache("outlook", OUTLOOK_SECONDS).get((shop.id, shop_today(shop, now)), compute)


def warm() -> None:
    """Compute every shop's outlook into the cache (in the application's context), so the first visitor of the
    overview does not wait for it."""
    for shop in context.config().shops:
        shop_outlook(shop.id)


bp.record_once(lambda state: state.app.extensions.setdefault("mahnwerk.warmers", []).append(warm))


@bp.route("/")
def index() -> ResponseReturnValue:
    shops = context.config().shops
    report = status_report(context.store(), [shop.id for shop in shops])
    outlooks = [shop_outlook(shop.id) for shop in shops]
    cards = [{"status": entry, "outlook": found, "totals": found.totals(), "zone": shop.timezone,
              "dead": len(entry["dead_letters"]), "blocked": found.blocked.as_dict()["tables"]}
             for shop, entry, found in zip(shops, report, outlooks, strict=True)]
    lines = [line for found in outlooks for line in found.aging]
    currencies = sorted({line.currency for line in lines})
    merged = merge_aging(lines)
    charts = [aging_chart(merged, currency) for currency in currencies]
    return render_template("overview.html", cards=cards, charts=charts, now=context.now())


def merge_aging(lines: list[AgingLine]) -> list[AgingLine]:
    """The aging lines of several shops as one per (currency, bucket)."""
    merged: dict[tuple[str, str], AgingLine] = {}
    for line in lines:
        key = (line.currency, line.bucket)
        if key in merged:
            before = merged[key]
            line = AgingLine(line.currency, line.bucket, before.count + line.count, before.amount + line.amount)
        merged[key] = line
    return list(merged.values())
