"""A shop's `[policy]` table: a preset, overridden key by key and stage by stage, built into a policy.Policy.

    [policy]
    preset = "de-b2c"
    region = "DE-BY"                 # public holidays for deadlines
    [policy.stages.dunning_2]        # override a preset stage
    fee = "1.50"
    [policy.stages.call_customer]    # a new stage, placed after another
    kind = "task"
    after = "dunning_1"
    after_days = 3
    deadline_days = 7
    [[policy.base_rates]]            # a base-rate row the shipped table lacks
    table = "de"
    valid_from = 2026-07-01
    rate = "1.27"

Every problem is reported with its key and line; fees above €2.50 per letter are a warning, not an error.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import holidays

import mahnwerk.policy
from mahnwerk.policy.calendar import BusinessCalendar
from mahnwerk.policy.customers import GROUP_RULES, RULES
from mahnwerk.policy.model import LETTER_KINDS, STAGE_KINDS, Offer, Policy, Stage
from mahnwerk.policy.presets import PRESETS
from mahnwerk.policy.rates import TABLES, RateRow, RateTable, half_year_end
from mahnwerk.sync.config.schema import (
    Context,
    Invalid,
    a_date,
    boolean,
    cross_check,
    did_you_mean,
    expect,
    integer,
    money,
    one_of,
    percent,
    read_table,
    setting,
    show,
    strings,
    text,
)
from mahnwerk.sync.config.tomlpos import KeyPath, Problems

T = TypeVar("T")
LANGUAGES = ("de", "en")
CHANNELS = {"letter": ("shop", "email", "letter"), "task": ("none",), "agency": ("agency",)}
SHIPPED_TEMPLATES = Path(mahnwerk.policy.__file__).resolve().parent / "templates"
CUSTOMARY_LETTER_FEE = Decimal("2.50")  # courts allowed about €1.20–€2.50 of material costs per letter (LAW.md)


def region(raw: Any, ctx: Context) -> str:
    """A country ("DE") or country and subdivision ("DE-BY") that the holidays library knows."""
    expect(isinstance(raw, str), 'a region like "DE" or "DE-BY"', raw)
    supported = holidays.list_supported_countries()
    country, _, subdivision = raw.partition("-")
    if country not in supported:
        raise Invalid(f"unknown country {show(country)}{did_you_mean(country, supported)}")
    if subdivision and subdivision not in supported[country]:
        choices = ", ".join(supported[country][:20])
        raise Invalid(f"unknown subdivision {show(subdivision)} of {country}; known: {choices}")
    return raw


def said_by_invoices(raw: Any, ctx: Context) -> bool | frozenset[str]:
    """true or false for every invoice, or the payment methods whose invoices say it (["invoice", "b2b_invoice"])."""
    if isinstance(raw, list):
        return frozenset(strings(non_empty=True)(raw, ctx))
    expect(isinstance(raw, bool), 'true, false or a list of payment methods like ["invoice"]', raw)
    return bool(raw)


def business_rules(raw: Any, ctx: Context) -> tuple[str, ...]:
    """What makes a customer a business: "vat_id", "company", "customer_group:<name>", "customer_role:<name>"."""
    rules = strings()(raw, ctx)
    for index, rule in enumerate(rules):
        kind, colon, name = rule.partition(":")
        if not (rule in RULES or (kind in GROUP_RULES and colon and name.strip())):
            raise Invalid(f'expected "vat_id", "company", "customer_group:<name>" or "customer_role:<name>", '
                          f"got {show(rule)}{did_you_mean(rule, RULES)}", at=(index,))
    return tuple(dict.fromkeys(rules))


@dataclass(frozen=True)
class OfferConfig:
    kind: str = setting(one_of("discount", "deferral"), "")
    discount_percent: Decimal = setting(percent, Decimal(0))
    extra_days: int = setting(integer(0, 365), 0)


@dataclass(frozen=True)
class StageConfig:
    """Keys of `[policy.stages.NAME]`; a key left out keeps the preset's value (required for new stages)."""

    kind: str | None = setting(one_of(*STAGE_KINDS), None)
    after: str | None = setting(text(), None)  # place this stage right after the named one
    after_days: int | None = setting(integer(-3650, 3650), None)
    deadline_days: int | None = setting(integer(0, 365), None)
    fee: Decimal | None = setting(money, None)
    template: str | None = setting(text(r"[a-z0-9_]+", 'a template name like "dunning_1"'), None)
    channel: str | None = setting(one_of("shop", "email", "letter", "none", "agency"), None)
    customers: str | None = setting(one_of("all", "b2b", "b2c"), None)
    min_open_amount: Decimal | None = setting(money, None)
    enabled: bool = setting(boolean, True)
    offer: OfferConfig = OfferConfig()


