"""The policy's data: a claim's facts, its history as events, stages, and the policy itself. Frozen, pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TypeAlias

from mahnwerk.policy.calendar import BusinessCalendar
from mahnwerk.policy.customers import BUSINESS_WHEN
from mahnwerk.policy.frozen import slot_init
from mahnwerk.policy.interest import InterestRule
from mahnwerk.policy.rates import RateTable

ZERO = Decimal(0)

# Stage kinds: letters to the customer, a manual task for the merchant, the hand-over to an agency.
LETTER_KINDS = ("reminder", "dunning", "final_notice")
STAGE_KINDS = (*LETTER_KINDS, "task", "agency")
HOLD_KINDS = ("dispute", "payment_plan", "insolvency", "deceased", "manual")


@slot_init
@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What the policy needs to know about one claim; `principal` is the open amount the shop reports."""

    key: str  # "SHOP:ORDER_NUMBER"
    currency: str
    principal: Decimal
    invoice_date: date
    due_date: date
    is_b2b: bool = False
    payment_method: str = ""  # the shop's payment method id, for per-method rules (invoice_states_default)


# History: what happened to a claim, in the order it happened. sync/ builds these from the ledger.


@dataclass(frozen=True, slots=True)
class StageDone:
    """A stage carried out on `on`: a letter sent (with the fee it charged), a task done or skipped, a hand-over."""

    on: date
    stage: str
    deadline: date | None = None  # the payment deadline the letter gave
    fee: Decimal = ZERO
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class Payment:
    on: date
    amount: Decimal
    source: str = ""


@dataclass(frozen=True, slots=True)
class Hold:
    on: date
    kind: str
    reason: str = ""
    until: date | None = None  # None: until released


@dataclass(frozen=True, slots=True)
class Release:
    on: date


@dataclass(frozen=True, slots=True)
class Instalment:
    due: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PlanAgreed:
    on: date
    instalments: tuple[Instalment, ...]
    accelerates: bool | None = None  # as the plan's terms said when agreed; None: as the policy says today


Event: TypeAlias = StageDone | Payment | Hold | Release | PlanAgreed


@dataclass(frozen=True, slots=True)
class Offer:
    """A settlement (discount on the whole open amount) or a deferral (a longer deadline) offered with a stage."""

    kind: str  # "discount" or "deferral"
    discount_percent: Decimal = ZERO
    extra_days: int = 0


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the escalation ladder.

    The first stage is due `after_days` after the claim's due date; every later one `after_days` after the
    deadline of the stage before it (as actually given to the customer). `deadline_days` is the payment
    deadline the stage gives, rolled forward to a business day.
    """

    name: str
    kind: str
    after_days: int
    deadline_days: int
    fee: Decimal = ZERO
    template: str = ""
    channel: str = ""
    customers: str = "all"  # "all", "b2b" or "b2c"
    min_open_amount: Decimal = ZERO
    offer: Offer | None = None

    def applies_to(self, claim: ClaimFacts, open_amount: Decimal) -> bool:
        """Whether this stage's conditions hold for the claim (customer type, minimum open amount)."""
        if self.customers == ("b2c" if claim.is_b2b else "b2b"):
            return False
        return open_amount >= self.min_open_amount


@dataclass(frozen=True)
class Policy:
    """A shop's dunning policy: the ladder, the law that governs fees and interest, and the rules around them."""

    preset: str
    stages: tuple[Stage, ...]
    interest_b2c: InterestRule
    interest_b2b: InterestRule
    calendar: BusinessCalendar = BusinessCalendar()
    b2b_flat_fee: Decimal = ZERO  # §288(5) BGB / §458 UGB: once per claim, businesses only
    letter_fee_cap: Decimal = Decimal("2.50")  # above it the configuration warns
    claim_fee_cap: Decimal = Decimal("10.00")  # letter fees of one claim never exceed it
    fees_allowed: bool = True  # Switzerland: only where the shop's terms allow dunning fees
    # Invoices point out default 30 days after due date (§286(3) BGB): for every claim (True), none (False), or
    # only claims paid by one of these payment methods (the invoices of the others do not say so).
    invoice_states_default: bool | frozenset[str] = False
    receipt_days: int = 0  # the invoice reaches the customer this many days after its date (post: e.g. 3)
    business_when: tuple[str, ...] = BUSINESS_WHEN  # what makes a customer a business (policy/customers.py)
    due_date_agreed: bool = False  # the due date was agreed by the calendar: default from the day after it
    min_amount: Decimal = ZERO  # claims below it stop after the first stage
    go_live: date | None = None  # nothing is due before it; older claims start at the first stage on it
    plan_grace_days: int = 7  # an instalment this many days late breaks the plan
    plan_resume_stage: str | None = None  # None: the stage after the last one carried out
    plan_acceleration: bool = False  # a missed instalment makes the whole remainder due (else: the missed ones)
    language: str = "de"
    rate_notes: tuple[str, ...] = field(default=())  # where the rate tables come from, for `explain`

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def invoice_said_default(self, claim: ClaimFacts) -> bool:
        """Whether this claim's invoice pointed out the 30-day consequence (§286(3) sentence 1 BGB)."""
        said = self.invoice_states_default
        return said if isinstance(said, bool) else claim.payment_method in said

    def interest_rule(self, claim: ClaimFacts) -> InterestRule:
        return self.interest_b2b if claim.is_b2b else self.interest_b2c

    def rate_tables(self) -> dict[str, RateTable]:
        """The base-rate tables the interest rules use, by key ("de", "at")."""
        return {rule.table.key: rule.table for rule in (self.interest_b2c, self.interest_b2b) if rule.table is not None}

    def with_rate_tables(self, change: Callable[[RateTable], RateTable]) -> Policy:
        """This policy with each interest rule's base-rate table replaced by `change(table)`."""
        def rule(current: InterestRule) -> InterestRule:
            return current if current.table is None else replace(current, table=change(current.table))
        return replace(self, interest_b2c=rule(self.interest_b2c), interest_b2b=rule(self.interest_b2b))
