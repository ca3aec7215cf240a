"""Request, authentication and routing of the sandbox REST API, in WordPress's order of checks.

WordPress answers in this order: WooCommerce authentication errors (wrong secret, read-only key writing) for any
/wc/ route, then 404 rest_no_route, then 400 for invalid parameters, then 401 from the route's permission check.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from mahnwerk.sandbox import endpoints, refund_endpoints
from mahnwerk.sandbox.customers import ORDER_BY, ROLES
from mahnwerk.sandbox.dates import aware_offset
from mahnwerk.sandbox.params import Checker, Params, id_list
from mahnwerk.sandbox.shop import WooSandbox
from mahnwerk.sandbox.system_status import status_report
from mahnwerk.sandbox.wire import Response, WPError, no_route

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Request:
    """One REST request after URL parsing: `route` like '/wc/v3/orders', params as PHP's $_GET (+ body)."""

    method: str
    route: str
    pairs: list[tuple[str, str]]
    params: Params
    body: bytes
    content_type: str
    base_url: str
    pretty: bool = True
    user: str | None = None

    def rest_url(self, route: str, pairs: list[tuple[str, str]] | None = None) -> str:
        """rest_url() of the shop: /wp-json/... with pretty permalinks, ?rest_route=... without."""
        query = urlencode(pairs or [])
        if self.pretty:
            return f"{self.base_url}/wp-json{route}" + (f"?{query}" if query else "")
        return f"{self.base_url}/?rest_route={route}" + (f"&{query}" if query else "")

    def require_user(self, code: str, message: str) -> None:
        """The route's permission_callback: a key that authenticated, or 401 (rest_authorization_required_code)."""
        if self.user is None:
            raise WPError(401, code, message)

    def json_body(self) -> dict:
        """Query params overlaid with the JSON (or form) body, as WP_REST_Request::get_params() merges them."""
        params: dict = dict(self.params)
        if not self.body.strip():
            return params
        if "json" in self.content_type or self.body.lstrip()[:1] in (b"{", b"["):
            try:
                data = json.loads(self.body)
            except ValueError:
                raise WPError(400, "rest_invalid_json", "Invalid JSON body passed.",
                              json_error_code=4, json_error_message="Syntax error") from None
            if isinstance(data, dict):
                params.update(data)
        return params


