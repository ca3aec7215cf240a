"""Customer messages: locale formatting, the template contract, overrides, escaping, and template checks."""

from __future__ import annotations

import re
from dataclasses import fields, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from mahnwerk.connectors.records import CustomerMessage
from mahnwerk.connectors.woocommerce.actions import note_text
from mahnwerk.errors import ConfigError
from mahnwerk.policy.account import Balance
from mahnwerk.policy.engine import Action
from mahnwerk.policy.interest import InterestRule
from mahnwerk.policy.languages import language_for
from mahnwerk.policy.model import Offer, Payment
from mahnwerk.policy.notice import Addressee, Merchant, Notice, notice_for
from mahnwerk.policy.rates import AT_BASE_RATE, DE_BASE_RATE
from mahnwerk.sync.outbox.formats import day, group_iban, interest_words, money, percent_text
from mahnwerk.sync.outbox.templates import (
    SHIPPED,
    Rendered,
    Templates,
    check_templates,
    context,
    sample_notice,
)

NBSP = "\u00a0"  # Babel puts a no-break space between number and "€" or "%"
NAMES = ("reminder", "dunning_1", "dunning_2", "final_notice", "agency_handover", "payment_plan", "plan_broken")
STAGES = ("reminder", "dunning_1", "dunning_2", "final_notice", "agency_handover")  # what notice_for sends
HOSTILE = "{{7*7}} <script>alert(1)</script>"


@pytest.mark.parametrize(("amount", "currency", "language", "expected"), [
    ("1234.56", "EUR", "de", f"1.234,56{NBSP}€"),
    ("1234.56", "EUR", "en", "€1,234.56"),
    ("0.5", "EUR", "de", f"0,50{NBSP}€"),
    ("1234.56", "CHF", "de", f"1.234,56{NBSP}CHF"),
])
def test_money_is_written_the_customers_way(amount: str, currency: str, language: str, expected: str) -> None:
    """Amounts use the locale's separators and currency position, with cents."""
    assert money(Decimal(amount), currency, language) == expected


@pytest.mark.parametrize(("language", "expected"), [("de", "22. November 2026"), ("en", "22 November 2026")])
def test_dates_are_written_in_the_long_format(language: str, expected: str) -> None:
    """Dates are spelt out: no 11/22 versus 22/11 confusion for customers abroad."""
    assert day(date(2026, 11, 22), language) == expected


def test_an_unknown_language_is_refused() -> None:
    """A language without a locale is an error that names the known ones, not a silent default."""
    with pytest.raises(ValueError, match="known: de, en"):
        money(Decimal(1), "EUR", "fr")


@pytest.mark.parametrize(("value", "language", "expected"), [
    ("10", "de", f"10{NBSP}%"), ("10", "en", "10%"), ("10.00", "de", f"10{NBSP}%"), ("2.5", "de", f"2,5{NBSP}%"),
])
def test_percentages_keep_their_decimals_and_lose_trailing_zeros(value: str, language: str, expected: str) -> None:
    """A percent value (10 means 10 %) in the locale's notation."""
    assert percent_text(Decimal(value), language) == expected


@pytest.mark.parametrize(("rule", "language", "expected"), [
    (InterestRule("base_plus", points=Decimal(5), table=DE_BASE_RATE), "de",
     "5 Prozentpunkte über dem Basiszinssatz"),
    (InterestRule("base_plus", points=Decimal(5), table=DE_BASE_RATE), "en", "5 percentage points above the base rate"),
    (InterestRule("base_plus", points=Decimal("9.2"), table=AT_BASE_RATE), "de",
     "9,2 Prozentpunkte über dem Basiszinssatz"),
    (InterestRule("fixed", rate=Decimal(4)), "de", f"4{NBSP}% Zinsen pro Jahr"),
    (InterestRule("fixed", rate=Decimal(4)), "en", "4% a year"),
    (InterestRule("none"), "de", ""),
])
def test_interest_rules_are_put_in_words(rule: InterestRule, language: str, expected: str) -> None:
    """Base rate plus points (DE and AT tables alike), a flat annual rate, or nothing."""
    assert interest_words(rule, language) == expected


