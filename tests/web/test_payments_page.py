"""/payments against a real SQLite store: a sandbox shop synced, a statement imported and matched; the queue with
its suggestions, a waiting payment assigned (whole or in part) and ignored through the page, as a clerk, and what a
viewer or a form without its CSRF token gets."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from mahnwerk.sync.store.models import Claim, ClaimState, IncomingPaymentRow, LedgerEntry, PaymentEvent, PaymentState
from mahnwerk.sync.web.pages import payments as payments_page
from tests.support import write_config
from tests.sync.test_payments import bring_in, credit, payment, synced
from tests.sync.test_run import MERCHANT, query
from tests.web.conftest import RATES, csrf

D = Decimal


def texts_money(amount: Decimal) -> str:
    """An amount as the German pages write it."""
    return f"{amount:,.2f}".replace(",", "#").replace(".", ",").replace("#", ".") + "\xa0€"


@pytest.fixture
def etc(tmp_path: Path, woo) -> Path:
    """The sandbox shop "acme" on a SQLite file, with a merchant; synced once, and a statement with two payments
    no rule is sure of: G1 (a salary) and G2 (the first open claim's amount, no reference: a guess to review), and
    K1 naming the second claim (booked)."""
    folder = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'mahnwerk.db'}",
                          [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                            "secret": woo.consumer_secret, "extra": RATES + MERCHANT}])
    claims = synced(folder)
    _, matched = bring_in(folder, [credit("G1", "1234.56", "Gehalt", payer="Arbeitgeber AG"),
                                   credit("G2", str(claims[0].open_amount), "Danke", payer="Nobody Known"),
                                   credit("K1", str(claims[1].open_amount), f"Rechnung {claims[1].invoice_number}",
                                          payer="Kunde Bezahlt")])
    assert matched.booked == 1 and matched.unmatched + matched.review == 2
    return folder


def first_open(etc: Path) -> Claim:
    return sorted(query(etc, select(Claim).where(Claim.state == ClaimState.OPEN)), key=lambda c: c.id)[0]


def post(client: FlaskClient, url: str, **form: str) -> object:
    """POST `form` with the CSRF token of the payments page, as the browser sends it."""
    token = csrf(client.get("/payments").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **form})


def test_the_queue_shows_each_waiting_payment_with_why(login: Callable[..., FlaskClient], etc: Path) -> None:
    page = login("clara").get("/payments").get_data(as_text=True)
    g1, g2 = payment(etc, "G1"), payment(etc, "G2")
    assert f'id="payment-{g1.id}"' in page and f'id="payment-{g2.id}"' in page
    assert "Arbeitgeber AG" in page and "1.234,56\xa0€" in page  # German amounts
    assert escape(g1.reason) in page  # why it waits (customer text escaped like all text)
    assert f'id="payment-{payment(etc, "K1").id}"' not in page  # booked: not waiting
    [guess] = query(etc, select(Claim).where(Claim.id == g2.candidates[0]))  # the same amount, another name
    link = f'<a href="/claims/acme/{guess.order_number}">acme:{guess.order_number}</a>'
    assert f"{link} {escape(guess.customer_name)}, {texts_money(guess.open_amount)}" in page
    assert f'<option value="acme:{guess.order_number}">' in page  # preselected in the assign form
    english = login("vera", lang="en").get("/payments").get_data(as_text=True)
    assert "€1,234.56" in english and "Payments waiting for you" in english


def test_assigning_a_waiting_payment_closes_the_claim_and_books_it_once(
        login: Callable[..., FlaskClient], etc: Path) -> None:
    claim, g2 = first_open(etc), payment(etc, "G2")
    client = login("clara")
    ref = f"acme:{claim.order_number}"
    response = post(client, f"/payments/{g2.id}/assign", claim=ref)
    assert response.status_code == 302 and response.headers["Location"] == "/payments"
    page = client.get("/payments").get_data(as_text=True)
    assert f"Zahlung {g2.id}" in page and f"auf {ref} gebucht" in page and "geschlossen" in page

    [after] = query(etc, select(Claim).where(Claim.id == claim.id))
    assert after.state == ClaimState.PAID
    assert payment(etc, "G2").state == PaymentState.MATCHED and payment(etc, "G2").unallocated == 0
    entries = query(etc, select(LedgerEntry).where(LedgerEntry.claim_id == claim.id, LedgerEntry.kind == "payment"))
    assert len(entries) == 1 and entries[0].actor == "clara" and entries[0].source == "web"
    assert D(entries[0].data["amount"]) == g2.amount and entries[0].data["rule"] == "manual"

    again = post(client, f"/payments/{g2.id}/assign", claim=ref)  # the form sent twice: nothing booked twice
    assert again.status_code == 302
    assert f"Zahlung {g2.id} wartet nicht mehr" in client.get("/payments").get_data(as_text=True)  # German
    assert len(query(etc, select(LedgerEntry).where(LedgerEntry.claim_id == claim.id,
                                                    LedgerEntry.kind == "payment"))) == 1


def test_a_part_amount_books_that_much_and_the_rest_keeps_waiting(
        login: Callable[..., FlaskClient], etc: Path) -> None:
    claim, g1 = first_open(etc), payment(etc, "G1")
    client = login("clara")
    post(client, f"/payments/{g1.id}/assign", claim_other=f"acme:{claim.order_number}", amount="5,00")
    assert "1.229,56\xa0€ warten noch" in client.get("/payments").get_data(as_text=True)
    after = payment(etc, "G1")
    assert after.unallocated == D("1229.56") and after.state in PaymentState.WAITING
    [entry] = query(etc, select(LedgerEntry).where(LedgerEntry.claim_id == claim.id, LedgerEntry.kind == "payment"))
    assert entry.data["amount"] == "5.00"

    post(client, f"/payments/{g1.id}/assign", claim_other=f"acme:{claim.order_number}", amount="99999")
    page = client.get("/payments").get_data(as_text=True)
    assert "Nicht gebucht: Höchstens 1.229,56\xa0€ sind noch nicht gebucht." in page
    assert payment(etc, "G1").unallocated == D("1229.56")
    post(client, f"/payments/{g1.id}/assign", claim_other=f"acme:{claim.order_number}", amount="zwölf")
    assert "kein Betrag" in client.get("/payments").get_data(as_text=True)


def test_ignore_needs_a_reason_and_keeps_it(login: Callable[..., FlaskClient], etc: Path) -> None:
    g1 = payment(etc, "G1")
    client = login("clara")
    post(client, f"/payments/{g1.id}/ignore", reason="  ")
    assert "Bitte einen Grund angeben." in client.get("/payments").get_data(as_text=True)
    assert payment(etc, "G1").state in PaymentState.WAITING

    post(client, f"/payments/{g1.id}/ignore", reason="Gehalt, keine Kundenzahlung")
    assert payment(etc, "G1").state == PaymentState.IGNORED
    assert payment(etc, "G1").reason == "Gehalt, keine Kundenzahlung" and payment(etc, "G1").decided_by == "clara"
    [event] = query(etc, select(PaymentEvent).where(PaymentEvent.payment_id == g1.id))
    assert (event.kind, event.actor, event.data["source"]) == ("ignored", "clara", "web")
    assert f'id="payment-{g1.id}"' not in client.get("/payments").get_data(as_text=True)


def test_a_viewer_sees_the_queue_but_may_not_act(login: Callable[..., FlaskClient], etc: Path) -> None:
    g2, claim = payment(etc, "G2"), first_open(etc)
    client = login("vera")
    page = client.get("/payments").get_data(as_text=True)
    assert f'id="payment-{g2.id}"' in page and f"/payments/{g2.id}/assign" not in page  # no forms
    token = csrf(page)  # the language form's: a genuine token, still no right to act
    assert client.post(f"/payments/{g2.id}/assign", data={"csrf_token": token,
                                                          "claim": f"acme:{claim.order_number}"}).status_code == 403
    assert client.post(f"/payments/{g2.id}/ignore", data={"csrf_token": token, "reason": "x"}).status_code == 403
    assert payment(etc, "G2").state in PaymentState.WAITING


def test_a_form_without_its_csrf_token_is_refused(login: Callable[..., FlaskClient], etc: Path) -> None:
    g2, claim = payment(etc, "G2"), first_open(etc)
    client = login("clara")
    assert client.post(f"/payments/{g2.id}/assign", data={"claim": f"acme:{claim.order_number}"}).status_code == 400
    assert client.post(f"/payments/{g2.id}/ignore", data={"reason": "x", "csrf_token": "forged"}).status_code == 400
    assert payment(etc, "G2").state in PaymentState.WAITING


def test_search_finds_booked_payments_with_their_claims(login: Callable[..., FlaskClient], etc: Path) -> None:
    k1 = payment(etc, "K1")
    [booked] = query(etc, select(LedgerEntry).where(LedgerEntry.kind == "payment"))
    [claim] = query(etc, select(Claim).where(Claim.id == booked.claim_id))
    client = login("clara")
    page = client.get("/payments?q=kunde bezahlt").get_data(as_text=True)
    ref = f"acme:{claim.order_number}"
    assert "Kunde Bezahlt" in page and f'<a href="/claims/acme/{claim.order_number}">{ref}</a>' in page  # its page
    by_amount = client.get(f"/payments?q={str(k1.amount).replace('.', ',')}").get_data(as_text=True)
    assert "Kunde Bezahlt" in by_amount
    assert "Keine gebuchte Zahlung gefunden." in client.get("/payments?q=Arbeitgeber").get_data(as_text=True)
    assert all(p.state != PaymentState.IGNORED for p in query(etc, select(IncomingPaymentRow)))


def test_a_long_queue_shows_its_oldest_and_counts_the_rest(login: Callable[..., FlaskClient], etc: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payments_page, "QUEUE_PAGE", 1)
    page = login("clara").get("/payments").get_data(as_text=True)
    assert f'id="payment-{payment(etc, "G1").id}"' in page and f'id="payment-{payment(etc, "G2").id}"' not in page
    assert "… und 1 weitere" in page
