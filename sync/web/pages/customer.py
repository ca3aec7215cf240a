"""The customer page: every claim of one customer in a shop (found by their e-mail address or their customer id in
the shop), with what they owe per currency; each claim links to its page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from mahnwerk.sync.casework.case import CaseError
from mahnwerk.sync.casework.customers import customer_claims
from mahnwerk.sync.web import context
from mahnwerk.sync.web.claimtexts import TEXTS
from mahnwerk.sync.web.pages.claim import status_text
from mahnwerk.sync.web.texts import add

bp = Blueprint("customer", __name__, url_prefix="/customers")
add(TEXTS)


@bp.route("/<shop>/<path:key>")
def show(shop: str, key: str) -> Any:
    """All claims of the customer `key` (an e-mail address, or the customer id in the shop) and the totals."""
    try:
        found = customer_claims(context.store(), context.config(), shop, key, context.now())
    except CaseError:
        abort(404)
    return render_template("customer.html", c=found, status_text=status_text)
