"""Stripe: paid `send_invoice` invoices as IncomingPayments, polled incrementally.

What counts: invoices sent for manual payment (`collection_method=send_invoice`) that Stripe marked `paid`. A bank
transfer to the customer's cash balance (`customer_balance`, virtual IBAN) is applied by Stripe to the open invoice
when `reconciliation_mode` is `automatic`, so that money shows up here as the invoice's `invoice.paid`; with
`manual` reconciliation it sits in the cash balance until the merchant applies it (not read here). An invoice paid
`paid_out_of_band` is skipped and counted: the merchant marked it paid by hand, most likely for a bank payment that
Mahnwerk sees on the statement too, so counting it would book the money twice.

Polling. The first poll (cursor None) lists every paid invoice:
`GET /v1/invoices?status=paid&collection_method=send_invoice&limit=100`, newest first, `starting_after` paging.
Later polls read the events: `GET /v1/events?type=invoice.paid&created[gte]=<cursor time - overlap>`. The overlap
catches events that become visible late and clock skew between us and Stripe; ids already reported inside the
overlap are carried in the cursor, so a poll reports only new payments (the receiver still dedupes on `ref`).
Stripe keeps events for 30 days: a cursor older than that falls back to the full invoice list.

API version. Requests pin `Stripe-Version: 2024-06-20`: from 2025-03-31.basil on, invoices no longer carry
`paid_out_of_band` or `payment_intent`. Events are rendered in the version the account had when they were created,
whatever the request says; an event in another version is therefore answered by re-reading its invoice
(`GET /v1/invoices/{id}`, pinned), one request per paid invoice.

Transport. `ShopHttp` (requests + tenacity), not the `stripe` SDK: every outside call in Mahnwerk gets the same
retry/backoff (429 and 5xx retried with jitter, Retry-After honoured), the same timeouts and the same redaction; the
SDK keeps its key and settings in module globals, which several sources in one daemon would share; the base URL must
point at a loopback sandbox in tests and the demo; and two read-only list endpoints do not justify a large
dependency. The key travels only in the Authorization header (`BearerAuth`), never in URLs, errors or logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from mahnwerk.connectors.http import BearerAuth, ShopHttp
from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem
from mahnwerk.connectors.provider_poll import CURSOR_MAX, ProviderPoll, count
from mahnwerk.errors import ShopRejected, ShopUnavailable

log = structlog.get_logger("mahnwerk.stripe")

STRIPE_URL = "https://api.stripe.com"
STRIPE_VERSION = "2024-06-20"
# Events are kept 30 days; a day's margin so a poll never asks for events that are just being dropped.
EVENT_HORIZON = timedelta(days=29)
# Currencies whose amounts Stripe writes without decimals, and those with three (https://docs.stripe.com/currencies).
# ISK, HUF and TWD are zero-decimal for people but two-decimal in the API, so they stay at 2.
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
                          "XAF", "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def stripe_http(api_key: str, *, url: str = "", timeout: float = 30.0, max_attempts: int = 5,
                max_backoff: float = 60.0, ca_bundle: str | None = None,
                sleep: Callable[[float], None] = time.sleep) -> ShopHttp:
    """The HTTP client for one Stripe account: `api_key` a secret (sk_...) or restricted (rk_...) key, `url` the API
    root ("" for https://api.stripe.com; a sandbox's .url in tests and the demo)."""
    if not api_key.startswith(("sk_", "rk_")):
        raise ValueError("the Stripe api_key must be a secret key (sk_...) or a restricted key (rk_...) "
                         "with read access to invoices and events")
    return ShopHttp(shop="stripe", base_url=(url or STRIPE_URL).rstrip("/").removesuffix("/v1"),
                    auth=BearerAuth(api_key),
                    timeout=timeout, max_attempts=max_attempts, max_backoff=max_backoff, ca_bundle=ca_bundle,
                    sleep=sleep, headers={"Stripe-Version": STRIPE_VERSION})


def minor_to_decimal(amount: int, currency: str) -> Decimal:
    """Stripe's integer minor units as a Decimal in the currency's unit: 11900 EUR → 119.00, 1000 JPY → 1000."""
    exponent = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return Decimal(amount).scaleb(-exponent)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StripeCursor:
    """Where the last poll stood: its start time, and the invoice (or event) ids it read within the overlap."""

    time: int
    seen: frozenset[str]

    def encode(self) -> str:
        """`stripe:<unix time>:<id>,<id>...`, at most CURSOR_MAX characters: ids that do not fit are left out and
        reported again by the next poll (harmless, the receiver dedupes on ref)."""
        text = f"stripe:{self.time}:"
        for seen_id in sorted(self.seen):
            if len(text) + len(seen_id) + 1 > CURSOR_MAX:
                break
            text += ("," if text[-1] != ":" else "") + seen_id
        return text

    @classmethod
    def decode(cls, text: str | None) -> StripeCursor | None:
        """The cursor, or None for no cursor or one this version cannot read (then everything is listed again)."""
        if not text:
            return None
        kind, _, rest = text.partition(":")
        stamp, _, ids = rest.partition(":")
        if kind != "stripe" or not stamp.isdigit():
            log.warning("stripe.cursor_unreadable", cursor=text[:40])
            return None
        return cls(int(stamp), frozenset(i for i in ids.split(",") if i))


class _Malformed(Exception):
    """An object this module cannot read; becomes a SourceProblem."""


class _Poll:
    """What one poll collects."""

    def __init__(self) -> None:
        self.payments: list[IncomingPayment] = []
        self.problems: list[SourceProblem] = []
        self.skipped: dict[str, int] = {}
        self.seen: set[str] = set()   # for the next cursor
        self.done: set[str] = set()   # handled in this poll (paging can show an invoice twice)


class StripeSource:
    """Paid Stripe `send_invoice` invoices, polled incrementally: `poll(cursor) -> ProviderPoll`."""

    source = "stripe"

    def __init__(self, http: ShopHttp, *, overlap: timedelta = timedelta(minutes=15), page_size: int = 100,
                 clock: Callable[[], datetime] = utc_now) -> None:
        """`http` from `stripe_http()`; `overlap` how far each event poll reaches back before the last one's start;
        `clock` gives the poll's start time (the next cursor)."""
        if not 1 <= page_size <= 100:
            raise ValueError(f"page_size must be between 1 and 100 (got {page_size})")
        self.http, self.overlap, self.page_size, self.clock = http, overlap, page_size, clock

    def poll(self, cursor: str | None) -> ProviderPoll:
        """Payments since `cursor` (all paid invoices when None); pass the returned cursor to the next poll."""
        before = self.http.requests_made
        started = self.clock().astimezone(UTC)
        now = int(started.timestamp())
        state = StripeCursor.decode(cursor)
        window = int(self.overlap.total_seconds())
        found = _Poll()
        if state is None or state.time - window < int((started - EVENT_HORIZON).timestamp()):
            mode = "invoices"
            self._list_invoices(found, keep_after=now - 2 * window)  # paid_at can precede its event a little
        else:
            mode = "events"
            self._read_events(found, since=state.time - window, seen=state.seen, keep_after=now - window)
        result = ProviderPoll(found.payments, found.problems, StripeCursor(now, frozenset(found.seen)).encode(),
                              self.http.requests_made - before, found.skipped)
        log.info("stripe.poll", mode=mode, payments=len(result.payments), problems=len(result.problems),
                 skipped=result.skipped, requests=result.requests)
        return result

    def probe(self) -> None:
        """One cheap read, for `mahnwerk check`: raises the transport's error when the API or the key is wrong."""
        self.http.get("v1/invoices", params={"limit": 1})

    def close(self) -> None:
        """Release the HTTP session."""
        self.http.close()

    def _list_invoices(self, found: _Poll, *, keep_after: int) -> None:
        params = {"status": "paid", "collection_method": "send_invoice"}
        for invoice, position in self._walk("v1/invoices", params, "invoice"):
            if invoice is None:
                found.problems.append(SourceProblem(position, "not an invoice object with an id"))
                continue
            if invoice["id"] in found.done:
                continue  # listed twice: an invoice paid while we paged moved between pages
            found.done.add(invoice["id"])
            transitions = invoice.get("status_transitions")
            paid_at = transitions.get("paid_at") if isinstance(transitions, dict) else None
            if not isinstance(paid_at, int) or paid_at >= keep_after:
                found.seen.add(invoice["id"])  # its invoice.paid event falls into the next poll's overlap
            self._take(found, invoice, position)

    def _read_events(self, found: _Poll, *, since: int, seen: frozenset[str], keep_after: int) -> None:
        params = {"type": "invoice.paid", "created[gte]": since}
        for event, position in self._walk("v1/events", params, "event"):
            if event is None:
                found.problems.append(SourceProblem(position, "not an event object with an id"))
                continue
            data = event.get("data")
            invoice = data.get("object") if isinstance(data, dict) else None
            invoice_id = invoice.get("id") if isinstance(invoice, dict) else None
            key = invoice_id if isinstance(invoice_id, str) and invoice_id else event["id"]
            created = event.get("created")
            if not isinstance(created, int) or created >= keep_after:
                found.seen.add(key)  # the next poll reads this event again
            if key in seen or event["id"] in seen or key in found.done:
                continue  # reported by an earlier poll
            found.done.add(key)
            if key == event["id"] or not isinstance(invoice, dict):  # no invoice id: the key is the event's
                found.problems.append(SourceProblem(position, "event without an invoice in data.object"))
                continue
            if event.get("api_version") != STRIPE_VERSION and "paid_out_of_band" not in invoice:
                invoice = self._invoice(key, position, found)
                if invoice is None:
                    continue
            self._take(found, invoice, position)

    def _invoice(self, invoice_id: str, position: str, found: _Poll) -> dict[str, Any] | None:
        """The invoice in our pinned API version (an event rendered in another version lacks fields we need)."""
        try:
            data = self.http.get(f"v1/invoices/{invoice_id}").data
        except ShopRejected as exc:
            if exc.status == 404:
                found.problems.append(SourceProblem(position, f"invoice {invoice_id} of the event is gone (404)"))
                return None
            raise
        if not isinstance(data, dict):
            found.problems.append(SourceProblem(position, f"invoice {invoice_id}: answer is not an object"))
            return None
        return data

    def _walk(self, path: str, params: dict[str, Any], kind: str) -> Iterator[tuple[dict[str, Any] | None, str]]:
        """Every object of a Stripe list with its position, newest first, following `has_more` with
        `starting_after`; an object without an id comes as None (it cannot serve as the next cursor either)."""
        after: str | None = None
        page = 0
        while True:
            page += 1
            query = {**params, "limit": self.page_size, **({"starting_after": after} if after else {})}
            response = self.http.get(path, params=query)
            body = response.data
            if not (isinstance(body, dict) and body.get("object") == "list" and isinstance(body.get("data"), list)
                    and isinstance(body.get("has_more"), bool)):
                raise ShopUnavailable(f"shop 'stripe' GET {response.url}: the answer is not a Stripe list object",
                                      shop="stripe", method="GET", url=response.url, status=response.status)
            last_id = None
            for number, obj in enumerate(body["data"], start=1):
                obj_id = obj.get("id") if isinstance(obj, dict) else None
                if not isinstance(obj_id, str) or not obj_id:
                    yield None, f"{kind} #{number} on page {page}"
                    continue
                last_id = obj_id
                yield obj, f"{kind} {obj_id}"
            if not body["has_more"]:
                return
            if last_id is None:
                raise ShopUnavailable(f"shop 'stripe' GET {response.url}: has_more without an id to continue after",
                                      shop="stripe", method="GET", url=response.url, status=response.status)
            after = last_id

    def _take(self, found: _Poll, invoice: dict[str, Any], position: str) -> None:
        try:
            payment, skip = parse_invoice(invoice, position)
        except _Malformed as exc:
            found.problems.append(SourceProblem(position, str(exc)))
            return
        if skip:
            count(found.skipped, skip)
        elif payment is not None:
            found.payments.append(payment)


def parse_invoice(invoice: dict[str, Any], position: str) -> tuple[IncomingPayment | None, str | None]:
    """(payment, None) for a paid send_invoice invoice, (None, reason) for one to skip; raises _Malformed."""
    if not isinstance(invoice.get("id"), str):
        raise _Malformed("not an invoice object with an id")
    invoice_id = invoice["id"]
    if invoice.get("status") != "paid":
        return None, "not_paid"
    if invoice.get("collection_method") != "send_invoice":
        return None, "not_send_invoice"
    if invoice.get("paid_out_of_band") is True:
        return None, "paid_out_of_band"
    amount = invoice.get("amount_paid")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise _Malformed(f"amount_paid is not a non-negative integer: {amount!r}")
    if amount == 0:
        return None, "nothing_paid"  # covered by credit or a discount: no money arrived
    currency = invoice.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise _Malformed(f"currency is not an ISO 4217 code: {currency!r}")
    transitions = invoice.get("status_transitions")
    paid_at = transitions.get("paid_at") if isinstance(transitions, dict) else None
    if not isinstance(paid_at, int) or isinstance(paid_at, bool):
        raise _Malformed(f"status_transitions.paid_at is not a unix time: {paid_at!r}")
    metadata = invoice.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    hint = metadata.get("shop_order_id") or metadata.get("order_id") or ""
    number, description = _text(invoice, "number"), _text(invoice, "description")
    intent = invoice.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else intent  # expanded or not
    return IncomingPayment(
        source="stripe",
        ref=invoice_id,
        booked_on=_utc_date(paid_at),
        amount=minor_to_decimal(amount, currency.upper()),
        currency=currency.upper(),
        payer_name=_text(invoice, "customer_name"),
        remittance=" ".join(t for t in (number, description) if t),
        order_hint=str(hint),
        provider_ids=tuple(i for i in (invoice_id, number, intent_id if isinstance(intent_id, str) else "") if i),
        position=position,
    ), None


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    return value.strip() if isinstance(value, str) else ""


def _utc_date(stamp: int) -> date:
    return datetime.fromtimestamp(stamp, UTC).date()
