"""A loopback fake of the Stripe API for invoices and events, speaking Stripe's wire format
(shared/reference/payments.md §1).

    stripe = StripeSandbox()
    paid = stripe.add_paid_invoice(11900, "eur", metadata={"shop_order_id": "4711"})
    with StripeServer(stripe) as server:
        requests.get(f"{server.url}/v1/invoices", params={"status": "paid"},
                     headers={"Authorization": f"Bearer {stripe.api_key}"})

Faithful where a client can trip: Bearer (or Basic) auth with Stripe's 401 texts, list objects newest first with
`limit` 1..100 (default 10) and `starting_after`/`ending_before` cursors, the `{"error": {...}}` envelope, unknown
parameters rejected, events kept 30 days and rendered in the API version they were created with, invoices rendered
in the requested `Stripe-Version` (2025-03-31.basil removed `paid`, `paid_out_of_band`, `payment_intent`, `charge`).
Read-only: invoices are created and paid through the helpers, as a test or the demo scripts it.
"""

from __future__ import annotations

import copy
import re
from base64 import b64decode
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from typing import Any

from mahnwerk.sandbox.provider_common import (
    ProviderRequest,
    ProviderSandbox,
    ProviderServer,
    Reply,
    bearer_token,
    header,
)

ACCOUNT_VERSION = "2024-06-20"
BASIL = "2025-03-31"  # versions from this one on render invoices without paid/paid_out_of_band/payment_intent/charge
EVENT_RETENTION = timedelta(days=30)
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
RANGE_OPS = ("gt", "gte", "lt", "lte")
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_KEY_PREFIX = re.compile(r"^((?:sk|rk|pk)_(?:test|live)_)")


