"""`mahnwerk check`: is each shop reachable, are the credentials accepted, which invoice methods does it offer?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from mahnwerk.connectors.letter import font_in_use
from mahnwerk.connectors.smtp import probe as smtp_probe
from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.casework.blocked import count_blocked
from mahnwerk.sync.config import Config, ShopConfig, unresolved_secrets
from mahnwerk.sync.config.delivery import example_values, missing_for_sending
from mahnwerk.sync.config.secrets import mask_url
from mahnwerk.sync.mirror.claimdata import local_date
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.outbox.notices import smtp_settings
from mahnwerk.sync.outbox.templates import check_templates
from mahnwerk.sync.service.bootstrap import build_payment_sources, connect_shop, open_store
from mahnwerk.sync.store.engine import Store


@dataclass(frozen=True, slots=True)
class ShopVerdict:
    """The verdict on one shop, with the evidence."""

    shop: str
    url: str
    reachable: bool = False
    authenticated: bool = False
    invoice_methods: dict[str, bool] = field(default_factory=dict)  # configured method -> enabled in the shop
    missing_methods: tuple[str, ...] = ()
    problem: str = ""
    warnings: tuple[str, ...] = ()
    blocked: dict[str, Any] | None = None  # claims that wait for a base rate (casework/blocked.py), from the store

    @property
    def ok(self) -> bool:
        """Reachable, authenticated, and at least one configured invoice method exists in the shop."""
        return self.reachable and self.authenticated and bool(self.invoice_methods) and not self.problem

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for `check --json`."""
        return {"shop": self.shop, "url": self.url, "ok": self.ok, "reachable": self.reachable,
                "authenticated": self.authenticated, "invoice_methods": self.invoice_methods,
                "missing_methods": list(self.missing_methods), "problem": self.problem,
                "warnings": list(self.warnings), "blocked": self.blocked}

    def lines(self) -> list[str]:
        """Human-readable verdict, first line says OK or FAILED."""
        head = f"shop {self.shop} ({self.url}): " + ("OK" if self.ok else "FAILED")
        out = [head]
        if self.reachable and self.authenticated:
            shown = ", ".join(f"{m} ({'enabled' if on else 'disabled'})" for m, on in self.invoice_methods.items())
            out.append(f"  invoice payment methods in the shop: {shown or 'none of the configured ones'}")
        out += [f"  problem: {self.problem}"] if self.problem else []
        out += [f"  warning: {w}" for w in self.warnings]
        return out


def check_shop(shop: ShopConfig) -> ShopVerdict:
    """Probe one shop and judge it against its configuration."""
    unreadable = unresolved_secrets(shop)
    if unreadable:
        return ShopVerdict(shop.id, shop.url, problem="; ".join(f"cannot read {p}" for p in unreadable))
    try:
        source = connect_shop(shop)
    except MahnwerkError as exc:
        return ShopVerdict(shop.id, shop.url, problem=str(exc))
    try:
        probe = source.probe()
    finally:
        source.close()
    if not probe.authenticated:  # the kind's probe says why, with its own hint
        return ShopVerdict(shop.id, shop.url, reachable=probe.reachable, problem=probe.detail)
    configured = shop.invoice.payment_methods
    found = {m: probe.payment_methods[m] for m in configured if m in probe.payment_methods}
    missing = tuple(m for m in configured if m not in probe.payment_methods)
    warnings = [f"payment method '{m}' is disabled in the shop; its open orders are still mirrored"
                for m, on in found.items() if not on]
    if missing:
        warnings.append(f"configured payment methods not in the shop: {', '.join(missing)}")
    delivery_problems, delivery_warnings = delivery_checks(shop)
    warnings += delivery_warnings
    payment_problems, payment_lines = payment_checks(shop)
    delivery_problems += payment_problems
    warnings += payment_lines
    problem = "" if found else (f"none of the configured invoice payment methods ({', '.join(configured)}) exists in "
                                f"the shop; it offers: {', '.join(probe.payment_methods) or 'nothing'}")
    # Authenticated, yet the kind has more to say: a permission the credentials lack.
    problem = "; ".join(p for p in (problem, probe.detail, *delivery_problems) if p)
    return ShopVerdict(shop.id, shop.url, True, True, found, missing, problem, tuple(warnings))


