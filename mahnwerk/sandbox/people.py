"""Who buys in the sandbox shop: names, companies, places and products, hostile strings included on purpose."""

from __future__ import annotations

# Umlauts, other scripts and names that break naive code (apostrophes), as in realshop/seed_orders.py.
PEOPLE = [
    ("Jürgen", "Größmann"), ("Zoë", "Ångström"), ("Łukasz", "Żółć"), ("Françoise", "Lefèvre"), ("Søren", "Kierkegård"),
    ("Anna", "Müller"), ("Ben", "Schmidt"), ("Clara", "Schneider"), ("Eva", "Fischer"), ("Felix", "Weber"),
    ("Greta", "Meyer"), ("Hans", "Wagner"), ("Ida", "Becker"), ("Jonas", "Hoffmann"), ("Seán", "O'Brien"),
    ("José", "Núñez"), ("Ægir", "Þórsson"), ("Ольга", "Иванова"), ("美咲", "佐藤"), ("Dörte", "Bäcker-Schütz"),
]
# CSV/formula injection, HTML/script injection and SQL-ish strings; a connector must carry them verbatim.
HOSTILE = [
    ('=HYPERLINK("http://x","y")', "Injection"),
    ("<script>alert(1)</script>", "Scripter"),
    ("+SUM(1,2)", "Formula"),
    ("Robert'); DROP TABLE orders;--", "Tables"),
    ("@Bobby", "-Minus"),
]
COMPANIES = [
    "Größmann & Söhne GmbH", "Müller & Söhne GmbH", "Müller Bau AG", "Ångström Consulting AB", "ACME <b>Corp</b> Ltd.",
    "Weber KG", '=HYPERLINK("http://x","y") GmbH',
]
ADDRESS_2 = ["", "", "", "c/o Buchhaltung", "Hinterhaus, 3. OG", "<script>alert(1)</script>", "+SUM(1,2)"]
CITIES = [("Berlin", "10115", "DE"), ("München", "80331", "DE"), ("Köln", "50667", "DE"), ("Wien", "1010", "AT"),
          ("Zürich", "8001", "CH"), ("London", "SW1A 1AA", "GB"), ("New York", "10001", "US")]
STATES = {"US": "NY", "GB": "", "CH": "ZH", "AT": "", "DE": ""}
CURRENCY_BY_COUNTRY = {"CH": "CHF", "GB": "GBP", "US": "USD"}
# get_woocommerce_currency_symbol() returns HTML entities, and so does the REST field currency_symbol.
CURRENCY_SYMBOLS = {"EUR": "&euro;", "CHF": "&#67;&#72;&#70;", "GBP": "&pound;", "USD": "&#36;"}
# (rate id, label, rate code, rate in basis points) per billing country.
TAX = {"DE": (1, "MwSt.", "DE-MWST-1", 1900), "AT": (2, "USt.", "AT-UST-1", 2000), "CH": (3, "MWST", "CH-MWST-1", 810),
       "GB": (4, "VAT", "GB-VAT-1", 2000), "US": (0, "", "", 0)}
VAT_IDS = {"DE": "DE{:09d}", "AT": "ATU{:08d}", "CH": "CHE-{:09d} MWST", "GB": "GB{:09d}"}
# (product id, name, sku, net price in cents)
PRODUCTS = [
    (101, "Espressotasse „Größe M“", "TASSE-M", 1290),
    (102, "Kaffeebohnen Äthiopien 1 kg", "KAFFEE-ETH-1KG", 2490),
    (103, "Milchaufschäumer Pro", "MILCH-PRO", 4990),
    (104, "Entkalker 3×", "ENTK-3", 990),
    (105, "Siebträger-Maschine „Barista“", "ST-BAR", 34900),
    (106, "Reinigungsbürste & Tuch", "BUERSTE", 790),
]
# Registered customers (WP user ids 2..4; 1 is the admin), like ensure_customers() in the seed script.
CUSTOMERS = [
    (2, "Jürgen", "Größmann", "Größmann & Söhne GmbH", ("Berlin", "10115", "DE")),
    (3, "Zoë", "Ångström", "", ("München", "80331", "DE")),
    (4, '=HYPERLINK("x")', "<script>alert(1)</script>", "Evil <b>Corp</b>", ("Köln", "50667", "DE")),
]
TITLES = {"bacs": "Direct bank transfer", "cheque": "Check payments", "cod": "Cash on delivery"}
CUSTOMER_NOTE = "Bitte Rechnung an buchhaltung@example.com — Danke! <b>wichtig</b>"
USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0 Safari/537.36")


def esc_html(text: str) -> str:
    """What esc_html() makes of checkout input; the real shop returns such values escaped (observed)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#039;"))
