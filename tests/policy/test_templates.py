"""Customer message templates (policy/templates/<lang>/<name>.txt.j2): they render in a sandbox from a plain dict.

The samples are written as mahnwerk.sync.outbox.templates formats them: long dates, Babel's no-break space (NBSP) before
"€" and "%" in German.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

TEMPLATES = Path(__file__).resolve().parents[2] / "policy" / "templates"
LANGUAGES = ("de", "en")
NAMES = ("reminder", "dunning_1", "dunning_2", "final_notice", "agency_handover", "payment_plan", "plan_broken")
# Templates that ask the customer to pay the shop: bank details, reference and the new deadline.
PAYMENT_REQUESTS = ("reminder", "dunning_1", "dunning_2", "final_notice", "payment_plan", "plan_broken")
WITH_DEADLINE = ("reminder", "dunning_1", "dunning_2", "final_notice", "plan_broken")
WITH_STATEMENT = ("dunning_1", "dunning_2", "final_notice", "plan_broken")  # every amount line, when set
WITH_PAYMENTS = ("reminder", "dunning_1", "dunning_2", "final_notice", "plan_broken")
WITH_OFFER = ("reminder", "dunning_1", "dunning_2", "final_notice", "plan_broken")
BEFORE_AGENCY = ("reminder", "dunning_1", "dunning_2", "payment_plan", "plan_broken")
NOTICES = ("reminder", "dunning_1", "dunning_2", "final_notice", "plan_broken")  # ask for payment of an open claim
NBSP = "\u00a0"

SAMPLES = {
    "de": {
        "shop": {"name": "Gartenglück GmbH", "email": "buchhaltung@gartenglueck.example", "phone": "+49 30 1234567",
                 "website": "https://gartenglueck.example", "iban": "DE89 3704 0044 0532 0130 00",
                 "bic": "COBADEFFXXX", "bank_name": "Commerzbank", "account_holder": "Gartenglück GmbH"},
        "customer": {"name": "Erika Mustermann", "company": "Mustermann Landschaftsbau"},
        "claim": {"order_number": "100234", "invoice_number": "RE-2026-0815", "invoice_date": "2. Februar 2026",
                  "due_date": "16. Februar 2026", "currency": "EUR"},
        "amounts": {"principal": "1.234,50\u00a0€", "fees": "2,50\u00a0€", "interest": "12,34\u00a0€",
                    "flat_fee": "40,00\u00a0€", "paid": "150,00\u00a0€", "deferred": None, "total": "1.139,34\u00a0€"},
        "interest_rule": "9 Prozentpunkte über dem Basiszinssatz",
        "default_since": "17. Februar 2026",
        "deadline": "27. März 2026",
        "payments": [{"date": "3. März 2026", "amount": "100,00\u00a0€"},
                     {"date": "10. März 2026", "amount": "50,00\u00a0€"}],
        "offer": {"kind": "discount", "discount_percent": "10\u00a0%", "discounted_total": "1.025,41\u00a0€",
                  "until": "20. März 2026"},
        "agency": {"name": "Beispiel Inkasso GmbH", "address": "Musterweg 1, 10115 Berlin"},
        "instalments": [{"number": 1, "date": "1. April 2026", "amount": "380,00\u00a0€"},
                        {"number": 2, "date": "1. Mai 2026", "amount": "380,00\u00a0€"},
                        {"number": 3, "date": "1. Juni 2026", "amount": "379,34\u00a0€"}],
        "missed": {"number": 2, "date": "1. Mai 2026", "amount": "380,00\u00a0€", "days_late": 15},
        "reference": "RE-2026-0815",
        "plan_accelerates": False,
        "letter": False,
    },
    "en": {
        "shop": {"name": "Garden Joy Ltd", "email": "accounts@gardenjoy.example", "phone": "+44 20 7946 0958",
                 "website": "https://gardenjoy.example", "iban": "GB29 NWBK 6016 1331 9268 19",
                 "bic": "NWBKGB2L", "bank_name": "NatWest", "account_holder": "Garden Joy Ltd"},
        "customer": {"name": "Jane Smith", "company": "Smith Landscaping"},
        "claim": {"order_number": "100234", "invoice_number": "INV-2026-0815", "invoice_date": "2 February 2026",
                  "due_date": "16 February 2026", "currency": "EUR"},
        "amounts": {"principal": "€1,234.50", "fees": "€2.50", "interest": "€12.34", "flat_fee": "€40.00",
                    "paid": "€150.00", "deferred": None, "total": "€1,139.34"},
        "interest_rule": "9 percentage points above the base rate",
        "default_since": "17 February 2026",
        "deadline": "27 March 2026",
        "payments": [{"date": "3 March 2026", "amount": "€100.00"}, {"date": "10 March 2026", "amount": "€50.00"}],
        "offer": {"kind": "discount", "discount_percent": "10%", "discounted_total": "€1,025.41",
                  "until": "20 March 2026"},
        "agency": {"name": "Example Collections Ltd", "address": "1 Example Street, London EC1A 1AA"},
        "instalments": [{"number": 1, "date": "1 April 2026", "amount": "€380.00"},
                        {"number": 2, "date": "1 May 2026", "amount": "€380.00"},
                        {"number": 3, "date": "1 June 2026", "amount": "€379.34"}],
        "missed": {"number": 2, "date": "1 May 2026", "amount": "€380.00", "days_late": 15},
        "reference": "INV-2026-0815",
        "plan_accelerates": False,
        "letter": False,
    },
}

# Words that have no place in a German message (English greetings) and threats a merchant cannot make good on.
ENGLISH_IN_GERMAN = re.compile(r"\b(Dear|Hello|Hi|Regards|Sincerely|Invoice|Payment)\b")
GERMAN_IN_ENGLISH = re.compile(r"\b(Guten Tag|Rechnung|Mahnung|Grüße|Sie)\b")
THREATS = {
    "de": re.compile(r"Schufa|Gerichtsvollzieher|Anwalt|Strafanzeige|Pfändung|Polizei", re.IGNORECASE),
    "en": re.compile(r"bailiff|solicitor|lawyer|police|credit (rating|file|reference)|seiz", re.IGNORECASE),
}
# Court action is a real next step after the final notice, so that notice names it; no earlier message does.
COURT_WORDS = {"de": re.compile(r"gericht(?!svollzieher)", re.IGNORECASE), "en": re.compile(r"court", re.IGNORECASE)}
# How a notice invites a dispute: objections, an unjustified claim, something about the order that is not right.
DISPUTE_WORDS = {"de": re.compile(r"Einwände|unberechtigt|etwas nicht"),
                 "en": re.compile(r"objection|dispute|not justified|isn't right")}
# The lines the PDF letter prints itself (statement table, payment box): a template leaves them out for letters.
LETTER_LINES = {"de": ("Aufstellung des offenen Betrags:", "Zur Übersicht:", "Rechnungsbetrag:", "Kontoinhaber:",
                       "IBAN:", "BIC:", "Verwendungszweck:"),
                "en": ("Statement of the amount due:", "At a glance:", "Invoice amount:", "Account holder:", "IBAN:",
                       "BIC:", "Payment reference:")}
AGENCY_WORDS = {"de": re.compile(r"inkasso", re.IGNORECASE),
                "en": re.compile(r"collection|debt collect", re.IGNORECASE)}


def full(lang: str) -> dict:
    """A context with every optional part set."""
    return copy.deepcopy(SAMPLES[lang])


def minimal(lang: str) -> dict:
    """A context with every optional part None or empty: one open invoice, no fees, no payments, no offer."""
    context = full(lang)
    context["shop"].update(phone="", website="")
    context["customer"]["company"] = ""
    context["amounts"].update(fees=None, interest=None, flat_fee=None, paid=None)
    context["amounts"]["total"] = context["amounts"]["principal"]
    context.update(interest_rule=None, default_since=None, payments=[], offer=None, agency=None)
    return context


def deferral(lang: str) -> dict:
    """The full context with a deferral instead of a discount, and a single partial payment."""
    context = full(lang)
    context["offer"] = {"kind": "deferral", "until": "15. April 2026" if lang == "de" else "15 April 2026"}
    context["payments"] = context["payments"][:1]
    context["amounts"].update(paid=context["payments"][0]["amount"],
                              total=f"1.189,34{NBSP}€" if lang == "de" else "€1,189.34")
    return context


CONTEXTS = {"full": full, "minimal": minimal, "deferral": deferral}


@pytest.fixture(scope="module")
def env() -> SandboxedEnvironment:
    """The environment the daemon uses: sandboxed, strict about unknown variables, keeping the last newline."""
    return SandboxedEnvironment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                                keep_trailing_newline=True)


def render(env: SandboxedEnvironment, lang: str, name: str, context: dict) -> tuple[str, str]:
    """Subject (without 'Subject: ') and body of one rendered template."""
    text = env.get_template(f"{lang}/{name}.txt.j2").render(context)
    first, blank, body = text.split("\n", 2)
    assert first.startswith("Subject: ") and blank == "", f"{lang}/{name}: first line must be 'Subject: …', then ''"
    return first.removeprefix("Subject: "), body


def cases() -> list:
    """Every language × template × context × medium (mail, letter)."""
    return [pytest.param(lang, name, kind, letter, id=f"{lang}-{name}-{kind}-{'letter' if letter else 'mail'}")
            for lang in LANGUAGES for name in NAMES for kind in CONTEXTS for letter in (False, True)]


def in_context(kind: str, lang: str, letter: bool) -> dict:
    """The named sample context, for a mail or for a letter."""
    return CONTEXTS[kind](lang) | {"letter": letter}


def paragraph_with(body: str, text: str) -> str:
    """The paragraph (text between blank lines) that contains `text`."""
    return next(p for p in body.split("\n\n") if text in p)


def test_both_languages_have_exactly_the_same_templates() -> None:
    """de/ and en/ hold the same template files, and those are exactly the names the policy knows."""
    found = {lang: sorted(p.name for p in (TEMPLATES / lang).iterdir()) for lang in LANGUAGES}
    assert found["de"] == found["en"] == sorted(f"{name}.txt.j2" for name in NAMES)


@pytest.mark.parametrize(("lang", "name"), [(lang, name) for lang in LANGUAGES for name in NAMES])
def test_template_files_are_short_and_start_with_a_subject(lang: str, name: str) -> None:
    """Each file is under ~45 lines and its first line is the subject, followed by a blank line."""
    lines = (TEMPLATES / lang / f"{name}.txt.j2").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 45
    assert lines[0].startswith("Subject: ") and lines[1] == ""


@pytest.mark.parametrize(("lang", "name", "kind", "letter"), cases())
def test_renders_completely_and_cleanly(env: SandboxedEnvironment, lang: str, name: str, kind: str,
                                        letter: bool) -> None:
    """No markup, no 'None', no stray blank lines or trailing spaces; the message ends with the shop's name."""
    context = in_context(kind, lang, letter)
    subject, body = render(env, lang, name, context)
    text = f"{subject}\n{body}"
    for leftover in ("{{", "}}", "{%", "%}", "{#", "#}", "None", "Undefined"):
        assert leftover not in text, f"{leftover!r} in {lang}/{name}"
    assert context["claim"]["invoice_number"] in subject
    assert "\n\n\n" not in body and not re.search(r"[ \t]$", body, re.MULTILINE) and not body.startswith("\n")
    assert not re.search(r"\s[.,;:)]|\(\s*\)", text), "an empty value left a gap before punctuation"
    assert body.rstrip("\n").splitlines()[-1] == context["shop"]["name"]
    assert body.endswith("\n") and not body.endswith("\n\n")


