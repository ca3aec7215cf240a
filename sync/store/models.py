"""The local store's tables (SQLModel). Only sync/ reads and writes them; migrations live in sync/store/migrations/."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Table, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from mahnwerk.sync.store.coltypes import Money, UTCDateTime


class ClaimState:
    """Where a claim stands. `open` is dunned; `in_collection` is with the agency (no more dunning, payments the
    shop sees are reported to it); everything else is closed for the mirror."""

    OPEN = "open"
    IN_COLLECTION = "in_collection"
    PAID = "paid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    TRASHED = "trashed"
    DELETED = "deleted"
    CLOSED = (PAID, CANCELLED, REFUNDED, TRASHED, DELETED)


class Shop(SQLModel, table=True):
    """A shop the store has mirrored, as first configured."""

    __tablename__ = "shops"
    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20)
    url: str = Field(max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Claim(SQLModel, table=True):
    """One unpaid invoice order: who owes what since when, and where it stands."""

    __tablename__ = "claims"
    __table_args__ = (UniqueConstraint("shop_id", "order_id", name="uq_claims_shop_order"),
                      Index("ix_claims_shop_state", "shop_id", "state"),
                      # the console's claims list (migration 0010): most overdue first, exact numbers, and the
                      # start of a name or e-mail address (on PostgreSQL the migration adds COLLATE "C": byte
                      # order, as SQLite compares, so a prefix is one index range; reflection does not show it)
                      Index("ix_claims_state_due", "state", "due_date", "id", "shop_id"),
                      Index("ix_claims_order_number", "order_number"),
                      Index("ix_claims_invoice_number", "invoice_number"),
                      Index("ix_claims_name_prefix", text("lower(customer_name)")),
                      Index("ix_claims_email_prefix", text("lower(email)")),
                      Index("ix_claims_shop_customer", "shop_id", "customer_id"),  # the customer page (0011)
                      Index("ix_claims_state_stage_due", "state", "last_stage", "due_date", "id"))  # stage filter
    id: int | None = Field(default=None, primary_key=True)
    shop_id: str = Field(foreign_key="shops.id", max_length=40)
    order_id: str = Field(max_length=64)
    order_number: str = Field(max_length=64)
    invoice_number: str = Field(max_length=64)
    invoice_date: date
    due_date: date
    customer_name: str = Field(max_length=300)
    email: str = Field(max_length=320)
    company: str = Field(default="", max_length=300)
    vat_id: str = Field(default="", max_length=40)
    is_b2b: bool = False
    billing_address: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    language: str = Field(default="de", max_length=10)
    currency: str = Field(max_length=3)
    gross_amount: Decimal = Field(sa_type=Money)
    open_amount: Decimal = Field(sa_type=Money)
    state: str = Field(default=ClaimState.OPEN, max_length=20)
    shop_status: str = Field(max_length=40)
    payment_method: str = Field(max_length=60)
    customer_group: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})
    customer_id: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})  # "" for a guest
    # The last stage entered in the ledger, "" before any; kept by a trigger on ledger (migration 0012), never
    # written here.
    last_stage: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    ordered_at: datetime = Field(sa_type=UTCDateTime)
    shop_modified_at: datetime = Field(sa_type=UTCDateTime)
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # paid in full by payments Mahnwerk recorded


class ClaimIndexRow(SQLModel, table=True):
    """What the payments matching index (`claim_keys`) was computed from for a claim, and its open amount as of the
    last matching run: a claim whose numbers or amount differ from these is indexed again (migration 0013)."""

    __tablename__ = "claim_index"
    __table_args__ = (Index("ix_claim_index_amount", "shop_id", "currency", "open_amount"),)
    claim_id: int = Field(primary_key=True, foreign_key="claims.id", sa_column_kwargs={"autoincrement": False})
    shop_id: str = Field(max_length=40)
    invoice_number: str = Field(max_length=64)
    order_number: str = Field(max_length=64)
    currency: str = Field(max_length=3)
    open_amount: Decimal = Field(sa_type=Money)


class ClaimKey(SQLModel, table=True):
    """One normalised form of a claim's invoice or order number (policy.matching.key_forms), or "*" + its invoice
    number's digits (policy.matching.core): a payment's text is looked up here, not in an index held in memory."""

    __tablename__ = "claim_keys"
    __table_args__ = (Index("ix_claim_keys_claim", "claim_id"),)
    shop_id: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=80)
    claim_id: int = Field(primary_key=True, foreign_key="claims.id", sa_column_kwargs={"autoincrement": False})


class LedgerEntry(SQLModel, table=True):
    """One event in a claim's append-only history: what changed, when, from where."""

    __tablename__ = "ledger"
    __table_args__ = (Index("ix_ledger_kind_claim", "kind", "claim_id"),)
    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claims.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=40)  # opened, changed, closed, reopened; stage, payment, hold, release, plan, note
    source: str = Field(default="sync", max_length=40)  # sync, cli, ...
    actor: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})  # who, for casework
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Quarantine(SQLModel, table=True):
    """A record from a shop that could not be parsed: kept raw with its reason until it parses again."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("shop_id", "record_id", name="uq_quarantine_shop_record"),)
    id: int | None = Field(default=None, primary_key=True)
    shop_id: str = Field(foreign_key="shops.id", max_length=40)
    record_id: str = Field(max_length=64)
    field: str = Field(max_length=120)
    reason: str = Field(max_length=1000)
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    times_seen: int = 1
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SyncCursor(SQLModel, table=True):
    """How far a stream of a shop has been mirrored; moved only after the page it covers is committed."""

    __tablename__ = "sync_cursors"
    shop_id: str = Field(primary_key=True, foreign_key="shops.id", max_length=40)
    stream: str = Field(primary_key=True, max_length=40)  # "orders" (modified cursor), "reread" (last full re-read)
    value: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class SyncRun(SQLModel, table=True):
    """One sync of one shop, with its counts, for `status` and for the merchant's monitoring."""

    __tablename__ = "sync_runs"
    id: int | None = Field(default=None, primary_key=True)
    shop_id: str = Field(foreign_key="shops.id", max_length=40, index=True)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="running", max_length=20)  # running, ok, failed
    new: int = 0
    updated: int = 0
    closed: int = 0
    quarantined: int = 0
    requests: int = 0
    error: str = Field(default="", max_length=2000)


