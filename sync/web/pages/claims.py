"""The claims list: filters (shop, state, stage, aging bucket), search (order or invoice number, the start of a
name or e-mail address), pages of 50 most overdue first, and the filtered list as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue

from mahnwerk.policy.aging import BUCKET_NAMES
from mahnwerk.sync.casework.claimlist import (
    NO_STAGE,
    PAGE_SIZE,
    ClaimFilter,
    Cursor,
    claim_list,
    claim_page,
    stage_names,
)
from mahnwerk.sync.casework.reports import STATES
from mahnwerk.sync.web import context, texts

bp = Blueprint("claims", __name__)
texts.add({
    "claims.title": ("Forderungen", "Claims"),
    "claims.search": ("Suche", "Search"),
    "claims.search_hint": ("Bestell- oder Rechnungsnummer, Anfang von Name oder E-Mail-Adresse",
                           "order or invoice number, start of the name or e-mail address"),
    "claims.state": ("Status", "State"),
    "claims.stage": ("Letzte Stufe", "Last stage"),
    "claims.bucket": ("Überfällig", "Overdue"),
    "claims.any": ("alle", "any"),
    "claims.total": ("{n} Forderungen", "{n} claims"),
    "claims.total.one": ("1 Forderung", "1 claim"),
    "claims.none": ("Keine Forderung passt zu diesem Filter.", "No claim matches this filter."),
    "claims.csv": ("Als CSV herunterladen", "Download as CSV"),
    "claims.bucket_open": ("Die Altersstruktur zählt nur offene Forderungen.", "Aging counts open claims only."),
    "claims.col.order": ("Bestellung", "Order"),
    "claims.col.invoice": ("Rechnung", "Invoice"),
    "claims.col.invoice_date": ("Rechnungsdatum", "Invoice date"),
    "claims.col.customer": ("Kunde", "Customer"),
    "claims.col.company": ("Firma", "Company"),
    "claims.col.email": ("E-Mail", "E-mail"),
    "claims.col.due": ("Fällig am", "Due"),
    "claims.col.days": ("Tage überfällig", "Days overdue"),
    "claims.col.aging": ("Altersgruppe", "Aging"),
    "claims.col.gross": ("Rechnungsbetrag", "Invoice amount"),
    "claims.col.open": ("Offen", "Open"),
    "claims.col.owed": ("Mit Gebühren und Zinsen", "With fees and interest"),
    "claims.col.currency": ("Währung", "Currency"),
    "claims.interest_blocked": ("Zinsen noch nicht berechenbar (Basiszinssatz fehlt)",
                                "interest not yet computable (base rate missing)"),
    "claims.filename": ("forderungen", "claims"),
})
FILTER_ARGS = ("shop", "state", "stage", "bucket", "q")
CSV_COLUMNS = (("shop", "common.shop"), ("order_number", "claims.col.order"), ("invoice_number", "claims.col.invoice"),
               ("invoice_date", "claims.col.invoice_date"), ("customer", "claims.col.customer"),
               ("company", "claims.col.company"), ("email", "claims.col.email"), ("state", "claims.state"),
               ("stage", "claims.stage"), ("due_date", "claims.col.due"), ("days_overdue", "claims.col.days"),
               ("aging", "claims.col.aging"), ("gross_amount", "claims.col.gross"), ("open_amount", "claims.col.open"),
               ("owed", "claims.col.owed"), ("currency", "claims.col.currency"))
AMOUNTS = ("gross_amount", "open_amount", "owed")


def wanted() -> ClaimFilter:
    """The filter from the query string; values that are not one of the choices are ignored."""
    args = request.args
    shops = {shop.id for shop in context.config().shops}
    stages = {NO_STAGE, *stage_names(context.config().shops)}
    return ClaimFilter(shop=args.get("shop", "") if args.get("shop") in shops else "",
                       state=args.get("state", "open") if args.get("state") in STATES else "open",
                       stage=args.get("stage", "") if args.get("stage") in stages else "",
                       bucket=args.get("bucket", "") if args.get("bucket") in BUCKET_NAMES else "",
                       search=args.get("q", "")[:200])


def filter_args(found: ClaimFilter) -> dict[str, str]:
    """The filter as query arguments, without the empty ones (for the pager and the CSV link)."""
    values = {"shop": found.shop, "state": found.state, "stage": found.stage, "bucket": found.bucket,
              "q": found.search}
    return {key: value for key, value in values.items() if value}


@bp.route("/claims")
def index() -> ResponseReturnValue:
    found = wanted()
    shops = context.config().shops
    size = request.args.get("size", PAGE_SIZE, type=int) or PAGE_SIZE
    page = claim_page(context.store(), shops, found, context.now(), after=Cursor.parse(request.args.get("after")),
                      before=Cursor.parse(request.args.get("before")), size=min(max(size, 5), 500))
    args = filter_args(found) | ({"size": str(size)} if size != PAGE_SIZE else {})
    return render_template("claims.html", page=page, wanted=found, args=args, shops=shops,
                           states=STATES, stages=[NO_STAGE, *stage_names(shops)], buckets=BUCKET_NAMES)


@bp.route("/claims.csv")
def download() -> ResponseReturnValue:
    """The filtered list, every page, as CSV for a spreadsheet: in German with ";" and decimal commas."""
    found = wanted()
    german = texts.current_lang() == "de"
    store, shops, now = context.store(), context.config().shops, context.now()
    name = f"{texts._('claims.filename')}-{now.date().isoformat()}.csv"
    headers = [texts._(key) for _, key in CSV_COLUMNS]

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";" if german else ",", lineterminator="\r\n")
        writer.writerow(headers)
        yield "\ufeff" + out.getvalue()  # the byte-order mark: spreadsheets then read the umlauts as UTF-8
        for row in claim_list(store, shops, found, now):
            out.seek(0)
            out.truncate()
            writer.writerow(csv_cells(row, german))
            yield out.getvalue()

    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def csv_cells(row: dict[str, Any], german: bool) -> list[str]:
    """One row's cells: amounts with the locale's decimal mark and no grouping, dates as the page shows them,
    states, stages and buckets in words, and text that a spreadsheet would take for a formula made inert."""
    cells = []
    for key, _ in CSV_COLUMNS:
        value = row.get(key)
        if value is None:
            cells.append("")
        elif key in AMOUNTS:
            cells.append(str(Decimal(value)).replace(".", "," if german else "."))
        elif key in ("invoice_date", "due_date"):
            cells.append(texts.as_date(value))
        elif key in ("state", "stage", "aging"):
            cells.append(texts.word({"aging": "bucket"}.get(key, key), value) if value else "")
        elif isinstance(value, int):
            cells.append(str(value))
        else:
            text = str(value)
            cells.append("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)
    return cells
