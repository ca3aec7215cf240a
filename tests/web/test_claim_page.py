"""The claim and customer pages with Flask's test client against a real SQLite store synced from the sandbox shop:
what is owed in German, the notice preview (the same as `preview_claim`), the clerk's actions in the ledger with
the user's name, and who may do what."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import format_currency, format_decimal
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mahnwerk.sync.casework.acting import act_on_case
from mahnwerk.sync.casework.case import CaseError
from mahnwerk.sync.casework.preview import preview_claim
from mahnwerk.sync.casework.timeline import explain
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, LedgerEntry
from mahnwerk.sync.web.acting import refusal
from mahnwerk.sync.web.app import create_app
from tests.support import write_config
from tests.sync.test_preview import page_text
from tests.sync.test_run import MERCHANT, TODAY
from tests.web.conftest import RATES, csrf, log_in

HOSTILE = "<script>alert(1)</script>"
BY_LETTER = """
[policy.stages.reminder]
channel = "letter"
"""
NOW = datetime.now(UTC)


@pytest.fixture
def etc(tmp_path: Path, woo) -> Path:
    """The sandbox shop with a customer named like an attack, reminders by post, synced into a SQLite file."""
    woo.add_order({"number": "R-2026-77", "status": "on-hold", "payment_method": "bacs", "currency": "EUR",
                   "total": "10.00",
                   "billing": {"first_name": "Eve", "last_name": HOSTILE, "country": "DE",
                               "email": "Eve@Example.org"}})
    folder = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'mahnwerk.db'}",
                          [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                            "secret": woo.consumer_secret, "extra": RATES + MERCHANT + BY_LETTER}])
    assert main(["--config-dir", str(folder), "sync"]) == 0
    return folder


@pytest.fixture
def app(config: Config, store: Store) -> Flask:
    return create_app(config, store, now=lambda: NOW)


def claims(store: Store) -> list[Claim]:
    with store.session() as session:
        return list(session.execute(select(Claim).order_by(Claim.id)).scalars())


def ledger(store: Store, claim: Claim) -> list[LedgerEntry]:
    with store.session() as session:
        return list(session.execute(select(LedgerEntry).where(LedgerEntry.claim_id == claim.id)
                                    .order_by(LedgerEntry.id)).scalars())


def due_claim(store: Store, config: Config) -> Claim:
    """An open claim whose reminder goes out today."""
    return next(c for c in claims(store) if c.state == "open" and (p := preview_claim(
        store, config, "acme", c.order_id, NOW, with_pdf=False)).found and p.on == TODAY)


def page(client: FlaskClient, claim: Claim) -> str:
    response = client.get(f"/claims/acme/{claim.order_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_claim_page_shows_what_is_owed_in_german(login: Callable[..., FlaskClient], store: Store,
                                                     config: Config) -> None:
    """Amounts and dates the German way, the timeline's words in German, the next step with its reason."""
    claim = due_claim(store, config)
    text = page(login("clara"), claim)
    assert f"Forderung acme:{claim.order_number}" in text
    assert format_currency(claim.gross_amount, "EUR", locale="de_DE") in text  # "119,00 €"
    assert claim.due_date.strftime("%d.%m.%Y") in text
    assert "Offen am" in text and "Hauptforderung" in text and "Gesamt" in text
    assert "Forderung angelegt" in text  # the timeline in German
    assert "Verbraucher: nichts in der Bestellung" in text and "Basiszinssatz + 5 Prozentpunkte" in text
    assert "Nächster Schritt" in text and "Zahlungserinnerung am" in text and "Warum: fällig " in text
    english = page(login("vera", "en"), claim)  # vera chose English
    assert "Owed on" in english and "claim opened" in english


def test_the_preview_is_what_preview_claim_gives(login: Callable[..., FlaskClient], store: Store,
                                                 config: Config) -> None:
    """The page shows the next notice's subject and text (escaped), and links the very letter preview_claim makes."""
    claim = due_claim(store, config)
    shown = preview_claim(store, config, "acme", claim.order_id, NOW)
    client = login("clara")
    text = page(client, claim)
    assert html.escape(shown.subject, quote=False) in text
    assert html.escape(shown.text, quote=False) in text
    url = f"/claims/acme/{claim.order_id}/preview.pdf"
    assert f'href="{url}"' in text
    pdf = client.get(url)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and shown.pdf is not None
    assert page_text(pdf.data) == page_text(shown.pdf)  # the same letter (the bytes differ in its creation time)
    held = next(c for c in claims(store) if c.id != claim.id and c.state == "open")
    assert main(["--config-dir", str(config.config_dir), "hold", f"acme:{held.order_number}", "--reason",
                 "dispute", "--by", "t"]) == 0
    assert "Kein Schreiben zu zeigen" in page(client, held)
    assert client.get(f"/claims/acme/{held.order_id}/preview.pdf").status_code == 404


