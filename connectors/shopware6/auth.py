"""OAuth2 client credentials for the Admin API, and the client that sends every call with a current token.

Shopware gives no refresh token (shared/reference/shopware6.md §1): a token is fetched with the integration's key
and secret, cached per process per (url, client_id), renewed 30 s before it expires, and renewed once when a call
is answered 401 (then the same call is sent again). The token and the secret never reach a URL, a log or an error:
the token travels in the Authorization header only, the secret in the token request's body only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from mahnwerk.connectors.http import ShopHttp, ShopResponse
from mahnwerk.errors import ShopAuthFailed, ShopUnavailable

AUTH_HINT = "check client_id and client_secret in [shop.auth] (an integration's access key and secret)"
TOKEN_PATH = "oauth/token"
RENEW_BEFORE_S = 30.0  # a token this close to its end is renewed before use: the request may take that long
DEFAULT_TTL_S = 600.0  # shopware.api.access_token_ttl, when the answer does not say
SKIP_FLOWS = {"sw-skip-trigger-flow": "1"}  # writes: the shop's flows must not mail the customer on top of ours


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and when (monotonic seconds) it stops being used."""

    value: str
    renew_at: float

    def __repr__(self) -> str:
        return "Token(***)"


_CACHE: dict[tuple[str, str], Token] = {}  # (api url, client id) -> token, shared by every shop object in a process
_CACHE_LOCK = threading.Lock()


def forget_tokens() -> None:
    """Empty the process-wide token cache (tests)."""
    with _CACHE_LOCK:
        _CACHE.clear()


class Tokens:
    """The current token of one integration: fetched on first use, renewed 30 s before expiry or when refused."""

    def __init__(self, http: ShopHttp, *, client_id: str, client_secret: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`http` is a client without auth on the same API base (the token endpoint takes the secret in the body)."""
        self.http, self.client_id, self._secret, self.clock = http, client_id, client_secret, clock
        self.key = (http.base_url, client_id)
        self._lock = threading.Lock()  # one fetch at a time; others wait and use its token

    def current(self) -> str:
        """A token good for at least RENEW_BEFORE_S more seconds."""
        with self._lock:
            token = _CACHE.get(self.key)
            if token is None or self.clock() >= token.renew_at:
                token = self._fetch()
            return token.value

    def renew(self, refused: str) -> str:
        """A new token after `refused` was answered 401, unless another thread renewed it meanwhile."""
        with self._lock:
            token = _CACHE.get(self.key)
            if token is None or token.value == refused or self.clock() >= token.renew_at:
                token = self._fetch()
            return token.value

    def _fetch(self) -> Token:
        body = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret}
        started = self.clock()
        data = self.http.request("POST", TOKEN_PATH, json_body=body).data
        value = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            url = self.http.base_url + TOKEN_PATH
            raise ShopUnavailable(f"shop '{self.http.shop}' POST {url}: the answer has no access_token",
                                  shop=self.http.shop, method="POST", url=url)
        try:
            ttl = float(data.get("expires_in") or DEFAULT_TTL_S)
        except (TypeError, ValueError):
            ttl = DEFAULT_TTL_S
        token = Token(value, started + ttl - RENEW_BEFORE_S)  # from when it was asked for: the answer took time
        with _CACHE_LOCK:
            _CACHE[self.key] = token
        return token


class TokenAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` with the token `AdminApi` chose for this request; repr hides it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "TokenAuth(***)"


class AdminApi:
    """The Admin API under <url>/api/: every request with a current token, JSON in and out, one renewal on 401."""

    def __init__(self, http: ShopHttp, tokens: Tokens) -> None:
        """`http` carries no auth of its own: each request gets the token current when it is sent."""
        self.http, self.tokens = http, tokens
        self.shop = http.shop

    @property
    def requests_made(self) -> int:
        """Requests sent, the token requests included."""
        return self.http.requests_made + self.tokens.http.requests_made

    def request(self, method: str, path: str, *, json_body: Any = None, params: Mapping[str, Any] | None = None,
                retry: bool = True, write: bool = False, content: bytes | None = None,
                content_type: str | None = None) -> ShopResponse:
        """One call. A 401 renews the token once and sends the same call again (a refused call did nothing, so
        this holds for a mail too); `write` adds `sw-skip-trigger-flow`. Retries follow `ShopHttp.request`."""
        headers = dict(SKIP_FLOWS) if write else {}
        if content_type:
            headers["Content-Type"] = content_type
        token = self.tokens.current()
        try:
            return self._send(token, method, path, json_body, params, retry, headers, content)
        except ShopAuthFailed as exc:
            if exc.status != 401:
                raise
        return self._send(self.tokens.renew(token), method, path, json_body, params, retry, headers, content)

    def post(self, path: str, body: Any) -> Any:
        """POST a JSON body (a search), retried like a read; the answer's JSON."""
        return self.request("POST", path, json_body=body).data

    def close(self) -> None:
        self.http.close()
        self.tokens.http.close()

    def _send(self, token: str, method: str, path: str, json_body: Any, params: Mapping[str, Any] | None,
              retry: bool, headers: dict[str, str], content: bytes | None) -> ShopResponse:
        return self.http.request(method, path, json_body=json_body, params=params, retry=retry, headers=headers,
                                 content=content, auth=TokenAuth(token))
