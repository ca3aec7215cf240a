"""A loopback fake of Mollie's Payments API v2, speaking Mollie's HAL+JSON wire format
(shared/reference/payments.md §2).

    mollie = MollieSandbox()
    open_one = mollie.create_banktransfer("119.00", order_id="4711")
    mollie.pay(open_one["id"], consumer_name="Erika Mustermann")
    with MollieServer(mollie) as server:
        requests.get(f"{server.url}/v2/payments", headers={"Authorization": f"Bearer {mollie.api_key}"})

Faithful where a client can trip: Bearer auth with Mollie's 401, lists newest first with `limit` 1..250 (default 50)
and `from` (inclusive), absolute `_links.next.href` until null, error bodies `{"status", "title", "detail", "field",
"_links"}` as application/hal+json, amounts as strings with the currency's decimals, bank transfers that stay `open`
until the money arrives. Read-only: payments are created and paid through the helpers.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode

from mahnwerk.sandbox.provider_common import ProviderRequest, ProviderSandbox, ProviderServer, Reply, bearer_token

HAL = "application/hal+json"
ZERO_DECIMALS = frozenset({"JPY", "ISK"})
DOCS = "https://docs.mollie.com/reference/"
MOLLIE_BANK = {"bankName": "Stichting Mollie Payments", "bankAccount": "NL53ABNA0000000000", "bankBic": "ABNANL2A"}


class MollieError(Exception):
    """An error on its way to the client: `{"status", "title", "detail", "field"?, "_links": {"documentation"}}`."""

    TITLES: ClassVar[dict[int, str]] = {
        400: "Bad Request", 401: "Unauthorized Request", 404: "Not Found", 422: "Unprocessable Entity",
        429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
        504: "Gateway Timeout"}

    def __init__(self, status: int, detail: str, *, field: str | None = None,
                 documentation: str = "https://docs.mollie.com/overview/handling-errors") -> None:
        super().__init__(f"{status} {detail}")
        self.status, self.detail, self.field, self.documentation = status, detail, field, documentation

    def reply(self) -> Reply:
        body: dict[str, Any] = {"status": self.status, "title": self.TITLES.get(self.status, "Error"),
                                "detail": self.detail}
        if self.field:
            body["field"] = self.field
        body["_links"] = {"documentation": {"href": self.documentation, "type": "text/html"}}
        return Reply.json(body, self.status, content_type=HAL)


def mollie_time(moment: datetime) -> str:
    """Mollie's ISO 8601: seconds and +00:00."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def mollie_value(amount: Decimal | str | int, currency: str) -> str:
    """An amount as Mollie writes it: a string with the currency's decimals ("119.00", JPY "1000")."""
    exponent = 0 if currency.upper() in ZERO_DECIMALS else 2
    return str(Decimal(str(amount)).quantize(Decimal(1).scaleb(-exponent)))


def iso11649(digits: str) -> str:
    """A structured creditor reference "RFkk nnnn ..." for `digits`, grouped by four with dashes as Mollie shows it."""
    check = 98 - int(digits + "271500") % 97  # "RF00" moved to the end, R=27 F=15
    ref = f"RF{check:02d}{digits}"
    return "-".join(ref[i:i + 4] for i in range(0, len(ref), 4))


