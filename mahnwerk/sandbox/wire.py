"""Responses and WP_Error bodies, encoded like WordPress (PHP json_encode: compact, \\uXXXX, escaped slashes)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

JSON_TYPE = "application/json; charset=UTF-8"


def encode(data: object) -> bytes:
    """JSON bytes as wp_json_encode() writes them; '/' only occurs inside strings, so escaping it is safe."""
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/").encode("ascii")


@dataclass
class Response:
    """What the server writes: status, headers (name, value) and a body that is already bytes."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: object, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(status, encode(data), headers or [])


class WPError(Exception):
    """A WP_Error on its way to the client: {"code", "message", "data": {"status", ...}}."""

    def __init__(self, status: int, code: str, message: str, **data: object) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.data = status, code, message, data

    def response(self) -> Response:
        return Response.json({"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}},
                             self.status)


class BareStatusError(WPError):
    """A WP_Error whose data is a bare number, as the refunds controller writes `new WP_Error(code, msg, 404)`:
    rest_convert_error_to_response() finds no data['status'], so HTTP says 500 and the body says "data": 404."""

    def __init__(self, code: str, message: str, data: int) -> None:
        super().__init__(500, code, message)
        self.bare = data

    def response(self) -> Response:
        return Response.json({"code": self.code, "message": self.message, "data": self.bare}, self.status)


def invalid_params(problems: dict[str, tuple[str, str]]) -> WPError:
    """400 rest_invalid_param naming every bad parameter, as WP_REST_Request::has_valid_params() does."""
    return WPError(400, "rest_invalid_param", "Invalid parameter(s): " + ", ".join(problems),
                   params={name: msg for name, (_, msg) in problems.items()},
                   details={name: {"code": code, "message": msg, "data": None}
                            for name, (code, msg) in problems.items()})


def no_route() -> WPError:
    return WPError(404, "rest_no_route", "No route was found matching the URL and request method.")


# Status -> (code, message) for injected faults; WAFs and hosts answer these in front of WordPress.
FAULTS = {
    429: ("rest_too_many_requests", "Too many requests. Please slow down."),
    500: ("internal_server_error", "<p>There has been a critical error on this website.</p>"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Service temporarily unavailable."),
    504: ("gateway_timeout", "Gateway Timeout"),
}