def post(client: FlaskClient, claim: Claim, action: str, **form: str):
    token = csrf(page(client, claim))
    return client.post(f"/claims/acme/{claim.order_id}/{action}", data={"csrf_token": token, **form})


def test_hold_then_release_lands_in_the_ledger_with_the_users_name(login: Callable[..., FlaskClient],
                                                                   store: Store, config: Config) -> None:
    """Each action redirects back with a message and writes the ledger through casework: who, and source web."""
    claim = due_claim(store, config)
    client = login("clara")
    response = post(client, claim, "hold", reason="dispute", note="Ware nie angekommen", until="")
    assert response.status_code == 302 and response.headers["Location"] == f"/claims/acme/{claim.order_id}"
    text = page(client, claim)
    assert "Die Forderung ist angehalten." in text and "angehalten (Streitfall)" in text
    assert "Ware nie angekommen" in text
    assert post(client, claim, "release", note="geklärt").status_code == 302
    post(client, claim, "note", text="Kunde angerufen")
    entries = [(e.kind, e.actor, e.source) for e in ledger(store, claim)][-3:]
    assert entries == [("hold", "clara", "web"), ("release", "clara", "web"), ("note", "clara", "web")]
    post(client, claim, "release")  # not on hold any more: the casework's refusal is shown, nothing written
    text = page(client, claim)
    assert f"Nicht möglich: acme:{claim.order_number} ist weder angehalten noch in Ratenzahlung." in text
    assert len(ledger(store, claim)) == 4
    post(client, claim, "hold", reason="dispute", until="2020-01-01")  # the German words, not the command's option
    assert "Nicht möglich: „Bis“ (01.01.2020) muss in der Zukunft liegen." in page(client, claim)
    post(client, claim, "note", text="  ")
    assert "Nicht möglich: Die Notiz ist leer." in page(client, claim) and len(ledger(store, claim)) == 4


def test_mark_paid_and_a_payment_plan_go_through_casework(login: Callable[..., FlaskClient], store: Store,
                                                          config: Config) -> None:
    """A part payment typed the German way, a bad amount refused, then a payment plan; all with clara's name."""
    claim = due_claim(store, config)
    client = login("clara")
    post(client, claim, "paid", amount="1,50", on="", note="Überweisung")
    post(client, claim, "paid", amount="1e5")
    assert "Nicht möglich: „1e5“ ist kein Betrag wie 49,90" in page(client, claim)
    with client.application.test_request_context(headers={"Accept-Language": "en"}):  # the same refusal in English
        assert refusal(CaseError("x", code="not_an_amount", text="1e5")) == \
            '"1e5" is not an amount like 49.90 (positive, at most two decimals).'
        assert refusal(CaseError("no code: the message as it is")) == "no code: the message as it is"
    post(client, claim, "instalments", count="3", first=NOW.date().replace(year=NOW.year + 1).isoformat(),
         every="1m")
    payment, plan = [e for e in ledger(store, claim) if e.kind in ("payment", "plan")]
    assert (payment.data["amount"], payment.actor, payment.source) == ("1.50", "clara", "web")
    assert plan.actor == "clara" and len(plan.data["instalments"]) == 3
    assert Decimal(plan.data["total"]) == claim.open_amount - Decimal("1.50")
    assert "in Ratenzahlung" in page(client, claim)


def test_a_viewer_reads_but_may_not_act(login: Callable[..., FlaskClient], store: Store, config: Config) -> None:
    """vera sees the page without forms; a POST with a valid token still gets 403 and writes nothing."""
    claim = due_claim(store, config)
    client = login("vera")
    text = page(client, claim)
    assert "/hold" not in text and "Put on hold" not in text
    assert post(client, claim, "hold", reason="dispute").status_code == 403
    assert [e.kind for e in ledger(store, claim)] == ["opened"]


def test_a_post_without_csrf_token_is_refused(login: Callable[..., FlaskClient], store: Store,
                                              config: Config) -> None:
    claim = due_claim(store, config)
    client = login("clara")
    assert client.post(f"/claims/acme/{claim.order_id}/hold", data={"reason": "dispute"}).status_code == 400
    assert client.post(f"/claims/acme/{claim.order_id}/hold",
                       data={"reason": "dispute", "csrf_token": "forged"}).status_code == 400
    assert [e.kind for e in ledger(store, claim)] == ["opened"]


def test_a_customer_named_like_a_script_is_shown_inert(login: Callable[..., FlaskClient], store: Store) -> None:
    """On the claim page and the customer page the name is text, never markup."""
    claim = next(c for c in claims(store) if c.email == "Eve@Example.org")
    assert HOSTILE in claim.customer_name
    client = login("clara")
    for text in (page(client, claim), client.get("/customers/acme/eve@example.org").get_data(as_text=True)):
        assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # its order number is not its id: the URL names the id, the page the number
    assert claim.order_number == "R-2026-77" != claim.order_id and "Forderung acme:R-2026-77" in page(client, claim)
    by_number = client.get("/claims/acme/R-2026-77")  # pages that know SHOP:ORDER_NUMBER link by number
    assert by_number.status_code == 302 and by_number.headers["Location"] == f"/claims/acme/{claim.order_id}"


