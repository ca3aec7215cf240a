"""Reading a Shopware 6 shop: changed orders, orders by id, and the `check` probe (docs/shopware6.md).

Changed orders are paged by page number over an immutable sort (createdAt, id): an order that changes during a
read only joins the result set, so it is read now or next time. Since that sort is not the order of changes, only
the last page of a read carries `newest`: the highest change seen, capped at the shop's clock when the read began.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from mahnwerk.connectors.http import ShopResponse
from mahnwerk.connectors.readahead import read_ahead
from mahnwerk.connectors.records import Page, PaidState, ShopOrder, ShopProbe
from mahnwerk.connectors.shopware6 import criteria
from mahnwerk.connectors.shopware6.auth import AUTH_HINT, AdminApi
from mahnwerk.connectors.shopware6.parse import Reading, change_time, parse_page
from mahnwerk.errors import ShopAuthFailed, ShopError, ShopRejected

SEARCH_ORDERS = "search/order"
MISSING = re.compile(r'"missingPrivileges":\s*(\[[^\]]*\])')  # the 403's detail is itself JSON

# What Mahnwerk does in a shop, and the privileges it takes (an integration's ACL role; `admin` has them all).
PRIVILEGES = {
    "read orders": ("order:read", "order_customer:read", "order_address:read", "order_transaction:read",
                    "state_machine_state:read", "payment_method:read", "document:read", "document_type:read",
                    "currency:read", "language:read", "locale:read", "country:read"),
    "record progress on orders": ("order:update",),
    "move the payment state": ("order_transaction:update", "state_machine_history:create"),
    "attach the notice": ("media:create", "media:update", "media:read"),
    "send mails": ("api_send_email",),
    "read customer groups": ("customer:read", "customer_group:read"),  # only for business_when = customer_group
}
GROUPS = "read customer groups"


class SwOrders:
    """Orders from one Shopware shop as pages of typed records."""

    def __init__(self, api: AdminApi, *, reading: Reading, invoice_methods: Sequence[str], page_size: int,
                 client_id: str) -> None:
        if not 1 <= page_size <= criteria.MAX_LIMIT:
            raise ValueError(f"page_size must be between 1 and {criteria.MAX_LIMIT} (got {page_size})")
        self.api, self.reading, self.page_size, self.client_id = api, reading, page_size, client_id
        self.invoice_methods = tuple(invoice_methods)
        self.open_statuses = tuple(s for s, meaning in reading.statuses.items() if meaning == PaidState.OPEN)

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far, token requests and retries included."""
        return self.api.requests_made

    def changed_pages(self, since: datetime | None) -> Iterator[Page[ShopOrder]]:
        """Orders changed at or after `since` (open invoice orders when None), in creation order. The next page is
        fetched in the background while the caller stores this one."""
        started, newest, cap = datetime.now(UTC), None, None
        for response, last in read_ahead(self._changed_responses(since)):
            cap = cap or shop_clock(response) or started
            rows = response.data["data"]
            for raw in rows:
                changed = change_time(raw)
                newest = changed if newest is None or (changed is not None and changed > newest) else newest
            page = parse_page(rows, self.reading)
            yield replace(page, newest=min(newest, cap) if last and newest is not None else None)

    def _changed_responses(self, since: datetime | None) -> Iterator[tuple[ShopResponse, bool]]:
        """The raw pages and whether each is the last (fewer rows than asked for). Keyset paging: each request asks
        for the orders created at or after the last row's creation; rows of that instant already read are dropped.
        Only an instant shared by more than a page of orders is paged by number. Page numbers alone would let an
        order that leaves the result set mid-read (paid during the first read) pull a later one onto a page already
        read, unseen until it changes again."""
        anchor: datetime | None = None
        page, read_at_anchor, first_id = 1, set[str](), None
        while True:
            body = criteria.changed_orders(since, page=page, limit=self.page_size, created_from=anchor,
                                           invoice_methods=self.invoice_methods, open_statuses=self.open_statuses,
                                           groups=self.reading.customer_groups)
            response = self.search(SEARCH_ORDERS, body)
            rows = response.data["data"]
            first = rows[0].get("id") if rows and isinstance(rows[0], dict) else None
            if page > 1 and first is not None and first == first_id:  # a shop ignoring `page` would loop forever
                raise ShopRejected(f"shop '{self.api.shop}' POST {response.url}: page {page} repeats page "
                                   f"{page - 1}", shop=self.api.shop, method="POST", url=response.url)
            first_id = first
            last = len(rows) < self.page_size
            response.data["data"] = [r for r in rows if not (anchor is not None and created_at(r) == anchor
                                                             and r.get("id") in read_at_anchor)]
            yield response, last
            if last:
                return
            ended = created_at(rows[-1])
            if ended is None or ended == anchor:  # one instant fills the page (or is unreadable): by number
                page += 1
            else:
                anchor, page, read_at_anchor = ended, 1, set()
            read_at_anchor |= {str(r.get("id")) for r in rows if created_at(r) == anchor}

    def orders_by_id(self, ids: Sequence[str]) -> Iterator[Page[ShopOrder]]:
        """The current state of these orders, `page_size` ids per request; ids the shop does not have (Shopware
        deletes for good) are listed in `Page.missing`."""
        batches = [list(ids[start:start + self.page_size]) for start in range(0, len(ids), self.page_size)]
        groups = self.reading.customer_groups
        for batch, response in read_ahead((b, self.search(SEARCH_ORDERS, criteria.orders_by_id(b, groups=groups)))
                                          for b in batches):
            page = parse_page(response.data["data"], self.reading)
            seen = {r.order_id for r in page.records} | {r.record_id for r in page.rejected}
            yield replace(page, missing=[i for i in batch if i not in seen])

    def probe(self) -> ShopProbe:
        """Reachable? Credentials accepted? Which payment methods exist {technicalName: active}? What may these
        credentials not do (`detail`, when authenticated)?"""
        try:
            self.api.tokens.current()
            methods = self.api.post("search/payment-method", criteria.payment_methods())
        except ShopAuthFailed as exc:
            if exc.status == 403:  # a token, but no right to read payment methods
                return ShopProbe(reachable=True, authenticated=True, payment_methods={},
                                 detail=str(exc) + (hint(exc) or f" ({missing_hint(['payment_method:read'])})"))
            return ShopProbe(reachable=True, authenticated=False, payment_methods={}, detail=f"{exc} ({AUTH_HINT})")
        except ShopError as exc:
            return ShopProbe(reachable=exc.status is not None, authenticated=False, payment_methods={},
                             detail=str(exc) + hint(exc))
        found = {str(m.get("technicalName")): bool(m.get("active"))
                 for m in rows_of(methods) if m.get("technicalName")}
        return ShopProbe(reachable=True, authenticated=True, payment_methods=found, detail=self._permissions())

    def _permissions(self) -> str:
        """What the integration may not do, or "" (also when it cannot tell: reading integrations needs a right
        of its own)."""
        try:
            integrations = rows_of(self.api.post("search/integration", criteria.integration(self.client_id)))
        except ShopAuthFailed:
            return ""
        if not integrations or integrations[0].get("admin"):
            return ""
        granted = {str(p) for role in integrations[0].get("aclRoles") or () if isinstance(role, dict)
                   for p in role.get("privileges") or ()}
        lacking = [p for use, needed in PRIVILEGES.items() if use != GROUPS or self.reading.customer_groups
                   for p in needed if p not in granted]
        return missing_hint(lacking) if lacking else ""

    def search(self, path: str, body: dict[str, Any]) -> ShopResponse:
        """A search; the answer must be {"data": [...]}, or the shop is not answering like Shopware."""
        response = self.api.request("POST", path, json_body=body)
        if not isinstance(response.data, dict) or not isinstance(response.data.get("data"), list):
            raise ShopRejected(f"shop '{self.api.shop}' POST {response.url}: expected a search answer with a 'data' "
                               "list (is shop.url the shop's address, without /api?)", shop=self.api.shop,
                               method="POST", url=response.url, status=response.status)
        return response

    def close(self) -> None:
        self.api.close()


