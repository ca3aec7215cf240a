"""Parsing Shopware 6 order JSON: the latest transaction decides, invoice documents, language, B2B, bad records."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from mahnwerk.connectors.records import PaidState
from mahnwerk.connectors.shopware6 import KIND
from mahnwerk.connectors.shopware6.parse import CustomFieldNames, Reading, change_time, parse_order, parse_page
from mahnwerk.errors import BadRecord

STATUSES = {s: PaidState(meaning) for meaning in ("open", "paid", "cancelled", "refunded")
            for s in KIND.defaults(meaning)}
READING = Reading(statuses=STATUSES)


def a_transaction(state: str = "open", method: str | None = "payment_invoicepayment", *,
                  created: str = "2026-03-01T09:15:01.000+00:00", updated: str | None = None,
                  id: str = "0190a1b2c3d4e5f60718293a4b5c6d80") -> dict[str, Any]:
    return {"id": id, "createdAt": created, "updatedAt": updated, "amount": {"totalPrice": 119.0},
            "stateMachineState": {"technicalName": state}, "paymentMethod": {"technicalName": method}}


# The constructed example of shared/reference/shopware6.md §3, as the includes of docs/shopware6.md shape it.
SAMPLE: dict[str, Any] = {
    "id": "0190a1b2c3d4e5f60718293a4b5c6d7e", "orderNumber": "10042",
    "orderDateTime": "2026-03-01T09:15:00.000+00:00", "createdAt": "2026-03-01T09:15:00.500+00:00",
    "updatedAt": None, "amountTotal": 119.0, "salesChannelId": "98432def39fc4624b33213a56b8c944d",
    "customFields": None, "currency": {"isoCode": "EUR"}, "language": {"locale": {"code": "de-DE"}},
    "orderCustomer": {"email": "erika@example.org", "firstName": "Erika", "lastName": "Musterfrau", "company": None,
                      "vatIds": None, "customerNumber": "10001"},
    "billingAddress": {"firstName": "Erika", "lastName": "Musterfrau", "company": None, "street": "Hauptstr. 1",
                       "additionalAddressLine1": None, "zipcode": "10115", "city": "Berlin", "phoneNumber": None,
                       "vatId": None, "country": {"iso": "DE"}},
    "transactions": [a_transaction()],
    "documents": [{"id": "0190a1b2c3d4e5f60718293a4b5c6d90", "createdAt": "2026-03-01T09:20:00.000+00:00",
                   "documentNumber": "1000", "deepLinkCode": "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",
                   "documentType": {"technicalName": "invoice"},
                   "config": {"documentNumber": "1000", "documentDate": "2026-03-01T09:20:00+00:00"}}],
}


def a_raw(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(SAMPLE)
    raw.update(changes)
    return raw


def test_reference_sample_parses() -> None:
    """The documented order becomes a typed record: Decimal money in cents, aware UTC, invoice document, language."""
    order = parse_order(SAMPLE, READING)
    assert (order.order_id, order.number, order.status) == (SAMPLE["id"], "10042", "open")
    assert order.payment_method == "payment_invoicepayment" and order.paid_state == PaidState.OPEN
    assert order.total == Decimal("119.00") and str(order.total) == "119.00" and order.currency == "EUR"
    assert order.created_at == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)
    assert order.modified_at == datetime(2026, 3, 1, 9, 15, 1, tzinfo=UTC)  # the transaction's stamp
    assert (order.invoice_number, order.invoice_date, order.due_date) == ("1000", date(2026, 3, 1), None)
    assert order.language == "de" and not order.part_paid and order.paid_at is None and order.marker == ""
    assert order.billing.name == "Erika Musterfrau" and order.billing.email == "erika@example.org"
    assert (order.billing.address_1, order.billing.postcode, order.billing.country) == ("Hauptstr. 1", "10115", "DE")


def test_float_amounts_become_exact_cents() -> None:
    """JSON floats go through their text, never binary: 0.1 + 0.2 style noise cannot reach the claim."""
    assert parse_order(a_raw(amountTotal=100.3), READING).total == Decimal("100.30")
    assert parse_order(a_raw(amountTotal=19.999999999999996), READING).total == Decimal("20.00")
    assert parse_order(a_raw(amountTotal=1000, currency={"isoCode": "JPY"}), READING).total == Decimal("1000")


def test_latest_transaction_decides() -> None:
    """The customer paid with PayPal after choosing invoice: the newer paid transaction decides, not the open one."""
    raw = a_raw(transactions=[a_transaction("paid", "payment_paypal", created="2026-03-02T10:00:00.000+00:00",
                                            updated="2026-03-02T10:05:00.000+00:00", id="b" * 32),
                              a_transaction("open")])
    order = parse_order(raw, READING)
    assert (order.status, order.payment_method, order.paid_state) == ("paid", "payment_paypal", PaidState.PAID)
    assert order.paid_at == datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
    assert order.modified_at == datetime(2026, 3, 2, 10, 5, tzinfo=UTC)


def test_old_open_invoice_behind_newer_paid_one_is_not_a_claim() -> None:
    """Two invoice transactions, the older open, the newer paid: the order is paid."""
    raw = a_raw(transactions=[a_transaction("open", created="2026-03-01T09:15:01.000+00:00"),
                              a_transaction("paid", created="2026-03-05T09:00:00.000+00:00", id="c" * 32)])
    assert parse_order(raw, READING).paid_state == PaidState.PAID


def test_same_created_at_breaks_the_tie_by_id() -> None:
    """Transactions created in the same millisecond: the higher id is the latest (the search's own tie-breaker)."""
    raw = a_raw(transactions=[a_transaction("paid", id="f" * 32), a_transaction("open", id="0" * 32)])
    assert parse_order(raw, READING).status == "paid"


def test_paypal_pay_upon_invoice_is_not_a_claim_method() -> None:
    """PayPal's 'pay upon invoice' is collected by PayPal: its technical name is not among the invoice methods."""
    order = parse_order(a_raw(transactions=[a_transaction("open", "swag_paypal_pay_upon_invoice")]), READING)
    assert order.payment_method == "swag_paypal_pay_upon_invoice"
    assert order.payment_method not in KIND.default_invoice_methods


def test_paid_partially_is_open_and_part_paid() -> None:
    """Shopware keeps no paid amount: the order stays open and is flagged for a person to confirm the amount."""
    order = parse_order(a_raw(transactions=[a_transaction("paid_partially")]), READING)
    assert order.part_paid and order.paid_state == PaidState.OPEN and order.open_amount == Decimal("119.00")


@pytest.mark.parametrize(("document", "number", "day"), [
    ({"documentNumber": "RE-7", "config": {"documentNumber": "old", "documentDate": "2026-03-04"}}, "RE-7",
     date(2026, 3, 4)),
    ({"documentNumber": None, "config": {"documentNumber": "1001", "documentDate": "2026-03-05T23:30:00+01:00"}},
     "1001", date(2026, 3, 5)),
    ({"documentNumber": "", "config": {}}, None, None),
])
def test_invoice_number_prefers_top_level_then_config(document: dict[str, Any], number: str | None,
                                                      day: date | None) -> None:
    """Top-level documentNumber (6.5+), else config.documentNumber; the date as printed on the invoice."""
    raw = a_raw(documents=[{**SAMPLE["documents"][0], **document}])
    order = parse_order(raw, READING)
    assert (order.invoice_number, order.invoice_date) == (number, day)


def test_without_invoice_document_sync_falls_back_to_order_number_and_date() -> None:
    """No invoice yet: no number or date here, so the claim takes the order number and the order date."""
    order = parse_order(a_raw(documents=[]), READING)
    assert order.invoice_number is None and order.invoice_date is None and order.number == "10042"
    assert order.created_at == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)  # orderDateTime


