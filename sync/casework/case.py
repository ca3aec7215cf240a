"""Case management: holds, releases, payment plans, payments recorded by hand, notes and manual tasks.

Each change is one ledger entry naming who made it and when, written in one transaction with any claim update it
causes; the policy reads those entries back as events (sync/casework/casefile.py). A claim is addressed as
SHOP:ORDER_NUMBER.
"""

from __future__ import annotations

import calendar as months
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from mahnwerk.errors import MahnwerkError
from mahnwerk.policy.engine import Assessment, assess
from mahnwerk.policy.interest import cents
from mahnwerk.policy.model import HOLD_KINDS, Event
from mahnwerk.sync.casework.blocked import owed_text
from mahnwerk.sync.casework.casefile import POLICY_KINDS, event, facts
from mahnwerk.sync.config import Config, ShopConfig
from mahnwerk.sync.config.schema import did_you_mean
from mahnwerk.sync.mirror.claimdata import local_date
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry

CENT = Decimal("0.01")


class CaseError(MahnwerkError):
    """A casework command that cannot be done as asked (unknown claim, not on hold, ...): exit code 2. The message
    is English, for the command line (it may name its options); `code` and `values` say the same for a page that
    words it in the reader's language."""

    exit_code = 2

    def __init__(self, message: str, *, code: str = "", **values: Any) -> None:
        super().__init__(message)
        self.code, self.values = code, values


PLAIN_AMOUNT = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")  # no exponent, no "inf": what a person types for money


def parse_amount(text: str) -> Decimal:
    """A positive amount as a person types it ("120.50", "120,50"), at most two decimals; CaseError otherwise."""
    if not PLAIN_AMOUNT.fullmatch(text.strip()):
        raise CaseError(f'"{text}" is not an amount like 49.90', code="not_an_amount", text=text)
    try:
        amount = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise CaseError(f'"{text}" is not an amount like 49.90', code="not_an_amount", text=text) from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise CaseError(f'"{text}" is not a positive amount with at most two decimals', code="not_an_amount",
                        text=text)
    return amount


@dataclass
class Case:
    """A claim loaded for casework, with its shop and its policy events, in an open session."""

    session: Session
    shop: ShopConfig
    claim: Claim
    actor: str
    now: datetime
    source: str = "cli"  # where the ledger says a change came from: cli, executor, payments, web

    @property
    def today(self) -> date:
        return local_date(self.now, self.shop.timezone)

    @property
    def claim_id(self) -> int:
        """The claim's id: a case is opened on a stored claim."""
        assert self.claim.id is not None
        return self.claim.id

    def history(self) -> list[Event]:
        entries = self.session.execute(select(LedgerEntry).where(
            col(LedgerEntry.claim_id) == self.claim.id, col(LedgerEntry.kind).in_(POLICY_KINDS)
        ).order_by(col(LedgerEntry.id)))
        return [event(e.kind, e.at, e.data, self.shop.timezone) for e in entries.scalars()]

    def assess(self, on: date | None = None) -> Assessment:
        return assess(facts(self.claim), self.history(), on or self.today, self.shop.policy)

    def record(self, kind: str, data: dict[str, Any]) -> LedgerEntry:
        entry = LedgerEntry(claim_id=self.claim_id, at=self.now, kind=kind, source=self.source, actor=self.actor,
                            data=data)
        self.session.add(entry)
        self.session.flush()
        return entry


def parse_claim_ref(ref: str) -> tuple[str, str]:
    """"acme:1042" -> ("acme", "1042")."""
    shop_id, sep, number = ref.partition(":")
    if not sep or not shop_id or not number:
        raise CaseError(f'a claim is written SHOP:ORDER_NUMBER, like "acme:1042" (got "{ref}")')
    return shop_id, number


