"""WooCommerce REST API v3: orders in modification order, re-reads by id, and the `check` probe.

Incremental reads follow shared/reference/woocommerce.md: `modified_after` (exclusive, UTC with
`dates_are_gmt=true`), `orderby=modified&order=asc`, `per_page<=100`, `_fields` trimmed to what we parse.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from mahnwerk.connectors.http import ShopHttp, ShopResponse
from mahnwerk.connectors.readahead import read_ahead
from mahnwerk.connectors.records import Page, ShopOrder, ShopProbe
from mahnwerk.connectors.woocommerce.parse import TRASH, Reading, newest_modified, parse_page
from mahnwerk.errors import ShopAuthFailed, ShopError, ShopRejected

ORDER_FIELDS = ("id,number,status,currency,total,refunds,payment_method,date_created_gmt,date_modified_gmt,"
                "date_paid_gmt,billing,meta_data,customer_id")
RESOLUTION = timedelta(seconds=1)  # date_modified has one-second resolution; ties are common
# The statuses every WooCommerce shop registers. "any" would be shorter but never includes "trash", and trashing
# an order only bumps its date_modified: listing the statuses by name is how the incremental read sees it go.
CORE_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")
MAX_PAGE_SIZE = 100  # per_page above it is a 400


def gmt(moment: datetime) -> str:
    """A UTC timestamp as WooCommerce wants it with dates_are_gmt=true."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


