"""A notice as a postal letter: the strings of connectors/letter.py's layout, in the customer's language, and
where the PDF goes. The body comes from the same template as the mail (rendered with `letter=True`, which leaves
the amount statement and the bank details to the letter's table and payment box)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from mahnwerk.connectors.girocode import GiroCodeError, epc_payload
from mahnwerk.connectors.letter import LetterContent
from mahnwerk.policy.notice import Notice
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.outbox.formats import day, group_iban, money
from mahnwerk.sync.outbox.templates import Rendered

LABELS = {
    "de": {"principal": "Rechnungsbetrag", "fees": "Mahngebühren", "interest": "Verzugszinsen",
           "flat_fee": "Verzugspauschale", "paid": "abzüglich bereits gezahlt",
           "deferred": "abzüglich später fälliger Raten", "total": "Offener Betrag",
           "table": "Rechnung {number} vom {date}", "pay_by": "Bitte zahlen Sie {total} bis spätestens {date}.",
           "bank": "Bankverbindung", "holder": "Kontoinhaber", "bank_name": "Bank", "reference": "Verwendungszweck",
           "qr": "Mit der Banking-App scannen (GiroCode): Betrag und Verwendungszweck sind ausgefüllt.",
           "phone": "Telefon", "vat": "USt-IdNr.", "page": "Seite", "court": "Registergericht",
           "register": "Registernummer", "director": "Geschäftsführung", "directors": "Geschäftsführung"},
    "en": {"principal": "Invoice amount", "fees": "Dunning fees", "interest": "Default interest",
           "flat_fee": "Late payment compensation", "paid": "less payments received",
           "deferred": "less instalments not yet due", "total": "Amount due",
           "table": "Invoice {number} of {date}", "pay_by": "Please pay {total} by {date} at the latest.",
           "bank": "Bank details", "holder": "Account holder", "bank_name": "Bank", "reference": "Payment reference",
           "qr": "Scan with your banking app (EPC QR code): amount and reference are filled in.",
           "phone": "Phone", "vat": "VAT ID", "page": "Page", "court": "Register court",
           "register": "Register number", "director": "Managing director", "directors": "Managing directors"},
}


def letter_content(notice: Notice, rendered: Rendered, *, girocode: bool = True) -> LetterContent:
    """The letter's strings for one notice; the EPC QR code only for EUR and a valid account."""
    words, lang, m = LABELS[notice.language], notice.language, notice.merchant

    def amount(value: Decimal) -> str:
        return money(value, notice.currency, lang)

    body = tuple(p for p in re.split(r"\n\s*\n", rendered.text.strip("\n")) if p.strip())
    closing_at = next((i for i, p in enumerate(body) if p.splitlines()[-1].strip() == m.name), len(body))
    table = tuple((words[key], amount(value)) for key, value in notice.statement)
    payload = None
    if girocode and notice.currency == "EUR" and m.iban and notice.total > 0:
        try:
            payload = epc_payload(name=m.account_holder or m.name, iban=m.iban, bic=m.bic, amount=notice.total,
                                  currency=notice.currency, remittance=notice.reference)
        except GiroCodeError:
            payload = None  # the letter still names the account; `check` reports the bad account details
    sender = (m.name, m.street, f"{m.postcode} {m.city}".strip(), f"{words['phone']} {m.phone}" if m.phone else "",
              m.email, m.website)
    return LetterContent(
        sender_line=m.address_line,
        sender_block=tuple(line for line in sender if line),
        recipient=tuple(notice.customer.address_lines(home_country=m.country))[:6],
        place_date=f"{m.city}, {day(notice.issued_on, lang)}" if m.city else day(notice.issued_on, lang),
        subject=rendered.subject,
        body=body[:closing_at],
        table_title=words["table"].format(number=notice.invoice_number, date=day(notice.invoice_date, lang)),
        table=table,
        pay_by=words["pay_by"].format(total=amount(notice.total), date=day(notice.deadline, lang))
        if notice.deadline else "",
        bank_title=words["bank"],
        bank=tuple((label, value) for label, value in (
            (words["holder"], m.account_holder or m.name), ("IBAN", group_iban(m.iban)), ("BIC", m.bic),
            (words["bank_name"], m.bank_name), (words["reference"], notice.reference)) if value),
        qr_payload=payload,
        qr_caption=words["qr"] if payload else "",
        closing=tuple(line for p in body[closing_at:] for line in p.splitlines()),
        footer=footer_lines(notice),
        title=rendered.subject,
        language=lang,
    )


def footer_lines(notice: Notice) -> tuple[str, ...]:
    """The sender's address, then the legal-form details a company prints on its business letters (managing
    directors, register court and number: §35a GmbHG, §80 AktG, §125a HGB) and its VAT id, each part that is set,
    in one line that the letter breaks between parts where it is too long."""
    m, words = notice.merchant, LABELS[notice.language]
    directors = ", ".join(m.managing_directors)
    parts = [f"{words['directors' if len(m.managing_directors) > 1 else 'director']}: {directors}" if directors
             else "", f"{words['court']}: {m.register_court}" if m.register_court else "",
             f"{words['register']}: {m.register_number}" if m.register_number else "",
             f"{words['vat']} {m.vat_id}" if m.vat_id else ""]
    return (" · ".join(p for p in (m.address_line, *parts) if p),)


def letters_folder(shop: ShopConfig, database_dir: Path) -> Path:
    """The shop's print folder: [letters] folder, else next to the database."""
    return shop.letters.folder or database_dir / "letters" / shop.id


def letter_file(folder: Path, notice: Notice, key: str) -> Path:
    """One file per action: <folder>/<day>/<invoice>-<stage>-<n>.pdf (the key's last part tells repeats apart)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", notice.invoice_number).strip("._") or notice.order_number
    occurrence = key.rsplit("/", 1)[-1]
    return folder / notice.issued_on.isoformat() / f"{safe}-{notice.stage}-{occurrence}.pdf"
