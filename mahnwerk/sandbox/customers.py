"""The registered customers of the WooCommerce sandbox, as GET /wc/v3/customers prints them (routes.customers):
each with its WordPress role. Only `role=all` lists users of every role; the default lists role "customer" only."""

from __future__ import annotations

from mahnwerk.sandbox import people as P

# WordPress's roles, WooCommerce's two, and one a wholesale plugin registers.
ROLES = ("administrator", "editor", "author", "contributor", "subscriber", "customer", "shop_manager",
         "wholesale_customer")
ORDER_BY = ("id", "include", "name", "registered_date")


def default_customers() -> dict[int, dict]:
    """The registered customers of people.CUSTOMERS (the orders' customer_id), all of role "customer"."""
    return {cid: customer(cid, first, last, company, city, postcode, country)
            for cid, first, last, company, (city, postcode, country) in P.CUSTOMERS}


def customer(cid: int, first: str, last: str, company: str = "", city: str = "", postcode: str = "",
             country: str = "DE", *, role: str = "customer") -> dict:
    email = f"customer{cid - 1}@example.com"
    address = {"first_name": first, "last_name": last, "company": company, "address_1": "", "address_2": "",
               "city": city, "state": "", "postcode": postcode, "country": country}
    return {"id": cid, "date_created": "2024-01-02T11:00:00", "date_created_gmt": "2024-01-02T10:00:00",
            "date_modified": None, "date_modified_gmt": None, "email": email, "first_name": first,
            "last_name": last, "role": role, "username": f"customer{cid - 1}",
            "billing": {**address, "email": email, "phone": ""}, "shipping": {**address, "phone": ""},
            "is_paying_customer": True, "avatar_url": "", "meta_data": []}