def test_iban_is_grouped_in_fours() -> None:
    """The IBAN reads as on paper, whatever spacing it was stored with."""
    assert group_iban("DE89370400440532013000") == "DE89 3704 0044 0532 0130 00"
    assert group_iban("de89 3704 0044 0532013000") == "DE89 3704 0044 0532 0130 00"


@pytest.mark.parametrize(("country", "fallback", "expected"), [
    ("DE", "en", "de"), ("at", "en", "de"), ("CH", "en", "de"), ("LI", "en", "de"), ("LU", "en", "de"),
    ("FR", "en", "en"), ("FR", "de", "de"), ("", "de", "de"), ("US", "fr", "en"), ("GB", "de", "en"),
    ("ie", "de", "en"),
])
def test_language_follows_the_country_then_the_shops_default(country: str, fallback: str, expected: str) -> None:
    """German for the German-speaking countries, English for the English-speaking ones (a London customer of a
    German shop got German before), else the shop's default; only languages that have templates."""
    assert language_for(country, fallback) == expected


def readme_variables() -> set[str]:
    """The top-level names in the variables table of policy/templates/README.md, plus `letter` below it."""
    text = (SHIPPED / "README.md").read_text(encoding="utf-8")
    section = text.split("## Variables", 1)[1].split("\n## ", 1)[0]
    return {m[1] for m in re.finditer(r"^\| `(\w+)", section, re.MULTILINE)}


def test_context_is_exactly_the_documented_contract() -> None:
    """Every variable the README documents is passed, and nothing else."""
    assert set(context(sample_notice("de"))) == readme_variables()
    assert "letter" in readme_variables()


def test_context_formats_every_amount_and_date_for_the_notices_language() -> None:
    """Amounts, dates and offers arrive as text in the customer's language; optional parts as None."""
    values = context(sample_notice("de"), letter=True)
    assert values["letter"] is True
    # 1234.50 + 2.50 + 12.34 + 40.00 − 150.00 paid − 379.34 not yet due = 760.00; less 10 %: 684.00.
    assert values["amounts"]["total"] == f"760,00{NBSP}€" and values["deadline"] == "27. März 2026"
    assert values["amounts"]["deferred"] == f"379,34{NBSP}€"
    assert values["offer"] == {"kind": "discount", "discount_percent": f"10{NBSP}%",
                               "discounted_total": f"684,00{NBSP}€", "until": "20. März 2026"}
    assert values["missed"] == {"number": 2, "date": "1. Mai 2026", "amount": f"380,00{NBSP}€", "days_late": 15}
    assert values["shop"]["iban"] == "DE89 3704 0044 0532 0130 00"
    assert values["interest_rule"] == "5 Prozentpunkte über dem Basiszinssatz"
    bare = replace(sample_notice("en"), fees=None, interest=None, interest_rule=None, offer=None, agency=None,
                   missed=None, payments=(), default_since=None)
    values = context(bare)
    assert values["amounts"]["fees"] is None and values["interest_rule"] is None and values["offer"] is None
    assert values["payments"] == [] and values["missed"] is None and values["amounts"]["total"] == "€760.00"


def test_sample_notice_sets_every_optional_part() -> None:
    """The sample used by check_templates leaves nothing out, so every template branch that shows data renders."""
    notice = sample_notice("en")
    assert all(getattr(notice, f.name) not in (None, "", ()) for f in fields(Notice))
    assert notice.interest_rule is not None and notice.interest_rule.kind == "base_plus"
    assert notice.customer.name == HOSTILE


def woo_note(rendered: Rendered) -> str:
    """The customer note WooCommerce gets for a rendered message (connectors/woocommerce/actions.py)."""
    return note_text(CustomerMessage("k", "", "", rendered.subject, rendered.text, rendered.html, "de"))


