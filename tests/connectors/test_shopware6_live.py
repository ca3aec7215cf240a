"""The Shopware 6 kind against a real ShopwareServer on 127.0.0.1: what the shop saw, not which functions ran."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from mahnwerk.connectors.kinds import ShopSettings
from mahnwerk.connectors.records import Attachment, CustomerMessage, PaidState, Progress
from mahnwerk.connectors.shop import UNKNOWN
from mahnwerk.connectors.shopware6 import KIND, ShopwareShop, connect
from mahnwerk.connectors.shopware6.auth import forget_tokens
from mahnwerk.errors import OrderChanged, ShopUnavailable
from mahnwerk.sandbox import ShopwareSandbox, ShopwareServer, generate_sw_orders

STATUSES = {s: PaidState(meaning) for meaning in ("open", "paid", "cancelled", "refunded")
            for s in KIND.defaults(meaning)}


@pytest.fixture
def sandbox() -> ShopwareSandbox:
    forget_tokens()
    return ShopwareSandbox(orders=generate_sw_orders(160, seed=11))


@pytest.fixture
def server(sandbox: ShopwareSandbox) -> Iterator[ShopwareServer]:
    with ShopwareServer(sandbox) as running:
        yield running
    forget_tokens()


def a_shop(sandbox: ShopwareSandbox, server: ShopwareServer, page_size: int = 500) -> ShopwareShop:
    return connect(ShopSettings(shop_id="berlin", url=server.url, statuses=STATUSES, page_size=page_size,
                                credentials={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret},
                                invoice_methods=("payment_invoicepayment",), max_attempts=2, max_backoff=0.0,
                                timeout=5.0))


def open_invoice_order(shop: ShopwareShop) -> str:
    order = next(o for p in shop.changed_pages(None) for o in p.records
                 if o.status == "open" and o.payment_method == "payment_invoicepayment")
    return order.order_id


def a_message(key: str, **changes: object) -> CustomerMessage:
    values: dict[str, object] = {"key": key, "to": "erika@example.org", "to_name": "{{ 7*7 }} {% if x %}Erika",
                                 "subject": "Mahnung {{ order.orderNumber }}", "text": "Bitte {{ 7*7 }} zahlen.",
                                 "html": "<p>Bitte {{ 7*7 }} zahlen.</p>", "language": "de",
                                 "attachments": (Attachment("mahnung.pdf", b"%PDF-1.4 live"),)}
    return CustomerMessage(**(values | changes))  # type: ignore[arg-type]


def test_same_created_at_bursts_across_page_boundaries_read_each_order_once(sandbox: ShopwareSandbox,
                                                                            server: ShopwareServer) -> None:
    """Small pages over orders created in the same millisecond: the (createdAt, id) sort loses and repeats none."""
    whole = [o.order_id for p in a_shop(sandbox, server).changed_pages(None) for o in p.records]
    pages = list(a_shop(sandbox, server, page_size=3).changed_pages(None))
    paged = [o.order_id for p in pages for o in p.records]
    assert len(paged) == len(set(paged)) and set(paged) == set(whole) and len(whole) > 30
    assert all(p.newest is None for p in pages[:-1]) and pages[-1].newest is not None


def test_orders_paid_during_the_first_read_move_no_other_order_off_its_page(sandbox: ShopwareSandbox,
                                                                            server: ShopwareServer) -> None:
    """While the first read pages, the shop marks orders of pages already read as paid: they leave the result set,
    and with page numbers alone the order after each would slide onto a page already read and go unseen."""
    expected = [o.order_id for p in a_shop(sandbox, server).changed_pages(None) for o in p.records]
    forget_tokens()
    read: list[str] = []
    for page in a_shop(sandbox, server, page_size=7).changed_pages(None):
        read += [o.order_id for o in page.records]
        if len(read) < len(expected) - 7:
            sandbox.pay(read[-3])  # on the page just read
    assert sorted(read) == sorted(expected) and len(read) == len(set(read))


def test_token_expiring_mid_read_is_renewed_once(sandbox: ShopwareSandbox, server: ShopwareServer) -> None:
    """The shop expires every token after the first page: one renewal, the read completes."""
    searches = 0

    def expire_after_first_search(method: str, path: str, moment: str) -> bool:
        nonlocal searches
        if moment == "after" and path == "/api/search/order":
            searches += 1
            if searches == 1:
                sandbox.expire_tokens()
        return False

    expected = {o.order_id for p in a_shop(sandbox, server).changed_pages(None) for o in p.records}
    forget_tokens()
    issued = sandbox.tokens_issued
    sandbox.on_request = expire_after_first_search
    found = {o.order_id for p in a_shop(sandbox, server, page_size=10).changed_pages(None) for o in p.records}
    assert found == expected and sandbox.tokens_issued == issued + 2
    assert [r.status for r in sandbox.requests if r.path == "/api/search/order"].count(401) == 1


def test_a_payment_that_does_not_move_the_order_is_found_incrementally(sandbox: ShopwareSandbox,
                                                                        server: ShopwareServer) -> None:
    """The transaction moves to paid, the order's updatedAt does not: the next incremental read sees it paid."""
    shop = a_shop(sandbox, server)
    pages = list(shop.changed_pages(None))
    cursor = pages[-1].newest
    order_id = next(o.order_id for p in pages for o in p.records if o.status == "open")
    before = sandbox.order(order_id)["updatedAt"]
    sandbox.pay(order_id)
    assert sandbox.order(order_id)["updatedAt"] == before
    changed = {o.order_id: o for p in shop.changed_pages(cursor) for o in p.records}
    assert changed[order_id].paid_state == PaidState.PAID and changed[order_id].paid_at is not None


