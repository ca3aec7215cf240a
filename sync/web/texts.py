"""The console's words in German and English, and the filters that show amounts and dates the locale's way.

Templates write `{{ _("key") }}` (or `_("key", n=3)` for a text with `{n}` in it). Each page module adds its own
words with `add({...})` at import, so pages written side by side do not edit one table; the shared ones are here.
German is first-class: "1.234,56 €", "06.12.2026".
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from flask import g, has_request_context, request

LANGS = ("de", "en")
LOCALES = {"de": "de_DE", "en": "en_GB"}
DATE_FORMATS = {"de": "dd.MM.yyyy", "en": "d MMM yyyy"}
DATETIME_FORMATS = {"de": "dd.MM.yyyy HH:mm", "en": "d MMM yyyy HH:mm"}

# key: (German, English)
TEXTS: dict[str, tuple[str, str]] = {
    "app.name": ("Mahnwerk", "Mahnwerk"),
    "nav.overview": ("Übersicht", "Overview"),
    "nav.claims": ("Forderungen", "Claims"),
    "nav.payments": ("Zahlungen", "Payments"),
    "nav.letters": ("Briefe und Aufgaben", "Letters and tasks"),
    "nav.outbox": ("Postausgang", "Outbox"),
    "nav.logout": ("Abmelden", "Log out"),
    "nav.language": ("Sprache", "Language"),
    "lang.auto": ("wie der Browser", "as the browser"),
    "lang.de": ("Deutsch", "Deutsch"),
    "lang.en": ("English", "English"),
    "lang.save": ("Übernehmen", "Apply"),
    "role.clerk": ("Sachbearbeitung", "clerk"),
    "role.viewer": ("nur lesen", "viewer"),
    "login.title": ("Anmelden", "Log in"),
    "login.name": ("Name", "Name"),
    "login.password": ("Passwort", "Password"),
    "login.submit": ("Anmelden", "Log in"),
    "login.failed": ("Name oder Passwort falsch.", "Wrong name or password."),
    "login.throttled": ("Zu viele Fehlversuche. Bitte in einigen Minuten erneut versuchen.",
                        "Too many failed attempts. Please try again in a few minutes."),
    "login.logged_out": ("Sie sind abgemeldet.", "You are logged out."),
    "error.400": ("Die Anfrage war ungültig (abgelaufenes Formular?). Bitte die Seite neu laden.",
                  "The request was invalid (an expired form?). Please reload the page."),
    "error.403": ("Dafür fehlt Ihnen die Berechtigung: nur die Sachbearbeitung darf das.",
                  "You may not do this: only clerks may."),
    "error.404": ("Diese Seite gibt es nicht.", "There is no such page."),
    "error.title": ("Fehler", "Error"),
    "common.none": ("keine", "none"),
    "common.all": ("alle", "all"),
    "common.shop": ("Shop", "Shop"),
    "common.filter": ("Filtern", "Filter"),
    "common.next": ("weiter", "next"),
    "common.previous": ("zurück", "previous"),
    "common.unknown": ("unbekannt", "unknown"),
    # claim states (store.models.ClaimState)
    "state.open": ("offen", "open"),
    "state.in_collection": ("beim Inkasso", "with the agency"),
    "state.paid": ("bezahlt", "paid"),
    "state.cancelled": ("storniert", "cancelled"),
    "state.refunded": ("erstattet", "refunded"),
    "state.trashed": ("gelöscht", "trashed"),
    "state.deleted": ("gelöscht", "deleted"),
    "state.closed": ("erledigt", "closed"),
    # the shipped ladder's stages (policy/presets.py); other stage names show as they are written
    "stage.reminder": ("Zahlungserinnerung", "payment reminder"),
    "stage.dunning_1": ("1. Mahnung", "1st dunning notice"),
    "stage.dunning_2": ("2. Mahnung", "2nd dunning notice"),
    "stage.final_notice": ("letzte Mahnung", "final notice"),
    "stage.agency": ("Übergabe ans Inkasso", "hand-over to the agency"),
    "stage.task": ("Aufgabe", "task"),
    "stage.close": ("abschließen", "close"),
    "stage.none": ("noch keine", "none yet"),
    # aging buckets (policy/aging.py)
    "bucket.not yet due": ("noch nicht fällig", "not yet due"),
    "bucket.1-30": ("1–30 Tage", "1–30 days"),
    "bucket.31-60": ("31–60 Tage", "31–60 days"),
    "bucket.61-90": ("61–90 Tage", "61–90 days"),
    "bucket.over 90": ("über 90 Tage", "over 90 days"),
}


def add(texts: dict[str, tuple[str, str]]) -> None:
    """Add a page's words; a key already taken with other words is a bug (two pages would fight over it)."""
    for key, words in texts.items():
        if TEXTS.setdefault(key, words) != words:
            raise RuntimeError(f"text key {key!r} is taken with other words")


def current_lang() -> str:
    """The request's language: the user's setting, else the browser's best match, else German."""
    if not has_request_context():
        return LANGS[0]
    if (chosen := g.get("lang")) in LANGS:
        return str(chosen)
    return request.accept_languages.best_match(LANGS) or LANGS[0]


def _(key: str, **values: Any) -> str:
    """The text for `key` in the request's language, with `{name}` filled from `values` (numbers in the locale's
    format; `n=1` takes `key.one` if there is one); the key itself if unknown (a missing text shows, it does not
    break the page)."""
    if values.get("n") == 1 and f"{key}.one" in TEXTS:  # the singular, where a text has one: "1 Forderung"
        key = f"{key}.one"
    words = TEXTS.get(key)
    if words is None:
        return key
    text = words[LANGS.index(current_lang())]
    shown = {name: number(value) if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else value
             for name, value in values.items()}
    return text.format(**shown) if values else text


def word(prefix: str, name: str) -> str:
    """The text for a value from the data (a state, a stage, a bucket): `prefix.name` if there is one, else the
    name as written (a merchant's own stage name)."""
    return _(f"{prefix}.{name}") if f"{prefix}.{name}" in TEXTS else name


def locale() -> str:
    return LOCALES[current_lang()]


def money(amount: Decimal | str | int | None, currency: str = "EUR") -> str:
    """"1.234,56 €" in German, "€1,234.56" in English; "" for None."""
    if amount is None or amount == "":
        return ""
    return format_currency(Decimal(str(amount)), currency, locale=locale())


def number(value: Decimal | int | None) -> str:
    """"1.234" in German, "1,234" in English."""
    return "" if value is None else format_decimal(value, locale=locale())


def as_date(value: date | datetime | str | None) -> str:
    """"06.12.2026" in German, "6 Dec 2026" in English; "" for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return format_date(value, DATE_FORMATS[current_lang()], locale=locale())


def as_datetime(value: datetime | str | None, zone: tzinfo | str | None = None) -> str:
    """"06.12.2026 14:05" in `zone` (default: the first shop's timezone, else UTC); "" for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if zone is None:
        from mahnwerk.sync.web.context import config  # the request's configuration

        shops = config().shops if has_request_context() else ()
        zone = shops[0].timezone if shops else ZoneInfo("UTC")
    elif isinstance(zone, str):
        zone = ZoneInfo(zone)
    return format_datetime(value.astimezone(zone), DATETIME_FORMATS[current_lang()], locale=locale())


FILTERS = {"money": money, "number": number, "date": as_date, "datetime": as_datetime}