def open_case(session: Session, config: Config, ref: str, *, actor: str, now: datetime) -> Case:
    """The claim named by `ref`, or a CaseError naming what was not found."""
    shop_id, number = parse_claim_ref(ref)
    shop = config.shop(shop_id)
    claim = session.execute(select(Claim).where(col(Claim.shop_id) == shop_id, col(Claim.order_number) == number)
                            .order_by(col(Claim.id))).scalars().first()
    if claim is None:
        nearby = session.execute(select(col(Claim.order_number)).where(
            col(Claim.shop_id) == shop_id, col(Claim.order_number).like(f"{number[:2]}%")).limit(200)).scalars().all()
        raise CaseError(f"no claim {ref} in the store{did_you_mean(number, nearby)}; `mahnwerk claims` lists them")
    return Case(session, shop, claim, actor, now)


def order_ref(session: Session, shop_id: str, order_id: str) -> str:
    """SHOP:ORDER_NUMBER of the claim on the shop's order `order_id` (the web console's URLs name the order id, the
    one thing unique per shop); CaseError when there is none, or when its number also names an older claim, so
    `open_case` on the reference could only find the wrong one."""
    claim = session.execute(select(Claim).where(col(Claim.shop_id) == shop_id, col(Claim.order_id) == order_id)
                            ).scalars().first()
    if claim is None:
        raise CaseError(f"no claim on order id {order_id} of shop {shop_id} in the store")
    first = session.execute(select(col(Claim.order_id)).where(
        col(Claim.shop_id) == shop_id, col(Claim.order_number) == claim.order_number).order_by(col(Claim.id))
    ).scalars().first()
    if first != order_id:
        raise CaseError(f"order number {claim.order_number} of shop {shop_id} names more than one order "
                        f"({first} and {order_id}); Mahnwerk cannot tell them apart by number")
    return f"{shop_id}:{claim.order_number}"


def require_open(case: Case) -> None:
    if case.claim.state != ClaimState.OPEN:
        raise CaseError(f"{facts(case.claim).key} is {case.claim.state}, not open", code="not_open",
                        claim=facts(case.claim).key, state=case.claim.state)


def hold(case: Case, kind: str, *, note: str = "", until: date | None = None) -> LedgerEntry:
    """Pause all dunning for the claim; a dispute also stops default interest until released."""
    require_open(case)
    if kind not in HOLD_KINDS:
        raise CaseError(f'unknown hold reason "{kind}"; one of {", ".join(HOLD_KINDS)}')
    if until is not None and until <= case.today:
        raise CaseError(f"--until {until} is not in the future", code="until_past", until=until)
    return case.record("hold", {"kind": kind, "reason": note, "until": until.isoformat() if until else None})


def release(case: Case, *, note: str = "") -> LedgerEntry:
    """End a hold or a payment plan; dunning resumes with a fresh deadline."""
    result = case.assess()
    if result.status not in ("on_hold", "in_plan"):
        raise CaseError(f"{result.claim.key} is not on hold and has no running payment plan ({result.reason})",
                        code="not_held", claim=result.claim.key)
    return case.record("release", {"reason": note})


def add_period(start: date, every: str, times: int) -> date:
    """`start` moved on `times` periods of `every` ("1m", "2w", "14d"); month ends clamp (Jan 31 + 1m = Feb 28)."""
    match = re.fullmatch(r"(\d+)([dwm])", every.strip())
    if not match or int(match[1]) == 0:
        raise CaseError(f'--every takes a period like "1m", "2w" or "14d" (got "{every}")', code="bad_period",
                        every=every)
    count, unit = int(match[1]) * times, match[2]
    if unit == "d":
        return start + timedelta(days=count)
    if unit == "w":
        return start + timedelta(weeks=count)
    month = start.month - 1 + count
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, months.monthrange(year, month)[1]))


def split(total: Decimal, count: int) -> list[Decimal]:
    """`total` in `count` instalments of whole cents; the first instalment takes the remainder cents."""
    base = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    return [total - base * (count - 1)] + [base] * (count - 1)