def test_newest_invoice_document_wins_and_other_types_are_ignored() -> None:
    """A corrected invoice replaces the first; a credit note is no invoice."""
    first = SAMPLE["documents"][0]
    newer = {**first, "id": "d" * 32, "createdAt": "2026-03-03T08:00:00.000+00:00", "documentNumber": "1005"}
    credit = {**first, "id": "e" * 32, "createdAt": "2026-03-09T08:00:00.000+00:00", "documentNumber": "G-1",
              "documentType": {"technicalName": "credit_note"}}
    assert parse_order(a_raw(documents=[first, credit, newer]), READING).invoice_number == "1005"


def test_due_date_from_custom_field_then_document_config() -> None:
    """The configured custom field first, else the document's config.dueDate, else none (the payment term)."""
    reading = Reading(CustomFieldNames(due_date="erp_due", invoice_number="erp_invoice"), STATUSES)
    raw = a_raw(customFields={"erp_due": "2026-03-31", "erp_invoice": "ERP-1"})
    order = parse_order(raw, reading)
    assert (order.due_date, order.invoice_number) == (date(2026, 3, 31), "ERP-1")
    document = {**SAMPLE["documents"][0], "config": {"documentNumber": "1000", "dueDate": "2026-03-15"}}
    assert parse_order(a_raw(documents=[document]), reading).due_date == date(2026, 3, 15)
    assert parse_order(SAMPLE, reading).due_date is None


