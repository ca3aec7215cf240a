"""Credentials from the configuration: `${VAR}` from the environment or `<name>_file` from a file, never shown."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mahnwerk.errors import ConfigError, ConfigProblem

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Secret:
    """A credential; repr/str never show it. One that could not be read when the configuration was loaded (an unset
    ${VAR}, a missing file) carries the `problem` instead, and `reveal()` raises it: only what needs the credential
    fails, and it names the file, line and key."""

    __slots__ = ("_value", "problem", "source")

    def __init__(self, value: str, *, source: str = "", problem: ConfigProblem | None = None) -> None:
        self._value = value
        self.source = source  # where it came from, e.g. "env ACME_WC_KEY" or "file /run/credentials/acme"
        self.problem = problem

    def reveal(self) -> str:
        """The value itself: call this only where the credential is handed to the shop."""
        if self.problem is not None:
            raise ConfigError([self.problem])
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())  # constant time

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class SecretError(ValueError):
    """Raised when a secret cannot be resolved; `.key` is the offending key (`name` or `name_file`)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


class SecretUnavailable(SecretError):
    """Raised when a well-formed secret cannot be read now: its environment variable or file is missing or empty."""


def mask_url(url: str) -> str:
    """Hide the password of a database URL: postgresql+psycopg://u:***@h/db."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")  # rpartition: an unescaped "@" in a password stays hidden
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"


def expand_env(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with each `${VAR}` replaced from `environ`, and the names used; ValueError names a missing one."""
    names = _VARIABLE.findall(text)
    for name in names:
        if name not in environ:
            raise ValueError(f"environment variable {name} is not set")
        if not environ[name]:
            raise ValueError(f"environment variable {name} is empty")
    return _VARIABLE.sub(lambda m: environ[m.group(1)], text), names


def resolve_secret(
    table: Mapping[str, Any], name: str, *, base_dir: Path, environ: Mapping[str, str]
) -> Secret | None:
    """The secret `table[name]` (with `${VAR}`s expanded) or read from `table[name_file]`; None if neither is set.

    Messages name keys, variables and paths, never values.
    """
    file_key = f"{name}_file"
    if name in table and file_key in table:
        raise SecretError(name, f"give either {name} or {file_key}, not both")
    if file_key in table:
        return _from_file(table[file_key], file_key, base_dir=base_dir, environ=environ)
    if name not in table:
        return None
    raw = table[name]
    if not isinstance(raw, str):
        raise SecretError(name, f"expected a string, got {_kind(raw)}")
    try:
        value, names = expand_env(raw, environ)
    except ValueError as exc:
        raise SecretUnavailable(name, str(exc)) from None
    if not value:
        raise SecretError(name, "must not be empty")
    return Secret(value, source=f"env {', '.join(names)}" if names else "inline")


def _from_file(raw: Any, key: str, *, base_dir: Path, environ: Mapping[str, str]) -> Secret:
    if not isinstance(raw, str) or not raw:
        raise SecretError(key, f"expected a file path, got {_kind(raw)}")
    try:
        path = base_dir / expand_env(raw, environ)[0]  # ${CREDENTIALS_DIRECTORY} works, as systemd sets it
    except ValueError as exc:
        raise SecretUnavailable(key, str(exc)) from None
    try:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SecretUnavailable(key, f'cannot read "{path}": {exc.strerror or exc}') from None
    except UnicodeDecodeError:
        raise SecretError(key, f'"{path}" is not UTF-8 text') from None
    if not value:
        raise SecretUnavailable(key, f'"{path}" is empty')
    return Secret(value, source=f"file {path}")


def _kind(raw: Any) -> str:
    """What a value is, without showing it."""
    if isinstance(raw, (bool, str)):
        return "a boolean" if isinstance(raw, bool) else "a string" if raw else "an empty string"
    kinds = {int: "an integer", float: "a number", list: "a list", dict: "a table"}
    return kinds.get(type(raw), f"a {type(raw).__name__}")
