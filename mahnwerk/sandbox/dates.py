"""Dates the way WooCommerce writes and reads them: 'YYYY-MM-DDTHH:MM:SS', no suffix, `_gmt` = UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# WordPress rest_parse_date(): a date-time is required, fraction and offset optional; a bare date is rejected.
_REST_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def real_clock() -> datetime:
    """Now in UTC, truncated to whole seconds like every date WooCommerce stores."""
    return datetime.now(UTC).replace(microsecond=0)


def wc_pair(moment: datetime, tz: ZoneInfo) -> tuple[str, str]:
    """(local, gmt) strings for an aware datetime, as the REST API prints them."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    return _plain(moment.astimezone(tz)), _plain(moment)


def wc_pair_ts(ts: int, tz: ZoneInfo) -> tuple[str, str]:
    """(local, gmt) strings for a unix timestamp; the fast path used by the order generator."""
    hour = (tz, ts // 3600)             # DST switches on whole hours, so the offset is constant within one
    offset = _OFFSETS.get(hour)
    if offset is None:
        offset = _OFFSETS[hour] = int(aware_offset(datetime.fromtimestamp(ts, tz)).total_seconds())
    return _iso(ts + offset), _iso(ts)


def _iso(ts: int) -> str:
    day, second = divmod(ts, 86400)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = (_EPOCH + timedelta(days=day)).date().isoformat() + "T"
    return prefix + _TIMES[second]


_EPOCH = datetime(1970, 1, 1)
_OFFSETS: dict[tuple[ZoneInfo, int], int] = {}


def aware_offset(moment: datetime) -> timedelta:
    """The offset of an aware datetime."""
    offset = moment.utcoffset()
    assert offset is not None, "a naive datetime"
    return offset
_DAYS: dict[int, str] = {}
_TIMES = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def _plain(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat()


def gmt_to_local(gmt: str, tz: ZoneInfo) -> str:
    """Shop-local string for a `_gmt` string."""
    return _plain(datetime.fromisoformat(gmt).replace(tzinfo=UTC).astimezone(tz))


def local_to_gmt(local: str, tz: ZoneInfo) -> str:
    """`_gmt` string for a shop-local string."""
    return _plain(datetime.fromisoformat(local).replace(tzinfo=tz).astimezone(UTC))


def parse_query_date(value: str, *, gmt: bool, tz: ZoneInfo) -> str | None:
    """UTC 'YYYY-MM-DDTHH:MM:SS' for a date filter value, or None when WordPress would answer 400.

    Observed on the real shop: without an offset the value is shop-local time unless dates_are_gmt is true;
    with 'Z' or an offset it is absolute. Fractions of a second are dropped (the columns have whole seconds).
    """
    match = _REST_DATE.match(value.strip())
    if not match:
        return None
    day, clock, offset = match.groups()
    try:
        naive = datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return None
    if offset:
        offset = "+00:00" if offset in "Zz" else offset
        if len(offset) == 3:
            offset += ":00"
        elif ":" not in offset:
            offset = f"{offset[:3]}:{offset[3:]}"
        moment = datetime.fromisoformat(f"{day}T{clock}{offset}")
    else:
        moment = naive.replace(tzinfo=UTC if gmt else tz)
    return _plain(moment.astimezone(UTC))
