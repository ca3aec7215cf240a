"""Bulk writes: PostgreSQL's COPY where the driver offers it; on SQLite an executemany whose parameters are
prepared here; SQLAlchemy's own executemany everywhere else.

COPY sends rows without per-row statement parameters; for a backfill page of claims and their ledger entries it
is several times cheaper on PostgreSQL, on the client and on the server. It runs on the same connection, inside
the caller's transaction, so a page and its cursor still commit together.

On SQLite, SQLAlchemy builds a parameter dict per row and calls each column's bind processor on every value; for a
statement of 100,000 payments that costs more than SQLite's own work. `execute_many` compiles the statement once,
runs the same bind processors (JSON, UTC datetimes, money) column by column, converts a value repeated from the
row before (the `now` of every row) only once, and hands the driver plain tuples.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import JSON, ClauseElement, ColumnElement, Connection, Executable, Table, any_, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.schema import ScalarElementColumnDefault

T = TypeVar("T")
# An insert_new statement for SQLite: its text before, of and after one row's VALUES group, the parameters' order
# and their bind processors.
SQLitePlan = tuple[str, str, str, list[str], list[Callable[[Any], Any] | None]]
SQLITE_MAX_PARAMETERS = 32_766


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of at most `size`."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def insert_new(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, key: str | tuple[str, ...],
               returning: tuple[str, ...] = ()) -> list[Any]:
    """Insert the rows whose `key` (a unique column, or the columns of a unique constraint) is not taken yet, in the
    current transaction; for each row written, its key (or the `returning` columns, as a tuple). A row another
    process wrote first is left as it is: a lost race is a no-op, never an IntegrityError."""
    if not rows:
        return []
    dialect = conn.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise RuntimeError(f"insert_new: no ON CONFLICT for {dialect}")
    keys = (key,) if isinstance(key, str) else key
    fast = None
    if dialect == "postgresql" and conn.dialect.driver == "psycopg":
        fast = _insert_new_unnest(conn, table, rows, keys, returning)
    elif dialect == "sqlite":
        fast = _insert_new_sqlite(conn, table, rows, keys, returning)
    if fast is not None:
        return fast
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    back = [table.c[name] for name in returning] or [table.c[keys[0]]]
    statement = build(table).on_conflict_do_nothing(index_elements=list(keys)).returning(*back)
    written: list[Any] = []
    per_chunk = max(1, min(1000, SQLITE_MAX_PARAMETERS // max(1, len(rows[0]))))
    for chunk in chunked(rows, per_chunk):
        result = conn.execute(statement, list(chunk))
        written += result.all() if returning else result.scalars().all()
    return written


def _insert_new_unnest(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: tuple[str, ...],
                       returning: tuple[str, ...]) -> list[Any] | None:
    """`insert_new` on PostgreSQL as one statement with one array parameter per column, `INSERT ... SELECT * FROM
    unnest(...) ON CONFLICT DO NOTHING RETURNING ...`; None when the rows need what only SQLAlchemy does (a
    computed column default, a result type to convert).

    SQLAlchemy's multi-row VALUES spells every value as its own parameter: for a page of 55 claims a statement of
    1,400 placeholders, which psycopg parses afresh on every call (too long for its cache) and PostgreSQL plans
    afresh. This text is the same for any number of rows: psycopg parses it once and prepares it."""
    names = tuple(rows[0])
    plan = _unnest_plan(conn.dialect, table, names, keys, returning)
    if plan is None:
        return None
    sql, columns = plan
    arrays = []
    for name, constant, convert in columns:
        values = [row.get(name) for row in rows] if constant is _ABSENT else [constant] * len(rows)
        if convert is not None:
            last, done, out = object(), None, []
            for value in values:  # the `now` of every row is converted once
                if value is not last:
                    last, done = value, convert(value)
                out.append(done)
            values = out
        arrays.append(values)
    result = conn.exec_driver_sql(sql, tuple(arrays))
    return [tuple(row) for row in result] if returning else list(result.scalars())


def _insert_new_sqlite(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: tuple[str, ...],
                       returning: tuple[str, ...]) -> list[Any] | None:
    """`insert_new` on SQLite as SQLAlchemy would write it (one multi-row VALUES ... ON CONFLICT DO NOTHING
    RETURNING per chunk), with the parameters prepared as `execute_many` prepares them: SQLAlchemy's own
    multi-row insert spent as long on its per-row parameter dicts as SQLite on the rows and their ten indexes.
    None when the rows need what only SQLAlchemy does."""
    names = tuple(rows[0])
    cache_key = (table, names, keys, returning, "sqlite")
    if cache_key not in _SQLITE_PLANS:
        _SQLITE_PLANS[cache_key] = _sqlite_plan(conn, table, names, keys, returning)
    plan = _SQLITE_PLANS[cache_key]
    if plan is None:
        return None
    head, group, tail, order, processors = plan
    written: list[Any] = []
    for chunk in chunked(rows, max(1, min(1000, SQLITE_MAX_PARAMETERS // len(order)))):
        flat = [value for row in _tuples(chunk, order, processors) for value in row]
        result = conn.exec_driver_sql(f"{head}{', '.join([group] * len(chunk))}{tail}", tuple(flat))
        written += [tuple(row) for row in result] if returning else list(result.scalars())
    return written


def _sqlite_plan(conn: Connection, table: Table, names: tuple[str, ...], keys: tuple[str, ...],
                 returning: tuple[str, ...]) -> SQLitePlan | None:
    """The compiled one-row statement split around its VALUES group, with its parameters' order and processors."""
    back = returning or keys[:1]
    if not _plain_results(conn.dialect, table, back):
        return None
    statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys)).returning(
        *[table.c[name] for name in back])
    prepared = _positional(conn, statement, list(names))
    if prepared is None:
        return None
    sql, order, processors = prepared
    head, values, rest = sql.partition(" VALUES ")
    group, close, tail = rest.partition(") ")
    if not values or not close or group != "(" + ", ".join(["?"] * len(order)):
        return None  # not the shape expected: let SQLAlchemy do it
    return f"{head} VALUES ", group + ")", " " + tail, order, processors


