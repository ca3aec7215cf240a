"""A claim's history in words, in English (the command line's `explain`) or German (the web console): one line per
ledger entry. English keeps the exact machine-ish figures (ISO dates, "119.00 EUR"); German writes them the German
way ("01.10.2026", "119,00 €")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date

from mahnwerk.sync.outbox.formats import money

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "opened": "claim opened: {amount} due {due} (shop status {status})",
        "changed": "changed", "closed": "closed", "reopened": "reopened", "address": "address changed",
        "task_done": "task {stage} done", "task_skipped": "task {stage} skipped",
        "sent": "{stage} sent", "deadline": ", deadline {deadline}", "fee": ", fee {fee}",
        "payment": "payment of {amount} on {on} ({source}{how})", "recorded": "recorded",
        "match": ", {rule} match, confidence {confidence}", "settles": " settles {split}",
        "hold": "hold ({kind})", "until": " until {until}", "until_released": " until released",
        "released": "released", "plan": "payment plan over {total}: {parts}",
        "accelerates": "; a missed instalment makes the rest due", "alone": "; a missed instalment is dunned alone",
        "credit": "credit of {amount}: {reason}", "note": "note: {text}",
        "is_closed": "the claim is {state}: nothing more happens",
        "until_sync": "{was} until the next sync, then {reason}", "business": "business", "consumer": "consumer",
    },
    "de": {
        "opened": "Forderung angelegt: {amount} fällig am {due} (Status im Shop: {status})",
        "changed": "geändert", "closed": "geschlossen", "reopened": "wieder geöffnet", "address": "Adresse geändert",
        "task_done": "Aufgabe {stage} erledigt", "task_skipped": "Aufgabe {stage} übersprungen",
        "sent": "{stage} versandt", "deadline": ", Frist {deadline}", "fee": ", Gebühr {fee}",
        "payment": "Zahlung von {amount} am {on} ({source}{how})", "recorded": "erfasst",
        "match": ", Zuordnung {rule}, Sicherheit {confidence}", "settles": ", tilgt {split}",
        "hold": "angehalten ({kind})", "until": " bis {until}", "until_released": " bis zur Freigabe",
        "released": "freigegeben", "plan": "Ratenzahlung über {total}: {parts}",
        "accelerates": "; eine versäumte Rate macht den Rest fällig",
        "alone": "; eine versäumte Rate wird allein angemahnt",
        "credit": "Guthaben von {amount}: {reason}", "note": "Notiz: {text}",
        "is_closed": "Die Forderung ist {state}: es geschieht nichts mehr",
        "until_sync": "{was} bis zum nächsten Abgleich, dann {reason}", "business": "Unternehmen",
        "consumer": "Verbraucher",
    },
}
# German names of the words a ledger entry stores; English shows them as stored.
GERMAN = {
    "fees": "Gebühren", "flat_fee": "Verzugspauschale", "interest": "Zinsen", "principal": "Hauptforderung",
    "credit": "Guthaben", "dispute": "Streitfall", "payment_plan": "Ratenzahlung", "insolvency": "Insolvenz",
    "deceased": "verstorben", "manual": "manuell", "open": "offen", "paid": "bezahlt", "cancelled": "storniert",
    "in_collection": "beim Inkasso", "state": "Status", "open_amount": "offener Betrag", "due_date": "Fälligkeit",
    "gross_amount": "Rechnungsbetrag", "email": "E-Mail", "customer_name": "Kunde", "is_b2b": "Unternehmen",
    "customer_id": "Kundennummer",
    "manual payment": "manuell", "reminder": "Zahlungserinnerung", "dunning_1": "1. Mahnung",
    "dunning_2": "2. Mahnung", "final_notice": "letzte Mahnung", "agency": "Inkasso",
}


@dataclass(frozen=True)
class Wording:
    """The phrases and the figure formats of one language."""

    lang: str

    def __call__(self, key: str, **values: Any) -> str:
        return PHRASES[self.lang][key].format(**values)

    def word(self, stored: Any) -> str:
        """A stored word (a hold kind, a state, a stage) in this language."""
        text = str(stored)
        return GERMAN.get(text, text) if self.lang == "de" else text

    def amount(self, value: Any, currency: str) -> str:
        if self.lang == "en" or value is None:
            return f"{value} {currency}"
        try:
            return money(Decimal(str(value)), currency, "de")
        except (InvalidOperation, ValueError):
            return f"{value} {currency}"

    def figure(self, value: Any, currency: str) -> str:
        """An amount inside a list of amounts: bare in English ("40.00"), with its currency in German."""
        return str(value) if self.lang == "en" else self.amount(value, currency)

    def day(self, value: Any) -> str:
        if self.lang == "en" or not value:
            return str(value)
        try:
            return format_date(date.fromisoformat(str(value)[:10]), "dd.MM.yyyy", locale="de_DE")
        except ValueError:
            return str(value)


def wording(lang: str) -> Wording:
    """The wording for `lang`; English for a language without phrases."""
    return Wording(lang if lang in PHRASES else "en")


def summary(kind: str, data: dict[str, Any], currency: str, lang: str = "en") -> str:
    """One line for a ledger entry, for people."""
    w = wording(lang)
    line = LINES.get("changed" if kind in ("closed", "reopened") else kind)
    return line(w, kind, data, currency) if line else kind


def _opened(w: Wording, kind: str, data: dict[str, Any], currency: str) -> str:
    return w("opened", amount=w.amount(data.get("open_amount"), currency), due=w.day(data.get("due_date")),
             status=data.get("shop_status"))


def _changed(w: Wording, kind: str, data: dict[str, Any], currency: str) -> str:
    changes = "; ".join(f"{w.word(name)} {w.word(old)} → {w.word(new)}"
                        for name, (old, new) in data.get("changes", {}).items() if name not in ("billing_address",))
    reason = f" ({data['reason']})" if data.get("reason") else ""
    return f"{w(kind)}: {changes or w('address')}{reason}"


def _stage(w: Wording, kind: str, data: dict[str, Any], currency: str) -> str:
    stage = w.word(data["stage"])
    if data.get("kind") == "task":
        return w("task_skipped" if data.get("skipped") else "task_done", stage=stage) + (
            f": {data['note']}" if data.get("note") else "")
    fee = w("fee", fee=w.amount(data["fee"], currency)) if data.get("fee") not in (None, "0", "0.00") else ""
    deadline = w("deadline", deadline=w.day(data["deadline"])) if data.get("deadline") else ""
    return w("sent", stage=stage) + deadline + fee


def _payment(w: Wording, kind: str, data: dict[str, Any], currency: str) -> str:
    how = w("match", rule=data["rule"], confidence=data["confidence"]) if data.get("rule") else ""
    applied = data.get("applied") or {}
    split = ", ".join(f"{w.word(name).replace('_', ' ')} {w.figure(applied[name], currency)}"
                      for name in ("fees", "flat_fee", "interest", "principal", "credit")
                      if applied.get(name) not in (None, "0", "0.00"))
    source = w.word(data.get("source")) if data.get("source") else w("recorded")
    return (w("payment", amount=w.amount(data["amount"], currency), on=w.day(data.get("on")), source=source, how=how)
            + (w("settles", split=split) if split else "") + (f": {data['note']}" if data.get("note") else ""))


def _hold(w: Wording, kind: str, data: dict[str, Any], currency: str) -> str:
    until = w("until", until=w.day(data["until"])) if data.get("until") else w("until_released")
    return w("hold", kind=w.word(data["kind"])) + until + (f": {data['reason']}" if data.get("reason") else "")


def _release(w: Wording, kind: str, data: dict[str, Any], currency: str) -> str:
    return w("released") + (f": {data['reason']}" if data.get("reason") else "")


def _plan(w: Wording, kind: str, data: dict[str, Any], currency: str) -> str:
    parts = ", ".join(f"{w.day(i['due'])} {w.figure(i['amount'], currency)}" for i in data["instalments"])
    accelerates = data.get("accelerates")  # older plans do not say: the policy decides
    terms = "" if accelerates is None else w("accelerates") if accelerates else w("alone")
    return w("plan", total=w.amount(data.get("total"), currency), parts=parts) + terms


def _credit(w: Wording, kind: str, data: dict[str, Any], currency: str) -> str:
    return w("credit", amount=w.amount(data["amount"], currency), reason=data.get("reason", ""))


def _note(w: Wording, kind: str, data: dict[str, Any], currency: str) -> str:
    return w("note", text=data["text"])


LINES: dict[str, Callable[[Wording, str, dict[str, Any], str], str]] = {
    "opened": _opened, "changed": _changed, "stage": _stage, "payment": _payment, "hold": _hold,
    "release": _release, "plan": _plan, "credit": _credit, "note": _note,
}
