"""The `[policy]` table: presets, stage overrides and new stages, base-rate rows, and every mistake with its line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from mahnwerk.policy.presets import PRESETS
from mahnwerk.policy.rates import RateRow
from tests.sync.test_config import SHOP, load, problems, write


def shop_with(root: Path, policy: str) -> Path:
    return write(root, "shops/acme.toml", SHOP + policy)  # SHOP has 9 lines: the policy starts on line 10


def test_no_policy_table_means_the_german_consumer_preset(tmp_path: Path) -> None:
    shop_with(tmp_path, "")
    policy = load(tmp_path).shop("acme").policy
    assert [s.name for s in policy.stages] == ["reminder", "dunning_1", "dunning_2", "final_notice", "agency"]
    assert policy.preset == "de-b2c" and policy.calendar.region == "DE"
    assert policy.stages[0].fee == 0 and policy.b2b_flat_fee == Decimal(40)


def test_a_merchant_writes_the_ladder_of_the_domain_texts(tmp_path: Path) -> None:
    """Reminder, notices, final notice, a phone task, and the hand-over; region, go-live and a payment plan rule."""
    shop_with(tmp_path, """
[policy]
preset = "de-b2c"
region = "DE-BY"
go_live = 2026-12-01
min_amount = "5.00"
plan_resume_stage = "final_notice"

[policy.stages.dunning_2]
fee = "1.50"
channel = "email"

[policy.stages.call_customer]
kind = "task"
after = "dunning_2"
after_days = 3
deadline_days = 7

[policy.stages.final_notice.offer]
kind = "discount"
discount_percent = "10"
""")
    policy = load(tmp_path).shop("acme").policy
    assert [s.name for s in policy.stages] == ["reminder", "dunning_1", "dunning_2", "call_customer",
                                               "final_notice", "agency"]
    dunning_2, call = policy.stages[2], policy.stages[3]
    assert (dunning_2.fee, dunning_2.channel, dunning_2.template) == (Decimal("1.50"), "email", "dunning_2")
    assert (call.kind, call.after_days, call.deadline_days, call.channel) == ("task", 3, 7, "none")
    assert policy.stage("final_notice").offer.discount_percent == Decimal(10)
    assert policy.go_live == date(2026, 12, 1) and policy.min_amount == Decimal("5.00")
    assert policy.calendar.region == "DE-BY"
    assert not policy.calendar.is_business_day(date(2026, 1, 6))  # Epiphany: a holiday in Bavaria only
    assert load(tmp_path).shop("acme").policy.plan_resume_stage == "final_notice"


def test_a_stage_can_be_removed(tmp_path: Path) -> None:
    shop_with(tmp_path, "[policy.stages.dunning_2]\nenabled = false\n")
    assert "dunning_2" not in [s.name for s in load(tmp_path).shop("acme").policy.stages]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_loads(tmp_path: Path, preset: str) -> None:
    shop_with(tmp_path, f'[policy]\npreset = "{preset}"\n')
    assert load(tmp_path).shop("acme").policy.preset == preset


def test_mistakes_are_reported_with_file_line_and_key(tmp_path: Path) -> None:
    shop_with(tmp_path, """
[policy]
preset = "de-b2x"
region = "DE-XX"

[policy.stages.dunning_1]
kind = "dunnig"
""")
    found = problems(tmp_path)
    assert any(p.startswith('shops/acme.toml:12: policy.preset: expected one of') and "de-b2c" in p for p in found)
    assert any(p.startswith("shops/acme.toml:13: policy.region: unknown subdivision") for p in found)
    assert any(p.startswith("shops/acme.toml:16: policy.stages.dunning_1.kind: expected one of") for p in found)


ORDER_FEE_AND_TEMPLATE_MISTAKES = """
[policy.stages.dunning_2]
after_days = 0
fee = "12.00"