class StripeError(Exception):
    """An error on its way to the client: `{"error": {"type", "code", "message", "param", "doc_url"}}`."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.headers = headers or []

    def body(self, request_id: str) -> dict:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def invalid_integer(param: str, value: str) -> StripeError:
    return StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param)


def unknown_parameter(param: str) -> StripeError:
    return StripeError(400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


def mask_key(key: str) -> str:
    """A key as Stripe echoes it in a 401: the prefix and the last four characters."""
    prefix = match.group(1) if (match := _KEY_PREFIX.match(key)) else ""
    rest = key[len(prefix):]
    return prefix + ("****" + rest[-4:] if len(rest) > 8 else "*" * len(rest))


def _unix(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


class StripeSandbox(ProviderSandbox):
    """One Stripe account in memory: invoices, events, the API key, armed faults and a log of requests."""

    name = "stripe"
    DEFAULT_KEY = "sk_test_51Mahnwerk" + "0S4ndb0x" * 10 + "K3y1"

    def __init__(self, *, api_key: str = DEFAULT_KEY, account_version: str = ACCOUNT_VERSION,
                 seed: int | None = 0) -> None:
        """`account_version` is the account's default API version: events are rendered in it, and so is every
        answer to a request without a Stripe-Version header."""
        super().__init__(seed=seed)
        self.api_key, self.account_version = api_key, account_version
        self.account_id = self.ids.make("acct_1", 15)
        self.number_prefix = self.ids.make("", 8).upper()
        self.invoices: dict[str, dict] = {}   # by id, in the pre-basil shape; rendered per version on the way out
        self.events: dict[str, dict] = {}     # by id, as created (already rendered in account_version)
        self._seq: dict[str, int] = {}        # creation order breaks ties between equal `created` seconds
        self._numbers = 0

    # -- scripting -----------------------------------------------------------------------------------------------

    def create_invoice(self, amount_due: int, currency: str = "eur", *, customer_name: str = "Erika Mustermann",
                       customer_email: str = "erika@example.org", description: str | None = None,
                       metadata: dict[str, str] | None = None, collection_method: str = "send_invoice",
                       created: datetime | None = None, days_until_due: int = 14, finalize: bool = True) -> dict:
        """A finalized (open) invoice, or a draft; emits invoice.created (and invoice.finalized). Returns it."""
        if collection_method not in COLLECTION_METHODS:
            raise ValueError(f"collection_method must be one of {COLLECTION_METHODS}")
        with self.lock:
            at = _unix(created or self.now())
            invoice_id = self.ids.make("in_1", 23)
            number = None
            if finalize:
                self._numbers += 1
                number = f"{self.number_prefix}-{self._numbers:04d}"
            due = at + days_until_due * 86400 if collection_method == "send_invoice" else None
            invoice = {
                "id": invoice_id, "object": "invoice", "account_country": "DE", "account_name": "Mahnwerk Sandbox",
                "amount_due": amount_due, "amount_paid": 0, "amount_remaining": amount_due,
                "attempt_count": 0, "attempted": False, "auto_advance": finalize, "billing_reason": "manual",
                "charge": None, "collection_method": collection_method, "created": at, "currency": currency.lower(),
                "customer": self.ids.make("cus_", 14), "customer_email": customer_email,
                "customer_name": customer_name, "description": description, "due_date": due,
                "hosted_invoice_url": f"https://invoice.stripe.com/i/{self.account_id}/test_{invoice_id[3:]}"
                if finalize else None,
                "invoice_pdf": f"https://pay.stripe.com/invoice/{self.account_id}/test_{invoice_id[3:]}/pdf"
                if finalize else None,
                "livemode": self.api_key.startswith(("sk_live_", "rk_live_")), "metadata": dict(metadata or {}),
                "number": number, "paid": False, "paid_out_of_band": False, "payment_intent": None,
                "payment_settings": {"payment_method_types": ["customer_balance", "sepa_debit"]},
                "period_end": at, "period_start": at, "status": "open" if finalize else "draft",
                "status_transitions": {"finalized_at": at if finalize else None, "marked_uncollectible_at": None,
                                       "paid_at": None, "voided_at": None},
                "subtotal": amount_due, "total": amount_due,
            }
            self.invoices[invoice_id] = invoice
            self._seq[invoice_id] = len(self._seq)
            self.emit("invoice.created", invoice, at=at)
            if finalize:
                self.emit("invoice.finalized", invoice, at=at)
            return invoice

    def pay_invoice(self, invoice_id: str, *, at: datetime | None = None, out_of_band: bool = False) -> dict:
        """Mark an open invoice paid, as Stripe does when the money arrives (a card, a bank transfer to the customer
        balance) or as the merchant does with `/pay paid_out_of_band=true`; emits invoice.paid."""
        with self.lock:
            invoice = self.invoices[invoice_id]
            if invoice["status"] != "open":
                raise ValueError(f"invoice {invoice_id} is {invoice['status']}, not open")
            moment = _unix(at or self.now())
            invoice.update(status="paid", paid=True, paid_out_of_band=out_of_band,
                           amount_paid=invoice["amount_due"], amount_remaining=0, attempted=True)
            if not out_of_band:
                invoice.update(payment_intent=self.ids.make("pi_3", 23), charge=self.ids.make("ch_3", 23),
                               attempt_count=1)
            invoice["status_transitions"]["paid_at"] = moment
            self.emit("invoice.updated", invoice, at=moment)
            if not out_of_band:
                self.emit("invoice.payment_succeeded", invoice, at=moment)
            self.emit("invoice.paid", invoice, at=moment)
            return invoice

    def add_paid_invoice(self, amount: int, currency: str = "eur", *, paid_at: datetime | None = None,
                         out_of_band: bool = False, **invoice: Any) -> dict:
        """create_invoice() and pay_invoice() in one go (created a day before `paid_at` unless given)."""
        paid = paid_at or self.now()
        invoice.setdefault("created", paid - timedelta(days=1))
        created = self.create_invoice(amount, currency, **invoice)
        return self.pay_invoice(created["id"], at=paid, out_of_band=out_of_band)

    def emit(self, event_type: str, obj: dict, *, at: int) -> dict:
        """Record an event whose data.object is a snapshot of `obj` in the account's API version."""
        with self.lock:
            event = {"id": self.ids.make("evt_1", 23), "object": "event", "api_version": self.account_version,
                     "created": at, "data": {"object": render(obj, self.account_version)},
                     "livemode": obj.get("livemode", False), "pending_webhooks": 0,
                     "request": {"id": None, "idempotency_key": None}, "type": event_type}
            self.events[event["id"]] = event
            self._seq[event["id"]] = len(self._seq)
            return event

    def paid_events(self) -> list[dict]:
        """The invoice.paid events, oldest first (for tests)."""
        with self.lock:
            return sorted((e for e in self.events.values() if e["type"] == "invoice.paid"), key=self._key)

    # -- HTTP ----------------------------------------------------------------------------------------------------

    def handle(self, request: ProviderRequest) -> Reply:
        request_id = self.ids.make("req_", 14)
        version = header(request.headers, "Stripe-Version") or self.account_version
        try:
            self._authenticate(request)
            if not _VERSION.match(version):
                raise StripeError(400, f"Invalid Stripe API version: {version}")
            with self.lock:
                data = self._route(request, version)
        except StripeError as err:
            return Reply.json(err.body(request_id), err.status,
                              headers=[*err.headers, *self._headers(request_id, version)])
        return Reply.json(data, headers=self._headers(request_id, version))

    def fault_reply(self, status: int) -> Reply:
        if status == 429:
            err = StripeError(429, "Request rate limit exceeded. Learn more about rate limits here "
                                   "https://stripe.com/docs/rate-limits.", code="rate_limit")
        else:
            err = StripeError(status, "An unknown error occurred", type="api_error")
        request_id = self.ids.make("req_", 14)
        return Reply.json(err.body(request_id), status, headers=self._headers(request_id, self.account_version))

    def _headers(self, request_id: str, version: str) -> list[tuple[str, str]]:
        return [("Server", "nginx"), ("Request-Id", request_id), ("Stripe-Version", version),
                ("Cache-Control", "no-cache, no-store"), ("Access-Control-Allow-Origin", "*")]

    def _authenticate(self, request: ProviderRequest) -> None:
        value = header(request.headers, "Authorization") or ""
        key = bearer_token(request.headers)
        if key is None and value.lower().startswith("basic "):  # Stripe also takes the key as Basic user name
            try:
                key = b64decode(value[6:].strip()).decode("utf-8").partition(":")[0] or None
            except ValueError:
                key = None
        challenge = [("WWW-Authenticate", 'Bearer realm="Stripe"')]
        if key is None:
            raise StripeError(401, "You did not provide an API key. You need to provide your API key in the "
                                   "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                                   "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                                   "or we can help at https://support.stripe.com/.", headers=challenge)
        if key != self.api_key:
            raise StripeError(401, f"Invalid API Key provided: {mask_key(key)}", headers=challenge)

    def _route(self, request: ProviderRequest, version: str) -> dict:
        parts = request.path.rstrip("/").split("/")
        if request.method == "GET" and parts[:2] == ["", "v1"] and len(parts) in (3, 4):
            collection = parts[2]
            if collection == "invoices":
                if len(parts) == 4:
                    return render(self._get(self.invoices, parts[3], "invoice", "id"), version)
                return self._list_invoices(request, version)
            if collection == "events":
                if len(parts) == 4:
                    return self._live_event(self._get(self.events, parts[3], "event", "id"))
                return self._list_events(request)
        raise StripeError(404, f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                               "https://stripe.com/docs or we can help at https://support.stripe.com/.")

    @staticmethod
    def _get(objects: dict[str, dict], object_id: str, name: str, param: str) -> dict:
        found = objects.get(object_id)
        if found is None:
            raise StripeError(404, f"No such {name}: '{object_id}'", code="resource_missing", param=param)
        return found

    def _live_event(self, event: dict) -> dict:
        if event["created"] < _unix(self.now() - EVENT_RETENTION):
            raise StripeError(404, f"No such event: '{event['id']}'", code="resource_missing", param="id")
        return event

    def _list_invoices(self, request: ProviderRequest, version: str) -> dict:
        params = parse_form(request.query, scalars={"status", "collection_method", "customer", "subscription"},
                            ranges={"created", "due_date"})
        status, method = params.pop("status", None), params.pop("collection_method", None)
        if status is not None and status not in INVOICE_STATUSES:
            raise StripeError(400, "Invalid status: must be one of draft, open, paid, uncollectible, or void",
                              param="status")
        if method is not None and method not in COLLECTION_METHODS:
            raise StripeError(400, "Invalid collection_method: must be one of charge_automatically or send_invoice",
                              param="collection_method")
        customer, subscription = params.pop("customer", None), params.pop("subscription", None)
        created, due = params.pop("created", None), params.pop("due_date", None)

        def wanted(invoice: dict) -> bool:
            return ((status is None or invoice["status"] == status)
                    and (method is None or invoice["collection_method"] == method)
                    and (customer is None or invoice["customer"] == customer)
                    and subscription is None  # the sandbox has no subscriptions
                    and in_range(invoice["created"], created)
                    and (due is None or (invoice["due_date"] is not None and in_range(invoice["due_date"], due))))

        return self._page("/v1/invoices", self.invoices, "invoice", wanted, params,
                          lambda invoice: render(invoice, version))

    def _list_events(self, request: ProviderRequest) -> dict:
        params = parse_form(request.query, scalars={"type", "delivery_success"}, ranges={"created"},
                            lists={"types"})
        one, many = params.pop("type", None), params.pop("types", None)
        if one is not None and many is not None:
            raise StripeError(400, "You may only specify one of these parameters: type, types.", param="types")
        if many is not None and len(many) > 20:
            raise StripeError(400, "You may pass at most 20 values in types.", param="types")
        patterns = [one] if one is not None else many
        created = params.pop("created", None)
        params.pop("delivery_success", None)  # every sandbox event counts as delivered
        oldest = _unix(self.now() - EVENT_RETENTION)

        def wanted(event: dict) -> bool:
            return (event["created"] >= oldest and in_range(event["created"], created)
                    and (patterns is None or any(type_matches(event["type"], p) for p in patterns)))

        return self._page("/v1/events", self.events, "event", wanted, params, lambda event: event)

    def _key(self, obj: dict) -> tuple[int, int]:
        return obj["created"], self._seq[obj["id"]]

    def _page(self, url: str, objects: dict[str, dict], name: str, wanted: Callable[[dict], bool],
              params: dict[str, Any], show: Callable[[dict], dict]) -> dict:
        """A list object, newest first. A cursor is a position in the whole collection, filters or not."""
        limit = params.pop("limit", "10")
        after, before = params.pop("starting_after", None), params.pop("ending_before", None)
        if params:
            raise unknown_parameter(min(params))
        try:
            size = int(limit)
        except ValueError:
            raise invalid_integer("limit", limit) from None
        if size < 1:
            raise StripeError(400, f"This value must be greater than or equal to 1 (it currently is '{limit}').",
                              param="limit")
        if size > 100:
            raise StripeError(400, f"This value must be less than or equal to 100 (it currently is '{limit}').",
                              param="limit")
        if after is not None and before is not None:
            raise StripeError(400, "You may only specify one of these parameters: ending_before, starting_after.",
                              param="ending_before")
        ordered = sorted((o for o in objects.values() if wanted(o)), key=self._key, reverse=True)
        cursor_id, mark = after if after is not None else before, (0, 0)
        if cursor_id is not None:
            if cursor_id not in objects:
                raise StripeError(400, f"No such {name}: '{cursor_id}'", code="resource_missing",
                                  param="starting_after" if after is not None else "ending_before")
            mark = self._key(objects[cursor_id])
        if after is not None:
            rest = [o for o in ordered if self._key(o) < mark]
            page, has_more = rest[:size], len(rest) > size
        elif before is not None:
            newer = [o for o in ordered if self._key(o) > mark]
            page, has_more = newer[-size:], len(newer) > size
        else:
            page, has_more = ordered[:size], len(ordered) > size
        return {"object": "list", "data": [show(o) for o in page], "has_more": has_more, "url": url}