def _plain_results(dialect: Dialect, table: Table, names: Sequence[str]) -> bool:
    """Do the columns `names` come back from the driver as they are (no result type for SQLAlchemy to convert)? The
    fast statements hand back what the driver gives."""
    return all(table.c[name].type.dialect_impl(dialect).result_processor(dialect, None) is None for name in names)


_SQLITE_PLANS: dict[tuple[Any, ...], SQLitePlan | None] = {}
_ABSENT = object()
_UNNEST_PLANS: dict[tuple[Any, ...], tuple[str, list[tuple[str, Any, Callable[[Any], Any] | None]]] | None] = {}


def _unnest_plan(dialect: Dialect, table: Table, names: tuple[str, ...], keys: tuple[str, ...],
                 returning: tuple[str, ...]) -> tuple[str, list[tuple[str, Any, Callable[[Any], Any] | None]]] | None:
    """The statement for `_insert_new_unnest` and per column (name, constant or _ABSENT, converter); built once per
    table and set of columns. The arrays are cast to the columns' base types (VARCHAR, not VARCHAR(40): an
    explicit cast would cut a long text, where the assignment to the column refuses it, as before)."""
    cache_key = (table, names, keys, returning, dialect.name)
    if cache_key in _UNNEST_PLANS:
        return _UNNEST_PLANS[cache_key]
    _UNNEST_PLANS[cache_key] = None
    columns: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
    for column in table.c:
        if column.name not in names and column.default is not None:
            if not isinstance(column.default, ScalarElementColumnDefault):
                return None  # a value only SQLAlchemy knows how to make
            columns.append((column.name, column.default.arg, None))  # as SQLAlchemy's INSERT would send it
    back = returning or keys[:1]
    if not _plain_results(dialect, table, back):
        return None
    columns = [(name, _ABSENT, None) for name in names] + columns
    casts = []
    for index, (name, constant, _none) in enumerate(columns):
        column_type = table.c[name].type
        # %b: the arrays go in PostgreSQL's binary format, which psycopg writes in C; as text, every element is
        # quoted and escaped in Python (a regular expression per value), twice the time of the whole statement.
        casts.append(f"%b::{column_type.compile(dialect=dialect).split('(')[0].strip()}[]")
        if isinstance(column_type, JSON):
            convert: Callable[[Any], Any] | None = _json_text
        else:
            convert = column_type.dialect_impl(dialect).bind_processor(dialect)
        if constant is not _ABSENT and convert is not None:
            constant, convert = convert(constant), None
        columns[index] = (name, constant, convert)
    quoted = ", ".join(f'"{name}"' for name, _, _ in columns)
    sql = (f'INSERT INTO "{table.name}" ({quoted}) SELECT * FROM unnest({", ".join(casts)}) '
           f'ON CONFLICT ({", ".join(map(_quote, keys))}) DO NOTHING RETURNING {", ".join(map(_quote, back))}')
    _UNNEST_PLANS[cache_key] = sql, columns
    return sql, columns


def _quote(name: str) -> str:
    return f'"{name}"'


