"""Fixtures shared by all tests: databases (SQLite file and PostgreSQL) and the sandbox shop on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("MAHNWERK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"no PostgreSQL server answers at {PG_URL} ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL URL; skips with the reason when no server answers (fails in CI, where one must)."""
    problem = postgres_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI must run the PostgreSQL tests: {problem}")
        pytest.skip(problem)
    return PG_URL


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema of its own, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL to a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'mahnwerk.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs twice: on a SQLite file and on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


# --- the sandbox shop -------------------------------------------------------------------------------------


@pytest.fixture
def woo() -> Iterator:
    """A sandbox WooCommerce shop with 60 realistic orders, served on 127.0.0.1."""
    from mahnwerk.sandbox import SandboxServer, WooSandbox, generate_orders

    shop = WooSandbox(orders=generate_orders(60, seed=11))
    with SandboxServer(shop) as server:
        shop.url = server.url
        yield shop


@pytest.fixture
def start_server() -> Iterator[Callable[[Any], Any]]:
    """Starts a loopback sandbox server (SandboxServer, StripeServer, MollieServer, ...) and returns it started:
    `server = start_server(StripeServer(stripe))`; every server it started is closed when the test ends."""
    with contextlib.ExitStack() as started:
        yield started.enter_context