def stage_notice(stage: str, language: str) -> Notice:
    """A notice as the engine builds it: invoice 1,234.50, 100.00 paid, interest accrued, this stage's fee."""
    action = Action("send", stage, date(2026, 3, 13), "due", "due", fee=Decimal("2.50"), deadline=date(2026, 3, 27),
                    template=stage, offer=Offer("discount", Decimal(10)))
    balance = Balance(on=date(2026, 3, 13), currency="EUR", principal=Decimal("1134.50"), fees=Decimal(0),
                      flat_fee=Decimal(0), interest=Decimal("3.21"), fees_charged=Decimal(0),
                      interest_accrued=Decimal("3.21"), paid=Decimal(100), credit=Decimal(0),
                      payments=(Payment(date(2026, 3, 3), Decimal(100)),), periods=())
    merchant = Merchant(name="Gartenglück GmbH", email="buchhaltung@gartenglueck.example", phone="+49 30 1234567",
                        iban="DE89370400440532013000", bic="COBADEFFXXX", bank_name="Commerzbank")
    return notice_for(action, balance, invoice_amount=Decimal("1234.50"), default_on=date(2026, 2, 17),
                      language=language, merchant=merchant, customer=Addressee(name="Erika Mustermann"),
                      order_number="100234", invoice_number="RE-2026-0815", invoice_date=date(2026, 2, 2),
                      due_date=date(2026, 2, 16),
                      interest_rule=InterestRule("base_plus", points=Decimal(5), table=DE_BASE_RATE))


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("letter", [False, True])
def test_every_stage_renders_from_the_engines_notice(stage: str, language: str, letter: bool) -> None:
    """Subject, text and HTML (and WooCommerce's note of them) come from the shipped templates; the total
    includes this stage's fee."""
    rendered = Templates(None).render(stage_notice(stage, language), letter=letter)
    total = f"1.140,21{NBSP}€" if language == "de" else "€1,140.21"
    assert "RE-2026-0815" in rendered.subject and not rendered.subject.startswith("Subject")
    assert rendered.text.startswith(("Guten Tag Erika Mustermann,", "Dear Erika Mustermann,"))
    assert total in rendered.text and total in rendered.html and total in woo_note(rendered)
    assert "None" not in rendered.text and rendered.text.endswith("Gartenglück GmbH\n")
    assert rendered.template_file == str(SHIPPED / language / f"{stage}.txt.j2")
    assert ("IBAN: DE89 3704 0044 0532 0130 00" in rendered.text) is (not letter and stage != "agency_handover")


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_template_renders_from_the_sample(name: str, language: str) -> None:
    """All seven messages render in both languages from a claim with every optional part set."""
    rendered = Templates(None).render(replace(sample_notice(language), template=name))
    assert rendered.subject and rendered.text.endswith("Gartenglück GmbH\n")
    assert rendered.html.startswith("<!DOCTYPE html>") and f'<html lang="{language}">' in rendered.html
    assert woo_note(rendered).startswith(f"{rendered.subject}\n\n")


def test_the_instalment_table_keeps_its_columns_in_html() -> None:
    """Space-aligned columns are set in a fixed-width font, one <br> per row."""
    rendered = Templates(None).render(replace(sample_notice("de"), template="payment_plan"))
    table = next(p for p in rendered.html.split("<p ") if "fällig am" in p)
    assert "monospace" in table and table.count("<br>") == 3


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_an_override_replaces_one_file_only(tmp_path: Path) -> None:
    """The merchant's de/reminder wins for German reminders; English and the other stages stay shipped."""
    mine = write(tmp_path, "de/reminder.txt.j2", "Subject: Kleine Erinnerung {{ claim.invoice_number }}\n\n"
                                                 "Hallo {{ customer.name }}!\n")
    templates = Templates(tmp_path)
    rendered = templates.render(replace(sample_notice("de"), template="reminder"))
    assert rendered.subject == "Kleine Erinnerung RE-2026-0815" and rendered.text == f"Hallo {HOSTILE}!\n"
    assert rendered.template_file == templates.source_of("reminder", "de") == str(mine)
    assert templates.source_of("reminder", "en") == str(SHIPPED / "en" / "reminder.txt.j2")
    assert templates.source_of("dunning_1", "de") == str(SHIPPED / "de" / "dunning_1.txt.j2")
    assert templates.render(replace(sample_notice("de"), template="dunning_1")).subject.startswith("1. Mahnung")
    assert templates.exists("reminder", "de") and not templates.exists("reminder_2", "de")


