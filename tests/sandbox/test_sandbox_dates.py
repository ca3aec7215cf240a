"""Date filters as observed on the real shop: exclusive bounds, shop-local unless GMT, same-second ties by id."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

FMT = "%Y-%m-%dT%H:%M:%S"


def _shift(text: str, seconds: int) -> str:
    return (datetime.strptime(text, FMT) + timedelta(seconds=seconds)).strftime(FMT)


def _ids(api, **params) -> list[int]:
    return [o["id"] for o in api.get("/orders", per_page=100, _fields="id", **params).json()]


def _pivot(orders: list[dict]) -> dict:
    """An order whose date_modified second is its own (not part of a tie group)."""
    counts = Counter(o["date_modified_gmt"] for o in orders)
    return next(o for o in orders[20:] if counts[o["date_modified_gmt"]] == 1)


def test_modified_after_is_exclusive(api, orders):
    """modified_after=T leaves out an order modified exactly at T and keeps it for T minus one second."""
    pivot = _pivot(orders)
    at = pivot["date_modified_gmt"]
    assert pivot["id"] not in _ids(api, modified_after=at, dates_are_gmt="true")
    assert pivot["id"] in _ids(api, modified_after=_shift(at, -1), dates_are_gmt="true")
    expected = {o["id"] for o in orders if o["date_modified_gmt"] > at}
    assert set(_ids(api, modified_after=at, dates_are_gmt="true")) == expected


def test_before_bounds_are_exclusive_too(api, orders):
    """modified_before=T leaves out the order modified at T."""
    pivot = _pivot(orders)
    at = pivot["date_modified_gmt"]
    assert pivot["id"] not in _ids(api, modified_before=at, dates_are_gmt="true")
    assert pivot["id"] in _ids(api, modified_before=_shift(at, 1), dates_are_gmt="true")


def test_a_date_without_offset_is_shop_local_time(api, orders):
    """Without dates_are_gmt the value is read in Europe/Berlin, so a UTC string shifts the window by the offset."""
    pivot = _pivot(orders)
    local, gmt = pivot["date_modified"], pivot["date_modified_gmt"]
    assert local != gmt
    as_gmt = _ids(api, modified_after=gmt, dates_are_gmt="true")
    assert _ids(api, modified_after=local) == as_gmt
    assert _ids(api, modified_after=local, dates_are_gmt="false") == as_gmt
    assert _ids(api, modified_after=gmt) != as_gmt


@pytest.mark.parametrize("suffix", ["Z", "+00:00"])
def test_an_explicit_utc_offset_is_absolute(api, orders, suffix):
    """A value with Z or +00:00 is UTC whatever dates_are_gmt says."""
    gmt = _pivot(orders)["date_modified_gmt"]
    expected = _ids(api, modified_after=gmt, dates_are_gmt="true")
    assert _ids(api, modified_after=gmt + suffix) == expected
    assert _ids(api, modified_after=gmt + suffix, dates_are_gmt="true") == expected


def test_other_offsets_are_converted(api, orders):
    """A +05:00 value means five hours before the same wall time in UTC."""
    gmt = _pivot(orders)["date_modified_gmt"]
    expected = _ids(api, modified_after=gmt, dates_are_gmt="true")
    assert _ids(api, modified_after=_shift(gmt, 5 * 3600) + "+05:00") == expected


@pytest.mark.parametrize("value", ["2026-01-01", "yesterday", "2026-13-01T00:00:00", "1700000000"])
def test_a_date_without_time_or_unparseable_is_a_400(api, value):
    """modified_after must be a date-time: anything else is rest_invalid_param 'Invalid date.'."""
    r = api.get("/orders", modified_after=value)
    assert r.status_code == 400
    assert r.json()["data"]["params"] == {"modified_after": "Invalid date."}


def test_after_filters_on_creation_date(api, orders):
    """after/before work on date_created, not date_modified."""
    pivot = orders[30]
    expected = {o["id"] for o in orders if o["date_created_gmt"] > pivot["date_created_gmt"]}
    assert set(_ids(api, after=pivot["date_created_gmt"] + "Z")) == expected


def test_same_second_ties_come_ordered_by_id(api, orders):
    """Orders changed in the same second are ordered by id: ascending with order=asc, descending with desc."""
    counts = Counter(o["date_modified_gmt"] for o in orders)
    second, size = counts.most_common(1)[0]
    assert size >= 3
    tied = sorted(o["id"] for o in orders if o["date_modified_gmt"] == second)
    just_before = _shift(second, -1)
    asc = _ids(api, modified_after=just_before, dates_are_gmt="true", orderby="modified", order="asc")
    desc = _ids(api, modified_after=just_before, dates_are_gmt="true", orderby="modified", order="desc")
    assert asc[:size] == tied
    assert desc[-size:] == tied[::-1]


def test_incremental_sync_recipe_sees_every_order_once(api, orders):
    """modified_after + orderby=modified asc, paged by 7, visits every order exactly once in cursor order."""
    seen, page = [], 1
    while True:
        r = api.get("/orders", modified_after="2000-01-01T00:00:00", dates_are_gmt="true", orderby="modified",
                    order="asc", per_page=7, page=page, _fields="id,date_modified_gmt")
        seen += r.json()
        if 'rel="next"' not in r.headers.get("Link", ""):
            break
        page += 1
    assert len(seen) == 60 and len({o["id"] for o in seen}) == 60
    assert [(o["date_modified_gmt"], o["id"]) for o in seen] == sorted((o["date_modified_gmt"], o["id"]) for o in seen)