def test_the_customer_page_lists_the_claims_with_totals_per_currency(login: Callable[..., FlaskClient],
                                                                     store: Store) -> None:
    """Found by e-mail in any case; each claim links to its page; unknown shop 404, unknown address says so."""
    claim = claims(store)[0]
    same = [c for c in claims(store) if c.email.lower() == claim.email.lower()]
    client = login("clara")
    text = client.get(f"/customers/acme/{claim.email.upper()}").get_data(as_text=True)
    for other in same:
        assert f'href="/claims/acme/{other.order_id}"' in text
    owing = sum((c.open_amount for c in same if c.state == "open"), Decimal(0))
    assert format_currency(owing, "EUR", locale="de_DE") in text
    assert f'href="/customers/acme/{claim.email}"' in page(client, claim)
    assert "Keine Forderungen" in client.get("/customers/acme/nobody@example.org").get_data(as_text=True)
    registered = next(c for c in claims(store) if c.customer_id)  # by the customer's id in the shop
    text = client.get(f"/customers/acme/{registered.customer_id}").get_data(as_text=True)
    ids = [c for c in claims(store) if c.customer_id == registered.customer_id]
    assert all(f'href="/claims/acme/{c.order_id}"' in text for c in ids)
    assert f'href="/customers/acme/{registered.customer_id}"' in page(client, registered)
    assert "Keine Forderungen" in client.get("/customers/acme/999999").get_data(as_text=True)
    assert client.get("/customers/nope/x@example.org").status_code == 404
    assert client.get("/claims/acme/nope").status_code == 404


@pytest.mark.parametrize(("english", "german"), [
    ("due 2026-10-01, reminder sent 2026-10-08, deadline 2026-10-22 passed → dunning_1",
     "fällig 01.10.2026, Zahlungserinnerung versandt am 08.10.2026, Frist 22.10.2026 abgelaufen → 1. Mahnung"),
    ("due 2026-10-03 (payable until 2026-10-05) → reminder on 2026-10-19",
     "fällig 03.10.2026 (zahlbar bis 05.10.2026) → Zahlungserinnerung am 19.10.2026"),
    ("on hold (dispute: says <b>no</b>) since 2026-12-06 until released",
     "angehalten (Streitfall: says <b>no</b>) seit 06.12.2026, bis zur Freigabe"),
    ("payment plan of 2026-12-06: instalment 1 of 3 (40.00 EUR) due 2026-12-13",
     "Ratenzahlung vom 06.12.2026: Rate 1 von 3 (40,00\xa0€) fällig am 13.12.2026"),
    ("paid in full (119.00 EUR received)", "vollständig bezahlt (119,00\xa0€ erhalten)"),
    ("a phrase the table does not know 2026-01-02", "a phrase the table does not know 02.01.2026"),
    ("consumer: nothing on the order makes it a business (business_when = vat_id)",
     "Verbraucher: nichts in der Bestellung weist auf ein Unternehmen hin (business_when = vat_id)"),
    ('consumer: VAT id and customer group "Händler" given, but business_when does not count them '
     "(business_when = company)", 'Verbraucher: USt-IdNr. und Kundengruppe "Händler" angegeben, zählt aber nach '
     "business_when nicht (business_when = company)"),
    ("base rate + 9.2 points (Basiszinssatz (AT))", "Basiszinssatz + 9,2 Prozentpunkte (Basiszinssatz (AT))"),
])
def test_the_policys_reasons_read_german(english: str, german: str) -> None:
    """Each phrase of policy/engine.py's reasons has German words; an unknown one stays English, dates German."""
    from mahnwerk.sync.casework.reasons import reason_text

    assert reason_text(english, "de") == german and reason_text(english, "en") == english


def test_interest_periods_show_in_german_after_default(etc: Path, config: Config, store: Store) -> None:
    """After the reminder's deadline has passed the page lists each interest period with its rate and amount."""
    from tests.sync.test_run import run_at

    claim = due_claim(store, config)
    [result] = run_at(etc)  # the reminders go out today (as letters)
    assert result.ok and result.outcome.letters > 0
    later = NOW + timedelta(days=60)
    app = create_app(config, store, now=lambda: later)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    log_in(client, "clara")
    text = page(client, claim)
    report = act_on_case(store, config, f"acme:{claim.order_number}", explain, by="", source="web", now=later,
                         command="test", write=False)
    [period, *_] = report["balance"]["interest_periods"]
    assert "Zinszeiträume" in text and "Im Verzug seit" in text
    assert format_decimal(Decimal(period["annual_rate"]), locale="de_DE") + " %" in text  # "6,27 %"
    interest = Decimal(report["balance"]["interest"])
    assert interest > 0 and format_currency(interest, "EUR", locale="de_DE") in text
    assert "Zahlungserinnerung versandt" in text  # the ledger's stage entry in German
