"""The customer-note mail as WooCommerce renders it: wpautop(wptexturize(make_clickable(note))) in a blockquote."""

from __future__ import annotations

import pytest

from mahnwerk.sandbox.wptext import note_html


def _mail_for(api, shop, orders, note: str) -> str:
    order = next(o for o in orders if o["billing"].get("first_name"))
    assert api.post(f"/orders/{order['id']}/notes", {"note": note, "customer_note": True}).status_code == 201
    return shop.mails[-1]["body"]


def test_blocks_become_paragraphs_and_lines_breaks(api, shop, orders):
    """What the real WooCommerce 10.0.2 does: blank-line-separated blocks become <p>s, single newlines <br> plus a
    newline, inside the blockquote between the 'Hi …' greeting and the order-details line."""
    note = "Zahlungserinnerung RE-2026-0042\n\nGuten Tag,\nIBAN DE89 3704 0044 0532 0130 00"
    body = _mail_for(api, shop, orders, note)
    assert body.startswith("<p>Hi ") and body.endswith("<p>As a reminder, here are your order details:</p>")
    assert ("<blockquote><p>Zahlungserinnerung RE-2026-0042</p>\n"
            "<p>Guten Tag,<br>\nIBAN DE89 3704 0044 0532 0130 00</p>\n</blockquote>") in body


@pytest.mark.parametrize(("note", "html"), [
    ("Guten Tag Robert'); DROP TABLE orders;-- Tables,", "<p>Guten Tag Robert’); DROP TABLE orders;– Tables,</p>"),
    ('Guten Tag =HYPERLINK("http://evil.example/x","click") Injection,',
     "<p>Guten Tag =HYPERLINK(“http://evil.example/x”,”click”) Injection,</p>"),
    ("Seán O'Brien", "<p>Seán O’Brien</p>"),
    ("Offen: 89,40\u00a0€", "<p>Offen: 89,40\u00a0€</p>"),
    ("'Hallo' und \"Tschüss\"", "<p>‘Hallo’ und “Tschüss”</p>"),
    ("a -- b --- c ... d", "<p>a — b — c … d</p>"),
    ("orders;--x", "<p>orders;–x</p>"),
    ("bitte überweisen & danke", "<p>bitte überweisen &amp; danke</p>"),
    ("<b>fett</b> &lt;script&gt;", "<p><b>fett</b> &lt;script&gt;</p>"),
    ("Fragen an buchhaltung@shop.example.",
     '<p>Fragen an <a href="mailto:buchhaltung@shop.example">buchhaltung@shop.example</a>.</p>'),
    ("Konto: https://shop.example/konto?a=1&b=2 bitte",
     ('<p>Konto: <a href="https://shop.example/konto?a=1&amp;b=2" rel="nofollow">'
      "https://shop.example/konto?a=1&amp;b=2</a> bitte</p>")),
])
def test_note_text_is_texturized_and_made_clickable(note, html):
    """What the real WooCommerce 10.0.2 does (as its mails show it after the CSS inliner): curly quotes and
    apostrophes, en/em dashes, ellipses, linked addresses and URLs; tags and entities stay, a bare & is &amp;."""
    assert note_html(note) == html + "\n"


def test_the_mail_shows_the_note_as_sent_before_unslashing(api, shop, orders):
    """What the real WooCommerce 10.0.2 does: WC_Order::add_order_note() mails $commentdata['comment_content'],
    the text as sent; only the copy wp_insert_comment() stores is unslashed."""
    body = _mail_for(api, shop, orders, "Pfad C:\\Rechnungen\\42")
    assert "Pfad C:\\Rechnungen\\42" in body
    assert shop.notes.of(shop.order(shop.mails[-1]["order_id"]))[-1]["note"] == "Pfad C:Rechnungen42"


def test_an_empty_customer_note_mails_an_empty_blockquote(api, shop, orders):
    """What the real WooCommerce 10.0.2 does: an empty customer note is stored and still mailed."""
    assert "<blockquote></blockquote>" in _mail_for(api, shop, orders, "")
