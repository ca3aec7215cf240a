"""One HTTP client per shop: session, timeouts, auth, request counting, redaction and the retry policy.

Shop modules never sleep, retry or catch `requests` exceptions: they call `ShopHttp.request` and get a
`ShopResponse` with parsed JSON, or one of the `ShopError`s from `mahnwerk.errors`. Payment providers (Stripe,
Mollie) use the same client, with `BearerAuth` and `shop=` naming the provider.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import structlog
import tenacity
import urllib3

from mahnwerk import __version__
from mahnwerk.errors import ShopAuthFailed, ShopError, ShopRejected, ShopUnavailable

log = structlog.get_logger("mahnwerk.http")

SECRET_PARAMS = frozenset({"consumer_key", "consumer_secret", "client_secret", "access_token", "password"})
USER_AGENT = f"Mahnwerk/{__version__} (+https://github.com/mahnwerk/mahnwerk)"


def redact_url(url: str) -> str:
    """The URL with credentials in the query string or userinfo replaced by ***."""
    parts = urlsplit(url)
    query = urlencode(
        [(k, "***" if k in SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe="*,[]",
    )
    netloc = re.sub(r"^[^@/]*@", "***@", parts.netloc)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <token>`; its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


@dataclass(frozen=True, slots=True)
class _Extra:
    """What one request adds to the client's defaults: headers, a raw body instead of JSON, its own auth."""

    headers: dict[str, str]
    content: bytes | None = None
    auth: requests.auth.AuthBase | None = None


@dataclass(frozen=True, slots=True)
class ShopResponse:
    """A successful answer: status, headers and the parsed JSON body."""

    status: int
    headers: Mapping[str, str]
    data: Any
    url: str


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def wait_retry_after_or_exponential(*, max_s: float, base_s: float = 0.5) -> Callable[[tenacity.RetryCallState], float]:
    """Tenacity wait: the shop's Retry-After when it gave one (capped), else full-jitter exponential backoff."""

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = exc.retry_after if isinstance(exc, ShopError) else None
        if hinted is not None:
            return min(hinted, max_s)
        return random.uniform(0, min(max_s, base_s * 2 ** (state.attempt_number - 1)))

    return wait


def error_from(response: requests.Response, *, shop: str, method: str, url: str) -> ShopError:
    """Classify a non-2xx response, keeping the shop's own error code and message."""
    code, message = None, response.reason or ""
    try:
        body = response.json()
        if isinstance(body, dict):
            code = body.get("code") or body.get("error") or None
            # Mollie (RFC 7807 style) says it in "detail" and names the parameter in "field"
            message = body.get("message") or body.get("error_description") or body.get("detail") or message
            if body.get("field"):
                message = f"{message} (field: {body['field']})"
            if isinstance(code, dict):  # Stripe nests {"error": {"type", "code", "message", "param"}}
                nested = code
                code, message = nested.get("code") or nested.get("type"), nested.get("message", message)
                if nested.get("param"):
                    message = f"{message} (param: {nested['param']})"
            # Shopware: {"errors": [{"status", "code", "title", "detail"}]}; OAuth errors put the message in title
            errors = [e for e in body.get("errors") or () if isinstance(e, dict)] \
                if isinstance(body.get("errors"), list) else []
            if errors:
                code = code or errors[0].get("code") or None
                message = "; ".join(str(e.get("detail") or e.get("title") or "") for e in errors) or message
            # WordPress names what is wrong with each parameter only in data.params
            params = (body.get("data") or {}).get("params") if isinstance(body.get("data"), dict) else None
            if isinstance(params, dict) and params:
                message = f"{message} ({'; '.join(str(v) for v in params.values())})"
    except ValueError:
        pass
    status = response.status_code
    text = f"shop '{shop}' {method} {url}: {status}" + (f" {code}" if code else "")
    text += f": {message}" if message else ""
    kwargs: dict[str, Any] = {"shop": shop, "method": method, "url": url, "status": status, "shop_code": code}
    if status == 429 or status >= 500:
        return ShopUnavailable(text, retry_after=retry_after_seconds(response.headers.get("Retry-After")), **kwargs)
    if status in (401, 403):
        return ShopAuthFailed(text, **kwargs)
    return ShopRejected(text, **kwargs)


def network_problem(exc: requests.RequestException) -> str:
    """A short reason for a failed connection: "cannot connect: Connection refused", not urllib3's nested repr."""
    if isinstance(exc, requests.Timeout):
        return "timed out" + (" connecting" if isinstance(exc, requests.ConnectTimeout) else " waiting for an answer")
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot connect: {cause.strerror}"
        if "Name or service not known" in str(cause) or "nodename nor servname" in str(cause):
            return "cannot connect: the host name does not resolve"
        nested = [a for a in getattr(cause, "args", ()) if isinstance(a, BaseException)]
        cause = (getattr(cause, "reason", None) or (nested[0] if nested else None)
                 or cause.__cause__ or cause.__context__)
    return f"cannot connect ({type(exc).__name__})"


def read_body(response: requests.Response) -> bytes:
    """The whole body in one read. requests reads 10 KB chunks; in a thread that shares the GIL with the
    database writer, every chunk is another wait for the interpreter (see connectors/readahead.py)."""
    return response.raw.read(decode_content=True) or b""


