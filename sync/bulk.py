"""Bulk inserts: PostgreSQL's COPY where the driver offers it, a plain executemany everywhere else.

COPY sends rows without per-row statement parameters; for a backfill page of claims and their ledger entries it
is several times cheaper on PostgreSQL, on the client and on the server. It runs on the same connection, inside
the caller's transaction, so a page and its cursor still commit together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Table, insert


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`, in the current transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        copy_rows(conn, table, rows)
    else:
        conn.execute(insert(table), list(rows))


def copy_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY FROM STDIN through psycopg 3; JSON columns are serialised here, other values adapted by psycopg."""
    names = list(rows[0])
    as_json = {name for name in names if isinstance(table.c[name].type, JSON)}
    quoted = ", ".join(f'"{name}"' for name in names)
    with conn.connection.dbapi_connection.cursor() as cursor:  # the same connection, the same transaction
        with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n]) if n in as_json else row[n] for n in names])
