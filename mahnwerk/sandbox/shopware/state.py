"""ShopwareSandbox: the state of one fake Shopware 6.6 shop and what tests may do to it behind the API's back."""

from __future__ import annotations

import copy
import random
import secrets
import string
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from mahnwerk.sandbox.dates import real_clock
from mahnwerk.sandbox.faults import FaultArming, FaultPlan
from mahnwerk.sandbox.shop import RecordedRequest
from mahnwerk.sandbox.shopware import catalog as C
from mahnwerk.sandbox.shopware.auth import TokenBook
from mahnwerk.sandbox.shopware.fields import instant
from mahnwerk.sandbox.shopware.search import Table
from mahnwerk.sandbox.shopware.transitions import destination


def _access_key(rng: random.Random) -> str:
    """An integration's access key: 'SWIA' + 22 upper-case letters and digits (AccessKeyHelper)."""
    return "SWIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(22))


def _milliseconds(moment: datetime) -> str:
    return instant(moment.astimezone(UTC).isoformat())


class ShopwareSandbox(FaultArming):
    """A Shopware shop in memory: orders, media, mails, the integration's tokens, faults and a request log."""

    def __init__(self, orders: Iterable[dict] = (), *, token_ttl: int = 600, admin: bool = True,
                 privileges: list[str] | None = None, seed: int = 0) -> None:
        rng = random.Random(seed)
        self.client_id = _access_key(rng)
        self.client_secret = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(52))
        self.admin, self.privileges = admin, list(privileges or [])
        self.clock: Callable[[], datetime] = real_clock
        self.tokens = TokenBook(ttl=token_ttl)
        self.lock = threading.RLock()
        self.faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        self.mails: list[dict] = []
        self.media: dict[str, dict] = {}
        self.shuffle = random.Random(seed)          # tie order of each request
        # Called with (method, path, "before"|"after") around each request; True drops the connection unanswered.
        self.on_request: Callable[[str, str, str], bool] | None = None
        self.orders: dict[str, dict] = {order["id"]: order for order in orders}
        self.owners = {t["id"]: order_id for order_id, order in self.orders.items()
                       for t in order.get("transactions") or []}     # transaction id -> order id
        self.table = Table(self.orders)
        self.mail_failures: list[str] = []         # mail-template/send requests whose Twig failed (size 0)
        self.integration = {"id": C.stable_id("integration." + self.client_id), "label": "Mahnwerk",
                            "accessKey": self.client_id, "secretAccessKey": None, "admin": admin,
                            "lastUsageAt": None, "deletedAt": None, "customFields": None, "createdAt": C.CREATED,
                            "updatedAt": None,
                            "aclRoles": [] if privileges is None else [
                                {"id": C.stable_id("acl_role.mahnwerk"), "name": "Mahnwerk", "description": None,
                                 "privileges": list(privileges), "deletedAt": None, "customFields": None,
                                 "createdAt": C.CREATED, "updatedAt": None}]}

    # -- clock, tokens, log -----------------------------------------------------------------------------------------

    @property
    def token_ttl(self) -> int:
        return self.tokens.ttl

    @token_ttl.setter
    def token_ttl(self, seconds: int) -> None:
        self.tokens.ttl = seconds       # tokens issued from now on

    @property
    def tokens_issued(self) -> int:
        return self.tokens.issued

    def expire_tokens(self) -> None:
        """Every token issued so far is expired: the next request with one gets 401."""
        with self.lock:
            self.tokens.expire_all()

    def now(self) -> str:
        """The sandbox clock's now as Shopware prints it."""
        return _milliseconds(self.clock())

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    def allows(self, privilege: str) -> bool:
        return self.admin or privilege in self.privileges

    # -- orders -----------------------------------------------------------------------------------------------------

    def order(self, order_id: str) -> dict:
        """A deep copy of the stored order; KeyError if there is none."""
        with self.lock:
            return copy.deepcopy(self.orders[order_id])

    def _store(self, order: dict) -> None:
        """Stored dicts are replaced, never changed in place: a copy given to a test stays what it was."""
        self.orders[order["id"]] = order
        self.table.changed()

    def _latest(self, order: dict) -> dict:
        transactions = order.get("transactions") or []
        if not transactions:
            raise KeyError(f"order {order['id']} has no transaction")
        return max(transactions, key=lambda t: (t.get("createdAt") or "", t["id"]))

    def transaction_order(self, transaction_id: str) -> dict | None:
        """The order that holds a transaction."""
        order_id = self.owners.get(transaction_id)
        return None if order_id is None else self.orders.get(order_id)

    def set_transaction_state(self, order_id: str, transaction_id: str, state: str) -> None:
        """Move one transaction: its stateId, state and updatedAt change, the order's updatedAt does not."""
        with self.lock:
            order = dict(self.orders[order_id])
            order["transactions"] = [
                {**t, "stateId": C.TRANSACTION_STATES[state]["id"], "stateMachineState": C.TRANSACTION_STATES[state],
                 "updatedAt": self.now()} if t["id"] == transaction_id else t for t in order["transactions"]]
            self._store(order)

    def pay(self, order_id: str, state: str = "paid") -> None:
        """The latest transaction moves to `state` (as a payment plugin would), not the order's updatedAt."""
        with self.lock:
            self.set_transaction_state(order_id, self._latest(self.orders[order_id])["id"], state)

    def transaction_state(self, order_id: str) -> str:
        """The technical name of the latest transaction's state."""
        with self.lock:
            return str(self._latest(self.orders[order_id])["stateMachineState"]["technicalName"])

    def add_transaction(self, order_id: str, method: str, state: str = "open") -> str:
        """A newer transaction (the customer paid another way); returns its id."""
        with self.lock:
            order = dict(self.orders[order_id])
            transaction = copy.deepcopy(self._latest(order))
            payment = C.PAYMENT_METHODS[method]
            now = self.now()
            transaction.update(id=secrets.token_hex(16), paymentMethodId=payment["id"], paymentMethod=payment,
                               stateId=C.TRANSACTION_STATES[state]["id"],
                               stateMachineState=C.TRANSACTION_STATES[state], createdAt=now, updatedAt=None)
            order["transactions"] = [*order["transactions"], transaction]
            self.owners[transaction["id"]] = order_id
            self._store(order)
            return str(transaction["id"])

    def touch(self, order_id: str) -> None:
        """The merchant saved the order in the admin: its updatedAt moves to now."""
        with self.lock:
            self._store({**self.orders[order_id], "updatedAt": self.now()})

    def merge_custom_fields(self, order_id: str, fields: dict) -> None:
        """PATCH customFields: top-level keys replace, the others stay; the order's updatedAt moves."""
        with self.lock:
            order = self.orders[order_id]
            merged = {**(order.get("customFields") or {}), **copy.deepcopy(fields)}
            self._store({**order, "customFields": merged, "updatedAt": self.now()})

    def custom_fields(self, order_id: str) -> dict:
        with self.lock:
            return copy.deepcopy(self.orders[order_id].get("customFields") or {})

    def delete(self, order_id: str) -> None:
        """Delete for good (Shopware has no trash): searches by id no longer find it."""
        with self.lock:
            del self.orders[order_id]
            self.table.changed()

    def transition(self, transaction_id: str, action: str) -> tuple[dict, dict, bool]:
        """Apply `action` to a transaction: (order, new state, moved); raises the illegal-transition error."""
        with self.lock:
            order = self.transaction_order(transaction_id)
            if order is None:
                raise KeyError(transaction_id)
            transaction = next(t for t in order["transactions"] if t["id"] == transaction_id)
            current = transaction["stateMachineState"]["technicalName"]
            target = destination(current, action)
            if target is None:
                return order, C.TRANSACTION_STATES[current], False
            self.set_transaction_state(order["id"], transaction_id, target)
            return self.orders[order["id"]], C.TRANSACTION_STATES[target], True
