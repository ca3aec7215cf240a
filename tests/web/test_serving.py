"""`mahnwerk web adduser/passwd/deluser/users` in real processes, `mahnwerk web` serving, and the daemon serving
the console when `[web] listen` is set."""

from __future__ import annotations

import http.cookiejar
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from mahnwerk.sync.config import load_config
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.web.users import list_users, verify
from tests.e2e.racing import Mahnwerk, poll
from tests.e2e.test_metrics import free_port, get


def mahnwerk(etc: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mahnwerk", "--config-dir", str(etc), *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_adduser_passwd_deluser_and_users(etc: Path) -> None:
    added = mahnwerk(etc, "web", "adduser", "clara", "--role", "clerk", stdin="first password\n")
    assert added.returncode == 0 and "added clerk clara" in added.stdout, added.stderr
    assert mahnwerk(etc, "web", "adduser", "vera", "--role", "viewer", "--lang", "en",
                    stdin="viewer password\n").returncode == 0
    taken = mahnwerk(etc, "web", "adduser", "clara", "--role", "viewer", stdin="whatever password\n")
    assert taken.returncode == 2 and "exists already" in taken.stderr
    short = mahnwerk(etc, "web", "adduser", "sam", "--role", "clerk", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    assert mahnwerk(etc, "web", "adduser", "sam", "--role", "boss", stdin="long enough\n").returncode == 2
    listed = mahnwerk(etc, "web", "users").stdout.splitlines()
    assert [line.split("\t")[:3] for line in listed] == [["clara", "clerk", "-"], ["vera", "viewer", "en"]]
    assert mahnwerk(etc, "web", "passwd", "clara", stdin="second password\n").returncode == 0
    assert mahnwerk(etc, "web", "passwd", "nobody", stdin="second password\n").returncode == 2
    assert mahnwerk(etc, "web", "deluser", "vera").returncode == 0
    assert mahnwerk(etc, "web", "deluser", "vera").returncode == 2
    store = open_store(load_config(etc))
    try:
        assert [u.name for u in list_users(store)] == ["clara"]
        assert verify(store, "clara", "second password") is not None
        assert verify(store, "clara", "first password") is None
        assert "first password" not in list_users(store)[0].password_hash  # a hash, never the password
    finally:
        store.close()


def browser() -> urllib.request.OpenerDirector:
    """A client that keeps cookies and does not follow redirects (so each answer can be looked at)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)


def log_in_over_http(base: str, name: str, password: str) -> tuple[urllib.request.OpenerDirector, int]:
    opener = browser()
    page = opener.open(f"{base}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = urllib.parse.urlencode({"name": name, "password": password, "csrf_token": token}).encode()
    try:
        status = opener.open(f"{base}/login", data=form, timeout=10).status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return opener, status


def test_mahnwerk_web_serves_until_sigterm(etc: Path) -> None:
    assert mahnwerk(etc, "web", "adduser", "clara", "--role", "clerk", stdin="a long password\n").returncode == 0
    port = free_port()
    server = Mahnwerk(etc, "web", "--listen", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: get(f"{base}/login"), until=lambda r: r[0] == 200 or not server.running(), why="the console")
        opener, status = log_in_over_http(base, "clara", "a long password")
        assert status == 302
        overview = opener.open(f"{base}/", timeout=10)
        assert overview.status == 200 and "clara" in overview.read().decode()
        server.proc.send_signal(signal.SIGTERM)
        finished = server.finish(timeout=30)
    finally:
        server.kill()
    assert finished.code == 0 and "Traceback" not in finished.err, str(finished)


def test_the_daemon_serves_the_console_when_web_listen_is_set(etc: Path) -> None:
    assert mahnwerk(etc, "web", "adduser", "clara", "--role", "clerk", stdin="a long password\n").returncode == 0
    port = free_port()
    with (etc / "mahnwerk.toml").open("a", encoding="utf-8") as toml:
        toml.write(f'\n[web]\nlisten = "127.0.0.1:{port}"\n')
    daemon = Mahnwerk(etc, "daemon")
    base = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: get(f"{base}/login"), until=lambda r: r[0] == 200 or not daemon.running(), why="the console",
             timeout=60)
        assert daemon.running(), daemon.said()
        opener, status = log_in_over_http(base, "clara", "a long password")
        assert status == 302
        assert opener.open(f"{base}/", timeout=10).status == 200
        daemon.proc.send_signal(signal.SIGTERM)
        stopped = daemon.finish(timeout=30)
    finally:
        daemon.kill()
    assert stopped.code == 0 and "Traceback" not in stopped.err, str(stopped)
    assert get(f"{base}/login")[0] == 0  # the console stopped with the daemon


def test_a_listen_address_that_is_not_one_is_a_config_problem(etc: Path) -> None:
    with (etc / "mahnwerk.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[web]\nlisten = "8420"\n')
    result = mahnwerk(etc, "web", "users")
    assert result.returncode == 2
    assert re.search(r"mahnwerk\.toml:\d+: web\.listen: expected host:port", result.stderr), result.stderr
    bad = mahnwerk(etc.parent, "web", "--listen", "nope")
    assert bad.returncode == 2 and "--listen" in bad.stderr


def test_the_web_table_is_read_and_checked(etc: Path) -> None:
    from mahnwerk.errors import ConfigError, MahnwerkError
    from mahnwerk.sync.web.app import create_app

    key = etc / "web-key"
    key.write_text("short\n", encoding="utf-8")
    toml = (etc / "mahnwerk.toml").read_text(encoding="utf-8")
    (etc / "mahnwerk.toml").write_text(toml + '\n[web]\nlisten = "[::1]:8421"\nsecure_cookies = true\n'
                                              'behind_proxy = true\nsecret_key_file = "web-key"\n', encoding="utf-8")
    config = load_config(etc)
    assert (config.web.listen, config.web.secure_cookies, config.web.behind_proxy) == (("::1", 8421), True, True)
    assert config.web.secret_key_file == key
    store = open_store(config)
    try:
        with pytest.raises(MahnwerkError, match="fewer than 16 bytes"):
            create_app(config, store)
        key.write_text("k" * 40, encoding="utf-8")
        assert create_app(config, store).secret_key == b"k" * 40
    finally:
        store.close()
    (etc / "mahnwerk.toml").write_text(toml + '\n[web]\nlisten_on = "127.0.0.1:8420"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match='unknown key "listen_on"; did you mean "listen"'):
        load_config(etc)


def test_claim_panels_render_in_order_and_skip_none() -> None:
    from mahnwerk.sync.web.panels import CLAIM_PANELS, Panel, claim_panels

    saved = list(CLAIM_PANELS)
    try:
        CLAIM_PANELS[:] = [lambda *a: Panel("a.html", {"order": a[3]}), lambda *a: None, lambda *a: Panel("b.html")]
        panels = claim_panels(None, None, "acme", "42", None)  # type: ignore[arg-type]
        assert [(p.template, p.context) for p in panels] == [("a.html", {"order": "42"}), ("b.html", {})]
    finally:
        CLAIM_PANELS[:] = saved


def test_a_started_server_fills_the_overview_cache_and_stops(app) -> None:
    from mahnwerk.sync.web.serve import WebServer

    server = WebServer(app, ("127.0.0.1", 0))
    server.start()
    try:
        caches = app.extensions.setdefault("mahnwerk.caches", {})
        poll(lambda: caches.get("outlook") is not None and caches["outlook"].values, why="the warm-up", timeout=60)
        assert get(f"{server.url}/login")[0] == 200
    finally:
        server.stop()
    assert not server.thread.is_alive()
    assert get(f"{server.url}/login")[0] == 0
