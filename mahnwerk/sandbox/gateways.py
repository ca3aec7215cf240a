"""Payment gateway objects as GET /wc/v3/payment_gateways returns them for a fresh WooCommerce install."""

from __future__ import annotations

# (id, title, description, enabled, method title, method description, instructions) of the core gateways.
_CORE = [
    ("bacs", "Direct bank transfer",
     "Make your payment directly into our bank account. Please use your Order ID as the payment reference. "
     "Your order will not be shipped until the funds have cleared in our account.", True,
     "Direct bank transfer", "Take payments in person via BACS. More commonly known as direct bank/wire transfer.", ""),
    ("cheque", "Check payments",
     "Please send a check to Store Name, Store Street, Store Town, Store State / County, Store Postcode.", True,
     "Check payments", "Take payments in person via checks. This offline gateway can also be useful to test purchases.",
     ""),
    ("cod", "Cash on delivery", "Pay with cash upon delivery.", True,
     "Cash on delivery", "Have your customers pay with cash (or by other means) upon delivery.",
     "Pay with cash upon delivery."),
    ("paypal", "PayPal", "Pay via PayPal; you can pay with your credit card if you don't have a PayPal account.", False,
     "PayPal Standard", "PayPal Standard redirects customers to PayPal to enter their payment information.", ""),
]


def _setting(key: str, label: str, kind: str, value: str, default: str) -> dict:
    return {"id": key, "label": label, "description": "", "type": kind, "value": value, "default": default,
            "tip": "", "placeholder": ""}


def default_gateways() -> list[dict]:
    """bacs, cheque and cod enabled, paypal disabled; `order` is "" until the merchant sorts the gateways."""
    gateways = []
    for gid, title, description, enabled, method_title, method_description, instructions in _CORE:
        supports = ["products", "refunds"] if gid == "paypal" else ["products"]     # WC_Gateway_Paypal::$supports
        gateways.append({
            "id": gid, "title": title, "description": description, "order": "", "enabled": enabled,
            "method_title": method_title, "method_description": method_description, "method_supports": supports,
            "settings": {
                "title": _setting("title", "Title", "safe_text", title, method_title),
                "instructions": _setting("instructions", "Instructions", "textarea", instructions, instructions),
            },
            "needs_setup": False, "post_install_scripts": [],
            "settings_url": f"/wp-admin/admin.php?page=wc-settings&tab=checkout&section={gid}",
            "connection_url": None, "setup_help_text": None, "required_settings_keys": [],
        })
    return gateways
