"""The payment queue in a real browser: a clerk assigns the payment waiting for review to the claim it suggests and
the claim closes; a viewer sees the queue without its forms and is refused the action itself (403)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select
from sqlmodel import col

from mahnwerk.sync.store.models import Claim, ClaimState, IncomingPaymentRow, LedgerEntry, PaymentState
from tests.browser.pages import csrf_token, http_session, login, path, post_forms, submit, wait_for_text, words
from tests.browser.seed import SeededStore

pytestmark = pytest.mark.browser


def claim_and_payment(seeded: SeededStore, order: str, payment_id: int) -> tuple[Claim, IncomingPaymentRow,
                                                                                  list[LedgerEntry]]:
    store = seeded.store()
    try:
        with store.session() as session:
            [claim] = session.execute(select(Claim).where(col(Claim.order_number) == order)).scalars().all()
            payment = session.get(IncomingPaymentRow, payment_id)
            entries = session.execute(select(LedgerEntry).where(col(LedgerEntry.claim_id) == claim.id, col(
                LedgerEntry.kind) == "payment")).scalars().all()
    finally:
        store.close()
    assert payment is not None
    return claim, payment, list(entries)


def test_a_clerk_assigns_the_waiting_payment_and_the_claim_closes(open_browser, console, shots) -> None:
    seeded: SeededStore = console.seeded
    ref, pid = seeded.claim_ref(seeded.review_order), seeded.review_payment_id
    driver = open_browser("de")
    login(driver, console.url, "clara", seeded.users["clara"][1])
    driver.find_element(By.LINK_TEXT, words("nav.payments", "de")).click()
    assert path(driver) == "/payments"
    row = driver.find_element(By.ID, f"payment-{pid}")
    assert ref in row.text, f"the payment in review does not suggest {ref}: {row.text}"
    assert words("payments.state.review", "de") in row.text
    form = post_forms(driver)[f"/payments/{pid}/assign"]
    Select(form.find_element(By.NAME, "claim")).select_by_value(ref)
    shots.take(driver, "payments-de")
    submit(driver, form)

    assert path(driver) == "/payments"
    flashed = driver.find_element(By.CSS_SELECTOR, ".flash").text
    assert words("payments.assigned_closed", "de", claim=ref) in flashed, flashed
    assert not driver.find_elements(By.ID, f"payment-{pid}"), "the assigned payment still waits in the queue"
    claim, payment, entries = claim_and_payment(seeded, seeded.review_order, pid)
    assert claim.state == ClaimState.PAID, f"the claim is {claim.state} after the assignment"
    assert payment.state == PaymentState.MATCHED and payment.unallocated == 0
    assert [(e.actor, e.source) for e in entries] == [("clara", "web")], [(e.actor, e.source) for e in entries]


def test_a_viewer_sees_the_queue_without_its_forms_and_is_refused_the_action(open_browser, console) -> None:
    seeded: SeededStore = console.seeded
    pid = seeded.unmatched_payment_id
    driver = open_browser("de")
    login(driver, console.url, "viktor", seeded.users["viktor"][1])
    driver.get(f"{console.url}/payments")
    assert driver.find_element(By.ID, f"payment-{pid}"), "the viewer does not see the queue"
    assert not post_forms(driver), f"the viewer is offered actions: {sorted(post_forms(driver))}"
    session = http_session(driver)
    for action, data in ((f"/payments/{pid}/ignore", {"reason": "Gehalt, keine Kundenzahlung"}),
                         (f"/payments/{pid}/assign", {"claim": seeded.claim_ref(seeded.disputed_order)})):
        refused = session.post(console.url + action, data={**data, "csrf_token": csrf_token(driver)},
                               allow_redirects=False)
        assert refused.status_code == 403, f"a viewer's POST {action} answered {refused.status_code}"
    _, payment, _ = claim_and_payment(seeded, seeded.disputed_order, pid)
    assert payment.state == PaymentState.UNMATCHED, "the viewer's refused action changed the payment"
    # The same as a form the viewer built in the browser: the console answers with its 403 page, in German.
    driver.execute_script(FORGE, f"/payments/{pid}/ignore", csrf_token(driver))
    wait_for_text(driver, words("error.403", "de"))
    _, payment, _ = claim_and_payment(seeded, seeded.disputed_order, pid)
    assert payment.state == PaymentState.UNMATCHED, "the viewer's refused form changed the payment"


FORGE = """
const form = document.createElement("form");
form.method = "post";
form.action = arguments[0];
for (const [name, value] of [["csrf_token", arguments[1]], ["reason", "forged by a viewer"]]) {
  const input = document.createElement("input");
  input.type = "hidden"; input.name = name; input.value = value;
  form.appendChild(input);
}
document.body.appendChild(form);
form.submit();
"""