def test_a_newer_transaction_of_another_method_decides(sandbox: ShopwareSandbox, server: ShopwareServer) -> None:
    """The customer paid by PayPal after all: read incrementally, the order is PayPal's and paid."""
    shop = a_shop(sandbox, server)
    pages = list(shop.changed_pages(None))
    order_id = next(o.order_id for p in pages for o in p.records if o.status == "open")
    sandbox.add_transaction(order_id, "swag_paypal_pay_upon_invoice", state="paid")
    changed = {o.order_id: o for p in shop.changed_pages(pages[-1].newest) for o in p.records}
    assert (changed[order_id].payment_method, changed[order_id].status) == ("swag_paypal_pay_upon_invoice", "paid")


def test_notice_goes_out_once_with_twig_looking_text_printed_literally(sandbox: ShopwareSandbox,
                                                                         server: ShopwareServer) -> None:
    """remind, the PDF as private media, one mail whose rendered name, subject and texts are the customer's
    characters, not Twig's output; the shop's flows are skipped."""
    shop = a_shop(sandbox, server)
    order_id = open_invoice_order(shop)
    message = a_message("berlin:1:dunning_1")
    assert shop.send_message(order_id, message) == "mail:berlin:1:dunning_1"
    [mail] = sandbox.mails
    assert mail["recipients"] == {"erika@example.org": "{{ 7*7 }} {% if x %}Erika"}
    assert (mail["subject"], mail["text"], mail["html"]) == (message.subject, message.text, message.html)
    assert "49" not in mail["text"] and mail["media"] == ["mahnwerk-berlin-1-dunning_1.pdf"]
    assert sandbox.transaction_state(order_id) == "reminded" and not sandbox.mail_failures
    assert shop.find_message(order_id, message) == "mail:berlin:1:dunning_1"
    assert shop.find_message(order_id, a_message("berlin:1:dunning_2")) is None


def test_refused_transition_is_order_changed_and_nothing_is_sent(sandbox: ShopwareSandbox,
                                                                 server: ShopwareServer) -> None:
    """Paid between reading the allowed transitions and the remind: the shop refuses, the order is read again,
    OrderChanged; no media, no mail."""
    shop = a_shop(sandbox, server)
    order_id = open_invoice_order(shop)

    def pay_first(method: str, path: str, moment: str) -> bool:
        if moment == "before" and path.endswith("/state/remind"):
            sandbox.pay(order_id)
        return False

    sandbox.on_request = pay_first
    with pytest.raises(OrderChanged):
        shop.send_message(order_id, a_message("berlin:2:dunning_1"))
    assert not sandbox.mails and not sandbox.media
    assert [r.status for r in sandbox.requests if r.path.endswith("/state/remind")] == [400]


