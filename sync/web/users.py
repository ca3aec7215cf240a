"""The console's users and its signing key, in the store: argon2 hashes (argon2-cffi's defaults, argon2id), a
role, a language. `mahnwerk web adduser/passwd/deluser/users` and the login page use these functions."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import WebSecret, WebUser

HASHER = PasswordHasher()
MIN_PASSWORD = 8
LANGS = ("de", "en")
SESSION_KEY = "session_key"
CLERK, VIEWER = "clerk", "viewer"
ROLES = (CLERK, VIEWER)


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the name is unknown: that takes as long as a real check, so the answer's time
    tells nothing. Made when the console starts (create_app), not at import: an argon2 hash takes 64 MiB and
    ~0.1 s, which every command paid at start-up (a 100,000-order backfill peaked at 155 MB RSS with it, 127 MB
    without)."""
    return HASHER.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class User:
    """A person who may log in: a viewer reads, a clerk also acts; `lang` "" means the browser's language."""

    name: str
    role: str
    lang: str = ""

    @property
    def is_clerk(self) -> bool:
        return self.role == CLERK


class UserError(MahnwerkError):
    """A user command that cannot be done (unknown name, a name taken, a short password): exit code 2."""

    exit_code = 2


def check_name(name: str) -> str:
    if not name or len(name) > 100 or not name.isprintable() or name != name.strip():
        raise UserError(f"not a user name: {name!r} (1-100 printable characters, no spaces at the ends)")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def as_user(row: WebUser) -> User:
    return User(row.name, row.role, row.lang)


def add_user(store: Store, name: str, role: str, password: str, *, lang: str = "") -> User:
    """A new user; UserError when the name is taken or a value does not fit."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    if lang not in ("", *LANGS):
        raise UserError(f"lang must be one of {', '.join(LANGS)} (got {lang!r})")
    row = WebUser(name=check_name(name), role=role, password_hash=HASHER.hash(check_password(password)), lang=lang,
                  created_at=datetime.now(UTC))
    with store.session() as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            raise UserError(f"user {name!r} exists already (mahnwerk web passwd changes the password)") from None
    return as_user(row)


def set_password(store: Store, name: str, password: str) -> None:
    """A new password; sessions logged in with the old one end."""
    hashed = HASHER.hash(check_password(password))
    with store.session() as session:
        row = session.get(WebUser, name)
        if row is None:
            raise UserError(f"no user {name!r} (mahnwerk web users lists them)")
        row.password_hash = hashed
        session.commit()


def set_lang(store: Store, name: str, lang: str) -> None:
    """The user's language ("" for the browser's)."""
    if lang not in ("", *LANGS):
        raise UserError(f"lang must be one of {', '.join(LANGS)} (got {lang!r})")
    with store.session() as session:
        row = session.get(WebUser, name)
        if row is not None:
            row.lang = lang
            session.commit()


def delete_user(store: Store, name: str) -> None:
    """Remove a user; their sessions end at their next request."""
    with store.session() as session:
        if session.execute(delete(WebUser).where(col(WebUser.name) == name)).rowcount == 0:  # type: ignore[attr-defined]
            raise UserError(f"no user {name!r} (mahnwerk web users lists them)")
        session.commit()


def list_users(store: Store) -> list[WebUser]:
    with store.session() as session:
        return list(session.execute(select(WebUser).order_by(col(WebUser.name))).scalars())


def load_user(store: Store, name: str) -> tuple[User, str] | None:
    """The user and the fingerprint of their password hash (a session made before a new password no longer
    matches it), None when there is no such user."""
    with store.session() as session:
        row = session.get(WebUser, name)
    return (as_user(row), fingerprint(row.password_hash)) if row else None


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def verify(store: Store, name: str, password: str) -> tuple[User, str] | None:
    """The user and their hash's fingerprint if the password is theirs; None otherwise (same time either way)."""
    with store.session() as session:
        row = session.get(WebUser, name)
    try:
        HASHER.verify(row.password_hash if row else dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if HASHER.check_needs_rehash(row.password_hash):  # newer argon2 parameters: stored at the next login
        set_password(store, name, password)
        return load_user(store, name)
    return as_user(row), fingerprint(row.password_hash)


def secret_key(store: Store, key_file: Path | None) -> bytes:
    """The key that signs session cookies: the file's content when `[web] secret_key_file` is set, else a random
    key made once and kept in the store, so sessions survive restarts."""
    if key_file is not None:
        data = key_file.read_bytes().strip()
        if len(data) < 16:
            raise MahnwerkError(f"web.secret_key_file: {key_file} holds fewer than 16 bytes; write a random key "
                                "into it, e.g. `head -c 32 /dev/urandom | base64`")
        return data
    with store.session() as session:
        if (row := session.get(WebSecret, SESSION_KEY)) is None:
            session.add(WebSecret(name=SESSION_KEY, value=secrets.token_urlsafe(48), created_at=datetime.now(UTC)))
            try:
                session.commit()
            except IntegrityError:  # another process made it at the same moment: use theirs
                session.rollback()
            row = session.get(WebSecret, SESSION_KEY)
        assert row is not None
        return row.value.encode()
