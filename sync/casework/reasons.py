"""The policy's reasons ("due 2026-10-01, reminder sent 2026-10-08, deadline 2026-10-22 passed → dunning_1") in
German for the web console. policy/engine.py writes them in English from a small set of phrases; each phrase has a
German pattern here. A phrase this table does not know stays English (the figures in it still read the German way),
so a new wording in the policy shows up untranslated, never wrong."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from babel.dates import format_date

from mahnwerk.sync.casework.wording import GERMAN
from mahnwerk.sync.outbox.formats import money

DAY = r"(\d{4}-\d{2}-\d{2})"
VERBS = {"sent": "versandt", "done": "erledigt", "skipped": "übersprungen"}
ISO_DAY = re.compile(DAY)


def _word(text: str) -> str:
    return GERMAN.get(text, text)


def _money(amount: str, currency: str) -> str:
    try:
        return money(Decimal(amount), currency, "de")
    except (InvalidOperation, ValueError):
        return f"{amount} {currency}"


# Whole reasons of a claim that is not on the ladder right now (status on_hold, in_plan, settled, ...).
WHOLE: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(rf"handed over to the agency on {DAY}"), lambda m: f"am {m[1]} an das Inkasso übergeben"),
    (re.compile(r"paid in full \((\S+) ([A-Z]{3}) received\)"),
     lambda m: f"vollständig bezahlt ({_money(m[1], m[2])} erhalten)"),
    (re.compile(rf"on hold \((\w+)(?:: (.*))?\) since {DAY} until (?:{DAY}|released)", re.S),
     lambda m: f"angehalten ({_word(m[1])}{': ' + m[2] if m[2] else ''}) seit {m[3]}, "
               + (f"bis {m[4]}" if m[4] else "bis zur Freigabe")),
    (re.compile(rf"payment plan of {DAY}: instalment (\d+) of (\d+) \((\S+) ([A-Z]{{3}})\) due {DAY}"),
     lambda m: f"Ratenzahlung vom {m[1]}: Rate {m[2]} von {m[3]} ({_money(m[4], m[5])}) fällig am {m[6]}"),
    (re.compile(r"open amount below the minimum of (\S+) ([A-Z]{3}): no further stages after (\S+)"),
     lambda m: f"offener Betrag unter dem Mindestbetrag von {_money(m[1], m[2])}: keine weitere Stufe nach "
               f"{_word(m[3])}"),
    (re.compile(rf"no further stage in the policy(?:; last: (\S+) on {DAY})?"),
     lambda m: "keine weitere Stufe im Regelwerk" + (f"; zuletzt: {_word(m[1])} am {m[2]}" if m[1] else "")),
]
# Why a claim counts as a business or a consumer (policy/customers.py), and the interest rule in words
# (policy/interest.py InterestRule.describe).
WHAT = {"VAT id": "USt-IdNr.", "company name": "Firmenname", "group": "Kundengruppe", "role": "Kundenrolle"}
WHOLE += [
    (re.compile(r'business: customer (group|role) "(.*)" \((business_when = .*)\)'),
     lambda m: f'Unternehmen: {WHAT[m[1]]} "{m[2]}" ({m[3]})'),
    (re.compile(r"business: (VAT id|company name) on the order \((business_when = .*)\)"),
     lambda m: f"Unternehmen: {WHAT[m[1]]} in der Bestellung ({m[2]})"),
    (re.compile(r"consumer: (.*) given, but business_when does not count (?:it|them) \((business_when = .*)\)"),
     lambda m: "Verbraucher: " + re.sub(r'VAT id|company name|customer (group|role)',
                                        lambda w: WHAT.get(w[0]) or WHAT[w[1]], m[1]).replace(" and ", " und ")
               + f" angegeben, zählt aber nach business_when nicht ({m[2]})"),
    (re.compile(r"consumer: nothing on the order makes it a business \((business_when = .*)\)"),
     lambda m: f"Verbraucher: nichts in der Bestellung weist auf ein Unternehmen hin ({m[1]})"),
    (re.compile(r"base rate \+ (\S+) points \((.*)\)"),
     lambda m: f"Basiszinssatz + {m[1].replace('.', ',')} Prozentpunkte ({m[2]})"),
    (re.compile(r"(\S+) % p\.a\."), lambda m: f"{m[1].replace('.', ',')} % p. a."),
    (re.compile(r"none"), lambda m: "keine"),
]
# Phrases of the ladder's story, replaced wherever they occur.
PARTS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"\(without interest: no base rate\)"), lambda m: "(ohne Zinsen: Basiszinssatz fehlt)"),
    (re.compile(r"\(blocked: no interest rate\)"), lambda m: "(blockiert: Zinssatz fehlt)"),
    (re.compile(rf"^due {DAY}"), lambda m: f"fällig {m[1]}"),
    (re.compile(rf" \(payable until {DAY}\)"), lambda m: f" (zahlbar bis {m[1]})"),
    (re.compile(rf"(^|, )(\S+) (sent|done|skipped) {DAY}"),
     lambda m: f"{m[1]}{_word(m[2])} {VERBS[m[3]]} am {m[4]}"),
    (re.compile(rf", deadline {DAY}"), lambda m: f", Frist {m[1]}"),
    (re.compile(r" passed(?= →)"), lambda m: " abgelaufen"),
    (re.compile(rf"hold ended {DAY}, fresh deadline {DAY}"),
     lambda m: f"Anhalten beendet am {m[1]}, neue Frist {m[2]}"),
    (re.compile(rf"payment plan broken {DAY}"), lambda m: f"Ratenzahlung geplatzt am {m[1]}"),
    (re.compile(r" \(the missed instalments; later ones stay due\)"),
     lambda m: " (die versäumten Raten; spätere bleiben zu ihren Terminen fällig)"),
    (re.compile(rf"payment plan paid, remainder open from {DAY}"),
     lambda m: f"Raten bezahlt, Rest offen ab {m[1]}"),
    (re.compile(rf"go-live {DAY}"), lambda m: f"Start am {m[1]}"),
    (re.compile(rf" → (\S+)(?: on {DAY})?"),
     lambda m: f" → {_word(m[1])}" + (f" am {m[2]}" if m[2] else "")),
]


def german_day(match: re.Match[str]) -> str:
    return format_date(date.fromisoformat(match[0]), "dd.MM.yyyy", locale="de_DE")


def reason_text(reason: str, lang: str) -> str:
    """The policy's reason in `lang`: as written for English, translated phrase by phrase for German."""
    if lang != "de" or not reason:
        return reason
    text = reason
    for pattern, german in WHOLE:
        if (whole := pattern.fullmatch(text)) is not None:
            text = german(whole)
            break
    else:
        for pattern, german in PARTS:
            text = pattern.sub(german, text)
    try:
        return ISO_DAY.sub(german_day, text)
    except ValueError:  # not a calendar day after all
        return text
