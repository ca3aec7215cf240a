"""When the daemon does a shop's day's run: from `delivery.run_at` (shop time) until it is done that day. Done is
recorded in the store (the `daily_run` cursor), so a run missed while the database or the machine was down is
caught up at the first tick after, and a restart the same day does not run twice."""

from __future__ import annotations

from datetime import datetime

from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.mirror.cursors import read_cursor, write_cursor
from mahnwerk.sync.mirror.mirror import ensure_shop
from mahnwerk.sync.store.engine import Store

DAILY_RUN_STREAM = "daily_run"


def run_moment(shop: ShopConfig, now: datetime) -> datetime:
    """Today's `run_at` in the shop's timezone, as an aware datetime."""
    local = now.astimezone(shop.timezone)
    return local.replace(hour=shop.delivery.run_at.hour, minute=shop.delivery.run_at.minute, second=0,
                         microsecond=0)


def daily_run_due(store: Store, shop: ShopConfig, now: datetime) -> bool:
    """Is today's run time past, and the run not done since?"""
    moment = run_moment(shop, now)
    if now < moment:
        return False
    with store.connection() as conn:
        last = read_cursor(conn, shop.id, DAILY_RUN_STREAM)
    return last is None or last < moment


def record_daily_run(store: Store, shop: ShopConfig, now: datetime, *, ok: bool) -> None:
    """Today's run is done (`ok` or with errors that its rows' retries and the merchant take care of)."""
    ensure_shop(store, shop, now)
    with store.connection() as conn:
        write_cursor(conn, shop.id, DAILY_RUN_STREAM, now, now=now)
        conn.commit()