@pytest.mark.parametrize(("lang", "name", "kind", "letter"), cases())
def test_names_the_claim_the_amount_and_the_reference(env: SandboxedEnvironment, lang: str, name: str,
                                                      kind: str, letter: bool) -> None:
    """Every message names invoice, order, customer and open total; payment requests add the deadline, and bank
    details in a mail (a letter prints them in its payment box)."""
    context = in_context(kind, lang, letter)
    _, body = render(env, lang, name, context)
    claim, shop = context["claim"], context["shop"]
    for value in (claim["invoice_number"], claim["order_number"], context["customer"]["name"],
                  context["amounts"]["total"], context["reference"]):
        assert value in body
    if name in WITH_DEADLINE:
        assert context["deadline"] in body
    if name in PAYMENT_REQUESTS and not letter:
        for value in (shop["iban"], shop["bic"], shop["bank_name"], shop["account_holder"]):
            assert value in body
        reference_line = "Verwendungszweck: " if lang == "de" else "Payment reference: "
        assert reference_line + context["reference"] in body
    elif name in PAYMENT_REQUESTS:
        assert ("das unten angegebene Konto" if lang == "de" else "the account shown below") in body
    else:  # after the hand-over the customer pays the agency, not us
        assert shop["iban"] not in body


@pytest.mark.parametrize(("lang", "name", "kind"), [(lang, name, kind) for lang in LANGUAGES for name in NAMES
                                                    for kind in CONTEXTS])
