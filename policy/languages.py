"""Which of the shipped languages a customer is written to, from the billing country."""

from __future__ import annotations

LANGUAGES = ("de", "en")
GERMAN_SPEAKING = frozenset({"DE", "AT", "CH", "LI", "LU"})
# Countries where English is the language of business: a customer in London gets English even from a German shop.
ENGLISH_SPEAKING = frozenset({"GB", "IE", "US", "CA", "AU", "NZ", "MT", "GI", "IM", "JE", "GG"})


def language_for(country: str, fallback: str) -> str:
    """German for the German-speaking countries, English for the English-speaking ones, else the shop's default
    language (`delivery.language`; English if that is not shipped)."""
    code = country.strip().upper()
    if code in GERMAN_SPEAKING:
        return "de"
    if code in ENGLISH_SPEAKING:
        return "en"
    return fallback if fallback in LANGUAGES else "en"
