"""The order and order-note endpoints of WooCommerce REST v3 (class-wc-rest-orders-controller and friends)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from mahnwerk.sandbox.notes import SYSTEM_AUTHOR, customer_note_mail, stripslashes
from mahnwerk.sandbox.params import (
    EDIT_STATUSES,
    Checker,
    as_list,
    not_in_enum,
    parse_listing,
    to_bool,
)
from mahnwerk.sandbox.shop import WooSandbox, to_cents
from mahnwerk.sandbox.wire import Response, WPError, invalid_params

if TYPE_CHECKING:
    from mahnwerk.sandbox.routes import Request

INVALID_ID = ("woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
WRITABLE = ("parent_id", "currency", "customer_id", "customer_note", "payment_method", "payment_method_title",
            "transaction_id")
ADDRESS_KEYS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                "country", "email", "phone")


def project(data: dict, fields: list[str]) -> dict:
    """rest_filter_response_fields(): keep the named fields; 'billing.email' keeps one nested key."""
    tree: dict = {}
    for path in fields:
        node = tree
        parts = path.split(".")
        for n, part in enumerate(parts):
            if node.get(part) is True:
                break
            node = node.setdefault(part, True if n == len(parts) - 1 else {})
            if node is True:
                break
    return _pick(data, tree)


def _pick(data: dict, tree: dict) -> dict:
    out = {}
    for name, sub in tree.items():
        if name in data:
            value = data[name]
            out[name] = value if sub is True or not isinstance(value, dict) else _pick(value, sub)
    return out


def order_links(order: dict, req: Request) -> dict:
    """prepare_links() of the v2 orders controller, which v3 inherits; WordPress adds the self link's targetHints."""
    oid = order["id"]
    links = {"self": [{"href": req.rest_url(f"/wc/v3/orders/{oid}"),
                       "targetHints": {"allow": ["GET", "POST", "PUT", "PATCH", "DELETE"]}}],
             "collection": [{"href": req.rest_url("/wc/v3/orders")}],
             "email_templates": [{"embeddable": True,
                                  "href": req.rest_url(f"/wc/v3/orders/{oid}/actions/email_templates")}]}
    if order.get("customer_id"):
        links["customer"] = [{"href": req.rest_url(f"/wc/v3/customers/{order['customer_id']}")}]
    if order.get("parent_id"):
        links["up"] = [{"href": req.rest_url(f"/wc/v3/orders/{order['parent_id']}")}]
    return links


def present(order: dict, fields: list[str] | None, req: Request, *, in_collection: bool = False) -> dict:
    """An order as the response shows it: the requested `_fields` (all without) and _links, which a single order
    always carries and a listed one only without `_fields` or with `_links` among them (project_links());
    include_meta / exclude_meta narrow meta_data by key (WooCommerce 8.x+)."""
    data = order if fields is None else project(order, fields)
    include, exclude = req.params.get("include_meta"), req.params.get("exclude_meta")
    if (include or exclude) and isinstance(data.get("meta_data"), list):
        keep, drop = set(as_list(include)) if include else None, set(as_list(exclude or ""))
        data = {**data, "meta_data": [m for m in data["meta_data"]
                                      if (keep is None or m.get("key") in keep) and m.get("key") not in drop]}
    return project_links(data, order_links(order, req), fields, in_collection=in_collection)


def requested_fields(req: Request) -> list[str] | None:
    """The `_fields` of the request, None when it names none (like rest_filter_response_fields())."""
    fields = [f.strip() for f in as_list(req.params["_fields"])] if "_fields" in req.params else []
    return fields or None


def project_links(data: dict, links: dict, fields: list[str] | None, *, in_collection: bool) -> dict:
    """Data plus `_links` after `_fields`: prepare_response_for_collection() puts links into each listed item,
    so `_fields` filters them; a single item's links are added after the filter, so they always come."""
    if in_collection:
        data = {**data, "_links": links}
        return data if fields is None else project(data, fields)
    return {**(data if fields is None else project(data, fields)), "_links": links}


