"""The fixed entities of the sandbox shop: sales channel, payment methods, state machine states, currencies,
languages, countries and document types, with stable ids (32 hex characters, like Shopware's UUIDs)."""

from __future__ import annotations

import hashlib

LIVE_VERSION = "0fa91ce3e96a4bc2be4bd9ce752c3425"          # Defaults::LIVE_VERSION
SYSTEM_LANGUAGE = "2fbb5fe2e29a4d70aa5854ce7ce3e20b"       # Defaults::LANGUAGE_SYSTEM
CREATED = "2024-01-02T10:00:00.000+00:00"                  # when the shop was installed


def stable_id(name: str) -> str:
    """A UUID-like hex id derived from a name, the same in every run."""
    return hashlib.md5(name.encode()).hexdigest()


def _stamped(entity: dict) -> dict:
    return {**entity, "customFields": None, "createdAt": CREATED, "updatedAt": None}


SALES_CHANNEL = _stamped({"id": stable_id("sales_channel.storefront"), "name": "Mahnwerk Sandbox Storefront",
                          "typeId": stable_id("sales_channel_type.storefront"), "active": True,
                          "translated": {"name": "Mahnwerk Sandbox Storefront"}})

_HANDLERS = "Shopware\\Core\\Checkout\\Payment\\Cart\\PaymentHandler\\"
PAYMENT_METHODS = {str(m["technicalName"]): _stamped(m | {"id": stable_id(f"payment_method.{m['technicalName']}"),
                                                           "translated": {"name": m["name"]},
                                                           "afterOrderEnabled": True})
                   for m in [
    {"technicalName": "payment_invoicepayment", "name": "Rechnung", "active": True, "position": 1,
     "handlerIdentifier": _HANDLERS + "InvoicePayment"},
    {"technicalName": "payment_prepayment", "name": "Vorkasse", "active": True, "position": 2,
     "handlerIdentifier": _HANDLERS + "PrePayment"},
    {"technicalName": "payment_cashpayment", "name": "Nachnahme", "active": True, "position": 3,
     "handlerIdentifier": _HANDLERS + "CashPayment"},
    {"technicalName": "swag_paypal_pay_upon_invoice", "name": "Rechnungskauf mit PayPal", "active": True,
     "position": 4, "handlerIdentifier": "Swag\\PayPal\\Checkout\\Payment\\Method\\PUIHandler"},
    {"technicalName": "payment_debitpayment", "name": "Lastschrift", "active": False, "position": 5,
     "handlerIdentifier": _HANDLERS + "DebitPayment"},
]}

STATE_MACHINE_ID = stable_id("state_machine.order_transaction.state")
_STATE_NAMES = {"open": "Open", "in_progress": "In Progress", "unconfirmed": "Unconfirmed",
                "authorized": "Authorized", "paid": "Paid", "paid_partially": "Paid (partially)",
                "reminded": "Reminded", "failed": "Failed", "cancelled": "Cancelled", "refunded": "Refunded",
                "refunded_partially": "Refunded (partially)", "chargeback": "Chargeback"}
TRANSACTION_STATES = {name: _stamped({"id": stable_id("order_transaction.state." + name), "technicalName": name,
                                      "name": label, "stateMachineId": STATE_MACHINE_ID,
                                      "translated": {"name": label, "customFields": {}}})
                      for name, label in _STATE_NAMES.items()}
STATE_BY_ID = {state["id"]: state for state in TRANSACTION_STATES.values()}
ORDER_STATES = {name: _stamped({"id": stable_id("order.state." + name), "technicalName": name, "name": label,
                                "stateMachineId": stable_id("state_machine.order.state"),
                                "translated": {"name": label, "customFields": {}}})
                for name, label in {"open": "Open", "in_progress": "In Progress", "completed": "Done",
                                    "cancelled": "Cancelled"}.items()}

CURRENCIES = {iso: _stamped({"id": stable_id("currency." + iso), "isoCode": iso, "symbol": symbol, "factor": factor,
                             "shortName": iso, "name": name, "decimalPrecision": 2, "isSystemDefault": iso == "EUR",
                             "translated": {"shortName": iso, "name": name}})
              for iso, symbol, factor, name in [("EUR", "€", 1.0, "Euro"), ("CHF", "CHF", 0.95, "Swiss francs")]}
LOCALES = {code: _stamped({"id": stable_id("locale." + code), "code": code, "name": name, "territory": territory,
                           "translated": {"name": name, "territory": territory}})
           for code, name, territory in [("de-DE", "German", "Germany"), ("en-GB", "English", "United Kingdom")]}
LANGUAGES = {code: _stamped({"id": SYSTEM_LANGUAGE if code == "en-GB" else stable_id("language." + code),
                             "name": "Deutsch" if code == "de-DE" else "English", "localeId": locale["id"],
                             "translationCodeId": locale["id"], "parentId": None, "active": True, "locale": locale})
             for code, locale in LOCALES.items()}
COUNTRIES = {iso: _stamped({"id": stable_id("country." + iso), "iso": iso, "iso3": iso3, "name": name,
                            "active": True, "translated": {"name": name}})
             for iso, iso3, name in [("DE", "DEU", "Germany"), ("AT", "AUT", "Austria"), ("CH", "CHE", "Switzerland"),
                                     ("GB", "GBR", "United Kingdom")]}
DOCUMENT_TYPES = {name: _stamped({"id": stable_id("document_type." + name), "technicalName": name, "name": label,
                                  "translated": {"name": label}})
                  for name, label in [("invoice", "Invoice"), ("delivery_note", "Delivery note"),
                                      ("credit_note", "Credit note"), ("storno", "Cancellation invoice")]}
CUSTOMER_GROUPS = {name: _stamped({"id": stable_id("customer_group." + name), "name": name, "displayGross": gross,
                                    "registrationActive": False, "translated": {"name": name}})
                   for name, gross in [("Standard-Kundengruppe", True), ("Händler", False)]}
