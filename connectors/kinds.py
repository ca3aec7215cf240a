"""The registry of shop kinds: what the configuration accepts for each (its `[shop.auth]` keys, page size limit,
default statuses and invoice methods) and how sync/ connects to one. The config and the composition root read the
same entries; a kind this version cannot connect to yet is accepted by the config and fails `check` and that shop
only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mahnwerk.connectors.records import PaidState
from mahnwerk.connectors.shop import ShopConnection

MEANINGS = tuple(state.value for state in PaidState)  # the keys of [statuses], in this order


@dataclass(frozen=True)
class ShopSettings:
    """Everything a kind needs to connect, in neutral words; built by sync/ from a shop file."""

    shop_id: str
    url: str  # the shop's base address, no trailing slash
    credentials: Mapping[str, str]  # the kind's `auth_keys`, revealed
    statuses: Mapping[str, PaidState]  # the shop's own status words and what each means
    invoice_methods: tuple[str, ...]
    page_size: int
    timeout: float = 30.0
    max_attempts: int = 5
    max_backoff: float = 60.0
    ca_bundle: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)  # where the shop keeps invoice_number, invoice_date,
    #                                                         due_date (a meta key, a custom field), when it does
    mark_paid: bool = True  # tell the shop when a claim is paid (its paid state), not only by a private note
    paid_status: str = ""  # the shop's word for "paid" when Mahnwerk sets it ("" where the kind has none)
    customer_groups: bool = False  # read each order's customer group or role (it may cost a request per page)


@dataclass(frozen=True)
class ShopKind:
    """One kind of shop system."""

    name: str  # `kind = "…"` in a shop file
    title: str  # for people: "WooCommerce"
    auth_keys: tuple[str, ...]  # the secret keys of [shop.auth]; each also takes `<key>_file` and ${VAR}
    max_page_size: int
    default_statuses: Mapping[str, tuple[str, ...]]  # [statuses] when the file leaves a key out
    default_invoice_methods: tuple[str, ...]
    default_paid_status: str = ""
    auth_hint: str = ""  # what to check when the shop refuses the credentials
    attachments: bool = False  # the shop's customer channel carries files (the notice as a PDF letter)
    # What the kind sorts customers into, for `[policy] business_when`: "group" or "role" (ShopOrder.customer_group
    # holds it when ShopSettings.customer_groups asks), "" (neither).
    customer_groups: str = ""
    connect: Callable[[ShopSettings], ShopConnection] | None = None  # None: not supported by this version

    def defaults(self, meaning: str) -> tuple[str, ...]:
        """The default statuses for one meaning ("open", "paid", "cancelled", "refunded")."""
        return tuple(self.default_statuses.get(meaning, ()))


_KINDS: dict[str, ShopKind] = {}


def register(kind: ShopKind) -> ShopKind:
    """Add (or replace) a kind; the shipped ones are registered on first use, tests may add their own."""
    kinds()[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests that registered one of their own)."""
    kinds().pop(name, None)


def kinds() -> dict[str, ShopKind]:
    """Every registered kind by name."""
    if not _KINDS:
        from mahnwerk.connectors.shopware6 import KIND as SHOPWARE6
        from mahnwerk.connectors.woocommerce import KIND as WOOCOMMERCE

        _KINDS.update({WOOCOMMERCE.name: WOOCOMMERCE, SHOPWARE6.name: SHOPWARE6})
    return _KINDS


def kind(name: str) -> ShopKind | None:
    """The registered kind of this name, if any."""
    return kinds().get(name)


def not_supported(kind: ShopKind) -> str:
    """Why a shop of this kind cannot be connected to."""
    supported = ", ".join(k.title for k in kinds().values() if k.connect is not None)
    return f"kind '{kind.name}' ({kind.title}) is not supported yet by this version ({supported} is)"