def instalments(case: Case, count: int, first: date, every: str) -> LedgerEntry:
    """Agree a payment plan over what is owed today; dunning waits while the instalments come in."""
    require_open(case)
    if not 2 <= count <= 60:
        raise CaseError("--count must be between 2 and 60", code="bad_count")
    if first < case.today:
        raise CaseError(f"--first {first} lies in the past", code="first_past", first=first)
    result = case.assess()
    if result.balance is None or result.interest_unknown:
        raise CaseError(f"cannot compute what {result.claim.key} owes: {result.problem}", code="owed_unknown",
                        claim=result.claim.key)
    total = cents(result.balance.total)
    plan = [{"due": add_period(first, every, n).isoformat(), "amount": str(amount)}
            for n, amount in enumerate(split(total, count))]
    # The plan's terms are fixed when it is agreed: a later change of [policy] plan_acceleration leaves it as agreed.
    return case.record("plan", {"instalments": plan, "total": str(total), "currency": case.claim.currency,
                                "accelerates": case.shop.policy.plan_acceleration})


def mark_paid(case: Case, amount: Decimal | None, *, on: date | None = None, note: str = "") -> dict[str, Any]:
    """Record a payment (default: everything owed today); a claim paid in full closes, a surplus is a credit."""
    require_open(case)
    on = on or case.today
    if on > case.today:
        raise CaseError(f"--on {on} lies in the future", code="on_future", on=on)
    owed = case.assess(on)
    everything = amount is None
    if amount is None:
        if owed.balance is None or owed.interest_unknown:
            raise CaseError(f"cannot compute what {owed.claim.key} owes: {owed.problem}; give --amount",
                            code="owed_unknown_amount", claim=owed.claim.key)
        amount = cents(owed.balance.total)
    if amount <= 0:
        raise CaseError("--amount must be positive", code="not_an_amount", text=str(amount))
    if amount > case.shop.payments.max_amount and not everything:  # a typo guard for what a person typed
        raise CaseError(f"{amount} is above the sanity limit of {case.shop.payments.max_amount} "
                        "(payments.max_amount in the shop's file)", code="above_limit", amount=amount,
                        limit=case.shop.payments.max_amount, currency=case.claim.currency)
    case.record("payment", {"amount": str(amount), "currency": case.claim.currency, "on": on.isoformat(),
                            "source": "manual", "note": note})
    after = case.assess()
    outcome = {"claim": after.claim.key, "paid": str(amount), "currency": case.claim.currency, "closed": False,
               "credit": "0.00",
               "open_amount": str(cents(after.balance.total)) if after.balance and not after.gap else None,
               # what is open in words, never None: what is known while interest cannot be computed
               "open": owed_text(after, lambda total: f"{total} {case.claim.currency}"),
               "interest_unknown": after.interest_unknown}
    if after.status == "settled" and after.balance is not None:
        credit = cents(after.balance.credit)
        if credit > 0:
            case.record("credit", {"amount": str(credit), "currency": case.claim.currency,
                                   "reason": "paid beyond what was owed"})
        settle(case, "paid in full (payments recorded in Mahnwerk)")
        outcome.update(closed=True, credit=str(credit), open_amount="0.00", open=f"0.00 {case.claim.currency}")
    return outcome


def settle(case: Case, reason: str) -> None:
    """Close an open claim as paid by payments recorded here; the shop may still show the order unpaid
    (`settled_at`)."""
    case.claim.state, case.claim.settled_at = ClaimState.PAID, case.claim.settled_at or case.now
    case.claim.closed_at, case.claim.updated_at = case.now, case.now
    case.session.add(case.claim)
    case.record("closed", {"changes": {"state": [ClaimState.OPEN, ClaimState.PAID]}, "reason": reason})


def note(case: Case, text: str) -> LedgerEntry:
    """A free-text note in the claim's history."""
    if not text.strip():
        raise CaseError("the note is empty", code="note_empty")
    return case.record("note", {"text": text})


def finish_task(case: Case, *, skipped: bool, note: str = "") -> LedgerEntry:
    """Mark the claim's due manual task done (or skipped); the ladder goes on from it."""
    result = case.assess()
    action = result.next
    if action is None or action.kind != "task" or result.status != "due":
        raise CaseError(f"{result.claim.key} has no task due ({result.reason})", code="no_task",
                        claim=result.claim.key)
    return case.record("stage", {"stage": action.stage, "kind": "task", "deadline": action.deadline.isoformat()
                                 if action.deadline else None, "fee": "0", "skipped": skipped, "note": note})
