"""Realistic Shopware 6.6 orders with their associations, deterministic per seed, fast enough for 100,000.

Every order is stored the way the sandbox serves it: associations embedded (orderCustomer, billingAddress with
country, currency, language with locale, transactions with paymentMethod and stateMachineState, documents with
documentType, lineItems); the catalog entities are shared, never copied.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from mahnwerk.sandbox import people as P
from mahnwerk.sandbox.dates import real_clock, wc_pair_ts
from mahnwerk.sandbox.orders import DAY, later, paused_gc
from mahnwerk.sandbox.shopware import catalog as C

_UTC = ZoneInfo("UTC")
FIRST_NUMBER = 10001
# Per 20 orders: (payment method of the latest transaction, its state); index 13 also has an older open invoice
# transaction behind the paid one.
PLAN = [
    ("payment_invoicepayment", "open"), ("payment_invoicepayment", "paid"), ("payment_invoicepayment", "open"),
    ("payment_invoicepayment", "reminded"), ("payment_invoicepayment", "open"), ("payment_prepayment", "paid"),
    ("payment_invoicepayment", "paid_partially"), ("payment_invoicepayment", "open"),
    ("payment_invoicepayment", "cancelled"), ("swag_paypal_pay_upon_invoice", "open"),
    ("payment_invoicepayment", "open"), ("payment_invoicepayment", "refunded"), ("payment_invoicepayment", "failed"),
    ("payment_prepayment", "paid"), ("payment_invoicepayment", "reminded"), ("payment_cashpayment", "open"),
    ("payment_invoicepayment", "open"), ("payment_invoicepayment", "paid"), ("payment_invoicepayment", "open"),
    ("payment_invoicepayment", "open"),
]
OLD_OPEN_BEHIND_PAID = 13
TIE_GROUP = (47, 48, 49)        # per 50 orders, three created in the same millisecond as the one before them
_PRODUCT_IDS = {product[0]: C.stable_id(f"product.{product[0]}") for product in P.PRODUCTS}
_CITIES = {"DE": ("Berlin", "10115"), "AT": ("Wien", "1010"), "CH": ("Zürich", "8001"), "GB": ("London", "SW1A 1AA")}


def stamp(ts: int) -> str:
    """A unix time as Shopware prints a datetime: '2026-03-01T09:15:00.000+00:00'."""
    return wc_pair_ts(ts, _UTC)[1] + ".000+00:00"


def generate_sw_orders(n: int, *, seed: int = 0, start: datetime | None = None, days: float = 120,
                       now: datetime | None = None) -> list[dict]:
    """`n` orders created between `start` (default now - `days`) and start + `days`; same seed, same orders."""
    now = now or real_clock()
    start = start or now - timedelta(days=days)
    begin, now_ts, span = int(start.timestamp()), int(now.timestamp()), days * DAY
    rng = random.Random(seed)
    orders: list[dict] = []
    with paused_gc():                   # 100,000 nested dicts: the cyclic GC would scan them again and again
        for i in range(n):
            created = begin + int(span * (i + rng.random()) / max(n, 1))
            if i % 50 in TIE_GROUP and orders:
                created = _created_ts(orders[-1])
            orders.append(_order(i, rng, min(created, now_ts), now_ts))
    return orders


def _account(customer: dict, i: int, b2b: bool, at: str) -> dict | None:
    """The customer account behind an order (orderCustomer.customer) with its group: businesses in "Händler"."""
    if i % 13 == 12:
        return None
    group = C.CUSTOMER_GROUPS["Händler" if b2b else "Standard-Kundengruppe"]
    return {"id": customer["customerId"], "groupId": group["id"], "customerNumber": customer["customerNumber"],
            "email": customer["email"], "firstName": customer["firstName"], "lastName": customer["lastName"],
            "company": customer["company"], "vatIds": customer["vatIds"], "guest": False, "customFields": None,
            "createdAt": at, "updatedAt": None, "group": group}


def _created_ts(order: dict) -> int:
    return int(datetime.fromisoformat(order["createdAt"]).timestamp())


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _order(i: int, rng: random.Random, created: int, now: int) -> dict:
    order_id, method, state = _hex(rng), *PLAN[i % 20]
    first, last = P.HOSTILE[i % len(P.HOSTILE)] if i % 17 == 16 else P.PEOPLE[(i * 7) % len(P.PEOPLE)]
    b2b = i % 6 == 4
    country = "DE" if i % 10 < 7 else ("AT", "CH", "GB")[i % 3]
    iso = "CHF" if i % 15 == 7 else "EUR"
    at = stamp(created)
    lines = [_line_item(order_id, rng, k, at) for k in range(1 + i % 3)]
    positions = round(sum(item["totalPrice"] for item in lines), 2)  # gross prices: taxStatus "gross"
    gross, net = round(positions + 4.90, 2), round(positions / 1.19, 2)
    changed = later(created, now, rng.uniform(0.5, 20) * DAY)
    never_updated = state == "open" and i % 3 == 0 and i % 20 != OLD_OPEN_BEHIND_PAID
    address_id = _hex(rng)
    number = str(FIRST_NUMBER + i)
    changed_at = stamp(changed)
    transactions = [_transaction(order_id, _hex(rng), method, state, gross, at,
                                 None if state == "open" else changed_at)]
    if i % 20 == OLD_OPEN_BEHIND_PAID:
        transactions.insert(0, _transaction(order_id, _hex(rng), "payment_invoicepayment", "open", gross, at,
                                            None))
        transactions[1]["createdAt"] = stamp(later(created, changed, 2 * DAY))
    currency, language = C.CURRENCIES[iso], C.LANGUAGES["en-GB" if i % 4 == 1 else "de-DE"]
    address = {"id": address_id, "versionId": C.LIVE_VERSION, "orderId": order_id,
               "countryId": C.COUNTRIES[country]["id"], "firstName": first, "lastName": last,
               "company": P.COMPANIES[i % len(P.COMPANIES)] if b2b else None,
               "department": None, "street": f"Hauptstraße {1 + i % 120}",
               "additionalAddressLine1": P.ADDRESS_2[i % len(P.ADDRESS_2)] or None, "additionalAddressLine2": None,
               "zipcode": _CITIES[country][1], "city": _CITIES[country][0], "phoneNumber": None,
               "vatId": f"DE{100000000 + i}" if b2b else None, "countryStateId": None, "salutationId": None,
               "title": None, "customFields": None, "createdAt": at, "updatedAt": None,
               "country": C.COUNTRIES[country]}
    customer = {"id": _hex(rng), "versionId": C.LIVE_VERSION, "orderId": order_id, "customerId": _hex(rng),
                "email": f"kunde{i}@example.org", "firstName": first, "lastName": last,
                "company": address["company"], "vatIds": [address["vatId"]] if b2b else None,
                "customerNumber": str(20000 + i % 5000), "salutationId": None, "title": None,
                "customFields": None, "createdAt": at, "updatedAt": None}
    customer["customer"] = _account(customer, i, b2b, at)
    if customer["customer"] is None:
        customer["customerId"] = None  # the account was deleted; the order keeps its copy of the customer
    return {
        "id": order_id, "versionId": C.LIVE_VERSION, "autoIncrement": i + 1, "orderNumber": number,
        "orderDateTime": at, "orderDate": at[:10], "amountTotal": gross,
        "amountNet": round(net + 4.12, 2), "positionPrice": positions, "shippingTotal": 4.90,
        "taxStatus": "gross", "price": {"netPrice": round(net + 4.12, 2), "totalPrice": gross, "rawTotal": gross,
                                        "positionPrice": positions, "taxStatus": "gross",
                                        "calculatedTaxes": [], "taxRules": [], "apiAlias": "cart_price"},
        "currencyId": currency["id"], "currencyFactor": currency["factor"], "salesChannelId": C.SALES_CHANNEL["id"],
        "languageId": language["id"], "billingAddressId": address_id, "billingAddressVersionId": C.LIVE_VERSION,
        "stateId": C.ORDER_STATES["open"]["id"], "deepLinkCode": f"{rng.getrandbits(160):040x}"[:32],
        "customerComment": None, "source": None, "affiliateCode": None, "campaignCode": None,
        "customFields": {"erp_id": f"ERP-{number}", "merchant_flag": "Stammkunde"} if i % 5 == 1 else None,
        "createdAt": at, "updatedAt": None if never_updated else changed_at,
        "stateMachineState": C.ORDER_STATES["cancelled" if state == "cancelled" else "open"],
        "currency": currency, "language": language, "salesChannel": C.SALES_CHANNEL,
        "orderCustomer": customer, "billingAddress": address, "addresses": [address],
        "transactions": transactions, "documents": _documents(i, order_id, number, rng, created, now),
        "lineItems": lines, "deliveries": [], "tags": [],
    }


def _transaction(order_id: str, tx_id: str, method: str, state: str, gross: float, created: str,
                 changed: str | None) -> dict:
    payment, status = C.PAYMENT_METHODS[method], C.TRANSACTION_STATES[state]
    return {"id": tx_id, "versionId": C.LIVE_VERSION, "orderId": order_id, "orderVersionId": C.LIVE_VERSION,
            "paymentMethodId": payment["id"], "stateId": status["id"], "validationData": [],
            "amount": {"unitPrice": gross, "quantity": 1, "totalPrice": gross, "calculatedTaxes": [],
                       "taxRules": [], "referencePrice": None, "listPrice": None, "regulationPrice": None,
                       "apiAlias": "calculated_price"},
            "customFields": None, "createdAt": created, "updatedAt": changed,
            "paymentMethod": payment, "stateMachineState": status}


def _documents(i: int, order_id: str, number: str, rng: random.Random, created: int, now: int) -> list[dict]:
    """Most orders have an invoice (every fifth only with its number in `config`); some a delivery note too."""
    documents = []
    if i % 6 == 1:
        documents.append(_document("delivery_note", order_id, None, f"DN-{number}", rng, later(created, now, 1800)))
    if i % 7 != 3:
        invoice_number = str(1000 + i)
        documents.append(_document("invoice", order_id, None if i % 5 == 2 else invoice_number, invoice_number, rng,
                                   later(created, now, 3600)))
    return documents


def _document(kind: str, order_id: str, top_number: str | None, number: str, rng: random.Random, ts: int) -> dict:
    kind_entity = C.DOCUMENT_TYPES[kind]
    return {"id": _hex(rng), "documentTypeId": kind_entity["id"], "fileType": "pdf", "orderId": order_id,
            "orderVersionId": C.LIVE_VERSION, "referencedDocumentId": None, "documentMediaFileId": None,
            "config": {"documentNumber": number, "documentDate": stamp(ts)[:19] + "+00:00",
                       "fileTypes": ["pdf"], "name": kind},
            "sent": True, "static": False, "deepLinkCode": f"{rng.getrandbits(128):032x}",
            "documentNumber": top_number, "customFields": None, "createdAt": stamp(ts), "updatedAt": None,
            "documentType": kind_entity}


def _line_item(order_id: str, rng: random.Random, position: int, created: str) -> dict:
    product_id, name, sku, cents = P.PRODUCTS[rng.randrange(len(P.PRODUCTS))]
    product = _PRODUCT_IDS[product_id]
    quantity = 1 + rng.randrange(3)
    unit = round(cents / 100, 2)
    total = round(unit * quantity, 2)
    return {"id": _hex(rng), "versionId": C.LIVE_VERSION, "orderId": order_id, "identifier": sku,
            "referencedId": product, "productId": product,
            "label": name, "quantity": quantity, "unitPrice": unit, "totalPrice": total, "type": "product",
            "price": {"unitPrice": unit, "quantity": quantity, "totalPrice": total, "calculatedTaxes": [],
                      "taxRules": [], "apiAlias": "calculated_price"},
            "payload": {"productNumber": sku}, "good": True, "removable": True, "stackable": True,
            "position": position + 1, "parentId": None, "customFields": None, "createdAt": created,
            "updatedAt": None}


def malformed_sw_orders(*, seed: int = 0, now: datetime | None = None) -> list[dict]:
    """Orders a connector must quarantine, not crash on; each names its defect in customFields.sandbox_defect."""
    base = generate_sw_orders(6, seed=seed + 1000, now=now)
    for order in base:                  # numbers after the regular range, so both can share one shop
        order["orderNumber"] = "9" + order["orderNumber"]
    defects = [("no transactions", lambda o: o.update(transactions=[])),
               ("amountTotal is a string", lambda o: o.update(amountTotal="119,00")),
               ("orderDateTime is not a date", lambda o: o.update(orderDateTime="gestern")),
               ("no orderCustomer", lambda o: o.update(orderCustomer=None)),
               ("transaction without paymentMethod", lambda o: o["transactions"][-1].update(paymentMethod=None)),
               ("no currency", lambda o: o.update(currency=None, currencyId=None))]
    for order, (defect, damage) in zip(base, defects, strict=True):
        damage(order)
        order["customFields"] = {"sandbox_defect": defect}
    return base
