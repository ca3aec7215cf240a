"""The console's seeded store holds what the browser tests look for: claims at every stage, a disputed claim, the
<script> customer, a payment in the review queue, one unmatched, and the two users with their passwords."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from mahnwerk.sync.store.models import Claim, IncomingPaymentRow, LedgerEntry, PaymentState
from tests.browser.seed import SCRIPT_NAME, SHOP_ID, SeededStore


def test_claims_stand_at_every_stage_and_the_shop_mailed_their_notices(seeded: SeededStore) -> None:
    assert {"", "reminder", "dunning_1", "dunning_2", "final_notice"} <= set(seeded.stages), seeded.stages
    mailed = [m for m in seeded.shop.mails if m["subject"].startswith("A note has been added")]
    assert len(mailed) >= sum(n for stage, n in seeded.stages.items() if stage), "fewer notices mailed than sent"


def test_the_script_customer_is_stored_verbatim_and_one_claim_is_disputed(seeded: SeededStore) -> None:
    store = seeded.store()
    try:
        with store.session() as session:
            [script] = session.execute(select(Claim).where(col(Claim.shop_id) == SHOP_ID, col(Claim.order_number)
                                                           == seeded.script_order)).scalars().all()
            [disputed] = session.execute(select(Claim).where(col(Claim.order_number) == seeded.disputed_order)
                                         ).scalars().all()
            holds = session.execute(select(LedgerEntry).where(col(LedgerEntry.claim_id) == disputed.id,
                                                              col(LedgerEntry.kind) == "hold")).scalars().all()
    finally:
        store.close()
    assert script.customer_name == SCRIPT_NAME
    assert [h.data["kind"] for h in holds] == ["dispute"]


def test_one_payment_waits_for_review_suggesting_the_claim_it_pays_and_one_fits_nothing(seeded: SeededStore) -> None:
    store = seeded.store()
    try:
        with store.session() as session:
            review = session.get(IncomingPaymentRow, seeded.review_payment_id)
            unmatched = session.get(IncomingPaymentRow, seeded.unmatched_payment_id)
            [paid] = session.execute(select(Claim).where(col(Claim.order_number) == seeded.review_order)
                                     ).scalars().all()
    finally:
        store.close()
    assert review is not None and unmatched is not None
    if review.state == PaymentState.MATCHED:  # test_payments.py's clerk has assigned it already
        assert paid.state == "paid" and review.decided_by == "clara", (paid.state, review.decided_by)
    else:
        assert (review.state, review.unallocated, paid.state) == (PaymentState.REVIEW, seeded.review_amount, "open")
        assert paid.id in review.candidates, review.candidates
    assert unmatched.state == PaymentState.UNMATCHED


def test_the_users_log_in_with_their_passwords_and_roles(seeded: SeededStore) -> None:
    from mahnwerk.sync.web.users import verify

    store = seeded.store()
    try:
        for name, (role, password) in seeded.users.items():
            found = verify(store, name, password)
            assert found is not None, f"{name} cannot log in with the seeded password"
            assert found[0].role == role
            assert verify(store, name, password + "x") is None
    finally:
        store.close()


def test_some_claims_are_numbered_apart_from_their_order_id(seeded: SeededStore) -> None:
    assert seeded.numbered, "no open claim whose order number differs from its id"
    assert all(number != order_id for number, order_id in seeded.numbered.items())