class OutboxState:
    """An outbox row's life: pending → sending → done; or skipped (no longer due), or dead (given up)."""

    PENDING = "pending"
    SENDING = "sending"  # the action may have reached the customer: check the shop before sending again
    DONE = "done"
    SKIPPED = "skipped"
    DEAD = "dead"
    FINAL = (DONE, SKIPPED, DEAD)


class OutboxRow(SQLModel, table=True):
    """One decided action, written before it is executed; the idempotency key makes it happen once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_shop_state", "shop_id", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # shop/order/stage/occurrence
    shop_id: str = Field(foreign_key="shops.id", max_length=40)
    claim_id: int = Field(foreign_key="claims.id", index=True)
    kind: str = Field(max_length=20)  # send, task, handover, close, agency_update
    stage: str = Field(max_length=60)
    channel: str = Field(max_length=20)  # shop, email, letter, agency, none
    planned_on: date
    state: str = Field(default=OutboxState.PENDING, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=2000)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # what to send
    reference: str = Field(default="", max_length=500)  # the shop's note id, the Message-ID, the file
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Task(SQLModel, table=True):
    """Work for a person that the executor could not do itself (no usable e-mail, a delivery it cannot confirm)."""

    __tablename__ = "tasks"
    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claims.id", index=True)
    kind: str = Field(max_length=40)  # post_letter, get_email, check_delivery
    text: str = Field(max_length=2000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by: str = Field(default="", max_length=100)


class PaymentState:
    """An incoming payment's life: matched (booked to claims), review (a person confirms a guess), unmatched
    (waiting for a person), ignored (not a customer's payment; with the reason)."""

    MATCHED = "matched"
    REVIEW = "review"
    UNMATCHED = "unmatched"
    IGNORED = "ignored"
    WAITING = (REVIEW, UNMATCHED)


class IncomingPaymentRow(SQLModel, table=True):
    """One incoming credit from a bank statement or a payment provider, imported once: one row per `booking`, however
    many reports and statements carry it."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("shop_id", "source", "ref", name="uq_payments_shop_source_ref"),
                      Index("uq_payments_shop_booking", "shop_id", "booking", unique=True),
                      Index("ix_payments_shop_state", "shop_id", "state"))
    id: int | None = Field(default=None, primary_key=True)
    shop_id: str = Field(foreign_key="shops.id", max_length=40)
    source: str = Field(max_length=20)  # camt.053, camt.052, camt.054, mt940, stripe, mollie
    ref: str = Field(max_length=140)  # the bank's reference or the provider's id (or a hash of the entry)
    # The booking's identity (connectors/payment_records.py booking_id): a camt.052 row is confirmed by the day's
    # camt.053 or MT940 (source, ref, origin and position change to the statement's), never stored twice.
    booking: str = Field(max_length=64)
    origin: str = Field(default="", max_length=500)  # the file it was imported from, or the provider
    position: str = Field(default="", max_length=200)  # where in that file
    account: str = Field(default="", max_length=64)
    booked_on: date
    amount: Decimal = Field(sa_type=Money)
    currency: str = Field(max_length=3)
    charges: Decimal = Field(default=Decimal(0), sa_type=Money)
    original_amount: Decimal | None = Field(default=None, sa_type=Money)
    original_currency: str = Field(default="", max_length=3)
    payer_name: str = Field(default="", max_length=300)
    payer_account: str = Field(default="", max_length=64)
    remittance: str = Field(default="", max_length=2000)
    end_to_end_id: str = Field(default="", max_length=140)
    creditor_ref: str = Field(default="", max_length=140)
    order_hint: str = Field(default="", max_length=64)
    provider_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=PaymentState.UNMATCHED, max_length=20)
    rule: str = Field(default="", max_length=20)  # reference, provider, amount_name, manual
    confidence: Decimal | None = Field(default=None, sa_type=Money)
    reason: str = Field(default="", max_length=500)  # how it was matched, why it waits, why it was ignored
    candidates: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # claim ids
    unallocated: Decimal = Field(default=Decimal(0), sa_type=Money)  # not (yet) booked to any claim
    imported_at: datetime = Field(sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str = Field(default="", max_length=100)


class PaymentEvent(SQLModel, table=True):
    """The payment's own append-only history: imported, matched, booked to a claim, sent to review, assigned,
    ignored. Bookings also appear in each claim's ledger."""

    __tablename__ = "payment_events"
    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=20)
    actor: str = Field(default="", max_length=100)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PaymentCursor(SQLModel, table=True):
    """How far a payment provider has been read for a shop (opaque to the store: the connector's own cursor)."""

    __tablename__ = "payment_cursors"
    shop_id: str = Field(primary_key=True, foreign_key="shops.id", max_length=40)
    source: str = Field(primary_key=True, max_length=20)
    value: str = Field(max_length=500)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class BaseRateRow(SQLModel, table=True):
    """A statutory base-rate row fetched from a central bank: the rate from `valid_from` (1 January or 1 July)."""

    __tablename__ = "base_rates"
    table_key: str = Field(primary_key=True, max_length=10)  # policy.rates.TABLES key: "de", "at"
    valid_from: date = Field(primary_key=True)
    rate: Decimal = Field(max_digits=8, decimal_places=4)
    source: str = Field(max_length=500)  # the URL it was fetched from
    fetched_at: datetime = Field(sa_type=UTCDateTime)


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table: `Model.__table__`, which SQLModel does not declare to type checkers."""
    name = model.__tablename__
    if not isinstance(name, str):
        raise TypeError(f"{model.__name__} names no table")
    return model.metadata.tables[name]


class AlertState(SQLModel, table=True):
    """A problem of a shop the daemon has mailed about (`[alerts]`): open until it clears, when one more mail says
    so and the row goes."""

    __tablename__ = "alerts"
    shop_id: str = Field(foreign_key="shops.id", max_length=40, primary_key=True)
    problem: str = Field(max_length=40, primary_key=True)  # failed_syncs, dead_letters, rate_missing
    opened_at: datetime = Field(sa_type=UTCDateTime)
    mailed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None: the mail has not gone out yet
    detail: str = Field(default="", max_length=2000)


class WebUser(SQLModel, table=True):
    """A person who may log in to the web console: a viewer reads, a clerk also acts (`mahnwerk web adduser`)."""

    __tablename__ = "web_users"
    name: str = Field(primary_key=True, max_length=100)
    role: str = Field(max_length=10)  # clerk, viewer
    password_hash: str = Field(max_length=300)  # argon2id, with its parameters and salt
    lang: str = Field(default="", max_length=10)  # "": the browser's language
    created_at: datetime = Field(sa_type=UTCDateTime)


class WebSecret(SQLModel, table=True):
    """A secret of the web console kept in the store, such as the key that signs session cookies: sessions outlive
    a restart, and every process serving the console signs with the same key."""

    __tablename__ = "web_secrets"
    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
