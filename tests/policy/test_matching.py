"""Matching payments to claims: each rule, how sure it is, splits, and what it must not match."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from mahnwerk.policy.matching import Credit, Matcher, OpenClaim, compact, key_forms

D = Decimal
PAID_ON = date(2026, 11, 20)


def claim(id: int, invoice: str, amount: str, *, order: str | None = None, name: str = "Erika Mustermann",
          company: str = "", currency: str = "EUR", invoiced: date = date(2026, 10, 1)) -> OpenClaim:
    return OpenClaim(id, invoice, order or str(4700 + id), str(4700 + id), currency, D(amount), (name, company),
                     invoiced)


CLAIMS = [claim(1, "RE-2026-0042", "119.00"), claim(2, "RE-2026-0043", "59.90", name="Jürgen Größmann"),
          claim(3, "RE-2026-0100", "20.00", name="Max Muster", company="Muster Bau GmbH"),
          claim(4, "RE-2026-0101", "20.00", name="Eva Fischer"), claim(5, "RE-2026-0102", "42.00", currency="CHF")]


def pay(amount: str, text: str = "", *, payer: str = "", currency: str = "EUR", hint: str = "", **extra) -> Credit:
    return Credit(D(amount), currency, PAID_ON, text, payer, hint, **extra)


def test_the_printed_reference_is_found_however_it_is_written() -> None:
    for text in ("RE-2026-0042", "re 2026 0042", "Rechnung RE2026-42 vielen Dank", "RE.2026.0042",
                 "Rechnug RE-2026-00\n42 Danke", "Zahlung zu RE/2026/0042"):
        match = Matcher(CLAIMS).match(pay("119.00", text))
        assert match and match.claim_ids == (1,) and match.rule == "reference", text
        assert match.confidence == D("1.0")


def test_a_partial_payment_names_its_claim_with_a_lower_confidence() -> None:
    match = Matcher(CLAIMS).match(pay("50.00", "RE-2026-0042 Teilzahlung"))
    assert match.claim_ids == (1,) and match.shares[0].amount == D("50.00") and match.confidence == D("0.9")


def test_one_transfer_for_two_invoices_is_split_in_the_order_named() -> None:
    match = Matcher(CLAIMS).match(pay("178.90", "RE-2026-0043 und RE-2026-0042"))
    assert [(s.claim_id, s.amount) for s in match.shares] == [(2, D("59.90")), (1, D("119.00"))]
    assert match.confidence == D("1.0")
    short = Matcher(CLAIMS).match(pay("100.00", "RE-2026-0043 RE-2026-0042"))
    assert [(s.claim_id, s.amount) for s in short.shares] == [(2, D("59.90")), (1, D("40.10"))]


def test_an_overpayment_goes_to_its_claim_but_not_to_the_last_of_several() -> None:
    match = Matcher(CLAIMS).match(pay("130.00", "RE-2026-0042"))
    assert match.shares[0].amount == D("130.00") and match.confidence == D("0.9")
    several = Matcher(CLAIMS).match(pay("500.00", "RE-2026-0043 RE-2026-0042"))
    assert [s.amount for s in several.shares] == [D("59.90"), D("119.00")]  # 321.10 left for a person


def test_the_invoice_amount_without_fees_counts_too() -> None:
    claims = [OpenClaim(21, "RE-7", "4721", "4721", "EUR", D("131.17"), ("Ben Schmidt", ""), date(2026, 10, 1),
                        also=(D("125.00"),))]
    assert Matcher(claims).match(pay("125.00", "RE-7")).confidence == D("1.0")
    by_name = Matcher(claims).match(pay("125.00", "Danke", payer="SCHMIDT, BEN"))
    assert by_name.claim_ids == (21,) and by_name.rule == "amount_name"


def test_short_order_numbers_need_a_keyword_or_the_right_amount() -> None:
    claims = [claim(7, "RE-9", "33.00", order="4711")]
    guess = Matcher(claims).match(pay("12.00", "Überweisung vom 04.07.4711 Miete"))
    assert guess.claim_ids == (7,) and guess.confidence == D("0.5")  # below any sane threshold: a person decides
    assert Matcher(claims).match(pay("12.00", "Bestellung 4711")).claim_ids == (7,)
    assert Matcher(claims).match(pay("12.00", "Rechnungsnumer 4711")).confidence == D("0.9")  # typo, still a word
    by_amount = Matcher(claims).match(pay("33.00", "4711"))
    assert by_amount.claim_ids == (7,) and by_amount.confidence == D("0.8")


def test_the_provider_names_the_order() -> None:
    match = Matcher(CLAIMS).match(pay("119.00", "Stripe invoice A1B2-0007", hint="4701"))
    assert match.rule == "provider" and match.claim_ids == (1,) and match.confidence == D("1.0")


def test_amount_and_name_find_a_payment_without_reference() -> None:
    match = Matcher(CLAIMS).match(pay("59.90", "Danke für die schnelle Lieferung", payer="GROESSMANN JUERGEN"))
    assert match.rule == "amount_name" and match.claim_ids == (2,) and match.confidence == D("0.8")


def test_the_same_amount_twice_without_a_name_goes_to_review() -> None:
    match = Matcher(CLAIMS).match(pay("20.00", "Zahlung", payer="Unbekannt"))
    assert match.shares == () and match.confidence < D("0.5") and set(match.candidates) == {3, 4}
    company = Matcher(CLAIMS).match(pay("20.00", "Zahlung", payer="MUSTER BAU GMBH"))
    assert company.claim_ids == (3,)


def test_amount_and_name_respect_the_window() -> None:
    old = [claim(8, "X-1", "59.90", name="Jürgen Größmann", invoiced=date(2026, 1, 1))]
    assert Matcher(old, window_days=120).match(pay("59.90", "", payer="Jürgen Größmann")) is None


def test_a_foreign_currency_payment_pays_by_what_was_sent() -> None:
    match = Matcher(CLAIMS).match(pay("44.61", "RE-2026-0102", original_amount=D("42.00"), original_currency="CHF"))
    assert match.claim_ids == (5,) and match.shares[0].amount == D("42.00") and match.confidence == D("1.0")
    other = Matcher(CLAIMS).match(pay("44.61", "RE-2026-0102"))
    assert other.shares == () and other.confidence < D("0.5")


def test_a_booked_payment_lowers_what_the_next_one_is_compared_with() -> None:
    matcher = Matcher(CLAIMS)
    matcher.paid(1, D("100.00"))
    assert matcher.match(pay("19.00", "RE-2026-0042")).confidence == D("1.0")


def test_nothing_matches_an_unrelated_credit() -> None:
    assert Matcher(CLAIMS).match(pay("2500.00", "Gehalt November", payer="Arbeitgeber AG")) is None


@given(prefix=st.sampled_from(["RE", "re", "Re.", "RE "]), sep=st.sampled_from(["-", " ", ".", "", "/", " - "]),
       year=st.integers(2020, 2030), number=st.integers(1, 9999), padded=st.booleans())
def test_key_forms_survive_separators_case_and_leading_zeros(prefix: str, sep: str, year: int, number: int,
                                                            padded: bool) -> None:
    """However the customer writes RE-2026-0042, one of its forms is one of the printed number's forms."""
    written = f"{prefix}{sep}{year}{sep}{number:04d}" if padded else f"{prefix}{sep}{year}{sep}{number}"
    assert compact(written) in key_forms(f"RE-{year}-{number:04d}")  # the text is read as written


