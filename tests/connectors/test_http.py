"""connectors/http.py: status codes to errors, retries with Retry-After, redaction. Narrow tests with `responses`."""

from __future__ import annotations

import pytest
import responses

from mahnwerk.connectors.http import ShopHttp, redact_url, retry_after_seconds
from mahnwerk.errors import ShopAuthFailed, ShopRejected, ShopUnavailable

BASE = "https://shop.example.com/wp-json/wc/v3/"


def a_client(**kwargs: object) -> tuple[ShopHttp, list[float]]:
    """A client whose sleeps are recorded instead of slept."""
    slept: list[float] = []
    http = ShopHttp(shop="acme", base_url=BASE, auth=("ck_x", "cs_y"), sleep=slept.append,
                    **{"max_attempts": 3, "max_backoff": 60.0} | kwargs)  # type: ignore[arg-type]
    return http, slept


@pytest.mark.parametrize(("status", "error"), [
    (400, ShopRejected), (401, ShopAuthFailed), (403, ShopAuthFailed), (404, ShopRejected),
    (429, ShopUnavailable), (500, ShopUnavailable), (502, ShopUnavailable), (503, ShopUnavailable),
])
@responses.activate
def test_status_maps_to_error_class(status: int, error: type) -> None:
    """Each HTTP status becomes the error class that tells the caller what to do."""
    responses.get(BASE + "orders", status=status,
                  json={"code": "woocommerce_rest_cannot_view", "message": "Sorry.", "data": {"status": status}})
    http, _ = a_client()
    with pytest.raises(error) as err:
        http.get("orders")
    assert err.value.status == status and err.value.shop_code == "woocommerce_rest_cannot_view"
    assert "shop 'acme' GET" in str(err.value)


@responses.activate
def test_retry_after_is_honoured_then_success() -> None:
    """A 429 with Retry-After waits that long, then the retry succeeds."""
    responses.get(BASE + "orders", status=429, headers={"Retry-After": "7"}, json={"code": "too_many"})
    responses.get(BASE + "orders", json=[{"id": 1}])
    http, slept = a_client()
    assert http.get("orders").data == [{"id": 1}]
    assert slept == [7.0] and http.requests_made == 2


@responses.activate
def test_retry_after_is_capped_by_max_backoff() -> None:
    """A shop asking for an hour's pause does not stall the daemon beyond max_backoff."""
    responses.get(BASE + "orders", status=503, headers={"Retry-After": "3600"})
    responses.get(BASE + "orders", json=[])
    http, slept = a_client(max_backoff=30.0)
    http.get("orders")
    assert slept == [30.0]


@responses.activate
def test_gives_up_after_max_attempts() -> None:
    """Persistent 500s are retried max_attempts times, then raised."""
    responses.get(BASE + "orders", status=500, body="oops")
    http, slept = a_client(max_attempts=4)
    with pytest.raises(ShopUnavailable):
        http.get("orders")
    assert http.requests_made == 4 and len(slept) == 3 and all(0 <= s <= 60 for s in slept)


@responses.activate
def test_invalid_json_is_retried() -> None:
    """A garbled body counts as unavailable: retried, and the good answer is used."""
    responses.get(BASE + "orders", body='[{"id": 1', content_type="application/json")
    responses.get(BASE + "orders", json=[{"id": 1}])
    http, _ = a_client()
    assert http.get("orders").data == [{"id": 1}]


@responses.activate
def test_auth_failure_is_not_retried() -> None:
    """Wrong credentials fail at once: retrying cannot fix them."""
    responses.get(BASE + "orders", status=401, json={"code": "woocommerce_rest_authentication_error",
                                                     "message": "Consumer secret is invalid."})
    http, slept = a_client()
    with pytest.raises(ShopAuthFailed, match="Consumer secret is invalid"):
        http.get("orders")
    assert http.requests_made == 1 and slept == []


@responses.activate
def test_secrets_in_query_never_reach_the_error() -> None:
    """Query-string credentials are redacted in error messages."""
    responses.get(BASE + "orders", status=404, json={"code": "rest_no_route"})
    http, _ = a_client()
    http.use_query_auth({"consumer_key": "ck_secretkey", "consumer_secret": "cs_secretvalue"})
    with pytest.raises(ShopRejected) as err:
        http.get("orders", params={"page": 2})
    assert "cs_secretvalue" not in str(err.value) and "ck_secretkey" not in str(err.value)
    assert "consumer_secret=***" in err.value.url


def test_redact_url_masks_userinfo_and_secret_params() -> None:
    """Passwords in userinfo and known secret parameters become ***."""
    assert redact_url("https://u:pw@h/x?consumer_secret=s&page=2") == "https://***@h/x?consumer_secret=***&page=2"


@pytest.mark.parametrize(("header", "seconds"), [("5", 5.0), ("0", 0.0), (None, None), ("soon", None),
                                                 ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_forms(header: str | None, seconds: float | None) -> None:
    """Retry-After as seconds or as an HTTP date (a past date means: now)."""
    assert retry_after_seconds(header) == seconds


@responses.activate
def test_woocommerce_falls_back_to_query_keys_when_the_host_strips_authorization() -> None:
    """A 401 cannot_view to Basic auth is retried once with the keys in the query, which then stick."""
    from mahnwerk.connectors.woocommerce.orders import WooOrders

    responses.get(BASE + "orders", status=401, json={"code": "woocommerce_rest_cannot_view", "message": "Sorry."},
                  match=[responses.matchers.header_matcher({"Authorization": "Basic Y2tfeDpjc195"})])
    responses.get(BASE + "orders", json=[], match=[responses.matchers.query_param_matcher(
        {"per_page": "1", "_fields": "id",
         "status": "pending,processing,on-hold,completed,cancelled,refunded,failed,trash",
         "consumer_key": "ck_x", "consumer_secret": "cs_y"})])
    responses.get(BASE + "payment_gateways", json=[{"id": "bacs", "enabled": True}])
    http, _ = a_client()
    probe = WooOrders(http).probe()
    assert probe.authenticated and probe.payment_methods == {"bacs": True}
    assert http.query_auth == {"consumer_key": "ck_x", "consumer_secret": "cs_y"} and http.auth is None