def _json_text(value: Any) -> str | None:
    """A JSON column's value as COPY and the unnest insert send it."""
    return None if value is None else json.dumps(value)


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`, in the current transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        copy_rows(conn, table, rows)
    else:
        execute_many(conn, insert(table), rows)


def execute_many(conn: Connection, statement: Executable, rows: Sequence[dict[str, Any]]) -> None:
    """Run `statement` once per row (dicts with the same keys, named as its parameters), in the current
    transaction: on SQLite with parameters prepared here, elsewhere by SQLAlchemy."""
    if not rows:
        return
    prepared = _positional(conn, statement, list(rows[0])) if conn.dialect.name == "sqlite" else None
    if prepared is None:
        conn.execute(statement, list(rows))
        return
    sql, names, processors = prepared
    conn.exec_driver_sql(sql, _tuples(rows, names, processors))


def _positional(conn: Connection, statement: Executable, keys: list[str]
                ) -> tuple[str, list[str], list[Callable[[Any], Any] | None]] | None:
    """The SQL text, its parameters in order and their bind processors; None when the statement needs more than
    the rows give (a column default SQLAlchemy would compute, an expanding IN)."""
    if not isinstance(statement, ClauseElement):
        return None
    compiled = statement.compile(dialect=conn.dialect, column_keys=keys)
    if not isinstance(compiled, SQLCompiler):
        return None
    names = list(compiled.positiontup or ())
    if not names or compiled.literal_execute_params or compiled.post_compile_params:
        return None
    dialect = conn.dialect
    processors: list[Callable[[Any], Any] | None] = []
    table = getattr(statement, "table", None)
    for name in names:
        bind = compiled.binds.get(name)
        if bind is None:
            return None
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name not in keys:  # a column default, or a constant of the statement (`.values(state="paid")`)
            column = table.c.get(name) if table is not None and statement.is_insert else None
            default = column.default if column is not None else None
            if default is not None and default.is_scalar:
                value = default.arg
            elif default is None and column is None and not bind.required and not callable(bind.value):
                value = bind.value
            else:
                return None  # a value only SQLAlchemy knows how to make
            processors.append(_constant(process(value) if process else value))
        else:
            processors.append(process)
    return str(compiled), names, processors


def _constant(value: object) -> Callable[[object], object]:
    """A bind processor for a value the rows do not carry: always the value, already processed."""
    return lambda _none: value


def _tuples(rows: Sequence[dict[str, Any]], names: list[str], processors: list[Callable[[Any], Any] | None]
            ) -> list[tuple[Any, ...]]:
    columns = []
    for name, process in zip(names, processors, strict=True):
        values = [row.get(name) for row in rows]
        if process is not None:
            last, done, out = object(), None, []
            for value in values:
                if value is not last:
                    last, done = value, process(value)
                out.append(done)
            values = out
        columns.append(values)
    return list(zip(*columns, strict=True))


@dataclass(frozen=True)
class ForIds:
    """One statement for a list of ids (the parameter `ids`) in two spellings: PostgreSQL gets `= ANY(:ids)`, one
    array parameter, so its text is the same for any number of ids and psycopg prepares it once; the others get
    `IN (:ids_1, ...)`. Call it with the connection for the one to execute."""

    default: Executable
    postgresql: Executable

    def __call__(self, conn: Connection) -> Executable:
        return self.postgresql if conn.dialect.name == "postgresql" else self.default


def for_ids(build: Callable[[ColumnElement[bool]], Executable], column: ColumnElement[Any]) -> ForIds:
    """`build(condition)` with `column` among the ids, both ways."""
    return ForIds(build(column.in_(bindparam("ids", expanding=True))),
                  build(column == any_(bindparam("ids", type_=ARRAY(column.type)))))


def copy_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY FROM STDIN through psycopg 3; JSON columns are serialised here, other values adapted by psycopg."""
    names = list(rows[0])
    as_json = {name for name in names if isinstance(table.c[name].type, JSON)}
    quoted = ", ".join(f'"{name}"' for name in names)
    import psycopg  # here: the PostgreSQL driver is an optional dependency

    if not conn.in_transaction():  # COPY goes past SQLAlchemy: begin here, or the caller's commit() has nothing to do
        conn.begin()
    driver_connection = conn.connection.driver_connection
    assert isinstance(driver_connection, psycopg.Connection)  # bulk_insert checked the driver
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    try:
        with (
            driver_connection.cursor() as cursor,  # the same connection, the same transaction
            cursor.copy(statement) as copy,
        ):
            for row in rows:
                copy.write_row([json.dumps(row[n]) if n in as_json else row[n] for n in names])
    except psycopg.Error as exc:  # as SQLAlchemy would raise it: callers handle one family of database errors
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