def render(invoice: dict, version: str) -> dict:
    """The invoice as the API version `version` shows it (a deep copy)."""
    shown = copy.deepcopy(invoice)
    if version[:10] >= BASIL:
        for gone in ("paid", "paid_out_of_band", "payment_intent", "charge"):
            shown.pop(gone, None)
    return shown


def type_matches(event_type: str, pattern: str) -> bool:
    """Stripe's `type` filter: an exact type, or a prefix wildcard like `invoice.*`."""
    return event_type.startswith(pattern[:-1]) if pattern.endswith("*") else event_type == pattern


def in_range(value: int, bounds: dict[str, int] | int | None) -> bool:
    """`created=123` (exact) or `created[gte]=...` etc."""
    if bounds is None:
        return True
    if isinstance(bounds, int):
        return value == bounds
    checks = {"gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
    return all(checks[op](limit) for op, limit in bounds.items())


_BRACKETS = re.compile(r"^([a-z_]+)(?:\[([a-z_]*)\])?$")


def parse_form(pairs: list[tuple[str, str]], *, scalars: AbstractSet[str], ranges: AbstractSet[str] = frozenset(),
               lists: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    """Stripe's form encoding: `a=1`, `created[gte]=1`, `types[]=a&types[]=b`. Unknown names are rejected;
    `limit`, `starting_after` and `ending_before` are always known and left for the pager."""
    known = scalars | {"limit", "starting_after", "ending_before"}
    params: dict[str, Any] = {}
    for raw, value in pairs:
        match = _BRACKETS.match(raw)
        if match is None:
            raise unknown_parameter(raw)
        name, sub = match.group(1), match.group(2)
        if sub is None and name in known:
            params[name] = value
        elif sub is None and name in ranges:
            params[name] = _integer(raw, value)
        elif sub in RANGE_OPS and name in ranges:
            bounds = params.setdefault(name, {})
            if not isinstance(bounds, dict):
                raise StripeError(400, f"Invalid {name}: pass either an integer or a hash, not both", param=name)
            bounds[sub] = _integer(raw, value)
        elif sub == "" and name in lists:
            params.setdefault(name, []).append(value)
        else:
            raise unknown_parameter(raw)
    return params


def _integer(param: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise invalid_integer(param, value) from None


class StripeServer(ProviderServer):
    """Serves a StripeSandbox on http://127.0.0.1:<free port>; the API lives under `.url` + /v1/."""

    def __init__(self, sandbox: StripeSandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(sandbox, host=host, port=port)
        self.stripe = sandbox