[policy.stages.final_notice]
template = "final_notise"
"""


def test_order_fees_and_templates_are_checked_once_the_keys_parse(tmp_path: Path) -> None:
    shop_with(tmp_path, ORDER_FEE_AND_TEMPLATE_MISTAKES + '\n[policy.stages.call]\nkind = "task"\n')
    found = problems(tmp_path)
    assert 'shops/acme.toml:18: policy.stages.call: new stage "call" needs after_days, deadline_days' in found[-1]
    shop_with(tmp_path, ORDER_FEE_AND_TEMPLATE_MISTAKES)
    found = problems(tmp_path)
    assert any(p.startswith("shops/acme.toml:12: policy.stages.dunning_2.after_days: stages must follow each other")
               for p in found), found
    assert any(p.startswith("shops/acme.toml:13: policy.stages.dunning_2.fee: fee 12.00 is above the per-claim cap")
               for p in found), found
    assert any(p.startswith('shops/acme.toml:16: policy.stages.final_notice.template: template "final_notise" '
                            'does not exist: add templates/de/final_notise.txt.j2 and templates/en/')
               and 'did you mean "final_notice"' in p for p in found), found


def test_a_fee_above_the_customary_letter_costs_is_a_warning(tmp_path: Path) -> None:
    shop_with(tmp_path, '[policy.stages.dunning_2]\nfee = "3.00"\n')
    config = load(tmp_path)
    assert [str(w) for w in config.warnings] == [
        "shops/acme.toml:11: policy.stages.dunning_2.fee: fee 3.00 per letter is above the €2.50 of material costs "
        "courts have allowed; only real costs are recoverable"]


def test_a_merchant_template_overrides_or_adds_one(tmp_path: Path) -> None:
    for language in ("de", "en"):
        write(tmp_path, f"templates/{language}/friendly_call.txt.j2", "Subject: x\n\n{{ shop.name }}\n")
    shop_with(tmp_path, """
[policy.stages.reminder]
template = "friendly_call"
""")
    assert load(tmp_path).shop("acme").policy.stages[0].template == "friendly_call"


def test_base_rate_rows_extend_the_shipped_table(tmp_path: Path) -> None:
    shop_with(tmp_path, """
[[policy.base_rates]]
table = "de"
valid_from = 2026-07-01
rate = "1.27"
""")
    rule = load(tmp_path).shop("acme").policy.interest_b2c
    assert rule.table.rate_on(date(2026, 9, 1)) == Decimal("1.27")
    assert rule.table.known_until == date(2026, 12, 31)


def test_a_base_rate_row_must_start_a_half_year(tmp_path: Path) -> None:
    shop_with(tmp_path, """
[[policy.base_rates]]
table = "de"
valid_from = 2026-07-15
rate = "1.27"
""")
    assert problems(tmp_path) == ["shops/acme.toml:13: policy.base_rates[0].valid_from: base rates change on 1 January "
                                  "and 1 July only (got 2026-07-15)"]


def test_amounts_are_strings_not_binary_floats(tmp_path: Path) -> None:
    shop_with(tmp_path, "[policy]\nmin_amount = 5.1\n")
    assert problems(tmp_path) == ['shops/acme.toml:11: policy.min_amount: expected a number like "2.50", got 5.1']


def test_rate_rows_are_merged_by_date() -> None:
    table = PRESETS["de-b2c"].interest_b2c.table
    extended = table.extended([RateRow(date(2026, 1, 1), Decimal("1.00"))])
    assert extended.rate_on(date(2026, 2, 1)) == Decimal("1.00") and table.rate_on(date(2026, 2, 1)) == Decimal("1.27")


def test_config_rows_that_leave_a_gap_are_a_warning_with_file_and_line(tmp_path: Path) -> None:
    """A row for 2027-01-01 without one for 2026-07-01: loading works, `check` shows where the gap is, and 2026-H2
    keeps no rate (never the old 1.27)."""
    shop_with(tmp_path, """
[[policy.base_rates]]
table = "de"
valid_from = 2027-01-01
rate = "2.02"
""")
    config = load(tmp_path)
    assert [str(w) for w in config.warnings] == [
        "shops/acme.toml:13: policy.base_rates[0].valid_from: no row for 2026-07-01 … 2026-12-31 before this row: "
        "interest for that half-year is refused and those claims are blocked; add the Basiszinssatz (DE, §247 BGB) "
        'for it as a row with table = "de", valid_from = 2026-07-01 or run `mahnwerk rates update`']
    table = config.shop("acme").policy.interest_b2c.table
    assert table.gaps() == [date(2026, 7, 1)] and table.rate_on(date(2027, 3, 1)) == Decimal("2.02")
    assert [(r.origin, r.source) for r in table.rows[-1:]] == [("config", "shops/acme.toml:11")]


def test_contiguous_config_rows_give_no_warning(tmp_path: Path) -> None:
    shop_with(tmp_path, """
[[policy.base_rates]]
table = "de"
valid_from = 2026-07-01
rate = "1.27"
[[policy.base_rates]]
table = "de"
valid_from = 2027-01-01
rate = "2.02"
""")
    assert load(tmp_path).warnings == ()


def test_an_older_config_row_that_leaves_a_gap_before_the_shipped_table_is_named(tmp_path: Path) -> None:
    """AT ships from 2024-01-01; a row for 2023-01-01 alone leaves 2023-07-01 … 2023-12-31 without a rate."""
    shop_with(tmp_path, """