def created_at(raw: Any) -> datetime | None:
    """An order row's `createdAt` as aware UTC, None when absent or unreadable (parse.py names the defect)."""
    try:
        moment = datetime.fromisoformat(raw["createdAt"])
    except (KeyError, TypeError, ValueError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def rows_of(answer: Any) -> list[dict[str, Any]]:
    rows = answer.get("data") if isinstance(answer, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def shop_clock(response: ShopResponse) -> datetime | None:
    """The shop's `Date` header as aware UTC, None when absent or unreadable."""
    try:
        moment = parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def missing_hint(privileges: Sequence[str]) -> str:
    """The privileges the integration lacks, what for, and where the merchant grants them."""
    uses = [use for use, needed in PRIVILEGES.items() if any(p in privileges for p in needed)]
    return (f"the integration lacks {', '.join(privileges)} (needed to {', '.join(uses) or 'work'}); grant them "
            "to its role in Settings > System > Integrations, or make it an administrator")


def hint(exc: ShopError) -> str:
    """What a Shopware merchant should look at when the probe fails this way."""
    if exc.status == 404:
        return " (is shop.url the shop's base address, without /api? The Admin API lives under /api/)"
    named = MISSING.search(str(exc)) if exc.shop_code == "FRAMEWORK__MISSING_PRIVILEGE_ERROR" else None
    try:
        privileges = json.loads(named.group(1)) if named else None
    except ValueError:
        privileges = None
    return f" ({missing_hint([str(p) for p in privileges])})" if isinstance(privileges, list) else ""