def test_an_override_added_or_edited_counts_from_the_next_message_on(tmp_path: Path) -> None:
    """Compiled templates are kept per process, by file and source: a file the merchant adds while the daemon runs
    is used for the next message, an edit too, and a runtime error still names the file and line."""
    templates = Templates(tmp_path)
    notice = replace(sample_notice("de"), template="reminder")
    assert templates.render(notice).template_file == str(SHIPPED / "de" / "reminder.txt.j2")
    mine = write(tmp_path, "de/reminder.txt.j2", "Subject: Erste {{ claim.invoice_number }}\n\nHallo!\n")
    assert templates.render(notice).subject == "Erste RE-2026-0815"
    write(tmp_path, "de/reminder.txt.j2", "Subject: Zweite {{ claim.invoice_number }}\n\nHallo!\n")
    assert templates.render(notice).subject == "Zweite RE-2026-0815"
    assert Templates(tmp_path).render(notice).subject == "Zweite RE-2026-0815"  # another instance, the same file
    write(tmp_path, "de/reminder.txt.j2", "Subject: Dritte\n\n{{ shop.adress }}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{mine}:3: template:")):
        templates.render(notice)


def test_a_missing_override_folder_means_the_shipped_templates(tmp_path: Path) -> None:
    """`<config-dir>/templates` is optional."""
    templates = Templates(tmp_path / "templates")
    assert templates.source_of("reminder", "de") == str(SHIPPED / "de" / "reminder.txt.j2")


def test_customer_data_is_never_template_code() -> None:
    """A name that looks like Jinja or HTML is printed as written in the text, escaped in HTML and in the note."""
    rendered = Templates(None).render(sample_notice("de"))
    assert f"Guten Tag {HOSTILE}," in rendered.text
    assert "Guten Tag {{7*7}} &lt;script&gt;alert(1)&lt;/script&gt;," in rendered.html
    assert "Guten Tag {{7*7}} &lt;script&gt;alert(1)&lt;/script&gt;," in woo_note(rendered)
    for part in (rendered.text, rendered.html, woo_note(rendered)):
        assert "Guten Tag 49" not in part
    assert "<script" not in rendered.html and "<script" not in woo_note(rendered)