def authenticate(shop: WooSandbox, request: Request, authorization: str | None) -> None:
    """WC_REST_Authentication::perform_basic_authentication(): Basic auth first, then query-string keys.

    No or unknown key leaves the request anonymous (routes answer 401 cannot_view); a known key with the wrong
    secret is an error for every /wc/ route. Over real plain HTTP WooCommerce wants OAuth 1.0a; like the realshop
    kit's shim, the sandbox accepts Basic auth over http.
    """
    key: object = None  # user:password from the header, else the query's (any JSON type)
    secret: object = None
    if authorization and authorization[:6].lower() == "basic ":
        try:
            key, _, secret = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
        except ValueError:              # binascii.Error, UnicodeDecodeError, non-ASCII header
            key = secret = None
    if not key or not secret:
        key, secret = request.params.get("consumer_key"), request.params.get("consumer_secret")
    if not isinstance(key, str) or not isinstance(secret, str) or not key or not secret:
        return
    if not hmac.compare_digest(key.encode(), shop.consumer_key.encode()):
        return
    if not hmac.compare_digest(secret.encode(), shop.consumer_secret.encode()):
        raise WPError(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
    write = request.method in WRITE_METHODS
    if (write and shop.permissions == "read") or (not write and shop.permissions == "write"):
        kind = "write" if write else "read"
        raise WPError(401, "woocommerce_rest_authentication_error",
                      f"The API key provided does not have {kind} permissions.")
    request.user = shop.api_user


def index(shop: WooSandbox, req: Request) -> Response:
    """GET /wp-json/: site name, URL and time zone, as WordPress publishes them without auth."""
    offset = aware_offset(datetime.now(shop.tz)).total_seconds() / 3600
    return Response.json({
        "name": shop.site_title, "description": "", "url": req.base_url, "home": req.base_url,
        "gmt_offset": int(offset) if offset == int(offset) else offset, "timezone_string": shop.timezone,
        "namespaces": ["oembed/1.0", "wc/store/v1", "wc/v1", "wc/v2", "wc/v3", "wp/v2"],
        "authentication": [], "routes": {},
    })


def gateways(shop: WooSandbox, req: Request, gateway_id: str | None = None) -> Response:
    """GET /payment_gateways[/<id>]; `_fields` filters each listed gateway's links too, not a single one's."""
    req.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    fields = endpoints.requested_fields(req)

    def links(gateway: dict) -> dict:
        return {"self": [{"href": req.rest_url(f"/wc/v3/payment_gateways/{gateway['id']}")}],
                "collection": [{"href": req.rest_url("/wc/v3/payment_gateways")}]}

    if gateway_id is None:
        return Response.json([endpoints.project_links(g, links(g), fields, in_collection=True) for g in shop.gateways])
    for gateway in shop.gateways:
        if gateway["id"] == gateway_id:
            return Response.json(endpoints.project_links(gateway, links(gateway), fields, in_collection=False))
    raise WPError(404, "woocommerce_rest_payment_gateway_invalid", "Invalid payment gateway ID.")


def system_status(shop: WooSandbox, req: Request) -> Response:
    req.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    report = status_report(req.base_url)
    fields = endpoints.requested_fields(req)
    return Response.json(report if fields is None else endpoints.project(report, fields))


def customers(shop: WooSandbox, req: Request) -> Response:
    """GET /customers (class-wc-rest-customers-controller): include, role, orderby, order, paging, `_fields`."""
    check = Checker(req.params)
    page = check.integer("page", 1, 1)
    per_page = check.integer("per_page", 10, 1, 100)
    role = check.enum("role", "customer", ("all", *ROLES))
    orderby = check.enum("orderby", "name", ORDER_BY)
    order = check.enum("order", "asc", ("asc", "desc"))
    include = id_list(req.params["include"]) if "include" in req.params else []
    check.done()
    req.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    with shop.lock:
        found = [c for c in shop.customers.values()
                 if (role == "all" or c["role"] == role) and (not include or c["id"] in include)]
    keys = {"id": lambda c: c["id"], "include": lambda c: include.index(c["id"]) if include else c["id"],
            "name": lambda c: c["username"], "registered_date": lambda c: c["date_created_gmt"]}
    found.sort(key=keys[orderby], reverse=order == "desc")
    fields = endpoints.requested_fields(req)
    rows = found[(page - 1) * per_page:page * per_page]
    body = [endpoints.project_links(c, {"self": [{"href": req.rest_url(f"/wc/v3/customers/{c['id']}")}],
                              "collection": [{"href": req.rest_url("/wc/v3/customers")}]}, fields, in_collection=True)
            for c in rows]
    return Response.json(body, headers=endpoints.paging_headers(req, len(found), page, per_page))


_ID = r"(?P<order_id>\d+)"
ROUTES: list[tuple[re.Pattern[str], dict[str, Callable[..., Response]]]] = [
    (re.compile(r"^/?$"), {"GET": index}),
    (re.compile(r"^/wc/v3/orders$"), {"GET": endpoints.list_orders}),
    (re.compile(rf"^/wc/v3/orders/{_ID}$"), {
        "GET": endpoints.get_order, "POST": endpoints.update_order, "PUT": endpoints.update_order,
        "PATCH": endpoints.update_order, "DELETE": endpoints.delete_order}),
    (re.compile(rf"^/wc/v3/orders/{_ID}/notes$"), {"GET": endpoints.list_notes, "POST": endpoints.create_note}),
    (re.compile(rf"^/wc/v3/orders/{_ID}/notes/(?P<note_id>\d+)$"), {
        "GET": endpoints.get_note, "DELETE": endpoints.delete_note}),
    (re.compile(rf"^/wc/v3/orders/{_ID}/refunds$"), {
        "GET": refund_endpoints.list_all, "POST": refund_endpoints.create}),
    (re.compile(rf"^/wc/v3/orders/{_ID}/refunds/(?P<refund_id>\d+)$"), {"GET": refund_endpoints.get_one}),
    (re.compile(r"^/wc/v3/payment_gateways$"), {"GET": gateways}),
    (re.compile(r"^/wc/v3/payment_gateways/(?P<gateway_id>[\w-]+)$"), {"GET": gateways}),
    (re.compile(r"^/wc/v3/system_status$"), {"GET": system_status}),
    (re.compile(r"^/wc/v3/customers$"), {"GET": customers}),
]


def dispatch(shop: WooSandbox, req: Request, authorization: str | None) -> Response:
    """Answer one request; every failure becomes a WP_Error response."""
    try:
        if req.route.startswith("/wc/"):
            authenticate(shop, req, authorization)
        method = "GET" if req.method == "HEAD" else req.method
        for pattern, handlers in ROUTES:
            match = pattern.match(req.route)
            if match and method in handlers:
                groups = {k: int(v) if k.endswith("_id") and v.isdigit() else v for k, v in match.groupdict().items()}
                return handlers[method](shop, req, **groups)
        raise no_route()
    except WPError as error:
        return error.response()
