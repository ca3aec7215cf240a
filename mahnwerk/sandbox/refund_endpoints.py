"""/orders/{id}/refunds of WooCommerce REST v3 (WC_REST_Order_Refunds_Controller and its v2 parent).

Its errors are WP_Errors with a bare number as data, which WordPress answers with HTTP 500 (BareStatusError).
Not modelled: line_items refunds (and an amount computed from them), api_restock, dp, DELETE.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from mahnwerk.sandbox.endpoints import paging_headers, project_links, requested_fields
from mahnwerk.sandbox.params import ORDERBY, Checker, id_list
from mahnwerk.sandbox.refunds import RefundError, below_zero, create_refund
from mahnwerk.sandbox.shop import WooSandbox
from mahnwerk.sandbox.wire import BareStatusError, Response, WPError

if TYPE_CHECKING:
    from mahnwerk.sandbox.routes import Request

# create_item() builds Location from the unexpanded rest_base, so the real header carries the route's regex.
_LOCATION_BASE = "/wc/v3/orders/(?P<order_id>[\\d]+)/refunds"


def _out(refund: dict, order_id: int, req: Request, *, in_collection: bool = False) -> dict:
    base = f"/wc/v3/orders/{order_id}/refunds"
    links = {"self": [{"href": req.rest_url(f"{base}/{refund['id']}"), "targetHints": {"allow": ["GET", "DELETE"]}}],
             "collection": [{"href": req.rest_url(base)}], "up": [{"href": req.rest_url(f"/wc/v3/orders/{order_id}")}]}
    return project_links(refund, links, requested_fields(req), in_collection=in_collection)


def _php_empty(value: object) -> bool:
    return value in (None, False, 0, "", "0", [], {})


def create(shop: WooSandbox, req: Request, order_id: int) -> Response:
    """POST /orders/{id}/refunds: 201 with the refund (context edit, same keys); api_refund defaults to true."""
    params = req.json_body()
    check = Checker(params)
    amount, reason = check.string("amount"), check.string("reason")
    meta = params.get("meta_data")
    if meta is not None and not (isinstance(meta, list) and all(isinstance(m, dict) and "key" in m for m in meta)):
        check.problems["meta_data"] = ("rest_invalid_type", "meta_data is not of type array.")
    api_refund = check.boolean("api_refund", True)
    check.boolean("api_restock", True)
    check.done()
    req.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    if not _php_empty(params.get("id")):
        raise WPError(400, "woocommerce_rest_shop_order_refund_exists", "Cannot create existing shop_order_refund.")
    with shop.lock:
        if shop.store.get(order_id) is None:
            raise BareStatusError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
        if amount is not None and below_zero(amount):
            raise BareStatusError("woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.",
                                  400)
        try:    # no amount: PHP's null passes both checks and is stored as 0
            refund = create_refund(shop, order_id, "0" if amount is None else amount, reason, api_refund=api_refund,
                                   meta=meta)
        except RefundError as error:
            raise BareStatusError("woocommerce_rest_cannot_create_order_refund", str(error), 500) from None
        refund = copy.deepcopy(refund)
    location = req.rest_url(f"{_LOCATION_BASE}/{refund['id']}")
    return Response.json(_out(refund, order_id, req), 201, [("Location", location)])


def list_all(shop: WooSandbox, req: Request, order_id: int) -> Response:
    """GET /orders/{id}/refunds: newest first, paged like orders; an unknown order simply has none."""
    check = Checker(req.params)
    page, per_page = check.integer("page", 1, minimum=1), check.integer("per_page", 10, minimum=1, maximum=100)
    offset = check.integer("offset", None)
    descending = check.enum("order", "desc", ("asc", "desc")) == "desc"
    by_id = check.enum("orderby", "date", ORDERBY) == "id"        # the others sort refunds by date too
    check.done()
    req.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    with shop.lock:
        order = shop.store.get(order_id)
        found = copy.deepcopy(shop.refunds.of(order)) if order is not None else []
    include, exclude = id_list(req.params.get("include", "")), set(id_list(req.params.get("exclude", "")))
    found = [r for r in found if (not include or r["id"] in include) and r["id"] not in exclude]
    found.sort(key=(lambda r: r["id"]) if by_id else (lambda r: (r["date_created_gmt"] or "", r["id"])),
               reverse=descending)
    start = offset if offset is not None else (page - 1) * per_page
    body = [_out(r, order_id, req, in_collection=True) for r in found[start:start + per_page]]
    return Response.json(body, headers=paging_headers(req, len(found), page, per_page))


def get_one(shop: WooSandbox, req: Request, order_id: int, refund_id: int) -> Response:
    """GET /orders/{id}/refunds/{refund_id}: 404 for no such post, 500s for the wrong order (see BareStatusError)."""
    req.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    with shop.lock:
        order = shop.store.get(order_id)
        if order is not None:
            shop.refunds.of(order)
        # A loaded refund of another order that nobody has read yet is unknown here and answers 404, not 500.
        found = shop.refunds.find(refund_id)
        if found is None and shop.store.get(refund_id) is None:
            raise WPError(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")
        if order is None:
            raise BareStatusError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
        if found is None or found[1] != order_id:       # an order is no refund, and neither is another's refund
            raise BareStatusError("woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.", 404)
        refund = copy.deepcopy(found[0])
    return Response.json(_out(refund, order_id, req))
