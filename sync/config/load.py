"""Reading the configuration folder: `mahnwerk.toml` and `shops/*.toml` into `Config`, or one ConfigError that lists
every problem with its file, line and key.

A shop file's kind (connectors/kinds.py) says which keys `[shop.auth]` takes and fills in what the file leaves
out: the invoice methods, what the shop's statuses mean, the page size, the shop's word for "paid". A kind this
version does not know is not an error here: `check` says so and `sync` skips that shop, the others go on.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from mahnwerk.connectors.kinds import MEANINGS, ShopKind
from mahnwerk.connectors.kinds import kind as registered_kind
from mahnwerk.errors import ConfigError, ConfigProblem
from mahnwerk.sync.config.policy import read_policy
from mahnwerk.sync.config.schema import Context, read_table, setting
from mahnwerk.sync.config.secrets import Secret
from mahnwerk.sync.config.shop import NO_CONFIG_DIR, Config, ShopAuth, ShopConfig
from mahnwerk.sync.config.tomlpos import Problems, parse_toml

MIN_LIVE_INTERVAL = timedelta(seconds=30)  # a shorter sync.interval is for test shops (a warning)


def load_config(config_dir: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read `mahnwerk.toml` and `shops/*.toml` in `config_dir`; raise one ConfigError listing every problem.

    A secret that cannot be read now (an unset ${VAR}, a missing `*_file`) is no error here: commands that never
    talk to the shop do without it, and `check`, `sync` and `run` name it for that shop."""
    config_dir = Path(config_dir).absolute()
    if not config_dir.is_dir():
        raise ConfigError([ConfigProblem(str(config_dir), None, "", NO_CONFIG_DIR)])
    ctx = Context(config_dir, os.environ if environ is None else environ)
    problems: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []
    settings: dict[str, Any] = {}
    if (config_dir / "mahnwerk.toml").exists() and (parsed := parse_toml(config_dir, "mahnwerk.toml", problems)):
        settings = read_table(Config, parsed[0], (), parsed[1], ctx) or {}
        problems += parsed[1].in_order()
    shops: dict[str, ShopConfig] = {}
    for path in sorted(config_dir.glob("shops/*.toml")):
        if (parsed := parse_toml(config_dir, path.relative_to(config_dir).as_posix(), problems)) is None:
            continue
        if (shop := read_shop(*parsed, ctx, path)) and (first := shops.setdefault(shop.id, shop)) is not shop:
            where = first.source.relative_to(config_dir).as_posix()
            parsed[1].add(("shop", "id"), f'shop id "{shop.id}" is already used by {where}')
        problems += parsed[1].in_order()
        warnings += parsed[1].warnings
    if problems:
        raise ConfigError(problems)
    return Config(config_dir, shops=tuple(shops.values()), warnings=tuple(warnings), **settings)


def read_shop(doc: dict[str, Any], sink: Problems, ctx: Context, source: Path) -> ShopConfig | None:
    """One shop file; None (with the problems in `sink`) when anything is wrong."""
    # [shop] holds ShopConfig's own keys; its tables ([sync], [http], ...) sit at the top of the file.
    tables = read_table(ShopConfig, doc, (), sink, ctx, keys=False, extra=("shop", "policy"))
    policy = read_policy(doc.get("policy"), sink, ctx)
    shop = doc.get("shop", {})
    values = read_table(ShopConfig, shop, ("shop",), sink, ctx, tables=False, extra=("auth",))
    name = shop.get("kind") if isinstance(shop, dict) else None
    kind = registered_kind(name) if isinstance(name, str) else None
    raw_auth = shop.get("auth", {}) if isinstance(shop, dict) else {}
    auth = read_table(auth_schema(kind.auth_keys if kind else tuple(secret_keys(raw_auth))), raw_auth,
                      ("shop", "auth"), sink, ctx)
    if tables is None or values is None or auth is None or policy is None:
        return None
    policy = replace(policy, receipt_days=tables["invoice"].receipt_days)  # the engine's §286(3) start
    config = ShopConfig(**values, **tables, auth=ShopAuth(auth), source=source, policy=policy)
    return for_kind(config, kind, sink) if kind is not None else config


