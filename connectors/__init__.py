"""The edge: everything that speaks to the outside world, and nothing that decides or stores.

Shops (`shop.py` the Protocols sync/ uses, `kinds.py` the registry, `records.py` the neutral records, one package or
module per kind: `woocommerce/`, `shopware6.py`), payment sources (`statements.py` over `camt.py` and
`mt940_statement.py`, `stripe_source.py`, `mollie_source.py`), and the channels and files people receive (`smtp.py`,
`letter.py`, `girocode.py`, `agency_export.py`, `files.py`). `http.py` is the one HTTP client. connectors/ import
neither sync/ nor policy/; they take and return plain records.
"""
