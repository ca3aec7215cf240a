"""Cursors: how far a stream of a shop has been read ("orders": the shop's newest modification seen; "reread": the
last full re-read of open claims; "daily_run": the daemon's last day's run). Written in the caller's transaction,
so a page and the cursor that covers it commit together."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from mahnwerk.sync.store.models import SyncCursor, table_of

CURSORS = table_of(SyncCursor)
# Built once: constructing a statement and its cache key on every page costs more than running it.
CURSOR_AT = (CURSORS.c.shop_id == bindparam("cursor_shop")) & (CURSORS.c.stream == bindparam("cursor_stream"))
READ_CURSOR = select(CURSORS.c.value).where(CURSOR_AT)
MOVE_CURSOR = update(CURSORS).where(CURSOR_AT).values(value=bindparam("new_value"), updated_at=bindparam("now"))
MOVE_CURSOR_FORWARD = MOVE_CURSOR.where(CURSORS.c.value < bindparam("new_value"))


def read_cursor(conn: Connection, shop_id: str, stream: str) -> datetime | None:
    """Where a stream of a shop stands, None before its first page."""
    return conn.execute(READ_CURSOR, {"cursor_shop": shop_id, "cursor_stream": stream}).scalar()


def write_cursor(conn: Connection, shop_id: str, stream: str, value: datetime, *, now: datetime,
                 only_forward: bool = False) -> None:
    """Set a cursor (never backwards when `only_forward`), in the caller's transaction."""
    params = {"cursor_shop": shop_id, "cursor_stream": stream, "new_value": value, "now": now}
    moved = conn.execute(MOVE_CURSOR_FORWARD if only_forward else MOVE_CURSOR, params).rowcount
    if moved == 0 and read_cursor(conn, shop_id, stream) is None:
        conn.execute(insert(CURSORS).values(shop_id=shop_id, stream=stream, value=value, updated_at=now))
