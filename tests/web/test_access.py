"""Who may see and do what: login, wrong password, throttling, CSRF, the viewer's 403, cookies and headers."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask
from flask.testing import FlaskClient

from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.web.access import clerk_required
from mahnwerk.sync.web.users import delete_user, set_password
from tests.web.conftest import PASSWORD, csrf, log_in


def test_every_page_needs_a_login(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/?x%3D1"
    assert client.get("/nope").status_code == 302  # unknown pages too: nothing is told before the login
    assert client.get("/static/mahnwerk.css").status_code == 200


def test_login_sets_a_strict_httponly_session_and_goes_where_it_was_asked(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login?next=/claims").get_data(as_text=True)
    response = client.post("/login", data={"name": "clara", "password": PASSWORD, "csrf_token": csrf(page),
                                           "next": "/claims"})
    assert response.status_code == 302 and response.headers["Location"] == "/claims"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert client.get("/").status_code == 200
    assert "clara" in client.get("/").get_data(as_text=True)


def test_login_refuses_a_foreign_next(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"name": "clara", "password": PASSWORD, "csrf_token": csrf(page),
                                           "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"


def test_wrong_password_and_unknown_name_get_the_same_answer(app: Flask) -> None:
    client = app.test_client()
    wrong = log_in(client, "clara", "not the password")
    unknown = log_in(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401  # type: ignore[attr-defined]
    assert "Name oder Passwort falsch." in wrong.get_data(as_text=True)  # type: ignore[attr-defined]
    assert client.get("/").status_code == 302


def test_five_failures_throttle_the_name_from_that_address(app: Flask) -> None:
    client = app.test_client()
    for _ in range(5):
        assert log_in(client, "clara", "guess").status_code == 401  # type: ignore[attr-defined]
    throttled = log_in(client, "clara")  # even the right password now
    assert throttled.status_code == 429  # type: ignore[attr-defined]
    assert "Zu viele Fehlversuche" in throttled.get_data(as_text=True)  # type: ignore[attr-defined]
    assert log_in(app.test_client(), "vera").status_code == 302  # type: ignore[attr-defined]  # another name
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert log_in(elsewhere, "clara").status_code == 302  # type: ignore[attr-defined]  # another address


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(login: Callable[..., FlaskClient]) -> None:
    client = login("clara")
    assert client.post("/lang", data={"lang": "en"}).status_code == 400
    assert client.post("/lang", data={"lang": "en", "csrf_token": "forged"}).status_code == 400
    token = csrf(client.get("/").get_data(as_text=True))
    assert client.post("/lang", data={"lang": "en", "csrf_token": token}).status_code == 302
    assert app_login_without_token(client) == 400


def app_login_without_token(client: FlaskClient) -> int:
    return client.post("/login", data={"name": "clara", "password": PASSWORD}).status_code


def test_a_viewer_is_refused_a_clerks_action(config, store: Store) -> None:
    from mahnwerk.sync.web.app import create_app

    extra = Blueprint("zz_action", __name__)

    @extra.route("/act", methods=["POST"])
    @clerk_required
    def act() -> str:
        return "done"

    app = create_app(config, store)
    app.register_blueprint(extra)
    for name, status in (("vera", 403), ("clara", 200)):
        client = app.test_client()
        log_in(client, name)
        token = csrf(client.get("/").get_data(as_text=True))
        assert client.post("/act", data={"csrf_token": token}).status_code == status


def test_a_deleted_user_or_a_new_password_ends_the_session(login: Callable[..., FlaskClient], store: Store) -> None:
    clara, vera = login("clara"), login("vera")
    set_password(store, "clara", "another long password")
    delete_user(store, "vera")
    assert clara.get("/").status_code == 302
    assert vera.get("/").status_code == 302


def test_security_headers_and_no_inline_script(login: Callable[..., FlaskClient]) -> None:
    response = login("clara").get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "<script" not in html and " style=" not in html


def test_sessions_survive_a_restart_and_cookies_are_secure_behind_tls(config, store: Store) -> None:
    from dataclasses import replace

    from mahnwerk.sync.web.app import create_app

    client = create_app(config, store).test_client()
    log_in(client, "clara")
    again = create_app(config, store).test_client()
    again.set_cookie("mahnwerk_session", client.get_cookie("mahnwerk_session").value)  # type: ignore[union-attr]
    assert again.get("/").status_code == 200
    proxied = create_app(replace(config, web=replace(config.web, behind_proxy=True)), store).test_client()
    response = log_in(proxied, "clara", **{"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["Set-Cookie"]  # type: ignore[attr-defined]


def test_the_language_setting_wins_over_the_browser(login: Callable[..., FlaskClient]) -> None:
    client = login("clara", lang="de")
    assert "<h1>Übersicht</h1>" in client.get("/").get_data(as_text=True)
    token = csrf(client.get("/").get_data(as_text=True))
    assert client.post("/lang", data={"lang": "en", "csrf_token": token, "next": "/claims"}).headers[
        "Location"] == "/claims"
    assert "<h1>Overview</h1>" in client.get("/").get_data(as_text=True)
    client.post("/lang", data={"lang": "", "csrf_token": token})
    assert "<h1>Übersicht</h1>" in client.get("/").get_data(as_text=True)  # the browser's again