def test_a_letter_leaves_the_statement_and_bank_details_to_its_layout(env: SandboxedEnvironment, lang: str,
                                                                       name: str, kind: str) -> None:
    """With `letter` no statement lines and no bank-details block: the PDF prints them as a table and a payment box;
    the mail has both wherever the template itemises amounts or asks for payment."""
    context = CONTEXTS[kind](lang)
    _, mail = render(env, lang, name, context | {"letter": False})
    _, letter = render(env, lang, name, context | {"letter": True})
    for line in LETTER_LINES[lang]:
        assert line not in letter, f"{line!r} in the letter {lang}/{name}"
    assert context["shop"]["iban"] not in letter
    for value in (context["amounts"]["fees"], context["amounts"]["interest"], context["amounts"]["flat_fee"]):
        assert value is None or value not in letter
    if name in PAYMENT_REQUESTS:
        assert context["shop"]["iban"] in mail and LETTER_LINES[lang][3] in mail
    if name in WITH_STATEMENT:
        assert LETTER_LINES[lang][0] in mail and context["amounts"]["total"] in letter


@pytest.mark.parametrize(("lang", "name"), [(lang, name) for lang in LANGUAGES for name in NAMES])
def test_optional_parts_appear_only_when_set(env: SandboxedEnvironment, lang: str, name: str) -> None:
    """Fees, interest, flat fee, payments, company, phone, website and offers show when set and vanish when not."""
    rich, poor = full(lang), minimal(lang)
    _, with_all = render(env, lang, name, rich)
    _, without = render(env, lang, name, poor)
    optional = [rich["customer"]["company"]]
    if name != "agency_handover":  # after the hand-over, questions go to the agency
        optional += [rich["shop"]["phone"], rich["shop"]["website"]]
    if name in WITH_STATEMENT:
        amounts = rich["amounts"]
        optional += [amounts["fees"], amounts["interest"], amounts["flat_fee"], amounts["paid"], rich["interest_rule"]]
    if name in WITH_PAYMENTS:
        optional += [p["date"] for p in rich["payments"]]
    if name in WITH_OFFER:
        optional += [rich["offer"]["discounted_total"], rich["offer"]["discount_percent"]]
    if name in ("dunning_1", "dunning_2", "final_notice"):
        optional.append(rich["default_since"])
    if name in ("final_notice", "agency_handover"):
        optional.append(rich["agency"]["name"])
    for value in optional:
        assert value in with_all, f"{value!r} missing in {lang}/{name}"
        assert value not in without, f"{value!r} in {lang}/{name} without being set"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_deferral_offer_names_the_new_date(env: SandboxedEnvironment, lang: str) -> None:
    """A deferral offer renders its date instead of a discount."""
    context = deferral(lang)
    for name in WITH_OFFER:
        _, body = render(env, lang, name, context)
        assert context["offer"]["until"] in body and SAMPLES[lang]["offer"]["discounted_total"] not in body


