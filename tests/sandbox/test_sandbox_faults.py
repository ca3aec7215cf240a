"""Faults on demand: status codes with Retry-After, truncated bodies, slow answers; and the request log."""

from __future__ import annotations

import base64
import http.client
import json
import time

import pytest
import requests

from mahnwerk.sandbox import RecordedRequest, SandboxServer


def test_fail_next_429_with_retry_after_then_success(api, shop):
    """fail_next(429) answers one WP_Error 429 with Retry-After; the next request succeeds."""
    shop.fail_next(429, retry_after=2)
    first, second = api.get("/orders"), api.get("/orders")
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    assert first.json()["data"] == {"status": 429} and first.json()["code"]
    assert second.status_code == 200


@pytest.mark.parametrize("status", [500, 502, 503])
def test_fail_next_server_errors_answer_wp_error_json(api, shop, status):
    """5xx faults come as WP_Error JSON; retry_after=None sends no Retry-After."""
    shop.fail_next(status, retry_after=None, times=2)
    answers = [api.get("/orders") for _ in range(3)]
    assert [r.status_code for r in answers] == [status, status, 200]
    assert answers[0].json()["data"]["status"] == status and "Retry-After" not in answers[0].headers


def test_faults_apply_before_auth(anonymous, shop):
    """A WAF answers before WordPress: the fault wins over a missing key."""
    shop.fail_next(503)
    assert anonymous.get("/orders").status_code == 503
    assert anonymous.get("/orders").status_code == 401


def test_fail_next_can_target_a_path(api, shop, orders):
    """path_contains limits the fault to matching requests; others pass untouched."""
    shop.fail_next(503, path_contains="/notes")
    assert api.get("/orders").status_code == 200
    assert api.get(f"/orders/{orders[0]['id']}/notes").status_code == 503
    assert api.get(f"/orders/{orders[0]['id']}/notes").status_code == 200


def test_truncate_next_makes_requests_fail_to_read_json(api, shop):
    """With truncate_next a requests client gets an exception instead of orders; the next call is fine."""
    shop.truncate_next()
    with pytest.raises(requests.RequestException):
        api.get("/orders", per_page=50).json()
    assert api.get("/orders").status_code == 200


def test_truncate_next_sends_half_the_announced_body(shop, server):
    """The headers announce the full Content-Length, half the bytes arrive, then the connection closes."""
    shop.truncate_next()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    token = base64.b64encode(f"{shop.consumer_key}:{shop.consumer_secret}".encode()).decode()
    connection.request("GET", "/wp-json/wc/v3/orders", headers={"Authorization": f"Basic {token}"})
    response = connection.getresponse()
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    connection.close()
    assert response.status == 200
    assert len(cut.value.partial) == int(response.getheader("Content-Length")) // 2
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.value.partial)


def test_slow_next_delays_the_answer(api, shop):
    """slow_next(s) makes the next answer take at least s seconds."""
    shop.slow_next(0.3)
    started = time.perf_counter()
    assert api.get("/orders", per_page=1).status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_requests_are_recorded_with_query_and_status(api, shop, orders):
    """shop.requests lists method, path, parsed query and the status answered; clear_requests empties it."""
    shop.clear_requests()
    api.get("/orders", per_page=5, status="on-hold")
    api.get("/orders/1")
    assert shop.requests == [
        RecordedRequest("GET", "/wp-json/wc/v3/orders", {"per_page": ["5"], "status": ["on-hold"]}, 200),
        RecordedRequest("GET", "/wp-json/wc/v3/orders/1", {}, 404),
    ]
    shop.clear_requests()
    assert shop.requests == []


def test_a_closed_server_cuts_keep_alive_connections(shop):
    """After close() a pooled keep-alive connection is not served on: the client gets a connection error."""
    server = SandboxServer(shop).start()
    url = server.url + "/wp-json/wc/v3/orders"
    with requests.Session() as session:
        session.auth = (shop.consumer_key, shop.consumer_secret)
        assert session.get(url, timeout=10).status_code == 200
        server.close()
        with pytest.raises(requests.ConnectionError):
            session.get(url, timeout=10)
