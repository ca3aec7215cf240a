"""Errors Mahnwerk raises on purpose, classified by what the caller does with them.

    MahnwerkError                 exit code 1; base of every error we raise on purpose
    ├── ConfigError               exit code 2; .problems lists every problem found, with file, line and key
    ├── StoreError                the local database cannot be opened, created or migrated
    ├── ShopError                 .shop, .method, .url (redacted), .status, .shop_code
    │   ├── ShopUnavailable       retry: timeout, connection refused, 429, 5xx, truncated or invalid JSON
    │   └── ShopRejected          don't retry: any other 4xx
    │       └── ShopAuthFailed    401/403: stop this shop, tell the merchant, other shops go on
    ├── BadRecord                 skip and quarantine: .record_id, .field, .raw
    └── StatementError            a bank statement file that is not one: moved to rejected/ with the reason

Bugs are not MahnwerkErrors: a broken invariant is an assert or RuntimeError and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class MahnwerkError(Exception):
    """Raised on purpose by Mahnwerk; the CLI prints its message and exits with `exit_code`."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in one configuration file: where it is and what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(MahnwerkError):
    """Raised when the configuration cannot be used; lists every problem, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StoreError(MahnwerkError):
    """Raised when the local database cannot be opened, created or migrated."""


class ShopError(MahnwerkError):
    """Raised when a shop's API fails; carries the evidence (URL redacted)."""

    def __init__(
        self,
        message: str,
        *,
        shop: str = "",
        method: str = "",
        url: str = "",
        status: int | None = None,
        shop_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.shop, self.method, self.url = shop, method, url
        self.status, self.shop_code, self.retry_after = status, shop_code, retry_after
        super().__init__(message)


class ShopUnavailable(ShopError):
    """Raised on timeouts, connection errors, 429, 5xx and broken response bodies: worth retrying."""


class ShopRejected(ShopError):
    """Raised when the shop refuses a request (4xx other than 429): retrying will not help."""


class ShopAuthFailed(ShopRejected):
    """Raised on 401/403: the credentials are wrong or lack permission."""


class OrderChanged(ShopRejected):
    """Raised by a kind before anything reached the customer when the order is no longer in a state to be dunned
    (the shop refused the transition: paid or cancelled meanwhile); the order is re-read, the row skipped."""


class BadRecord(MahnwerkError):
    """Raised when a record from a shop cannot be parsed; the record is quarantined, the sync goes on."""

    def __init__(self, message: str, *, record_id: str, field: str, raw: Any = None) -> None:
        self.record_id, self.field, self.raw = record_id, field, raw
        super().__init__(f"order {record_id}: field '{field}': {message}")


class StatementError(MahnwerkError):
    """Raised when a bank statement file cannot be read at all (not XML, not camt, not MT940); names the file.
    A single bad entry inside a readable file is a SourceProblem instead, and the rest of the file goes on."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")