class ShopHttp:
    """HTTP to one shop: pooled session, timeouts, retries with backoff, counted and redacted requests."""

    def __init__(
        self,
        *,
        shop: str,
        base_url: str,
        auth: requests.auth.AuthBase | tuple[str, str] | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        max_backoff: float = 60.0,
        ca_bundle: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """`headers` are sent with every request (an API version pin, say); credentials belong in `auth`.

        Each thread gets its own `requests.Session` (a read-ahead thread and its consumer never share one), all
        closed by `close()`; credentials are read per request, so switching them (`use_query_auth`) is one
        assignment that every thread sees whole.
        """
        self.shop, self.base_url = shop, base_url.rstrip("/") + "/"
        self.timeout = (min(10.0, timeout), timeout)  # connect, read
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._verify: str | bool = ca_bundle or True
        # (header auth, credentials as query parameters): replaced whole, never changed in place
        self._header_auth = auth
        self._credentials: tuple[requests.auth.AuthBase | tuple[str, str] | None, dict[str, str]] = (auth, {})
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._requests = 0
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(ShopUnavailable),
            wait=wait_retry_after_or_exponential(max_s=max_backoff),
            stop=tenacity.stop_after_attempt(max_attempts),
            sleep=sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far by every thread (retries included)."""
        return self._requests

    @property
    def auth(self) -> requests.auth.AuthBase | tuple[str, str] | None:
        """The credentials sent in the Authorization header (None once they travel in the query)."""
        return self._credentials[0]

    @property
    def query_auth(self) -> dict[str, str]:
        """Credentials sent as query parameters instead of a header (some hosts strip Authorization)."""
        return dict(self._credentials[1])

    def use_query_auth(self, params: Mapping[str, str] | None) -> None:
        """Send `params` in the query instead of the header auth from now on; None goes back to `auth`."""
        self._credentials = (self._header_auth, {}) if params is None else (None, dict(params))

    @property
    def session(self) -> requests.Session:
        """This thread's session (made on first use)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # One thread asks one shop one thing at a time: a pool of two per host (the shop, its token URL), not
            # requests' ten, keeps a daemon with a thousand shops small.
            for scheme in ("https://", "http://"):
                session.mount(scheme, requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=2))
            session.headers.update(self._headers)
            session.verify = self._verify
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, retry: bool = True, headers: Mapping[str, str] | None = None,
                content: bytes | None = None, auth: requests.auth.AuthBase | None = None) -> ShopResponse:
        """Send one request and return the parsed JSON answer. It is retried on ShopUnavailable unless `retry` is
        False: a POST that timed out may have been applied, so the caller must look before it sends again.
        `headers` are added to this request only; `content` is a raw body (an upload) instead of `json_body`;
        `auth` replaces the client's own credentials for this request (a token chosen per request)."""
        extra = _Extra(dict(headers or {}), content, auth)
        if not retry:
            return self._once(method, path, params or {}, json_body, extra)
        return self._retrying.copy()(self._once, method, path, params or {}, json_body, extra)

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> ShopResponse:
        """GET `path` (relative to the API base) with query `params`."""
        return self.request("GET", path, params=params)

    def close(self) -> None:
        """Release the pooled connections of every thread's session."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    def _once(self, method: str, path: str, params: Mapping[str, Any], json_body: Any,
              extra: _Extra | None = None) -> ShopResponse:
        url = self.base_url + path.lstrip("/")
        auth, query_auth = self._credentials
        if extra is not None and extra.auth is not None:
            auth = extra.auth
        query = {**params, **query_auth}
        shown = redact_url(url + ("?" + urlencode(query, safe=",[]") if query else ""))
        with self._lock:
            self._requests += 1
        try:
            body: dict[str, Any] = {"json": json_body}
            if extra is not None and extra.content is not None:
                body = {"data": extra.content}
            response = self.session.request(method, url, params=query, timeout=self.timeout, auth=auth, stream=True,
                                            headers=extra.headers if extra else None, **body)
            response._content = read_body(response)
            response._content_consumed = True
            response.close()  # back to the pool: the body is read whole
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
                urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError) as exc:
            raise ShopUnavailable(f"shop '{self.shop}' {method} {shown}: truncated response body ({exc})",
                                  shop=self.shop, method=method, url=shown) from exc
        except requests.exceptions.SSLError as exc:  # retrying cannot fix a certificate
            raise ShopRejected(f"shop '{self.shop}' {method} {shown}: TLS error ({exc}); if the shop uses its own "
                               "CA, set http.ca_bundle", shop=self.shop, method=method, url=shown) from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise ShopUnavailable(f"shop '{self.shop}' {method} {shown}: read timeout ({exc})",
                                  shop=self.shop, method=method, url=shown) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ShopUnavailable(f"shop '{self.shop}' {method} {shown}: {network_problem(exc)}",
                                  shop=self.shop, method=method, url=shown) from exc
        except requests.RequestException as exc:
            raise ShopRejected(f"shop '{self.shop}' {method} {shown}: {exc}",
                               shop=self.shop, method=method, url=shown) from exc
        if not 200 <= response.status_code < 300:
            raise error_from(response, shop=self.shop, method=method, url=shown)
        try:
            data = json.loads(response.content) if response.content else None
        except ValueError as exc:  # truncated or garbled body: the next attempt may get it whole
            raise ShopUnavailable(f"shop '{self.shop}' {method} {shown}: invalid JSON in response ({exc})",
                                  shop=self.shop, method=method, url=shown, status=response.status_code) from exc
        log.debug("http.response", shop=self.shop, method=method, url=shown, status=response.status_code)
        return ShopResponse(response.status_code, response.headers, data, shown)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("http.retry", shop=self.shop, attempt=state.attempt_number, error=str(exc),
                    wait_s=round(state.upcoming_sleep, 2))
