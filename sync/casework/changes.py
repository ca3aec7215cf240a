"""One code path for casework from the command line and the web console: open the claim, do the work, commit it
under the shop's lock, with who did it and where ("cli", "web") in every ledger entry it writes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from mahnwerk.sync.casework.case import Case, CaseError, open_case, parse_claim_ref
from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.locks import shop_lock

Result = TypeVar("Result")
PLAIN_AMOUNT = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")  # no exponent, no "inf": what a person types for money


def parse_amount(text: str) -> Decimal:
    """A positive amount as a person types it ("120.50", "120,50"), at most two decimals; CaseError otherwise."""
    if not PLAIN_AMOUNT.fullmatch(text.strip()):
        raise CaseError(f'"{text}" is not an amount like 49.90')
    try:
        amount = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise CaseError(f'"{text}" is not an amount like 49.90') from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise CaseError(f'"{text}" is not a positive amount with at most two decimals')
    return amount


def change_case(store: Store, config: Config, ref: str, work: Callable[[Case], Result], *, actor: str,
                now: datetime, source: str = "cli", command: str = "mahnwerk", wait: float = 30.0) -> Result:
    """Do `work` on the claim SHOP:ORDER_NUMBER and commit it, holding the shop's lock (ShopBusy after `wait`
    seconds); nothing is written when `work` raises."""
    shop_id = parse_claim_ref(ref)[0]
    with shop_lock(store, shop_id, command=command, wait=wait), store.session() as session:
        case = open_case(session, config, ref, actor=actor, now=now, source=source)
        result = work(case)
        session.commit()
        return result


def read_case(store: Store, config: Config, ref: str, work: Callable[[Case], Result], *, now: datetime) -> Result:
    """`work` on the claim without writing anything (no lock: reading never waits)."""
    with store.session() as session:
        return work(open_case(session, config, ref, actor="", now=now))
