"""Shopware's error bodies ({"errors": [...]}) and responses, encoded like Symfony's JsonResponse (PHP json_encode)."""

from __future__ import annotations

import json

from mahnwerk.sandbox.wire import Response, encode

JSON = "application/json"
JSON_API = "application/vnd.api+json"
STATUS_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                 503: "Service Unavailable", 504: "Gateway Timeout"}


class ShopwareError(Exception):
    """An error response on its way to the client: HTTP status and the entries of its `errors` list."""

    def __init__(self, status: int, errors: list[dict], headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(f"{status} {errors[0].get('code') if errors else ''}")
        self.status, self.errors, self.headers = status, errors, headers or []

    def response(self) -> Response:
        return reply({"errors": self.errors}, self.status, headers=self.headers)


def http_error(status: int, code: str, detail: str, parameters: dict | None = None, *,
               pointer: str | None = None) -> ShopwareError:
    """A ShopwareHttpException as ErrorResponseFactory renders it (status as a string, title from the status)."""
    error: dict = {"status": str(status), "code": code, "title": STATUS_TITLES.get(status, "unknown status"),
                   "detail": detail}
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    error["meta"] = {"parameters": parameters or {}}
    return ShopwareError(status, [error])


def oauth_error(status: int, code: int, message: str, hint: str | None) -> ShopwareError:
    """A league/oauth2-server exception: numeric code as a string, the message as title, the hint as detail."""
    return ShopwareError(status, [{"code": str(code), "status": str(status), "title": message, "detail": hint}])


def access_denied(hint: str) -> ShopwareError:
    return oauth_error(401, 9, "The resource owner or authorization server denied the request.", hint)


def not_found(entity: str, entity_id: str) -> ShopwareError:
    """ResourceNotFoundException (FRAMEWORK__RESOURCE_NOT_FOUND)."""
    return http_error(404, "FRAMEWORK__RESOURCE_NOT_FOUND",
                      f"The {entity} resource with the following primary key was not found: id({entity_id})",
                      {"type": entity, "primaryKey": {"id": entity_id}, "primaryKeyString": f"id({entity_id})"})


def missing_privileges(privileges: list[str]) -> ShopwareError:
    """ApiException::missingPrivileges: 403 whose detail is itself JSON."""
    detail = json.dumps({"message": "Missing privilege", "missingPrivileges": privileges})
    return http_error(403, "FRAMEWORK__MISSING_PRIVILEGE_ERROR", detail)


def reply(data: object, status: int = 200, *, content_type: str = JSON,
          headers: list[tuple[str, str]] | None = None) -> Response:
    """A JSON response with its Content-Type among the headers."""
    return Response(status, encode(data), [("Content-Type", content_type), *(headers or [])])


def no_content(headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(204, b"", headers or [])
