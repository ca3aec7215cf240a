"""Authentication as the real shop answers it: two different 401s, no WWW-Authenticate, query-string keys."""

from __future__ import annotations

from mahnwerk.sandbox import SandboxServer, WooSandbox


def test_no_key_is_cannot_view(anonymous):
    """Without credentials the list answers 401 woocommerce_rest_cannot_view and no WWW-Authenticate."""
    r = anonymous.get("/orders")
    assert r.status_code == 401
    assert r.json() == {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
                        "data": {"status": 401}}
    assert "WWW-Authenticate" not in r.headers


def test_unknown_key_is_cannot_view(server, make_client):
    """A key the shop does not know is treated like no key at all."""
    r = make_client(server.url, ("ck_" + "0" * 40, "cs_" + "0" * 40)).get("/orders")
    assert (r.status_code, r.json()["code"]) == (401, "woocommerce_rest_cannot_view")


def test_known_key_with_wrong_secret_is_authentication_error(server, shop, make_client):
    """The right key with a wrong secret answers 'Consumer secret is invalid.', even on unknown routes."""
    client = make_client(server.url, (shop.consumer_key, "cs_" + "1" * 40))
    for path in ("/orders", "/no-such-route"):
        r = client.get(path)
        assert r.status_code == 401
        assert r.json() == {"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid.",
                            "data": {"status": 401}}
        assert "WWW-Authenticate" not in r.headers


def test_query_string_keys_are_honoured(anonymous, shop):
    """consumer_key/consumer_secret in the query work like Basic auth."""
    r = anonymous.get("/orders", consumer_key=shop.consumer_key, consumer_secret=shop.consumer_secret, per_page=1)
    assert r.status_code == 200 and len(r.json()) == 1
    assert f"consumer_key={shop.consumer_key}" in r.headers["Link"]


def test_validation_errors_come_before_permission_errors(anonymous):
    """WordPress validates params before the permission check: a bad per_page is a 400 even without a key."""
    assert anonymous.get("/orders", per_page=500).status_code == 400


def test_a_missing_order_is_404_even_without_key(anonymous, orders):
    """The single-order permission check passes for missing orders, so they answer 404, existing ones 401."""
    assert anonymous.get("/orders/999999").status_code == 404
    assert anonymous.get(f"/orders/{orders[0]['id']}").json()["code"] == "woocommerce_rest_cannot_view"


def test_read_only_key_cannot_write(orders, make_client):
    """A key with read permission gets 401 for a PUT, naming the missing write permission."""
    shop = WooSandbox(orders=orders[:3], permissions="read", consumer_key="ck_" + "a" * 40,
                      consumer_secret="cs_" + "b" * 40)
    with SandboxServer(shop) as server:
        client = make_client(server.url, (shop.consumer_key, shop.consumer_secret))
        assert client.get("/orders").status_code == 200
        r = client.put(f"/orders/{orders[0]['id']}", {"status": "completed"})
    assert r.status_code == 401
    assert r.json()["message"] == "The API key provided does not have write permissions."


def test_site_index_needs_no_key_and_tells_the_time_zone(anonymous):
    """GET /wp-json/ is public and names the shop's timezone_string."""
    r = anonymous.session.get(anonymous.url + "/wp-json/", timeout=10)
    assert r.status_code == 200 and r.json()["timezone_string"] == "Europe/Berlin"