@dataclass(frozen=True)
class BaseRateConfig:
    table: str = setting(one_of(*TABLES))
    valid_from: date = setting(a_date)
    rate: Decimal = setting(percent)


@cross_check(BaseRateConfig)
def _half_year_start(values: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    start = values["valid_from"]
    if (start.month, start.day) not in ((1, 1), (7, 1)):
        yield ("valid_from",), f"base rates change on 1 January and 1 July only (got {start})"


@dataclass(frozen=True)
class PolicyConfig:
    """Keys of `[policy]`; None means: as the preset says."""

    preset: str = setting(one_of(*PRESETS), "de-b2c")
    region: str | None = setting(region, None)
    language: str | None = setting(one_of(*LANGUAGES), None)  # for customers whose language the shop doesn't say
    go_live: date | None = setting(a_date, None)
    min_amount: Decimal | None = setting(money, None)
    fee_cap_per_claim: Decimal | None = setting(money, None)
    b2b_flat_fee: Decimal | None = setting(money, None)
    fees_allowed_by_terms: bool | None = setting(boolean, None)
    invoice_states_default: bool | frozenset[str] | None = setting(said_by_invoices, None)
    due_date_agreed: bool | None = setting(boolean, None)
    business_when: tuple[str, ...] | None = setting(business_rules, None)
    plan_grace_days: int | None = setting(integer(0, 90), None)
    plan_resume_stage: str | None = setting(text(), None)
    plan_acceleration: bool | None = setting(boolean, None)


def read_policy(raw: Any, sink: Problems, ctx: Context) -> Policy | None:
    """The shop's Policy from its `[policy]` table (absent: the default preset); None if anything is wrong."""
    path: KeyPath = ("policy",)
    before = len(sink.found)
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        sink.add(path, f"expected a table, got {show(raw)}")
        return None
    values = read_table(PolicyConfig, raw, path, sink, ctx, tables=False, extra=("stages", "base_rates"))
    conf = PolicyConfig(**(values or {}))  # stages are checked against the preset even if a key is wrong
    stages = _stages(PRESETS[conf.preset].stages, raw.get("stages", {}), path + ("stages",), sink, ctx)
    rates = _base_rates(raw.get("base_rates", []), path + ("base_rates",), sink, ctx)
    if values is None or stages is None or rates is None:
        return None
    policy = _build(conf, stages, rates)
    _check(policy, conf, path, sink, ctx)
    _warn_gaps(policy, raw.get("base_rates", []), path + ("base_rates",), sink)
    return policy if len(sink.found) == before else None


def _stages(preset: tuple[Stage, ...], raw: Any, path: KeyPath, sink: Problems, ctx: Context) -> list[Stage] | None:
    if not isinstance(raw, dict):
        sink.add(path, f"expected a table of stages like [policy.stages.dunning_1], got {show(raw)}")
        return None
    stages = list(preset)
    ok = True
    for name, table in raw.items():
        where = path + (name,)
        values = read_table(StageConfig, table, where, sink, ctx)
        if values is None:
            ok = False
            continue
        conf = StageConfig(**values)
        names = [s.name for s in stages]
        if not conf.enabled:
            stages = [s for s in stages if s.name != name]
            continue
        changes = {k: v for k, v in values.items() if v is not None and k not in ("after", "enabled", "offer")}
        if conf.offer.kind:
            changes["offer"] = Offer(conf.offer.kind, conf.offer.discount_percent, conf.offer.extra_days)
        if name in names:
            stage = replace(stages[names.index(name)], **changes)
            stages.remove(stages[names.index(name)])
        else:
            missing = [k for k in ("kind", "after_days", "deadline_days") if k not in changes]
            if missing:
                sink.add(where, f'new stage "{name}" needs {", ".join(missing)} (or did you mean an existing stage'
                                f'{did_you_mean(name, names)[2:-1] or ": " + ", ".join(names)}?)')
                ok = False
                continue
            kind = changes["kind"]
            changes.setdefault("template", "" if kind == "task" else name)
            changes.setdefault("channel", CHANNELS[channel_family(kind)][0])
            stage = Stage(name=name, **changes)
        remaining = [s.name for s in stages]
        if conf.after is None:
            stages.insert(names.index(name) if name in names else len(stages), stage)
        elif conf.after in remaining:
            stages.insert(remaining.index(conf.after) + 1, stage)
        else:
            sink.add(where + ("after",), f'no stage "{conf.after}"{did_you_mean(conf.after, names)}')
            ok = False
    return stages if ok else None


def channel_family(kind: str) -> str:
    """Which CHANNELS entry a stage kind uses: all letters share one; tasks and the agency have their own."""
    return "letter" if kind in LETTER_KINDS else kind


def _base_rates(raw: Any, path: KeyPath, sink: Problems, ctx: Context) -> dict[str, list[RateRow]] | None:
    if not isinstance(raw, list):
        sink.add(path, "expected [[policy.base_rates]] entries with table, valid_from and rate")
        return None
    rows: dict[str, list[RateRow]] = {}
    for index, table in enumerate(raw):
        values = read_table(BaseRateConfig, table, path + (index,), sink, ctx)
        if values is None:
            return None
        where = sink.problem(path + (index,), "")
        rows.setdefault(values["table"], []).append(RateRow(values["valid_from"], values["rate"], "config",
                                                            f"{where.file}:{where.line}" if where.line else where.file))
    return rows


def _warn_gaps(policy: Policy, raw: Any, path: KeyPath, sink: Problems) -> None:
    """A warning at each config row that leaves a half-year before it without a row: that half-year has no rate (it
    is never bridged with the older one), so its interest is refused and those claims are blocked. Not an error:
    every other claim goes on, and `mahnwerk rates update` may still bring the missing row."""
    for table in policy.rate_tables().values():
        configured = [row for row in table.rows if row.origin == "config"]
        for gap in table.gaps():
            # Shipped rows have no gaps, so a config row borders it: the next one after it, else the last before it.
            later = [row for row in configured if row.valid_from > gap]
            row, side = (later[0], "before") if later else (configured[-1], "after")
            index = next((i for i, item in enumerate(raw) if isinstance(item, dict) and item.get("table") == table.key
                          and str(item.get("valid_from")) == str(row.valid_from)), None)
            fetch = f" or run `{table.fetched_by}`" if table.fetched_by else ""
            sink.warn(path if index is None else path + (index, "valid_from"),
                      f"no row for {gap} … {half_year_end(gap)} {side} this row: interest for that half-year is "
                      f"refused and those claims are blocked; add the {table.name} for it as a row with "
                      f'table = "{table.key}", valid_from = {gap}{fetch}')


def _build(conf: PolicyConfig, stages: list[Stage], rates: dict[str, list[RateRow]]) -> Policy:
    preset = PRESETS[conf.preset]

    def extended(table: RateTable) -> RateTable:
        return table.extended(rates[table.key]) if table.key in rates else table

    code = conf.region or preset.calendar.region
    return replace(
        preset.with_rate_tables(extended), stages=tuple(stages), calendar=calendar(code),
        go_live=_given(conf.go_live, preset.go_live), min_amount=_given(conf.min_amount, preset.min_amount),
        claim_fee_cap=_given(conf.fee_cap_per_claim, preset.claim_fee_cap),
        b2b_flat_fee=_given(conf.b2b_flat_fee, preset.b2b_flat_fee),
        fees_allowed=_given(conf.fees_allowed_by_terms, preset.fees_allowed),
        invoice_states_default=_given(conf.invoice_states_default, preset.invoice_states_default),
        due_date_agreed=_given(conf.due_date_agreed, preset.due_date_agreed),
        business_when=_given(conf.business_when, preset.business_when),
        plan_grace_days=_given(conf.plan_grace_days, preset.plan_grace_days),
        plan_resume_stage=_given(conf.plan_resume_stage, preset.plan_resume_stage),
        plan_acceleration=_given(conf.plan_acceleration, preset.plan_acceleration),
        language=_given(conf.language, preset.language))


def _given(value: T | None, default: T) -> T:
    """The configured value, or the default when the config leaves it out."""
    return default if value is None else value


def calendar(code: str) -> BusinessCalendar:
    """Weekends and the public holidays of a region ("DE", "DE-BY"); weekends only for an empty code."""
    days: Container[date] = frozenset()
    if code:
        country, _, subdivision = code.partition("-")
        days = holidays.country_holidays(country, subdiv=subdivision or None)  # fills in years as asked
    return BusinessCalendar(code, days)


def template_file(config_dir: Path, language: str, name: str) -> Path | None:
    """The merchant's `templates/<lang>/<name>.txt.j2` if present, else the shipped one; None if neither exists."""
    for folder in (config_dir / "templates", SHIPPED_TEMPLATES):
        if (path := folder / language / f"{name}.txt.j2").is_file():
            return path
    return None


def _check(policy: Policy, conf: PolicyConfig, path: KeyPath, sink: Problems, ctx: Context) -> None:
    names = [s.name for s in policy.stages]
    if not policy.stages:
        sink.add(path, "the policy has no stages left: enable at least one")
    for number, stage in enumerate(policy.stages):
        where = path + ("stages", stage.name)
        family = channel_family(stage.kind)
        if stage.channel not in CHANNELS[family]:
            sink.add(where + ("channel",), f'a {stage.kind} stage goes by {" or ".join(map(show, CHANNELS[family]))}, '
                                           f"not {show(stage.channel)}")
        if number == 0 and stage.after_days < 0:
            sink.add(where + ("after_days",), "the first stage cannot come before the due date")
        if number > 0 and stage.after_days < 1:
            sink.add(where + ("after_days",), f"stages must follow each other: {stage.name} has to come at least one "
                                              f"day after the deadline of {names[number - 1]} (got {stage.after_days})")
        if stage.kind == "agency" and number != len(policy.stages) - 1:
            sink.add(where, f"nothing can follow the hand-over to the agency, but {names[number + 1]} does")
        if stage.kind in LETTER_KINDS and stage.deadline_days < 1:
            sink.add(where + ("deadline_days",), "a letter must give the customer at least one day to pay")
        if stage.fee > 0 and stage.kind not in LETTER_KINDS:
            sink.add(where + ("fee",), f"only letters carry a fee; a {stage.kind} stage cannot")
        elif stage.fee > policy.claim_fee_cap:
            sink.add(where + ("fee",), f"fee {stage.fee} is above the per-claim cap {policy.claim_fee_cap} "
                                       "(policy.fee_cap_per_claim)")
        elif stage.fee > CUSTOMARY_LETTER_FEE:
            sink.warn(where + ("fee",), f"fee {stage.fee} per letter is above the €2.50 of material costs courts have "
                                        "allowed; only real costs are recoverable")
        missing = [lang for lang in LANGUAGES if stage.kind != "task"
                   and template_file(ctx.config_dir, lang, stage.template) is None]
        if missing:
            files = " and ".join(f"templates/{lang}/{stage.template}.txt.j2" for lang in missing)
            sink.add(where + ("template",), f'template "{stage.template}" does not exist: add {files} to the config '
                                            f"folder{did_you_mean(stage.template, shipped_templates())}")
    if conf.plan_resume_stage is not None and conf.plan_resume_stage not in names:
        sink.add(path + ("plan_resume_stage",), f'no stage "{conf.plan_resume_stage}"'
                                                f"{did_you_mean(conf.plan_resume_stage, names)}")
    if policy.fees_allowed is False and any(s.fee > 0 for s in policy.stages) and conf.preset == "ch":
        sink.warn(path + ("fees_allowed_by_terms",), "stages have fees, but they are charged only when the shop's "
                                                     "terms allow them (fees_allowed_by_terms = true)")


def shipped_templates() -> list[str]:
    return sorted(p.name.removesuffix(".txt.j2") for p in (SHIPPED_TEMPLATES / "de").glob("*.txt.j2"))