class MollieSandbox(ProviderSandbox):
    """One Mollie website profile in memory: payments, the API key, armed faults and a log of requests."""

    name = "mollie"
    DEFAULT_KEY = "test_" + "dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"

    def __init__(self, *, api_key: str = DEFAULT_KEY, seed: int | None = 0) -> None:
        super().__init__(seed=seed)
        self.api_key = api_key
        self.profile_id = self.ids.make("pfl_", 10)
        self.payments: dict[str, dict] = {}  # by id; `_links` are added per request, with the server's own URL
        self._seq: dict[str, int] = {}

    @property
    def mode(self) -> str:
        return "live" if self.api_key.startswith("live_") else "test"

    # -- scripting -----------------------------------------------------------------------------------------------

    def create_payment(self, amount: Decimal | str | int, currency: str = "EUR", *, method: str = "banktransfer",
                       status: str = "open", description: str = "Rechnung RE-2026-0042",
                       metadata: Any = None, created: datetime | None = None,
                       billing_email: str = "erika@example.org", due_days: int = 14) -> dict:
        """A payment in any method and status (bank transfers get Mollie's bank details and a reference)."""
        with self.lock:
            at = (created or self.now()).astimezone(UTC)
            payment: dict[str, Any] = {
                "resource": "payment", "id": self.ids.make("tr_", 10), "mode": self.mode,
                "createdAt": mollie_time(at), "amount": {"value": mollie_value(amount, currency),
                                                         "currency": currency.upper()},
                "description": description, "method": method, "metadata": metadata, "status": "open",
                "isCancelable": method == "banktransfer", "expiresAt": mollie_time(at + timedelta(days=due_days)),
                "profileId": self.profile_id, "sequenceType": "oneoff", "redirectUrl": "https://shop.example/return",
                "webhookUrl": None, "details": None,
            }
            if method == "banktransfer":
                payment["details"] = {**MOLLIE_BANK, "transferReference": iso11649(self.ids.digits(12)),
                                      "billingEmail": billing_email}
            self.payments[payment["id"]] = payment
            self._seq[payment["id"]] = len(self._seq)
            if status == "paid":
                self.pay(payment["id"], at=at)
            elif status != "open":
                self._settle(payment, status, at)
            return payment

    def create_banktransfer(self, amount: Decimal | str | int, currency: str = "EUR", *,
                            order_id: str | None = None, **options: Any) -> dict:
        """An open bank-transfer payment for an order: waits for the customer's transfer."""
        return self.create_payment(amount, currency, method="banktransfer",
                                   metadata={"order_id": order_id} if order_id is not None else None, **options)

    def pay(self, payment_id: str, *, at: datetime | None = None, consumer_name: str = "Erika Mustermann",
            consumer_account: str = "DE89370400440532013000", consumer_bic: str = "COBADEFFXXX") -> dict:
        """The money arrived: an open payment becomes paid (bank transfers learn who paid from where)."""
        with self.lock:
            payment = self.payments[payment_id]
            if payment["status"] != "open":
                raise ValueError(f"payment {payment_id} is {payment['status']}, not open")
            moment = (at or self.now()).astimezone(UTC)
            payment.update(status="paid", paidAt=mollie_time(moment), isCancelable=False,
                           amountRefunded={"value": mollie_value(0, payment["amount"]["currency"]),
                                           "currency": payment["amount"]["currency"]},
                           amountRemaining=dict(payment["amount"]), settlementAmount=dict(payment["amount"]))
            payment.pop("expiresAt", None)
            if payment["method"] == "banktransfer":
                payment["details"].update(consumerName=consumer_name, consumerAccount=consumer_account,
                                          consumerBic=consumer_bic)
            return payment

    def add_paid_banktransfer(self, amount: Decimal | str | int, currency: str = "EUR", *,
                              paid_at: datetime | None = None, order_id: str | None = None,
                              consumer_name: str = "Erika Mustermann",
                              consumer_account: str = "DE89370400440532013000", **options: Any) -> dict:
        """create_banktransfer() and pay() in one go (created three days before `paid_at` unless given)."""
        paid = paid_at or self.now()
        options.setdefault("created", paid - timedelta(days=3))
        payment = self.create_banktransfer(amount, currency, order_id=order_id, **options)
        return self.pay(payment["id"], at=paid, consumer_name=consumer_name, consumer_account=consumer_account)

    def expire(self, payment_id: str, *, at: datetime | None = None) -> dict:
        """The due date passed without money: open → expired."""
        with self.lock:
            return self._settle(self.payments[payment_id], "expired", (at or self.now()).astimezone(UTC))

    def _settle(self, payment: dict, status: str, at: datetime) -> dict:
        stamp = {"expired": "expiredAt", "canceled": "canceledAt", "failed": "failedAt"}.get(status)
        payment.update(status=status, isCancelable=False)
        payment.pop("expiresAt", None)
        if stamp:
            payment[stamp] = mollie_time(at)
        return payment

    # -- HTTP ----------------------------------------------------------------------------------------------------

    def handle(self, request: ProviderRequest) -> Reply:
        try:
            if bearer_token(request.headers) != self.api_key:
                raise MollieError(401, "Missing authentication, or failed to authenticate",
                                  documentation="https://docs.mollie.com/overview/authentication")
            with self.lock:
                return Reply.json(self._route(request), content_type=HAL)
        except MollieError as err:
            return err.reply()

    def fault_reply(self, status: int) -> Reply:
        detail = ("You have exceeded the rate limit. Please try again later." if status == 429
                  else "An internal server error occurred while processing your request.")
        return MollieError(status, detail).reply()

    def _route(self, request: ProviderRequest) -> dict:
        parts = request.path.rstrip("/").split("/")
        if request.method == "GET" and parts[:3] == ["", "v2", "payments"]:
            if len(parts) == 3:
                return self._list(request)
            if len(parts) == 4:
                payment = self.payments.get(parts[3])
                if payment is None:
                    raise MollieError(404, f"No payment exists with token {parts[3]}.",
                                      documentation=DOCS + "get-payment")
                return self._show(payment, request.base_url)
        raise MollieError(404, "The resource does not exist.")

    def _show(self, payment: dict, base: str) -> dict:
        shown = copy.deepcopy(payment)
        links = {"self": {"href": f"{base}/v2/payments/{payment['id']}", "type": HAL},
                 "dashboard": {"href": f"https://my.mollie.com/dashboard/org_1/payments/{payment['id']}",
                               "type": "text/html"}}
        if payment["method"] == "banktransfer" and payment["status"] == "open":
            links["status"] = {"href": f"https://www.mollie.com/checkout/bank-transfer/status/{payment['id']}",
                               "type": "text/html"}
        links["documentation"] = {"href": DOCS + "get-payment", "type": "text/html"}
        shown["_links"] = links
        return shown

    def _list(self, request: ProviderRequest) -> dict:
        params = dict(request.query)  # Mollie ignores parameters it does not know (testmode, profileId, ...)
        raw_limit = params.get("limit", "50")
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 250:
            # Mollie's wording for this is not documented; status and field are what a client relies on
            raise MollieError(400, f"Invalid limit '{raw_limit}': the limit must be between 1 and 250.",
                              field="limit", documentation=DOCS + "list-payments")
        ordered = sorted(self.payments.values(), key=lambda p: (p["createdAt"], self._seq[p["id"]]), reverse=True)
        start = 0
        if "from" in params:
            ids = [p["id"] for p in ordered]
            if params["from"] not in ids:
                raise MollieError(400, f"Invalid 'from' parameter: no payment exists with token {params['from']}.",
                                  field="from", documentation=DOCS + "list-payments")
            start = ids.index(params["from"])
        page = ordered[start:start + limit]
        base = request.base_url + "/v2/payments"

        def link(first: int | None) -> dict | None:
            if first is None:
                return None
            return {"href": base + "?" + urlencode({"from": ordered[first]["id"], "limit": limit}), "type": HAL}

        own = {"from": params["from"], "limit": limit} if "from" in params else {"limit": limit}
        return {
            "count": len(page),
            "_embedded": {"payments": [self._show(p, request.base_url) for p in page]},
            "_links": {
                "self": {"href": base + "?" + urlencode(own), "type": HAL},
                "previous": link(max(0, start - limit) if start > 0 else None),
                "next": link(start + limit if start + limit < len(ordered) else None),
                "documentation": {"href": DOCS + "list-payments", "type": "text/html"},
            },
        }


class MollieServer(ProviderServer):
    """Serves a MollieSandbox on http://127.0.0.1:<free port>; the API lives under `.url` + /v2/."""

    def __init__(self, sandbox: MollieSandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(sandbox, host=host, port=port)
        self.mollie = sandbox
