"""Column types that keep the house rules in the database: exact money, aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine


class Money(TypeDecorator[Decimal]):
    """An exact decimal amount: NUMERIC where the database has it, text in SQLite (whose REAL would round)."""

    impl = String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 6, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be a Decimal (got {type(value).__name__})")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else tidy(Decimal(value))


CENT = Decimal("0.01")


def tidy(amount: Decimal) -> Decimal:
    """Cents, or more places only where they carry a digit: NUMERIC(20,6) and text columns agree."""
    cents = amount.quantize(CENT)
    return cents if cents == amount else amount.normalize()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC, always returned aware.

    SQLite gets fixed-width ISO text ("2026-03-01 09:15:00.000000", the format SQLAlchemy's own DATETIME uses, so
    text order is time order); converting it here is several times cheaper than the generic processor.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(DateTime())
        return dialect.type_descriptor(DateTime(timezone=True))

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return lambda value: None if value is None else utc(value).isoformat(" ", "microseconds")[:26]

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return lambda value: None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        return None if value is None else utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused, never guessed."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: Mahnwerk stores aware datetimes only")
    return value.astimezone(UTC)
