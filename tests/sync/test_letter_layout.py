"""The postal letter of the usual claim, drawn from the engine's notice and read back with pypdf: one page with the
statement, the bank box and the GiroCode; the company's legal-form lines in the footer; the invoice named as the
payment reference in the letter, the GiroCode and the mail."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pypdf
import pytest

from mahnwerk.connectors.letter import render_letter
from mahnwerk.policy.engine import assess
from mahnwerk.policy.model import ClaimFacts, Event, StageDone
from mahnwerk.policy.notice import Addressee, Merchant, Notice, notice_for, payment_reference
from mahnwerk.policy.presets import PRESETS
from mahnwerk.sync.config.load import load_config
from mahnwerk.sync.outbox.letters import footer_lines, letter_content
from mahnwerk.sync.outbox.templates import Templates

from .test_config import SHOP, problems, write

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
MERCHANT = Merchant(name="Gartenglück GmbH", email="buchhaltung@gartenglueck.de", street="Hauptstr. 1",
                    postcode="10115", city="Berlin", country="DE", phone="+49 30 1234567",
                    website="https://gartenglueck.de", account_holder="Gartenglück GmbH",
                    iban="DE89370400440532013000", bic="COBADEFFXXX", bank_name="Commerzbank", vat_id="DE123456789",
                    register_court="Amtsgericht Charlottenburg", register_number="HRB 123456 B",
                    managing_directors=("Erika Gärtner", "Max Gärtner"))
CUSTOMER = Addressee(name="Erika Mustermann", address_1="Beispielweg 5", postcode="80331", city="München",
                     country="DE")
POLICY = PRESETS["de-b2c"]
# The usual claim: 119.00, invoiced 17 November, due 1 December 2025; default and interest run across 1 January 2026
# (two interest periods by the time of the 2nd notice).
CLAIM = ClaimFacts("acme:5007", "EUR", Decimal("119.00"), date(2025, 11, 17), date(2025, 12, 1), False)


def notices(language: str, merchant: Merchant = MERCHANT) -> dict[str, Notice]:
    """The reminder and the dunning notices of the usual claim, each on the day the engine sends it."""
    history: list[Event] = []
    day, found = date(2025, 12, 8), {}
    while len(found) < 3:
        result = assess(CLAIM, history, day, POLICY)
        action = result.next
        assert action is not None and result.next_balance is not None and action.kind == "send"
        found[action.stage] = notice_for(
            action, result.next_balance, invoice_amount=CLAIM.principal, default_on=result.default_on,
            language=language, merchant=merchant, customer=CUSTOMER, order_number="5007", invoice_number="1007",
            invoice_date=CLAIM.invoice_date, due_date=CLAIM.due_date, interest_rule=POLICY.interest_rule(CLAIM))
        history.append(StageDone(action.on, action.stage, action.deadline, action.fee))
        day = action.deadline or action.on
    return found


def pdf_of(notice: Notice) -> pypdf.PdfReader:
    rendered = Templates(None).render(notice, letter=True)
    font = FONT if FONT.is_file() else None
    return pypdf.PdfReader(BytesIO(render_letter(letter_content(notice, rendered), font=font)))


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("stage", ["reminder", "dunning_1", "dunning_2"])
def test_the_usual_claims_letters_fit_one_page_with_the_bank_box_and_the_girocode(language: str,
                                                                                   stage: str) -> None:
    """Statement, bank box, GiroCode, greeting and the legal footer all on page 1."""
    notice = notices(language)[stage]
    if stage == "dunning_2":  # interest from 19 Dec 2025 split at 1 January: two periods
        assert notice.interest is not None and notice.interest > 0
    reader = pdf_of(notice)
    assert len(reader.pages) == 1
    page = reader.pages[0]
    text = page.extract_text()
    holder, reference = ("Kontoinhaber", "Verwendungszweck Rechnung 1007") if language == "de" else (
        "Account holder", "Payment reference Invoice 1007")
    assert holder in text and reference in text and "DE89 3704 0044 0532 0130 00" in text
    assert len(page.images) == 1  # the GiroCode
    assert "Registergericht" in text or "Register court" in text


def test_a_long_letter_keeps_the_statement_and_the_bank_box_together() -> None:
    """When the text leaves no room, the statement moves to page 2 with the bank box: never the box alone."""
    notice = notices("de")["dunning_1"]
    rendered = Templates(None).render(notice, letter=True)
    rendered = replace(rendered, text=rendered.text.replace("\n\n", "\n\n" + "Ein langer Absatz. " * 40 + "\n\n", 1))
    reader = pypdf.PdfReader(BytesIO(render_letter(letter_content(notice, rendered), font=None)))
    first, second = (page.extract_text() for page in reader.pages)
    assert "Rechnungsbetrag" not in first and "Bankverbindung" not in first
    assert "Rechnungsbetrag" in second and "Bankverbindung" in second and len(reader.pages[1].images) == 1


def test_the_footer_prints_the_legal_form_lines_that_are_set() -> None:
    """Managing directors, register court and number, VAT id: in the footer after the address, wrapped between
    parts; a merchant with none of them prints the address alone."""
    notice = notices("de")["reminder"]
    assert footer_lines(notice) == ("Gartenglück GmbH · Hauptstr. 1 · 10115 Berlin · Geschäftsführung: Erika Gärtner, "
                                    "Max Gärtner · Registergericht: Amtsgericht Charlottenburg · Registernummer: "
                                    "HRB 123456 B · USt-IdNr. DE123456789",)
    lines = pdf_of(notice).pages[0].extract_text().splitlines()
    assert lines[-2:] == ["Gartenglück GmbH · Hauptstr. 1 · 10115 Berlin · Geschäftsführung: Erika Gärtner, Max "
                          "Gärtner", "Registergericht: Amtsgericht Charlottenburg · Registernummer: HRB 123456 B · "
                                     "USt-IdNr. DE123456789"]
    one = replace(MERCHANT, managing_directors=("Erika Gärtner",), register_court="", register_number="")
    assert footer_lines(notices("en", one)["reminder"]) == (
        "Gartenglück GmbH · Hauptstr. 1 · 10115 Berlin · Managing director: Erika Gärtner · VAT ID DE123456789",)
    bare = replace(MERCHANT, vat_id="", register_court="", register_number="", managing_directors=())
    bare_notice = notices("de", bare)["reminder"]
    assert footer_lines(bare_notice) == ("Gartenglück GmbH · Hauptstr. 1 · 10115 Berlin",)
    text = pdf_of(bare_notice).pages[0].extract_text()
    assert "Registergericht" not in text and "Geschäftsführung" not in text and "USt-IdNr" not in text


@pytest.mark.parametrize(("language", "reference"), [("de", "Rechnung 1007"), ("en", "Invoice 1007")])
def test_the_payment_reference_names_the_invoice_in_letter_girocode_and_mail(language: str, reference: str) -> None:
    """The Verwendungszweck is "Rechnung 1007" / "Invoice 1007" wherever the customer reads or scans it."""
    notice = notices(language)["dunning_1"]
    assert notice.reference == reference
    content = letter_content(notice, Templates(None).render(notice, letter=True))
    assert content.qr_payload is not None and content.qr_payload.split("\n")[10] == reference  # EPC line 11
    assert dict(content.bank)["Verwendungszweck" if language == "de" else "Payment reference"] == reference
    mail = Templates(None).render(notice).text
    assert f"{'Verwendungszweck' if language == 'de' else 'Payment reference'}: {reference}" in mail


def test_a_reference_that_would_not_fit_the_girocode_is_the_bare_number() -> None:
    """The EPC QR code carries at most 140 characters of remittance: "Rechnung " + 131 characters is the limit."""
    assert payment_reference("X" * 131, "de") == "Rechnung " + "X" * 131  # 9 + 131 = 140
    assert payment_reference("X" * 132, "de") == "X" * 132


def test_merchant_legal_lines_come_from_the_shop_file(tmp_path: Path) -> None:
    """[merchant] managing_directors takes one name or a list; register_court and register_number are text."""
    write(tmp_path, "shops/acme.toml", SHOP + '[merchant]\nregister_court = "Amtsgericht Charlottenburg"\n'
          'register_number = "HRB 123456 B"\nmanaging_directors = ["Erika Gärtner", "Max Gärtner"]\n')
    merchant = load_config(tmp_path, environ={"ACME_WC_KEY": "k", "ACME_WC_SECRET": "s"}).shop("acme").merchant
    assert (merchant.register_court, merchant.register_number, merchant.managing_directors) == (
        "Amtsgericht Charlottenburg", "HRB 123456 B", ("Erika Gärtner", "Max Gärtner"))
    write(tmp_path, "shops/acme.toml", SHOP + '[merchant]\nmanaging_directors = "Erika Gärtner"\n')
    merchant = load_config(tmp_path, environ={"ACME_WC_KEY": "k", "ACME_WC_SECRET": "s"}).shop("acme").merchant
    assert merchant.managing_directors == ("Erika Gärtner",)
    write(tmp_path, "shops/acme.toml", SHOP + "[merchant]\nmanaging_directors = 3\n")
    assert problems(tmp_path) == ['shops/acme.toml:11: merchant.managing_directors: expected a name or a list of '
                                  'names like ["Erika Muster", "Max Muster"], got 3']