class WooOrders:
    """Orders from one WooCommerce shop as pages of typed records."""

    def __init__(self, http: ShopHttp, *, reading: Reading = Reading(), page_size: int = 100) -> None:
        """`reading.statuses`: the shop's own statuses are listed beside WooCommerce's (a plugin's "invoiced", say);
        an order in a status listed nowhere is seen again only when it is re-read by id."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE} (got {page_size})")
        self.http, self.reading, self.page_size = http, reading, page_size
        self.listed_statuses = ",".join(dict.fromkeys((*CORE_STATUSES, *reading.statuses, TRASH)))
        self.fields = ORDER_FIELDS
        self._tried_query_auth = False

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self.http.requests_made

    def changed_pages(self, since: datetime | None) -> Iterator[Page[ShopOrder]]:
        """Every order modified after `since` (all orders when None), oldest change first, a page at a time.

        The next page is fetched in the background while the caller stores this one; parsing happens here, in
        the caller's thread, so the fetching thread only waits for the shop.
        """
        for response in read_ahead(self._changed_responses(since)):
            page = replace(parse_page(response.data, self.reading), total=header_int(response, "X-WP-Total"))
            yield self._with_roles(page, response.data)

    def _changed_responses(self, since: datetime | None) -> Iterator[ShopResponse]:
        """The pages' raw answers. Each request restarts from just before the newest change seen (keyset on
        `date_modified`), so orders modified while we page cannot shift others out of view; page numbers are used
        only to walk through more than a page of orders that share one second."""
        after, page = since, 1
        while True:
            params = {"orderby": "modified", "order": "asc", "per_page": self.page_size, "page": page,
                      "dates_are_gmt": "true", "status": self.listed_statuses, "_fields": self.fields}
            if after is not None:
                params["modified_after"] = gmt(after)
            response = self._get("orders", params)
            yield response
            newest = newest_modified(response.data)
            last_page = page >= (header_int(response, "X-WP-TotalPages") or 0)
            if last_page or len(response.data) < self.page_size or newest is None:
                return
            restart = newest - RESOLUTION
            after, page = (restart, 1) if after is None or restart > after else (after, page + 1)

    def orders_by_id(self, ids: Sequence[str]) -> Iterator[Page[ShopOrder]]:
        """The current state of the given orders, a page per 100 ids; trashed ones come back `deleted`, ids the
        shop no longer has at all are listed in `Page.missing`."""
        batches = [list(ids[start:start + 100]) for start in range(0, len(ids), 100)]
        for batch, response in read_ahead((b, self._by_id(b, status="any")) for b in batches):
            found = parse_page(response.data, self.reading)
            missing = [i for i in batch if i not in seen_ids(found)]
            trashed_raw = self._by_id(missing, status=TRASH).data if missing else []
            trashed = parse_page(trashed_raw, self.reading) if missing else Page()
            gone = [i for i in missing if i not in seen_ids(trashed)]
            page = Page(records=found.records + [in_the_bin(r) for r in trashed.records],
                        rejected=found.rejected + trashed.rejected, missing=gone, newest=found.newest)
            yield self._with_roles(page, [*response.data, *trashed_raw])

    def probe(self) -> ShopProbe:
        """Reachable? Credentials accepted? Which payment gateways exist and are enabled?"""
        try:
            # the listing's statuses too: one the shop does not know is refused here, named, not at the first sync
            self._get("orders", {"per_page": 1, "_fields": "id", "status": self.listed_statuses})
            gateways = self._get("payment_gateways", {"_fields": "id,enabled"}).data
        except ShopAuthFailed as exc:
            return ShopProbe(reachable=True, authenticated=False, payment_methods={}, detail=str(exc) + hint(exc))
        except ShopError as exc:
            return ShopProbe(reachable=exc.status is not None, authenticated=False, payment_methods={},
                             detail=str(exc) + hint(exc))
        methods = {str(g.get("id")): bool(g.get("enabled")) for g in gateways or () if isinstance(g, dict)}
        return ShopProbe(reachable=True, authenticated=True, payment_methods=methods)

    def close(self) -> None:
        """Release the HTTP session."""
        self.http.close()

    def _by_id(self, ids: list[str], *, status: str) -> ShopResponse:
        params = {"include": ",".join(ids), "per_page": 100, "status": status, "_fields": self.fields,
                  "orderby": "id", "order": "asc"}
        return self._get("orders", params)

    def _with_roles(self, page: Page[ShopOrder], raw: Any) -> Page[ShopOrder]:
        """The page's orders with the WordPress role of their customer (`business_when = ["customer_role:…"]`):
        one request for the page's customers; guests (customer_id 0) and deleted users have none."""
        if not self.reading.customer_roles or not page.records:
            return page
        customer_of: dict[str, int] = {str(o.get("id")): c for o in raw if isinstance(o, dict)
                                       and type(c := o.get("customer_id")) is int and c > 0}
        ids = sorted(set(customer_of.values()))
        roles: dict[int, str] = {}
        for start in range(0, len(ids), 100):  # a page holds at most 100 orders; a longer list in slices anyway
            batch = ids[start:start + 100]
            # role=all: the default lists only users whose role is "customer"
            response = self._get("customers", {"include": ",".join(map(str, batch)), "role": "all",
                                               "per_page": 100, "orderby": "include", "_fields": "id,role"})
            roles |= {c["id"]: c["role"] for c in response.data if isinstance(c, dict)
                      and type(c.get("id")) is int and isinstance(c.get("role"), str)}
        return replace(page, records=[replace(r, customer_group=roles.get(customer_of.get(r.order_id, 0), ""))
                                      for r in page.records])

    def _get(self, path: str, params: dict[str, Any]) -> ShopResponse:
        """GET with one fallback: hosts that strip the Authorization header need the keys in the query."""
        try:
            response = self.http.get(path, params=params)
        except ShopAuthFailed as exc:
            basic = self.http.auth
            cannot_view = exc.shop_code == "woocommerce_rest_cannot_view"
            if self._tried_query_auth or not cannot_view or not isinstance(basic, tuple):
                raise
            self._tried_query_auth = True
            self.http.use_query_auth({"consumer_key": basic[0], "consumer_secret": basic[1]})
            try:
                response = self.http.get(path, params=params)
            except ShopAuthFailed:
                self.http.use_query_auth(None)
                raise exc from None
        if path in ("orders", "customers") and not isinstance(response.data, list):
            raise ShopRejected(f"shop '{self.http.shop}' GET {response.url}: expected a JSON array of {path}",
                               shop=self.http.shop, method="GET", url=response.url, status=response.status)
        return response


def header_int(response: ShopResponse, name: str) -> int | None:
    """An integer header such as X-WP-TotalPages, None when missing or garbled."""
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def seen_ids(page: Page[ShopOrder]) -> set[str]:
    """Ids on a page, parsed or rejected."""
    return {r.order_id for r in page.records} | {r.record_id for r in page.rejected}


def in_the_bin(order: ShopOrder) -> ShopOrder:
    """A trashed order: the listing reports it under its old status, so say where it is."""
    return replace(order, status=TRASH, deleted=True, paid_state=None)


def hint(exc: ShopError) -> str:
    """What a WooCommerce merchant should look at when the probe fails this way."""
    detail = str(exc)
    if exc.status == 404:
        return (" (is shop.url the shop's base address, and are WordPress permalinks set to anything but 'Plain'? "
                "The REST API lives under /wp-json/)")
    if exc.status in (401, 403):
        return " (check consumer_key/consumer_secret and that the key has read access)"
    if "rest_invalid_param" in detail and "status" in detail:
        return " (every status in [statuses] must be one the shop has registered)"
    return ""
