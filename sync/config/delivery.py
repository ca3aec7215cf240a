"""The tables of a shop file that say how actions reach people: `[merchant]` (sender and bank account),
`[delivery]` (pace, retries, language), `[smtp]`, `[letters]` and `[agency]`.

Sync and `plan` work without them; `run` refuses to send for a shop whose `[merchant]` lacks what every notice must
state (see `missing_for_sending`), and `check` says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from mahnwerk.connectors.agency_export import COLUMNS, unknown_columns
from mahnwerk.connectors.smtp import valid_email
from mahnwerk.sync.config.schema import (
    Context,
    Invalid,
    boolean,
    cross_check,
    duration,
    existing_file,
    expect,
    integer,
    one_of,
    setting,
    show,
    strings,
    text,
)
from mahnwerk.sync.config.secrets import Secret
from mahnwerk.sync.config.tomlpos import KeyPath

optional = text(r".*", "a string")  # "" (the default) means not set


def email(raw: Any, ctx: Context) -> str:
    """An e-mail address the mail code accepts too (connectors/smtp.valid_email), or "" for none."""
    expect(isinstance(raw, str) and (raw == "" or valid_email(raw)), 'an e-mail address like "shop@example.com"',
           raw)
    return raw


def iban(raw: Any, ctx: Context) -> str:
    expect(isinstance(raw, str), 'an IBAN like "DE89 3704 0044 0532 0130 00"', raw)
    try:
        return IBAN(raw).compact
    except SchwiftyException as exc:
        raise Invalid(f"not a valid IBAN ({exc}): {show(raw)}") from None


def bic(raw: Any, ctx: Context) -> str:
    expect(isinstance(raw, str), 'a BIC like "COBADEFFXXX"', raw)
    try:
        return str(BIC(raw))
    except SchwiftyException as exc:
        raise Invalid(f"not a valid BIC ({exc}): {show(raw)}") from None


def folder(raw: Any, ctx: Context) -> Path:
    """A folder (created when first needed); relative paths start at the config directory."""
    return ctx.config_dir / text()(raw, ctx)


def clock_time(raw: Any, ctx: Context) -> time:
    if isinstance(raw, time):
        return raw
    expect(isinstance(raw, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", raw) is not None,
           'a time of day like "09:00"', raw)
    return time.fromisoformat(raw)


def names(raw: Any, ctx: Context) -> tuple[str, ...]:
    """One name or a list of names: "Erika Muster" or ["Erika Muster", "Max Muster"]."""
    if isinstance(raw, str):
        return (raw,) if raw.strip() else ()
    expect(isinstance(raw, list), 'a name or a list of names like ["Erika Muster", "Max Muster"]', raw)
    return strings()(raw, ctx)


def country(raw: Any, ctx: Context) -> str:
    expect(isinstance(raw, str) and re.fullmatch(r"[A-Z]{2}", raw) is not None, 'a country code like "DE"', raw)
    return raw


@dataclass(frozen=True)
class MerchantConfig:
    """The sender every notice names, and the account customers pay to."""

    name: str = setting(optional, "")
    street: str = setting(optional, "")
    postcode: str = setting(optional, "")
    city: str = setting(optional, "")
    country: str = setting(country, "DE")
    email: str = setting(email, "")
    phone: str = setting(optional, "")
    website: str = setting(optional, "")
    vat_id: str = setting(optional, "")
    # What a company prints on its business letters (§35a GmbHG, §80 AktG, §125a HGB), in the letter's footer.
    register_court: str = setting(optional, "")
    register_number: str = setting(optional, "")
    managing_directors: tuple[str, ...] = setting(names, ())
    account_holder: str = setting(optional, "")  # default: name
    iban: str = setting(iban, "")
    bic: str = setting(bic, "")
    bank_name: str = setting(optional, "")


def missing_for_sending(merchant: MerchantConfig) -> list[str]:
    """The [merchant] keys a notice cannot do without (sender, contact for disputes, where to pay)."""
    return [name for name in ("name", "email", "street", "postcode", "city", "iban")
            if not getattr(merchant, name)]


EXAMPLE_IBAN = "DE89370400440532013000"  # the account every IBAN example shows, config.example.toml's too
_EXAMPLE_DOMAIN = re.compile(r"(^|[.@/])(example(\.(com|net|org))?|[^.@/]+\.example)(:\d+)?(/|$)", re.IGNORECASE)
_ACME = re.compile(r"\bacme\b", re.IGNORECASE)


def example_values(merchant: MerchantConfig) -> list[str]:
    """[merchant] keys that still hold made-up values (config.example.toml's company "Acme", the documentation's
    IBAN, an address at an example domain): a customer must never be asked to pay to those."""
    found = []
    if _ACME.search(merchant.name) or _ACME.search(merchant.account_holder):
        found.append(f"name ({merchant.name!r} is the example's company)")
    if merchant.iban == EXAMPLE_IBAN:
        found.append("iban (DE89 3704 0044 0532 0130 00 is the documentation's example account)")
    for key in ("email", "website"):
        value = getattr(merchant, key)
        if value and _EXAMPLE_DOMAIN.search(value.rpartition("@")[2] if key == "email" else value):
            found.append(f"{key} ({value!r} is at an example domain)")
    return found


def sending_refusal(merchant: MerchantConfig, file: str) -> str:
    """Why no notice may go out with this [merchant] table, or "" when it may."""
    missing, examples = missing_for_sending(merchant), example_values(merchant)
    reasons = ([f"lacks {', '.join(missing)} (every notice names the sender and where to pay)"] if missing else []) \
        + ([f"still holds example values: {'; '.join(examples)}"] if examples else [])
    return f"[merchant] in {file} " + " and ".join(reasons) if reasons else ""


@dataclass(frozen=True)
class DeliveryConfig:
    """How the executor works through the outbox."""

    run_at: time = setting(clock_time, time(9, 0))  # the daemon decides and sends once a day at this shop time
    messages_per_minute: int = setting(integer(1, 600), 20)
    max_attempts: int = setting(integer(1, 50), 8)
    retry_after: timedelta = setting(duration("10s", "1d"), timedelta(minutes=5))  # doubled per attempt
    language: str = setting(one_of("de", "en"), "de")  # for customers in countries without a shipped language
    # The notice as a PDF letter attached to what the shop sends, where the kind's channel carries files
    # (ShopKind.attachments).
    attach_letter: bool = setting(boolean, True)


@dataclass(frozen=True)
class SmtpConfig:
    """The mail server for the `email` channel (and for customers whose shop channel cannot reach them)."""

    host: str = setting(optional, "")
    port: int = setting(integer(1, 65535), 587)
    security: str = setting(one_of("starttls", "tls", "none"), "starttls")
    username: str = setting(optional, "")
    password: Secret | None = setting(secret=True, default=None)
    sender: str = setting(email, "")
    sender_name: str = setting(optional, "")
    reply_to: str = setting(email, "")
    timeout: timedelta = setting(duration("1s", "5m"), timedelta(seconds=30))
    attach_letter: bool = setting(boolean, True)  # attach the notice as a PDF letter
    ca_bundle: Path | None = setting(existing_file, None)

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)


@dataclass(frozen=True)
class LettersConfig:
    """PDF letters for postal mail, written to a print folder (one subfolder per day)."""

    folder: Path | None = setting(folder, None)  # default: <database folder>/letters/<shop>
    font: Path | None = setting(existing_file, None)  # a TTF; default: DejaVu Sans if installed, else Helvetica
    girocode: bool = setting(boolean, True)  # EPC QR code for EUR claims


@dataclass(frozen=True)
class AgencyConfig:
    """Where claims handed to a collection agency go, in which format, and what runs afterwards."""

    name: str = setting(optional, "")
    address: str = setting(optional, "")
    folder: Path | None = setting(folder, None)  # default: <database folder>/exports/<shop>
    format: str = setting(one_of("csv", "json"), "csv")
    columns: tuple[str, ...] = setting(strings(non_empty=True), ())  # default: every column
    delimiter: str = setting(text(r"[;,\t|]", 'one of ";", ",", "|" or a tab'), ";")
    encoding: str = setting(one_of("utf-8", "utf-8-sig", "cp1252", "iso-8859-15"), "utf-8")
    decimal_comma: bool = setting(boolean, False)
    command: tuple[str, ...] = setting(strings(non_empty=True), ())  # run after each export: program and arguments
    command_timeout: timedelta = setting(duration("1s", "1h"), timedelta(minutes=5))


@cross_check(AgencyConfig)
def _known_columns(values: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    for name in unknown_columns(values["columns"]):
        yield ("columns", values["columns"].index(name)), f'unknown column "{name}"; known: {", ".join(COLUMNS)}'


@cross_check(SmtpConfig)
def _smtp_complete(values: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    if values["host"] and not values["sender"]:
        yield ("sender",), "missing: the From address of mails sent through this server"
    if values["security"] == "none" and values["host"] not in ("", "localhost", "127.0.0.1", "::1"):
        yield ("security",), '"none" sends mail unencrypted: only allowed to localhost'
    if values["username"] and values["password"] is None:
        yield ("password",), "missing: username is set (password or password_file)"


__all__ = ["AgencyConfig", "DeliveryConfig", "LettersConfig", "MerchantConfig", "SmtpConfig", "missing_for_sending"]
