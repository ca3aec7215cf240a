"""Mollie: paid bank-transfer payments as IncomingPayments, polled over a lookback window.

What counts: payments with `method == "banktransfer"` and `status == "paid"`; Mollie tells who paid from where
(`details.consumerName`, `consumerAccount`) and the reference the customer quoted (`details.transferReference`).

Polling. Mollie cannot filter payments by status or by the time they were paid, and a bank transfer stays `open`
for up to ~100 days before the money arrives. So every poll walks `GET /v2/payments?limit=250` (newest first,
following `_links.next.href` until null) back to `lookback_days` before the newer of now and the cursor, and
reports every paid bank transfer in that window. The cursor records the newest `createdAt` seen; after a long
downtime the window reaches `lookback_days` before it, so nothing paid in between is missed. Payments already reported
by earlier polls are reported again: the receiver dedupes on `ref` (the payment id).

Transport. `ShopHttp` (requests + tenacity), not `mollie-api-python`, for the reasons given in
`connectors/stripe_source.py`: one retry/backoff/redaction policy for every outside call, no global SDK state, a base
URL that can point at a loopback sandbox, no large dependency. The key travels only in the Authorization header.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import structlog

from mahnwerk.connectors.http import BearerAuth, ShopHttp
from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem
from mahnwerk.connectors.provider_poll import ProviderPoll, count
from mahnwerk.errors import ShopRejected, ShopUnavailable

log = structlog.get_logger("mahnwerk.mollie")

MOLLIE_URL = "https://api.mollie.com"
_AMOUNT = re.compile(r"^\d+(\.\d+)?$")


def mollie_http(api_key: str, *, url: str = "", timeout: float = 30.0, max_attempts: int = 5,
                max_backoff: float = 60.0, ca_bundle: str | None = None,
                sleep: Callable[[float], None] = time.sleep) -> ShopHttp:
    """The HTTP client for one Mollie website profile: `api_key` live_... or test_..., `url` the API root
    ("" for https://api.mollie.com; a sandbox's .url in tests and the demo)."""
    if api_key.startswith("access_"):
        raise ValueError("Mollie organization access tokens (access_...) need profileId and testmode; "
                         "use the website profile's API key (live_... or test_...)")
    if not api_key.startswith(("live_", "test_")):
        raise ValueError("the Mollie api_key must be a website profile's API key (live_... or test_...)")
    return ShopHttp(shop="mollie", base_url=(url or MOLLIE_URL).rstrip("/").removesuffix("/v2"),
                    auth=BearerAuth(api_key),
                    timeout=timeout, max_attempts=max_attempts, max_backoff=max_backoff, ca_bundle=ca_bundle,
                    sleep=sleep)


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Malformed(Exception):
    """A payment this module cannot read; becomes a SourceProblem."""


class MollieSource:
    """Paid Mollie bank transfers within a lookback window: `poll(cursor) -> ProviderPoll`."""

    source = "mollie"

    def __init__(self, http: ShopHttp, lookback_days: int = 120, *, page_size: int = 250,
                 clock: Callable[[], datetime] = utc_now) -> None:
        """`http` from `mollie_http()`; `lookback_days` must exceed how long a bank transfer can stay open (a due
        date is at most 100 days after tomorrow)."""
        if not 1 <= page_size <= 250:
            raise ValueError(f"page_size must be between 1 and 250 (got {page_size})")
        if lookback_days < 1:
            raise ValueError(f"lookback_days must be positive (got {lookback_days})")
        self.http, self.lookback, self.page_size, self.clock = http, timedelta(days=lookback_days), page_size, clock

    def poll(self, cursor: str | None) -> ProviderPoll:
        """Every paid bank transfer created within the window; the cursor is the newest createdAt seen."""
        before = self.http.requests_made
        now = self.clock().astimezone(UTC)
        newest_before = _parse_cursor(cursor)
        window_start = min(now, newest_before or now) - self.lookback
        payments: list[IncomingPayment] = []
        problems: list[SourceProblem] = []
        skipped: dict[str, int] = {}
        newest = newest_before
        for page in self._pages():
            reached_end = False
            for number, item in enumerate(page.items, start=1):
                item_id = item.get("id") if isinstance(item, dict) else None
                position = f"payment {item_id}" if isinstance(item_id, str) and item_id \
                    else f"payment #{number} on page {page.number}"
                if not isinstance(item_id, str) or not item_id:
                    problems.append(SourceProblem(position, "not a payment object with an id"))
                    continue
                try:
                    created = _time(item, "createdAt")
                except _Malformed as exc:
                    problems.append(SourceProblem(position, str(exc)))
                    continue
                newest = created if newest is None else max(newest, created)
                if created < window_start:
                    reached_end = True  # newest first: the rest is older still
                    continue
                try:
                    payment, skip = parse_payment(item, position)
                except _Malformed as exc:
                    problems.append(SourceProblem(position, str(exc)))
                    continue
                if skip:
                    count(skipped, skip)
                elif payment is not None:
                    payments.append(payment)
            if reached_end:
                break
        result = ProviderPoll(payments, problems, (newest or now).isoformat(), self.http.requests_made - before,
                              skipped)
        log.info("mollie.poll", payments=len(payments), problems=len(problems), skipped=skipped,
                 requests=result.requests, window_days=round((now - window_start) / timedelta(days=1)))
        return result

    def probe(self) -> None:
        """One cheap read, for `mahnwerk check`: raises the transport's error when the API or the key is wrong."""
        self.http.get("v2/payments", params={"limit": 1})

    def close(self) -> None:
        """Release the HTTP session."""
        self.http.close()

    def _pages(self) -> Iterator[_Page]:
        path, params = "v2/payments", {"limit": str(self.page_size)}
        number = 0
        while True:
            number += 1
            response = self.http.get(path, params=params)
            body = response.data
            embedded = body.get("_embedded") if isinstance(body, dict) else None
            items = embedded.get("payments") if isinstance(embedded, dict) else None
            links = body.get("_links") if isinstance(body, dict) else None
            if not isinstance(items, list) or not isinstance(links, dict):
                raise ShopUnavailable(f"shop 'mollie' GET {response.url}: the answer is not a HAL payments list",
                                      shop="mollie", method="GET", url=response.url, status=response.status)
            yield _Page(number, items)
            following = links.get("next")
            if following is None:
                return
            href = following.get("href") if isinstance(following, dict) else None
            if not isinstance(href, str):
                raise ShopUnavailable(f"shop 'mollie' GET {response.url}: _links.next has no href",
                                      shop="mollie", method="GET", url=response.url, status=response.status)
            path, params = self._relative(href, response.url)

    def _relative(self, href: str, came_from: str) -> tuple[str, dict[str, str]]:
        """The next link as a path below our base URL: the key is only ever sent to the configured host."""
        base, target = urlsplit(self.http.base_url), urlsplit(href)
        same_host = (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower())
        if not same_host or not target.path.startswith(base.path):
            raise ShopRejected(f"shop 'mollie' GET {came_from}: _links.next points outside the API "
                               f"({target.scheme}://{target.netloc}{target.path})",
                               shop="mollie", method="GET", url=came_from)
        return target.path[len(base.path):], dict(parse_qsl(target.query, keep_blank_values=True))


class _Page:
    __slots__ = ("items", "number")

    def __init__(self, number: int, items: list[Any]) -> None:
        self.number, self.items = number, items


def parse_payment(payment: dict[str, Any], position: str) -> tuple[IncomingPayment | None, str | None]:
    """(payment, None) for a paid bank transfer, (None, reason) for one to skip; raises _Malformed."""
    if payment.get("method") != "banktransfer":
        return None, "not_banktransfer"
    if payment.get("status") != "paid":
        return None, "not_paid"
    amount = payment.get("amount")
    value = amount.get("value") if isinstance(amount, dict) else None
    currency = amount.get("currency") if isinstance(amount, dict) else None
    if not isinstance(value, str) or not _AMOUNT.match(value):
        raise _Malformed(f"amount.value is not a decimal string: {value!r}")
    try:
        money = Decimal(value)
    except InvalidOperation:
        raise _Malformed(f"amount.value is not a decimal string: {value!r}") from None
    if money <= 0:
        raise _Malformed(f"amount.value is not positive: {value!r}")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise _Malformed(f"amount.currency is not an ISO 4217 code: {currency!r}")
    paid_at = _time(payment, "paidAt")
    metadata = payment.get("metadata")
    hint = metadata.get("order_id") if isinstance(metadata, dict) else None
    details = payment.get("details")
    if not isinstance(details, dict):
        details = {}
    return IncomingPayment(
        source="mollie",
        ref=payment["id"],
        booked_on=paid_at.date(),
        amount=money,
        currency=currency.upper(),
        payer_name=_text(details, "consumerName"),
        payer_account=_text(details, "consumerAccount").replace(" ", ""),
        remittance=_text(payment, "description"),
        creditor_ref=_text(details, "transferReference"),
        order_hint=str(hint) if hint not in (None, "") else "",
        provider_ids=(payment["id"],),
        position=position,
    ), None


def _time(obj: dict[str, Any], name: str) -> datetime:
    """An ISO 8601 timestamp with offset, in UTC."""
    value = obj.get(name)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _Malformed(f"{name} is not an ISO 8601 time with offset: {value!r}")
    return moment.astimezone(UTC)


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    return value.strip() if isinstance(value, str) else ""


def _parse_cursor(cursor: str | None) -> datetime | None:
    if not cursor:
        return None
    try:
        moment = datetime.fromisoformat(cursor)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        log.warning("mollie.cursor_unreadable", cursor=cursor[:40])
        return None
    return moment.astimezone(UTC)