@pytest.mark.parametrize(("lang", "name"), [(lang, name) for lang in LANGUAGES for name in BEFORE_AGENCY])
def test_no_collection_agency_before_the_final_notice(env: SandboxedEnvironment, lang: str, name: str) -> None:
    """Reminder, 1st and 2nd notice and the plan letters never mention a collection agency, even when one is set."""
    subject, body = render(env, lang, name, full(lang))
    assert not AGENCY_WORDS[lang].search(subject + body)
    assert SAMPLES[lang]["agency"]["name"] not in body


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", ["full", "minimal"])
def test_final_notice_and_handover_name_the_agency(env: SandboxedEnvironment, lang: str, kind: str) -> None:
    """The final notice announces the hand-over and its costs; the hand-over letter says where it went."""
    context = CONTEXTS[kind](lang)
    _, notice = render(env, lang, "final_notice", context)
    subject, handover = render(env, lang, "agency_handover", context)
    assert AGENCY_WORDS[lang].search(notice) and AGENCY_WORDS[lang].search(handover)
    assert ("Inkassokosten" if lang == "de" else "collection costs") in notice
    if context["agency"]:
        assert context["agency"]["name"] in subject and context["agency"]["address"] in handover


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", ["full", "minimal"])
@pytest.mark.parametrize("letter", [False, True])
def test_final_notice_names_the_deadline_and_what_follows_it(env: SandboxedEnvironment, lang: str, kind: str,
                                                             letter: bool) -> None:
    """One paragraph states the consequence of missing the last deadline: the hand-over to a collection agency and
    the court dunning procedure, with the date; nothing else that sounds like court action appears anywhere."""
    context = in_context(kind, lang, letter)
    _, notice = render(env, lang, "final_notice", context)
    consequence = paragraph_with(notice, "gerichtlichen Mahnverfahren" if lang == "de" else "court proceedings")
    assert context["deadline"] in consequence and AGENCY_WORDS[lang].search(consequence)
    for name in NAMES:
        if name != "final_notice":
            subject, body = render(env, lang, name, context)
            assert not COURT_WORDS[lang].search(subject + body), f"court action mentioned in {lang}/{name}"


