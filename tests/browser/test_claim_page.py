"""A claim in a real browser: its page and the next notice exactly as the customer gets it (mail text and PDF
letter), in German and English; the customer named `<script>alert(1)</script>` shown as text, never run; a clerk
holds a disputed claim; a viewer gets no forms and is refused the action."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select
from sqlmodel import col

from mahnwerk.sync.store.models import Claim, LedgerEntry
from tests.browser.pages import (
    alert_text,
    body_text,
    csrf_token,
    http_session,
    login,
    path,
    post_forms,
    submit,
    words,
)
from tests.browser.seed import SCRIPT_NAME, SHOP_ID, SeededStore

pytestmark = pytest.mark.browser

IBAN = "DE14 3704 0044 1234 5678 90"  # the seeded merchant's, printed on every notice


def claim_row(seeded: SeededStore, order: str) -> tuple[Claim, list[LedgerEntry]]:
    store = seeded.store()
    try:
        with store.session() as session:
            [claim] = session.execute(select(Claim).where(col(Claim.shop_id) == SHOP_ID,
                                                          col(Claim.order_number) == order)).scalars().all()
            entries = session.execute(select(LedgerEntry).where(col(LedgerEntry.claim_id) == claim.id)
                                      .order_by(col(LedgerEntry.id))).scalars().all()
    finally:
        store.close()
    return claim, list(entries)


def open_claim(driver, console, order: str) -> str:
    """Go to the claim's page (by the order number, as the payments and letters pages link it: the console sends
    it on to the claim's address by order id); its visible text."""
    driver.get(f"{console.url}/claims/{SHOP_ID}/{order}")
    assert path(driver) == console.seeded.claim_path(order), f"order {order} is shown at {path(driver)}"
    text = body_text(driver)
    assert order in driver.find_element(By.TAG_NAME, "h1").text, f"not the claim's page for {order}:\n{text}"
    return text


@pytest.mark.parametrize("lang", ["de", "en"])
def test_a_claim_shows_its_next_notice_as_the_customer_gets_it(open_browser, console, shots, lang: str) -> None:
    seeded: SeededStore = console.seeded
    order = seeded.at_stage("dunning_1")  # next: dunning_2, a letter with a fee
    claim, _ = claim_row(seeded, order)
    driver = open_browser(lang)
    login(driver, console.url, "clara", seeded.users["clara"][1])
    text = open_claim(driver, console, order)
    assert claim.invoice_number in text and claim.customer_name in text
    assert words("claim.next", lang) in text and words("preview.title", lang) in text
    mail = driver.find_element(By.CSS_SELECTOR, ".preview pre.mail").text
    for wanted in (claim.invoice_number, IBAN):
        assert wanted in mail, f"the notice's text lacks {wanted!r}:\n{mail}"
    money = r"\d,\d\d\s€" if lang == "de" else r"€\d+(,\d{3})*\.\d\d"
    assert re.search(money, text), f"no amount in the {lang} format on the claim page"
    shots.take(driver, f"claim-{lang}")
    letter = driver.find_element(By.LINK_TEXT, words("preview.pdf", lang)).get_attribute("href")
    answer = http_session(driver).get(letter, timeout=60)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/pdf", answer.status_code
    printed = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)
    assert claim.invoice_number in printed, f"the letter does not name invoice {claim.invoice_number}"


def test_the_script_customer_is_shown_as_text_and_never_run(open_browser, console, shots) -> None:
    seeded: SeededStore = console.seeded
    driver = open_browser("de")
    login(driver, console.url, "clara", seeded.users["clara"][1])
    text = open_claim(driver, console, seeded.script_order)
    assert alert_text(driver) is None, "the customer's name ran as a script"
    assert SCRIPT_NAME in text, f"the customer's name is not shown as it is:\n{text}"
    scripts = [s.get_attribute("outerHTML") for s in driver.find_elements(By.TAG_NAME, "script")]
    assert not [s for s in scripts if "alert" in s], f"the page holds the customer's script element: {scripts}"
    shots.take(driver, "claim-script-customer-de")
    driver.get(f"{console.url}/payments?q={SCRIPT_NAME}")  # a page that echoes what was searched for
    assert alert_text(driver) is None, "a search for the name ran it as a script"


def test_a_clerk_holds_a_disputed_claim(open_browser, console) -> None:
    seeded: SeededStore = console.seeded
    order = seeded.at_stage("reminder")
    driver = open_browser("de")
    login(driver, console.url, "clara", seeded.users["clara"][1])
    open_claim(driver, console, order)
    form = post_forms(driver)[f"{seeded.claim_path(order)}/hold"]
    Select(form.find_element(By.NAME, "reason")).select_by_value("dispute")
    form.find_element(By.NAME, "note").send_keys("Kundin bestreitet die Lieferung")
    submit(driver, form)
    assert path(driver) == seeded.claim_path(order), path(driver)
    assert words("claim.held", "de") in driver.find_element(By.CSS_SELECTOR, ".flash").text
    assert words("status.on_hold", "de") in driver.find_element(By.TAG_NAME, "h1").text
    assert f"{seeded.claim_path(order)}/release" in post_forms(driver), "no release form for the held claim"
    _, entries = claim_row(seeded, order)
    [held] = [e for e in entries if e.kind == "hold"]
    assert (held.actor, held.source, held.data["kind"]) == ("clara", "web", "dispute"), held


def test_a_viewer_reads_a_claim_without_forms_and_is_refused_its_actions(open_browser, console) -> None:
    seeded: SeededStore = console.seeded
    order = seeded.disputed_order
    driver = open_browser("de")
    login(driver, console.url, "clara", seeded.users["clara"][1])
    open_claim(driver, console, order)
    actions = sorted(post_forms(driver))
    assert actions, "a clerk is offered no actions on the claim page"
    driver.delete_all_cookies()
    login(driver, console.url, "viktor", seeded.users["viktor"][1])
    open_claim(driver, console, order)
    assert not post_forms(driver), f"a viewer is offered actions: {sorted(post_forms(driver))}"
    _, before = claim_row(seeded, order)
    session, token = http_session(driver), csrf_token(driver)
    for action in actions:
        refused = session.post(console.url + action, data={"csrf_token": token, "text": "viewer", "note": "viewer",
                                                           "reason": "manual", "count": "3"},
                               allow_redirects=False)
        assert refused.status_code == 403, f"a viewer's POST {action} answered {refused.status_code}"
    _, after = claim_row(seeded, order)
    assert len(after) == len(before), "a viewer's refused action reached the ledger"