def for_kind(shop: ShopConfig, kind: ShopKind, sink: Problems) -> ShopConfig | None:
    """The settings the file left to its kind, filled in; a page size above the kind's limit is a problem."""
    before = len(sink.found)
    statuses = shop.statuses.for_kind(kind)
    first: dict[str, tuple[str, int]] = {}
    for meaning in MEANINGS:
        for index, status in enumerate(getattr(statuses, meaning)):
            earlier, at = first.setdefault(status, (meaning, index))
            if earlier == meaning:
                continue
            given = {m: getattr(shop.statuses, m) is not None for m in (earlier, meaning)}
            if all(given.values()):
                sink.add(("statuses", meaning, index), f'"{status}" is also listed in statuses.{earlier}')
            else:  # one of the lists is the kind's: say where the clash comes from, at the list the file has
                mine, default, where = (meaning, earlier, index) if given[meaning] else (earlier, meaning, at)
                sink.add(("statuses", mine, where), f'"{status}" is also in {kind.title}\'s default statuses.'
                                                    f"{default}; set statuses.{default} without it")
    for index, rule in enumerate(shop.policy.business_when):
        if problem := business_rule_problem(rule, kind):
            sink.add(("policy", "business_when", index), problem)
    methods = shop.invoice.payment_methods or kind.default_invoice_methods
    said = shop.policy.invoice_states_default
    for method in sorted(set() if isinstance(said, bool) else said - set(methods)):
        sink.warn(("policy", "invoice_states_default"), f'"{method}" is not an invoice payment method of this shop '
                                                        f'({", ".join(methods)}): no claim is paid by it')
    if shop.sync.interval < MIN_LIVE_INTERVAL:
        sink.warn(("sync", "interval"), f"polls the shop every {shop.sync.interval.total_seconds():g} s: fine for a "
                                        "test shop, a load on a live one (30s or more)")
    page_size = shop.sync.page_size or kind.max_page_size
    if page_size > kind.max_page_size:
        sink.add(("sync", "page_size"), f"must be at most {kind.max_page_size} for {kind.title} (got {page_size})")
    if len(sink.found) > before:
        return None
    return replace(shop, statuses=statuses, sync=replace(shop.sync, page_size=page_size),
                   invoice=replace(shop.invoice, payment_methods=shop.invoice.payment_methods
                                   or kind.default_invoice_methods),
                   payments=replace(shop.payments, paid_status=shop.payments.paid_status or kind.default_paid_status))


def business_rule_problem(rule: str, kind: ShopKind) -> str:
    """Why a `business_when` rule cannot work for this kind ("" if it can): groups and roles are the kind's own."""
    word = {"customer_group": "group", "customer_role": "role"}.get(rule.partition(":")[0])
    if word is None or word == kind.customer_groups:
        return ""
    has = {"group": ' (it has customer groups: "customer_group:<name>")',
           "role": ' (it has customer roles: "customer_role:<name>")'}.get(kind.customer_groups, "")
    return f'"{rule}": {kind.title} has no customer {word}s{has}'


@lru_cache(maxsize=32)
def auth_schema(keys: tuple[str, ...]) -> type:
    """A config dataclass whose keys are these secrets (each also as `<key>_file`)."""
    return dataclasses.make_dataclass("Auth", [(key, Secret, setting(secret=True)) for key in keys], frozen=True)


def secret_keys(raw: Any) -> list[str]:
    """The keys of an `[shop.auth]` table of a kind nobody registered: each taken as a secret."""
    if not isinstance(raw, dict):
        return []
    return list(dict.fromkeys(key.removesuffix("_file") for key in raw if isinstance(key, str)))


def unresolved_secrets(config: object) -> list[ConfigProblem]:
    """Every secret of a config dataclass (at any depth) that could not be read, with where and why."""
    found: list[ConfigProblem] = []
    if isinstance(config, ShopAuth):
        return [s.problem for s in config.secrets.values() if s.problem is not None]
    if not dataclasses.is_dataclass(config):
        return found
    for spec in fields(config):
        value = getattr(config, spec.name)
        if isinstance(value, Secret) and value.problem is not None:
            found.append(value.problem)
        elif isinstance(value, ShopAuth) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            found += unresolved_secrets(value)
    return found