[policy]
preset = "at"
[[policy.base_rates]]
table = "at"
valid_from = 2023-01-01
rate = "1.88"
""")
    assert [str(w) for w in load(tmp_path).warnings] == [
        "shops/acme.toml:15: policy.base_rates[0].valid_from: no row for 2023-07-01 … 2023-12-31 after this row: "
        "interest for that half-year is refused and those claims are blocked; add the Basiszinssatz der OeNB (AT) for "
        'it as a row with table = "at", valid_from = 2023-07-01']


def test_business_when_receipt_days_and_invoice_states_default_per_method(tmp_path: Path) -> None:
    write(tmp_path, "shops/acme.toml", SHOP + """
[invoice]
receipt_days = 3

[policy]
business_when = ["vat_id", "company"]
invoice_states_default = ["invoice", "bacs"]
""")
    policy = load(tmp_path).shop("acme").policy
    assert policy.business_when == ("vat_id", "company") and policy.receipt_days == 3
    assert policy.invoice_states_default == frozenset({"invoice", "bacs"})


def test_the_defaults_count_only_a_vat_id_and_invoices_arrive_the_day_they_are_sent(tmp_path: Path) -> None:
    shop_with(tmp_path, "")
    policy = load(tmp_path).shop("acme").policy
    assert (policy.business_when, policy.receipt_days, policy.invoice_states_default) == (("vat_id",), 0, False)


def test_business_when_receipt_days_and_invoice_states_default_mistakes_name_their_line(tmp_path: Path) -> None:
    write(tmp_path, "shops/acme.toml", SHOP + """
[invoice]
receipt_days = 31

[policy]
business_when = ["vat_id", "compny"]
invoice_states_default = "yes"
""")
    found = problems(tmp_path)
    assert "shops/acme.toml:12: invoice.receipt_days: must be between 0 and 30, got 31" in found
    assert ('shops/acme.toml:15: policy.business_when: expected "vat_id", "company", "customer_group:<name>" or '
            '"customer_role:<name>", got "compny"; did you mean "company"?') in found
    assert ('shops/acme.toml:16: policy.invoice_states_default: expected true, false or a list of payment methods '
            'like ["invoice"], got "yes"') in found


def test_customer_groups_only_where_the_shop_kind_has_them(tmp_path: Path) -> None:
    write(tmp_path, "shops/acme.toml", SHOP + """
[policy]
business_when = ["vat_id", "customer_group:Händler"]
""")
    # WooCommerce (SHOP's kind) has roles, not groups.
    assert problems(tmp_path) == ['shops/acme.toml:12: policy.business_when: "customer_group:Händler": '
                                  'WooCommerce has no customer groups (it has customer roles: "customer_role:<name>")']
    write(tmp_path, "shops/acme.toml", SHOP + """
[policy]
business_when = ["customer_role:wholesale"]
""")
    assert load(tmp_path).shop("acme").policy.business_when == ("customer_role:wholesale",)
    sw = SHOP.replace('kind = "woocommerce"', 'kind = "shopware6"').replace(
        'consumer_key = "${ACME_WC_KEY}"\nconsumer_secret = "${ACME_WC_SECRET}"',
        'client_id = "${ACME_WC_KEY}"\nclient_secret = "${ACME_WC_SECRET}"')
    write(tmp_path, "shops/acme.toml", sw + """
[policy]
business_when = ["vat_id", "customer_group:Händler"]
""")
    assert load(tmp_path).shop("acme").policy.business_when == ("vat_id", "customer_group:Händler")
    write(tmp_path, "shops/acme.toml", sw + """
[policy]
business_when = ["customer_role:wholesale"]
""")
    assert problems(tmp_path) == ['shops/acme.toml:12: policy.business_when: "customer_role:wholesale": '
                                  'Shopware 6 has no customer roles (it has customer groups: "customer_group:<name>")']


def test_a_method_list_naming_no_invoice_method_is_a_warning(tmp_path: Path) -> None:
    shop_with(tmp_path, """
[policy]
invoice_states_default = ["bacs", "paypal"]
""")
    config = load(tmp_path)
    assert [str(w) for w in config.warnings] == [
        'shops/acme.toml:12: policy.invoice_states_default: "paypal" is not an invoice payment method of this shop '
        '(bacs, cheque, invoice): no claim is paid by it']