@pytest.mark.parametrize(("locale", "language"), [("de-DE", "de"), ("en-GB", "en"), ("de_CH", "de"), (None, "")])
def test_language_from_the_orders_locale(locale: str | None, language: str) -> None:
    """The order's own language decides the notice's language; unknown: "" (then the country decides)."""
    raw = a_raw(language={"locale": {"code": locale}} if locale else None)
    assert parse_order(raw, READING).language == language


def test_b2b_by_company_or_vat_ids() -> None:
    """A company in the billing address or on the customer, or a VAT id, marks a business customer."""
    company = a_raw(orderCustomer={**SAMPLE["orderCustomer"], "company": "Muster GmbH"})
    assert parse_order(company, READING).billing.company == "Muster GmbH"
    vat = a_raw(orderCustomer={**SAMPLE["orderCustomer"], "vatIds": ["", "DE123456789"]})
    assert parse_order(vat, READING).vat_id == "DE123456789"
    address = a_raw(billingAddress={**SAMPLE["billingAddress"], "vatId": "ATU12345678", "company": "Acme AG"})
    order = parse_order(address, READING)
    assert (order.vat_id, order.billing.company) == ("ATU12345678", "Acme AG")


def test_marker_and_twig_looking_names_are_kept_verbatim() -> None:
    """The marker comes from customFields; customer text is stored as typed and parsed as typed."""
    raw = a_raw(customFields={"mahnwerk_last_action": "k-1", "erp": 1},
                billingAddress={**SAMPLE["billingAddress"], "firstName": "{{ 7*7 }}", "lastName": "{% raw %}"})
    order = parse_order(raw, READING)
    assert order.marker == "k-1" and order.billing.name == "{{ 7*7 }} {% raw %}"


@pytest.mark.parametrize(("changes", "field"), [
    ({"id": None}, "id"),
    ({"id": 42}, "id"),
    ({"currency": None}, "currency.isoCode"),
    ({"currency": {"isoCode": "XXX"}}, "currency.isoCode"),
    ({"amountTotal": None}, "amountTotal"),
    ({"amountTotal": "12,50"}, "amountTotal"),
    ({"amountTotal": True}, "amountTotal"),
    ({"amountTotal": "1e40"}, "amountTotal"),
    ({"createdAt": None}, "createdAt"),
    ({"createdAt": "yesterday"}, "createdAt"),
    ({"transactions": []}, "transactions"),
    ({"transactions": None}, "transactions"),
    ({"transactions": [{"id": "x"}]}, "transactions.createdAt"),
    ({"transactions": [a_transaction(state="")]}, "transactions.stateMachineState.technicalName"),
    ({"documents": "none"}, "documents"),
    ({"orderDateTime": "1.3.2026"}, "orderDateTime"),
])
def test_malformed_order_is_rejected_naming_the_field(changes: dict[str, Any], field: str) -> None:
    """Each bad field is named; the page goes on with the good records."""
    with pytest.raises(BadRecord) as err:
        parse_order(a_raw(**changes), READING)
    assert err.value.field == field
    page = parse_page([a_raw(**changes), SAMPLE, "junk"], READING)
    assert len(page.records) == 1 and [r.field for r in page.rejected] == [field, "order"]
    assert page.rejected[0].raw == a_raw(**changes)


def test_rejected_record_keeps_its_payment_method() -> None:
    """A bad invoice order is quarantined as one that matters."""
    page = parse_page([a_raw(amountTotal=None)], READING)
    assert page.rejected[0].payment_method == "payment_invoicepayment"


def test_bad_custom_field_date_is_named() -> None:
    """A garbled due date in the merchant's custom field names that field."""
    reading = Reading(CustomFieldNames(due_date="erp_due"), STATUSES)
    with pytest.raises(BadRecord) as err:
        parse_order(a_raw(customFields={"erp_due": "31.03.2026"}), reading)
    assert err.value.field == "customFields.erp_due"


def test_change_time_includes_transactions_and_tolerates_garbage() -> None:
    """A payment moves only the transaction's stamp; the change time sees it, and ignores unreadable stamps."""
    raw = a_raw(updatedAt="2026-03-02T00:00:00.000+00:00",
                transactions=[a_transaction(updated="2026-03-04T00:00:00.000+00:00"), {"updatedAt": "bad"}])
    assert change_time(raw) == datetime(2026, 3, 4, tzinfo=UTC)
    assert change_time({"createdAt": "nope"}) is None and change_time("x") is None


def test_the_customer_id_is_the_customer_number() -> None:
    """The "Kundennummer" the merchant looks a customer up by in the admin; none: empty."""
    assert parse_order(SAMPLE, READING).customer_id == "10001"
    customer = dict(SAMPLE["orderCustomer"], customerNumber=None)
    assert parse_order(a_raw(orderCustomer=customer), READING).customer_id == ""