def test_mail_answer_lost_is_unknown_not_resent(sandbox: ShopwareSandbox, server: ShopwareServer) -> None:
    """The shop sent the mail, the answer never came: ShopUnavailable, one mail, and find_message says UNKNOWN."""
    shop = a_shop(sandbox, server)
    order_id = open_invoice_order(shop)
    sandbox.on_request = lambda method, path, moment: moment == "after" and path.endswith("mail-template/send")
    message = a_message("berlin:3:dunning_1", attachments=())
    with pytest.raises(ShopUnavailable):
        shop.send_message(order_id, message)
    sandbox.on_request = None
    assert len(sandbox.mails) == 1 and shop.find_message(order_id, message) == UNKNOWN


def test_custom_fields_are_merged_not_overwritten(sandbox: ShopwareSandbox, server: ShopwareServer) -> None:
    """The merchant's own custom fields stay; progress and notes add Mahnwerk's keys; the marker reads back."""
    shop = a_shop(sandbox, server)
    order_id = open_invoice_order(shop)
    sandbox.merge_custom_fields(order_id, {"erp_id": "ERP-7", "custom_note": {"a": 1}})
    shop.add_private_note(order_id, "Mahnwerk: reminder sent, key k-1")
    shop.record_progress(order_id, Progress("reminder", "dunning_1", date(2026, 4, 1), "k-1"))
    fields = sandbox.custom_fields(order_id)
    assert fields["erp_id"] == "ERP-7" and fields["custom_note"] == {"a": 1}
    assert fields["mahnwerk_last_action"] == "k-1" and fields["mahnwerk_next_date"] == "2026-04-01"
    assert shop.has_private_note(order_id, "k-1") and not shop.has_private_note(order_id, "k-2")
    assert shop.current(order_id).records[0].marker == "k-1"


def test_set_paid_moves_the_latest_transaction(sandbox: ShopwareSandbox, server: ShopwareServer) -> None:
    """From reminded (no `paid` action) the shop is asked which transition is allowed: `pay`."""
    shop = a_shop(sandbox, server)
    order_id = open_invoice_order(shop)
    shop.send_message(order_id, a_message("berlin:4:reminder", attachments=()))
    shop.set_paid(order_id, in_full=True)
    assert sandbox.transaction_state(order_id) == "paid"
    shop.set_paid(order_id, in_full=True)  # already there: nothing
    assert [r.path.rsplit("/", 1)[-1] for r in sandbox.requests if "/state/" in r.path and r.method == "POST"] \
        == ["remind", "pay"]


def test_gone_order_is_missing(sandbox: ShopwareSandbox, server: ShopwareServer) -> None:
    """Shopware deletes for good: a re-read by id lists it in `missing`."""
    shop = a_shop(sandbox, server)
    order_id = open_invoice_order(shop)
    sandbox.delete(order_id)
    assert shop.current(order_id).missing == [order_id]


def test_probe_names_what_a_role_lacks(server: ShopwareServer) -> None:
    """An integration whose role lacks api_send_email: `check` says so, with where to grant it."""
    # acl_role:read too: Shopware checks the read privilege of every association a search loads (aclRoles).
    shop = ShopwareSandbox(admin=False, privileges=["order:read", "payment_method:read", "integration:read",
                                                    "acl_role:read"])
    with ShopwareServer(shop) as other:
        probe = a_shop(shop, other).probe()
    assert probe.authenticated and "api_send_email" in probe.detail and "Integrations" in probe.detail


def test_datetimes_are_aware_utc(sandbox: ShopwareSandbox, server: ShopwareServer) -> None:
    """Every datetime leaving the connector is aware UTC."""
    orders = [o for p in a_shop(sandbox, server).changed_pages(None) for o in p.records]
    assert all(o.created_at.tzinfo is UTC and o.modified_at.tzinfo is UTC for o in orders)
    assert max(o.modified_at for o in orders) <= datetime.now(UTC)
