"""Parsing WooCommerce order JSON: the reference sample, escaping, refunds, and bad records."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from mahnwerk.connectors.records import PaidState
from mahnwerk.connectors.woocommerce.parse import MetaKeys, Reading, parse_order, parse_page
from mahnwerk.errors import BadRecord

# The constructed example of shared/reference/woocommerce.md §3, plus the fields the real shop also sends.
SAMPLE = {
    "id": 4711, "number": "4711", "status": "on-hold", "currency": "EUR", "total": "119.00", "total_tax": "19.00",
    "date_created": "2026-03-01T10:15:00", "date_created_gmt": "2026-03-01T09:15:00",
    "date_modified_gmt": "2026-03-02T08:00:00", "date_paid": None, "date_paid_gmt": None, "customer_id": 0,
    "payment_method": "invoice", "payment_method_title": "Kauf auf Rechnung",
    "billing": {"first_name": "Erika", "last_name": "Musterfrau", "company": "Muster GmbH",
                "address_1": "Hauptstr. 1", "address_2": "", "city": "Berlin", "state": "", "postcode": "10115",
                "country": "DE", "email": "erika@example.org", "phone": ""},
    "meta_data": [{"id": 901, "key": "_some_plugin_invoice_number", "value": "RE-2026-0042"}],
    "refunds": [],
}


def a_raw(**changes: object) -> dict:
    """The sample with some fields changed."""
    raw = copy.deepcopy(SAMPLE)
    raw.update(changes)
    return raw


def test_reference_sample_parses() -> None:
    """The documented order becomes a typed record: Decimal money, aware UTC datetimes, meta invoice number."""
    order = parse_order(SAMPLE, Reading(MetaKeys(invoice_number="_some_plugin_invoice_number")))
    assert order.order_id == "4711" and order.status == "on-hold" and order.payment_method == "invoice"
    assert order.total == Decimal("119.00") and order.open_amount == Decimal("119.00")
    assert order.created_at == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)
    assert order.paid_at is None and order.invoice_number == "RE-2026-0042"
    assert order.billing.name == "Erika Musterfrau" and order.billing.company == "Muster GmbH"


def test_refunds_reduce_the_open_amount() -> None:
    """Refund totals are negative strings; open amount = total - refunds."""
    order = parse_order(a_raw(refunds=[{"id": 1, "reason": "", "total": "-10.00"},
                                       {"id": 2, "reason": "", "total": "-9.01"}]))
    assert order.refunded == Decimal("19.01") and order.open_amount == Decimal("99.99")


def test_checkout_escaping_is_undone_once_and_hostile_text_kept_verbatim() -> None:
    """`&amp;` from checkout input is unescaped once; markup and formulas stay as typed."""
    billing = dict(SAMPLE["billing"], company="Größmann &amp; Söhne GmbH", first_name="<script>alert(1)</script>",
                   last_name='=HYPERLINK("http://x","y")', address_1="&amp;lt;b&amp;gt;")
    order = parse_order(a_raw(billing=billing))
    assert order.billing.company == "Größmann & Söhne GmbH"
    assert order.billing.first_name == "<script>alert(1)</script>"
    assert order.billing.last_name == '=HYPERLINK("http://x","y")'
    assert order.billing.address_1 == "&lt;b&gt;"


def test_invoice_dates_from_pdf_plugin_meta() -> None:
    """Invoice and due dates may come from meta as Unix timestamps or ISO dates."""
    raw = a_raw(meta_data=[{"id": 1, "key": "_wcpdf_invoice_date", "value": "1772323200"},
                           {"id": 2, "key": "due", "value": "2026-03-20"}])
    order = parse_order(raw, Reading(MetaKeys(invoice_date="_wcpdf_invoice_date", due_date="due")))
    assert (order.invoice_date, order.due_date) == (date(2026, 3, 1), date(2026, 3, 20))


def test_vat_id_meta_is_read() -> None:
    """A VAT id in the usual meta keys marks a business customer."""
    order = parse_order(a_raw(meta_data=[{"id": 1, "key": "_billing_vat_id", "value": "DE123456789"}]))
    assert order.vat_id == "DE123456789"


@pytest.mark.parametrize(("changes", "field"), [
    ({"total": None}, "total"),
    ({"total": "12,50"}, "total"),
    ({"total": 12.5}, "total"),
    ({"date_created_gmt": "not a date"}, "date_created_gmt"),
    ({"date_modified_gmt": None}, "date_modified_gmt"),
    ({"currency": "XXY"}, "currency"),
    ({"currency": "XXX"}, "currency"),
    ({"currency": ""}, "currency"),
    ({"id": "abc"}, "id"),
    ({"refunds": [{"id": 1, "total": "x"}]}, "refunds.total"),
])
def test_malformed_order_names_the_field(changes: dict, field: str) -> None:
    """Each kind of broken order raises BadRecord naming the order and the field."""
    with pytest.raises(BadRecord) as err:
        parse_order(a_raw(**changes))
    assert err.value.field == field and f"field '{field}'" in str(err.value)


def test_page_keeps_good_records_and_rejects_bad_ones() -> None:
    """One bad order on a page is rejected with its reason; the others are parsed."""
    page = parse_page([SAMPLE, a_raw(id=4712, total="x", date_modified_gmt="2026-03-03T00:00:00"), "junk"])
    assert [o.order_id for o in page.records] == ["4711"]
    assert [(r.record_id, r.field) for r in page.rejected] == [("4712", "total"), ("?", "order")]
    assert page.newest == datetime(2026, 3, 3, tzinfo=UTC)


def test_status_words_become_neutral_facts() -> None:
    """The merchant's mapping says what a status means; the bin is `deleted`; a status nobody mapped means nothing."""
    reading = Reading(statuses={"on-hold": PaidState.OPEN, "completed": PaidState.PAID})
    assert parse_order(SAMPLE, reading).paid_state is PaidState.OPEN
    assert parse_order(a_raw(status="completed"), reading).paid_state is PaidState.PAID
    trashed = parse_order(a_raw(status="trash"), reading)
    assert trashed.deleted and trashed.paid_state is None
    assert parse_order(a_raw(status="wc-invoiced"), reading).paid_state is None


def test_a_rejected_record_says_its_payment_method() -> None:
    """Whether a bad record matters (an invoice order) is told without sync/ reading the raw JSON."""
    page = parse_page([a_raw(total="x", payment_method="bacs")])
    assert page.rejected[0].payment_method == "bacs" and page.rejected[0].field == "total"


@pytest.mark.parametrize(("value", "customer_id"), [(0, ""), (17, "17"), (None, ""), ("17", "")])
def test_the_customer_id_is_the_wordpress_user_or_empty_for_a_guest(value: object, customer_id: str) -> None:
    assert parse_order(a_raw(customer_id=value)).customer_id == customer_id