def list_orders(shop: WooSandbox, req: Request) -> Response:
    """GET /orders: filter, sort and page."""
    listing = parse_listing(req.params, shop.tz)
    req.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    start = listing.offset if listing.offset is not None else (listing.page - 1) * listing.per_page
    with shop.lock:
        total, ids = shop.store.select(listing.selection, start, listing.per_page)
        rows = [shop.store.rows[oid] for oid in ids]
    body = [present(shop.store.materialize(row), listing.fields, req, in_collection=True) for row in rows]
    return Response.json(body, headers=paging_headers(req, total, listing.page, listing.per_page))


def paging_headers(req: Request, total: int, page: int, per_page: int) -> list[tuple[str, str]]:
    """X-WP-Total, X-WP-TotalPages and Link (prev before next) as WC_REST_CRUD_Controller::get_items() sets them."""
    pages = -(-total // per_page)
    headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
    links = []
    if page > 1:
        links.append(f'<{_page_url(req, min(page - 1, pages))}>; rel="prev"')
    if pages > page:
        links.append(f'<{_page_url(req, page + 1)}>; rel="next"')
    if links:
        headers.append(("Link", ", ".join(links)))
    return headers


def _page_url(req: Request, page: int) -> str:
    """add_query_arg('page', N, <this request's URL>): the request's own query with page replaced."""
    pairs = [(k, v) for k, v in req.pairs if k != "page"]
    return req.rest_url(req.route, pairs + [("page", str(page))])


def _existing(shop: WooSandbox, order_id: int) -> dict | None:
    with shop.lock:
        return shop.store.get(order_id)


def get_order(shop: WooSandbox, req: Request, order_id: int) -> Response:
    order = _existing(shop, order_id)
    if order is None:       # the permission check passes for a missing order, so the 404 comes first
        raise WPError(404, *INVALID_ID)
    req.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    return Response.json(present(order, requested_fields(req), req))


def update_order(shop: WooSandbox, req: Request, order_id: int) -> Response:
    """PUT /orders/{id}: status, addresses, meta_data upserts, set_paid (payment_complete() only if unpaid)."""
    params = req.json_body()
    problems = {}
    status = params.get("status")
    if status is not None and status not in EDIT_STATUSES:
        problems["status"] = ("rest_not_in_enum", not_in_enum("status", EDIT_STATUSES))
    set_paid = to_bool(params.get("set_paid", False))
    if set_paid is None:
        problems["set_paid"] = ("rest_invalid_type", "set_paid is not of type boolean.")
    meta = params.get("meta_data")
    if meta is not None and not (isinstance(meta, list) and all(isinstance(m, dict) and "key" in m for m in meta)):
        problems["meta_data"] = ("rest_invalid_type", "meta_data is not of type array.")
    if problems:
        raise invalid_params(problems)
    if _existing(shop, order_id) is None:
        raise WPError(400, *INVALID_ID)     # update_item() says 400 here, get and delete say 404
    req.require_user("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
    with shop.lock:
        old = shop.store.get(order_id)
        if old is None:  # deleted since the check above
            raise WPError(400, *INVALID_ID)
        fields = {k: params[k] for k in WRITABLE if params.get(k) is not None}
        for kind in ("billing", "shipping"):
            if isinstance(params.get(kind), dict):
                given = {k: v for k, v in params[kind].items() if k in ADDRESS_KEYS}
                fields[kind] = {**(old.get(kind) or {}), **given}
        effective = status or old.get("status")
        if set_paid is True and effective in ("pending", "failed") and to_cents(old.get("total")) > 0:
            effective = "processing"        # payment_complete(); on an on-hold order needs_payment() is false
        if effective != old.get("status"):
            fields["status"] = effective
        new = shop.change(order_id, fields, bump=True, meta=meta or [], only_if_changed=True)
    return Response.json(present(new, None, req))


def delete_order(shop: WooSandbox, req: Request, order_id: int) -> Response:
    """DELETE /orders/{id}: to the trash, or gone with force=true; answers the order as it was."""
    check = Checker(req.params)
    force = check.boolean("force", False)
    check.done()
    order = _existing(shop, order_id)
    if order is None:
        raise WPError(404, *INVALID_ID)
    req.require_user("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
    if force:
        shop.delete(order_id)
    elif order.get("status") == "trash":
        raise WPError(410, "woocommerce_rest_already_trashed", "The shop_order has already been deleted.")
    else:
        shop.trash(order_id)
    return Response.json(present(order, None, req))


def _order_for_notes(shop: WooSandbox, order_id: int) -> dict:
    order = _existing(shop, order_id)
    if order is None:
        raise WPError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
    return order


def _note_out(note: dict, order_id: int, req: Request, *, in_collection: bool = False) -> dict:
    base = f"/wc/v3/orders/{order_id}/notes"
    links = {"self": [{"href": req.rest_url(f"{base}/{note['id']}")}], "collection": [{"href": req.rest_url(base)}],
             "up": [{"href": req.rest_url(f"/wc/v3/orders/{order_id}")}]}
    return project_links(note, links, requested_fields(req), in_collection=in_collection)


def list_notes(shop: WooSandbox, req: Request, order_id: int) -> Response:
    check = Checker(req.params)
    kind = check.enum("type", "any", ("any", "customer", "internal"))
    check.done()
    req.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    with shop.lock:
        notes = list(shop.notes.of(_order_for_notes(shop, order_id)))
    if kind != "any":
        notes = [n for n in notes if n["customer_note"] == (kind == "customer")]
    notes.sort(key=lambda n: (n["date_created_gmt"] or "", n["id"]), reverse=True)     # newest first
    return Response.json([_note_out(n, order_id, req, in_collection=True) for n in notes])


def create_note(shop: WooSandbox, req: Request, order_id: int) -> Response:
    """POST /orders/{id}/notes: 201 + Location, also for an empty note; a customer note mails the customer;
    date_modified stays."""
    params = req.json_body()
    if "note" not in params:
        raise WPError(400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"])
    check = Checker({k: v for k, v in params.items() if k in ("customer_note", "added_by_user")})
    customer_note, by_user = check.boolean("customer_note", False), check.boolean("added_by_user", False)
    if not isinstance(params["note"], str):
        check.problems["note"] = ("rest_invalid_type", "note is not of type string.")
    check.done()
    req.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    with shop.lock:
        order = _order_for_notes(shop, order_id)
        author = shop.api_user if by_user else SYSTEM_AUTHOR
        # wp_insert_comment() unslashes the copy it stores, but WC_Order::add_order_note() hands the mail
        # $commentdata['comment_content'], the text as sent: the customer reads the backslashes the note lost.
        text = params["note"]
        note = shop.notes.add(order, stripslashes(text), customer_note=customer_note, author=author, now=shop.clock())
        if customer_note:
            shop.mails.append(customer_note_mail(order, text, shop.site_title))
    location = req.rest_url(f"/wc/v3/orders/{order_id}/notes/{note['id']}")
    return Response.json(_note_out(copy.deepcopy(note), order_id, req), 201, [("Location", location)])


def _find_note(shop: WooSandbox, order: dict, note_id: int) -> dict:
    for note in shop.notes.of(order):
        if note["id"] == note_id:
            return note
    raise WPError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")


def get_note(shop: WooSandbox, req: Request, order_id: int, note_id: int) -> Response:
    req.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    with shop.lock:
        note = copy.deepcopy(_find_note(shop, _order_for_notes(shop, order_id), note_id))
    return Response.json(_note_out(note, order_id, req))


def delete_note(shop: WooSandbox, req: Request, order_id: int, note_id: int) -> Response:
    req.require_user("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
    if Checker(req.params).boolean("force", False) is not True:
        raise WPError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")   # sic
    with shop.lock:
        note = copy.deepcopy(_find_note(shop, _order_for_notes(shop, order_id), note_id))
        shop.notes.remove(order_id, note_id)
    return Response.json(_note_out(note, order_id, req))