@pytest.mark.parametrize(("lang", "name", "kind", "letter"),
                         [c for c in cases() if c.values[1] in NOTICES])
def test_every_notice_says_whom_to_contact_in_a_dispute(env: SandboxedEnvironment, lang: str, name: str, kind: str,
                                                        letter: bool) -> None:
    """The paragraph with the shop's e-mail address (and phone, when set) invites objections to the claim."""
    context = in_context(kind, lang, letter)
    _, body = render(env, lang, name, context)
    contact = paragraph_with(body, context["shop"]["email"])
    assert DISPUTE_WORDS[lang].search(contact), f"{lang}/{name}: no word on disputes next to the contact"
    if context["shop"]["phone"]:
        assert context["shop"]["phone"] in contact


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_stage_is_firmer_than_the_one_before(env: SandboxedEnvironment, lang: str) -> None:
    """The reminder supposes an oversight; the 1st notice states the missed due date; the 2nd sets a deadline "at
    the latest"; the final notice sets the last deadline. Only the notices speak of a notice (Mahnung)."""
    marks = {"de": {"reminder": "leicht einmal unter", "dunning_1": "abgelaufen", "dunning_2": "bis spätestens",
                    "final_notice": "letzte Zahlungsfrist"},
             "en": {"reminder": "overlooked", "dunning_1": "fell due", "dunning_2": "at the latest",
                    "final_notice": "final deadline"}}[lang]
    bodies = {name: render(env, lang, name, full(lang)) for name in marks}
    for name, mark in marks.items():
        assert mark in bodies[name][1], f"{mark!r} missing in {lang}/{name}"
    later = list(marks.values())
    for index, name in enumerate(marks):  # no stage borrows the words of a firmer one
        for mark in later[index + 1:]:
            assert mark not in bodies[name][1], f"{lang}/{name} already says {mark!r}"
    subject, body = bodies["reminder"]
    assert not re.search(r"Mahnung|notice", subject + body)


@pytest.mark.parametrize(("lang", "name", "kind", "letter"), cases())
def test_tone_is_polite_and_in_one_language(env: SandboxedEnvironment, lang: str, name: str, kind: str,
                                            letter: bool) -> None:
    """German addresses the customer with 'Guten Tag' and 'Sie', English with 'Dear'; neither threatens."""
    context = in_context(kind, lang, letter)
    subject, body = render(env, lang, name, context)
    text = subject + "\n" + body
    if lang == "de":
        assert body.startswith("Guten Tag ") and re.search(r"\bSie\b", body)
        assert not ENGLISH_IN_GERMAN.search(text) and "Sehr geehrte" not in text
        assert not re.search(r"\b(du|dich|dir|dein\w*)\b", text)
    else:
        assert body.startswith("Dear ") and not GERMAN_IN_ENGLISH.search(text)
    assert not THREATS[lang].search(text)
    prose = text.replace(context["shop"]["bic"], "").replace(context["shop"]["iban"], "")
    assert "!" not in prose and not re.search(r"\b[A-ZÄÖÜ]{4,}\b", prose.replace("IBAN", ""))  # no shouting


