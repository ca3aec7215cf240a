"""Money, dates, percentages, interest rules and IBANs as a customer in each shipped language reads them (Babel)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from mahnwerk.policy.interest import InterestRule

LOCALES = {"de": "de_DE", "en": "en_GB"}


def _locale(language: str) -> str:
    try:
        return LOCALES[language]
    except KeyError:
        raise ValueError(f"no locale for language {language!r} (known: {', '.join(LOCALES)})") from None


def money(amount: Decimal, currency: str, language: str) -> str:
    """An amount as the customer writes it: "1.234,56 €" (de), "€1,234.56" (en); Babel's no-break spaces kept."""
    return format_currency(amount, currency, locale=_locale(language))


def day(d: date, language: str) -> str:
    """A date in the long format: "22. November 2026" (de), "22 November 2026" (en)."""
    return format_date(d, "long", locale=_locale(language))


def percent_text(value: Decimal, language: str) -> str:
    """A percentage given in percent (10 means 10 %): "10 %" (de), "10%" (en), decimals as given ("2,5 %")."""
    return format_percent(value.normalize() / 100, locale=_locale(language), decimal_quantization=False)


def interest_words(rule: InterestRule, language: str) -> str:
    """The interest rule for the customer: "5 Prozentpunkte über dem Basiszinssatz", "4% a year"; "" for none."""
    locale = _locale(language)
    if rule.kind == "base_plus":
        points = format_decimal(rule.points.normalize(), locale=locale, decimal_quantization=False)
        plural = rule.points != 1
        # The AT (OeNB) base rate is a "Basiszinssatz" too, so one wording serves both tables.
        if language == "de":
            return f"{points} Prozentpunkt{'e' if plural else ''} über dem Basiszinssatz"
        return f"{points} percentage point{'s' if plural else ''} above the base rate"
    if rule.kind == "fixed":
        rate = percent_text(rule.rate, language)
        return f"{rate} Zinsen pro Jahr" if language == "de" else f"{rate} a year"
    return ""


def group_iban(iban: str) -> str:
    """An IBAN in groups of four, as printed on paper: "DE89 3704 0044 0532 0130 00"."""
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
