"""The `[payments]` table of a shop file: how sure a match must be, the statement inbox, what the shop is told,
and the payment providers `[payments.stripe]` and `[payments.mollie]`.

Nothing here is required: without it payments come only from `mahnwerk payments import`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from mahnwerk.sync.config.delivery import folder
from mahnwerk.sync.config.schema import (
    Context,
    Invalid,
    boolean,
    cross_check,
    expect,
    integer,
    setting,
    shop_url,
    show,
    text,
)
from mahnwerk.sync.config.secrets import Secret
from mahnwerk.sync.config.tomlpos import KeyPath


def share(raw: Any, ctx: Context) -> Decimal:
    """A number from 0 to 1, e.g. 0.75."""
    expect(isinstance(raw, (int, float, str)) and not isinstance(raw, bool), "a number from 0 to 1 like 0.75", raw)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise Invalid(f"expected a number from 0 to 1 like 0.75, got {show(raw)}") from None
    if not 0 <= value <= 1:
        raise Invalid(f"expected a number from 0 to 1 like 0.75, got {show(raw)}")
    return value


def limit(raw: Any, ctx: Context) -> Decimal:
    """A positive amount like "1000000" (TOML floats are binary: a string or an integer)."""
    expect(isinstance(raw, (int, str)) and not isinstance(raw, bool), 'a positive amount like "1000000"', raw)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise Invalid(f'expected a positive amount like "1000000", got {show(raw)}') from None
    if not value.is_finite() or value <= 0 or value >= 10**14 or value != value.quantize(Decimal("0.01")):
        raise Invalid(f'expected a positive amount below 10^14 with at most two decimals like "1000000", '
                      f"got {show(raw)}")
    return value


@dataclass(frozen=True)
class StripeConfig:
    """Stripe's API: a secret or restricted key (read access to invoices and events is enough)."""

    api_key: Secret | None = setting(secret=True, default=None)
    url: str = setting(shop_url, "")  # default: https://api.stripe.com (changed only for tests)


@dataclass(frozen=True)
class MollieConfig:
    """Mollie's API: a website profile's live_ or test_ key."""

    api_key: Secret | None = setting(secret=True, default=None)
    url: str = setting(shop_url, "")  # default: https://api.mollie.com (changed only for tests)


def _key_kind(prefixes: tuple[str, ...], what: str) -> Callable[[dict[str, Any]], Iterator[tuple[KeyPath, str]]]:
    def check(values: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        key = values["api_key"]
        if key is not None and key.problem is None and not key.reveal().startswith(prefixes):
            yield ("api_key",), f"expected {what} (starting {' or '.join(prefixes)})"
    return check


cross_check(StripeConfig)(_key_kind(("sk_", "rk_"), "a Stripe secret or restricted key"))
cross_check(MollieConfig)(_key_kind(("live_", "test_"), "a Mollie website profile API key"))


@dataclass(frozen=True)
class PaymentsConfig:
    """How incoming payments are matched, where statement files arrive, and how the shop learns of them."""

    min_confidence: Decimal = setting(share, Decimal("0.75"))  # matches below wait in `payments unmatched`
    name_window_days: int = setting(integer(1, 730), 120)  # amount + name: invoiced at most this long before
    inbox: Path | None = setting(folder, None)  # statement files dropped here are imported by every sync
    mark_paid: bool = setting(boolean, True)  # a claim paid in full gets the shop's paid status and a note
    paid_status: str = setting(text(r"[a-z0-9_-]{1,40}", 'a shop status like "processing"'), "")  # "": the kind's
    # The sanity limit per payment: a credit above it waits for review, `mark-paid` refuses it.
    max_amount: Decimal = setting(limit, Decimal(1_000_000))
    stripe: StripeConfig = StripeConfig()
    mollie: MollieConfig = MollieConfig()


__all__ = ["MollieConfig", "PaymentsConfig", "StripeConfig"]
