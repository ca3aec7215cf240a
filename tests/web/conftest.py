"""Fixtures for the web console tests: a sandbox shop synced into a real SQLite store, users, and a logged-in
Flask test client."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import Config, load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.web.app import create_app
from mahnwerk.sync.web.users import add_user
from tests.support import write_config
from tests.sync.test_casework_cli import RATES

PASSWORD = "correct horse battery"


@pytest.fixture
def etc(tmp_path: Path, woo) -> Path:
    """A config folder for the sandbox shop "acme" on a SQLite file, synced once."""
    folder = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'mahnwerk.db'}",
                          [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                            "secret": woo.consumer_secret, "extra": RATES}])
    assert main(["--config-dir", str(folder), "sync"]) == 0
    return folder


@pytest.fixture
def config(etc: Path) -> Config:
    return load_config(etc)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    store = open_store(config)
    add_user(store, "clara", "clerk", PASSWORD)
    add_user(store, "vera", "viewer", PASSWORD, lang="en")
    yield store
    store.close()


@pytest.fixture
def app(config: Config, store: Store) -> Flask:
    return create_app(config, store)


def csrf(html: str) -> str:
    """The CSRF token in a page's first form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def log_in(client: FlaskClient, name: str, password: str = PASSWORD, **headers: str) -> object:
    """POST the login form as a browser would (token from the form); returns the response."""
    token = csrf(client.get("/login", headers=headers).get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token}, headers=headers)


@pytest.fixture
def login(app: Flask) -> Callable[..., FlaskClient]:
    """`login("clara")` → a client with clara's session (German pages unless `lang` says otherwise)."""

    def logged_in(name: str, lang: str = "de") -> FlaskClient:
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
        response = log_in(client, name)
        assert response.status_code == 302, response.get_data(as_text=True)  # type: ignore[attr-defined]
        return client

    return logged_in