def test_german_stages_use_the_merchants_words(env: SandboxedEnvironment) -> None:
    """Zahlungserinnerung, 1./2./letzte Mahnung, Zahlungsfrist and the cost items use their usual German names."""
    words = {"reminder": ["Zahlungserinnerung"], "dunning_1": ["1. Mahnung", "Zahlungsfrist"],
             "dunning_2": ["2. Mahnung"], "final_notice": ["Letzte Mahnung", "letzte Zahlungsfrist"]}
    for name, expected in words.items():
        subject, body = render(env, "de", name, full("de"))
        for word in expected:
            assert word in subject + body, f"{word!r} missing in de/{name}"
    _, body = render(env, "de", "dunning_1", full("de"))
    for word in ("Mahngebühren", "Verzugszinsen", "Verzugspauschale"):
        assert word in body


@pytest.mark.parametrize("lang", LANGUAGES)
def test_reminder_charges_nothing_and_threatens_nothing(env: SandboxedEnvironment, lang: str) -> None:
    """The friendly reminder lists no fee, interest or flat fee and no default, even if the context carries them."""
    context = full(lang)
    _, body = render(env, lang, "reminder", context)
    for value in (context["amounts"]["fees"], context["amounts"]["interest"], context["amounts"]["flat_fee"],
                  context["default_since"], context["interest_rule"]):
        assert value not in body
    assert not re.search(r"Mahngebühr|Verzug|fee|charge|interest|default", body)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_payment_plan_lists_every_instalment(env: SandboxedEnvironment, lang: str) -> None:
    """The plan confirmation shows one row per instalment with its date and amount."""
    context = full(lang)
    _, body = render(env, lang, "payment_plan", context)
    for instalment in context["instalments"]:
        row = next(line for line in body.splitlines() if instalment["date"] in line)
        assert instalment["amount"] in row and str(instalment["number"]) in row


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("accelerates", "de", "en"), [
    (True, "in einer Summe fällig", "remaining balance will become due in full"),
    (False, "die späteren Raten bleiben zu ihren Terminen fällig", "later instalments remain due on their dates")])
def test_payment_plan_states_whether_it_accelerates(env: SandboxedEnvironment, lang: str, accelerates: bool,
                                                    de: str, en: str) -> None:
    """The plan's terms say what a missed instalment does (the whole remainder falls due, or only that one), and
    the letter about a missed instalment demands accordingly."""
    context = full(lang) | {"plan_accelerates": accelerates}
    _, body = render(env, lang, "payment_plan", context)
    assert (de if lang == "de" else en) in " ".join(body.split())
    subject, body = render(env, lang, "plan_broken", context)
    whole = {"de": "Restbetrag fällig", "en": "balance now due"}[lang]
    assert (whole in subject) is accelerates
    later = {"de": "die späteren Raten bleiben zu ihren Terminen fällig",
             "en": "the later instalments remain due on their dates"}[lang]
    assert (later in " ".join(body.split())) is not accelerates


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("days", "de", "en"), [(1, "1 Tag ", "1 day "), (15, "15 Tagen ", "15 days ")])
def test_plan_broken_names_the_missed_instalment(env: SandboxedEnvironment, lang: str, days: int, de: str,
                                                 en: str) -> None:
    """The letter names the late instalment, how late it is (singular and plural), and the remaining total."""
    context = full(lang)
    context["missed"]["days_late"] = days
    _, body = render(env, lang, "plan_broken", context)
    for value in (context["missed"]["amount"], context["missed"]["date"], de if lang == "de" else en):
        assert value in body


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_missing_variable_fails_loudly(env: SandboxedEnvironment, lang: str) -> None:
    """StrictUndefined: a context without a required key raises instead of sending a letter with a gap."""
    context = full(lang)
    del context["deadline"]
    with pytest.raises(jinja2.UndefinedError):
        render(env, lang, "dunning_1", context)