def test_the_note_is_the_whole_message_escaped_for_woocommerce() -> None:
    """Subject, blank line, body; <, > and & escaped, quotes and newlines kept (WooCommerce adds <p>/<br>)."""
    notice = replace(sample_notice("en"), customer=Addressee(name='Tom "T" O\'Neil & <b>Co</b>'))
    rendered = Templates(None).render(notice)
    assert woo_note(rendered) == (f"{rendered.subject}\n\n{rendered.text}".rstrip("\n")
                             .replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    assert "Dear Tom \"T\" O'Neil &amp; &lt;b&gt;Co&lt;/b&gt;," in woo_note(rendered)


def test_an_html_layout_override_is_autoescaped_too(tmp_path: Path) -> None:
    """Autoescaping follows the file name, so the merchant's own mail.html.j2 cannot let markup through."""
    write(tmp_path, "mail.html.j2", "<h1>{{ subject }}</h1>{% for p in paragraphs %}<p>{{ p|join(' ') }}</p>"
                                    "{% endfor %}<footer>{{ shop.address_line }}</footer>\n")
    rendered = Templates(tmp_path).render(sample_notice("en"))
    assert rendered.html.startswith("<h1>Second notice") and "&lt;script&gt;" in rendered.html
    assert "<script" not in rendered.html


def test_shipped_templates_pass_the_check(tmp_path: Path) -> None:
    """Every shipped template renders as mail and as letter, in both languages; an empty override changes nothing."""
    assert check_templates(None, NAMES) == []
    assert check_templates(tmp_path / "templates", NAMES) == []


@pytest.mark.parametrize(("source", "line", "message"), [
    ("Subject: x\n\nGuten Tag {{ customer.name }},\n{{ claim.invoice_number }\n", 4, "syntax error: unexpected '}'"),
    ("Subject: x\n\nGuten Tag,\n\n{{ custmer.name }}\n", 5,
     "undefined variable 'custmer' (did you mean 'customer'?)"),
    ("Subject: x\n\n{{ claim.invoice_numbr }}\n", 3,
     "undefined attribute 'invoice_numbr' (did you mean 'invoice_number'?)"),
    ("Subject: x\n\n\n{{ ''.__class__.__mro__ }}\n", 4, "not allowed in the template sandbox"),
    ("Betreff: Erinnerung\n\nGuten Tag,\n", 1, "the first line must be 'Subject: …'"),
])
def test_check_names_file_line_and_cause(tmp_path: Path, source: str, line: int, message: str) -> None:
    """A broken override is reported once (not per language or medium) with its file, line and what is wrong."""
    path = write(tmp_path, "de/reminder.txt.j2", source)
    problems = check_templates(tmp_path, ["reminder", "dunning_1"], ["de", "en"])
    assert len(problems) == 1, problems
    assert (problems[0].file, problems[0].line, problems[0].key) == (str(path), line, "template")
    assert problems[0].message.startswith(message)


def test_an_optional_value_used_without_a_guard_is_reported_when_missing(tmp_path: Path) -> None:
    """`agency.name` with no agency set tells the merchant to guard it, at the line it is used."""
    path = write(tmp_path, "en/reminder.txt.j2", "Subject: x\n\nDear {{ customer.name }},\n{{ agency.name }}\n")
    with pytest.raises(ConfigError) as caught:
        Templates(tmp_path).render(replace(sample_notice("en"), template="reminder", agency=None))
    problem = caught.value.problems[0]
    assert (problem.file, problem.line) == (str(path), 4) and "guard it" in problem.message


def test_check_reports_a_missing_template_with_where_it_was_looked_for(tmp_path: Path) -> None:
    """A template the policy names but nobody ships: the override folder and the shipped set are both named."""
    problems = check_templates(tmp_path, ["reminder_2"], ["de"])
    expected = f"no template reminder_2.txt.j2 in {tmp_path / 'de'} or the shipped templates"
    assert [p.message for p in problems] == [expected]
    assert problems[0].file == str(tmp_path / "de" / "reminder_2.txt.j2")


def test_check_reports_a_broken_html_layout(tmp_path: Path) -> None:
    """The layout is checked too, with its own file and line."""
    path = write(tmp_path, "mail.html.j2", "<p>{{ subject }}</p>\n<p>{{ shop.adress }}</p>\n")
    problems = check_templates(tmp_path, ["reminder"])
    assert [(p.file, p.line) for p in problems] == [(str(path), 2)]
    assert "'adress'" in problems[0].message


def test_render_refuses_a_broken_template_at_send_time(tmp_path: Path) -> None:
    """A template that breaks while sending raises ConfigError naming the file, never sends a half message."""
    path = write(tmp_path, "de/dunning_1.txt.j2", "Subject: x\n\n{{ 1 + }}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:3: template: syntax error")):
        Templates(tmp_path).render(replace(sample_notice("de"), template="dunning_1"))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "agency_handover"])  # the agency collects, not us
@pytest.mark.parametrize("language", ["de", "en"])
def test_bank_details_leave_out_what_the_merchant_did_not_give(name: str, language: str) -> None:
    """Without a bank name the BIC stands alone; without a BIC its line goes (seen in a real shop's mail: "()")."""
    sample = sample_notice(language)
    no_bank = replace(sample, template=name, merchant=replace(sample.merchant, bank_name=""))
    text = Templates(None).render(no_bank).text
    assert "BIC: COBADEFFXXX\n" in text and "()" not in text
    no_bic = replace(no_bank, merchant=replace(sample.merchant, bic="", bank_name=""))
    assert "BIC" not in Templates(None).render(no_bic).text