def policy_warnings(shop: ShopConfig, today: date) -> list[str]:
    """What in the shop's policy will stop it soon: a base-rate table that ends before today."""
    return [f"the {table.name} table ends {table.known_until}: interest for later days is refused and claims in "
            f"default since then get no dunning notice until you "
            + (f"run `{table.fetched_by}` (or add" if table.fetched_by else "add")
            + f" the published rate as [[policy.base_rates]] (table = \"{key}\") from {table.source}"
            + (")" if table.fetched_by else "")
            for key, table in shop.policy.rate_tables().items() if table.known_until < today]


def check_shops(shops: Sequence[ShopConfig], store: Store | None = None) -> list[ShopVerdict]:
    """A verdict per shop; the configuration itself was already validated by loading it. With the store: how many
    of the shop's claims wait for a base rate, and what to run."""
    verdicts = []
    for shop in shops:
        verdict, today = check_shop(shop), local_date(utcnow(), shop.timezone)
        warnings = policy_warnings(shop, today)
        blocked = count_blocked(store, shop, today) if store is not None else None
        if blocked is not None:
            warnings += blocked.lines()
        verdicts.append(replace(verdict, warnings=verdict.warnings + tuple(warnings),
                                blocked=blocked.as_dict() if blocked is not None else None))
    return verdicts


def check_store(config: Config) -> str:
    """Open (and migrate) the database; a line for the merchant, or StoreError."""
    store = open_store(config)
    try:
        return f"database: {mask_url(config.database.url)} ok (schema {store.revision()})"
    finally:
        store.close()


def delivery_checks(shop: ShopConfig) -> tuple[list[str], list[str]]:
    """(problems, warnings) about sending: every template renders with a sample claim, [merchant] is complete, the
    mail server answers, and which font the letters use."""
    problems = [str(p) for p in check_templates(shop.source.parent.parent / "templates", message_templates(shop))]
    warnings = []
    missing = missing_for_sending(shop.merchant)
    if missing:
        warnings.append(f"`run` will not send for this shop until [merchant] in {shop.source.name} has "
                        f"{', '.join(missing)} (every notice names the sender and where to pay)")
    examples = example_values(shop.merchant)
    if examples:
        problems.append(f"[merchant] in {shop.source.name} still holds example values, so `run` sends nothing: "
                        + "; ".join(examples))
    channels = {stage.channel for stage in shop.policy.stages}
    if "email" in channels and not shop.smtp.configured:
        problems.append(f"a stage sends by e-mail but [smtp] in {shop.source.name} has no host and sender")
    if shop.smtp.configured:
        try:
            warnings.append(f"mail server: {smtp_probe(smtp_settings(shop))}")  # not a warning: the evidence
        except MahnwerkError as exc:
            problems.append(f"mail server: {exc}")
    if "letter" in channels or "shop" in channels:
        font = font_in_use(shop.letters.font)
        if font.startswith("Helvetica"):
            warnings.append(f"letters use {font}; set [letters] font to a TTF such as DejaVuSans.ttf")
    return problems, warnings


def payment_checks(shop: ShopConfig) -> tuple[list[str], list[str]]:
    """(problems, evidence) for the payment side: each configured provider answers and takes its key; the inbox."""
    problems, lines = [], []
    for source in build_payment_sources(shop):
        try:
            source.probe()
            lines.append(f"payments: {source.source} answers and accepts the key")
        except MahnwerkError as exc:
            problems.append(f"payments: {source.source}: {exc}")
        finally:
            source.close()
    inbox = shop.payments.inbox
    if inbox is not None and not inbox.is_dir():
        problems.append(f"payments: the inbox folder {inbox} does not exist (create it, writable by mahnwerk)")
    return problems, lines


def message_templates(shop: ShopConfig) -> list[str]:
    """The templates the shop's policy sends, plus the plan letters."""
    names = [stage.template for stage in shop.policy.stages if stage.template and stage.kind != "task"]
    return list(dict.fromkeys([*names, "payment_plan", "plan_broken"]))