def test_bare_numbers_after_a_named_one_count_when_the_sum_is_right() -> None:
    claims = [claim(11, "1000", "10.00"), claim(12, "1001", "15.00")]
    match = Matcher(claims).match(pay("25.00", "RE 1000 + 1001"))
    assert match.claim_ids == (11, 12) and [s.amount for s in match.shares] == [D("10.00"), D("15.00")]
    alone = Matcher(claims).match(pay("12.00", "RE 1000 + 1001"))
    assert alone.claim_ids == (11,)  # the sum does not fit: only the announced one


def test_bare_numbers_alone_count_when_they_add_up_exactly() -> None:
    claims = [claim(11, "51", "10.00"), claim(12, "53", "15.00"), claim(13, "54", "1.00")]
    match = Matcher(claims).match(pay("26.00", "Sammelzahlung 51 + 53 + 54"))
    assert match.claim_ids == (11, 12, 13) and match.confidence == D("0.8")


def test_a_number_cut_by_the_line_break_names_only_the_whole_number() -> None:
    """MT940 cuts purpose lines at a fixed width: "RE-00007" / "417" is RE-00007417, not RE-00000007."""
    claims = [claim(31, "RE-00000007", "50.00"), claim(32, "RE-00007417", "80.00")]
    match = Matcher(claims).match(pay("80.00", "Rechnung RE-00007\n417 danke"))
    assert match.claim_ids == (32,) and match.confidence == D("1.0")


def test_a_long_invoice_number_does_not_also_name_an_order_number_inside_it() -> None:
    claims = [claim(41, "RE-00100001", "70.00", order="100002"), claim(42, "RE-00000001", "9.00", order="100001")]
    assert Matcher(claims).match(pay("70.00", "RE-00100001")).claim_ids == (41,)
    assert Matcher(claims).match(pay("70.00", "RE00100001")).claim_ids == (41,)


def test_legal_forms_are_no_names() -> None:
    claims = [claim(51, "X-51", "20.00", name="", company="Müller GmbH"),
              claim(52, "X-52", "20.00", name="", company="Weber GmbH")]
    assert Matcher(claims).match(pay("20.00", "", payer="WEBER GMBH")).claim_ids == (52,)
    assert Matcher(claims).match(pay("20.00", "", payer="Schulz GmbH")).shares == ()


def test_the_longest_number_wins() -> None:
    """WooCommerce order numbers are short: "RE 100001" (zeros dropped) names invoice RE-00100001, not order 100001."""
    claims = [claim(61, "RE-00100001", "70.00", order="200001"), claim(62, "RE-00000001", "9.00", order="100001")]
    assert Matcher(claims).match(pay("70.00", "RE 100001")).claim_ids == (61,)
    assert Matcher(claims).match(pay("9.00", "Bestellung 100001")).claim_ids == (62,)


def test_a_number_that_is_an_order_and_an_invoice_number_lets_the_amount_decide() -> None:
    claims = [claim(71, "RE-00100001", "70.00", order="200001"), claim(72, "RE-00000001", "9.00", order="100001")]
    assert Matcher(claims).match(pay("70.00", "Bestellung 100001")).claim_ids == (71,)
    assert Matcher(claims).match(pay("9.00", "Bestellung 100001")).claim_ids == (72,)
    doubt = Matcher(claims).match(pay("5.00", "Bestellung 100001"))
    assert doubt.shares == () and set(doubt.candidates) == {71, 72}


def test_the_reference_printed_on_letters_finds_a_short_invoice_number() -> None:
    """Notices ask for "Rechnung 1007" / "Invoice 1007" as the reference: the word announces the short number, so
    the transfer is matched even when its amount differs (a partial payment)."""
    claims = [claim(1, "1007", "119.00"), claim(2, "1008", "59.90")]
    for text in ("Rechnung 1007", "RECHNUNG 1007 Erika Mustermann", "Invoice 1007", "Rechnung1007"):
        match = Matcher(claims).match(pay("50.00", text))
        assert match and match.claim_ids == (1,) and match.rule == "reference", text
