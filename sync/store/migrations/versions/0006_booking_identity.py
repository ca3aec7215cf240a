"""Payments: one row per bank booking, whichever report or statement carried it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

`booking` is the payment's identity (connectors/payment_records.py `booking_id`): the merchant's account and the
bank's reference, else account, day, amount, currency, payer and text; source + id for providers. It is unique per
shop. Existing rows get theirs from what they hold; rows stored twice before (a camt.052 entry and the camt.053
entry confirming it) are kept, the later ones with their id appended, so that the migration never fails on them.
"""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from mahnwerk.connectors.payment_records import FALLBACK, IncomingPayment, booking_id
from mahnwerk.sync.store.coltypes import Money

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

PAYMENTS = sa.table(
    'payments', sa.column('id', sa.Integer()), sa.column('shop_id', sa.String()), sa.column('source', sa.String()),
    sa.column('ref', sa.String()), sa.column('account', sa.String()), sa.column('booked_on', sa.Date()),
    sa.column('amount', Money()), sa.column('currency', sa.String()), sa.column('payer_name', sa.String()),
    sa.column('payer_account', sa.String()), sa.column('remittance', sa.String()), sa.column('booking', sa.String()))
PAGE = 5000


def upgrade() -> None:
    # Added with a default and filled in place: SQLite would otherwise rebuild the table, which payment_events
    # references.
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booking', sa.String(length=64), nullable=False, server_default=''))
    conn = op.get_bind()
    seen: set[tuple[str, str]] = set()
    last = 0
    while rows := conn.execute(sa.select(PAYMENTS).where(PAYMENTS.c.id > last).order_by(PAYMENTS.c.id)
                               .limit(PAGE)).all():
        updates = []
        for row in rows:
            booking = _booking(row)
            if (row.shop_id, booking) in seen:
                booking = f"{booking}~{row.id}"
            seen.add((row.shop_id, booking))
            updates.append({"row_id": row.id, "value": booking})
        conn.execute(PAYMENTS.update().where(PAYMENTS.c.id == sa.bindparam("row_id"))
                     .values(booking=sa.bindparam("value")), updates)
        last = rows[-1].id
    op.create_index('uq_payments_shop_booking', 'payments', ['shop_id', 'booking'], unique=True)


def _booking(row: sa.Row) -> str:
    """As the readers compute it: refs "h:<hash>" (and "/n" for the n-th twin) were made without a bank reference."""
    twin = row.ref.rpartition("/")[2] if row.ref.startswith(FALLBACK) and "/" in row.ref else ""
    return booking_id(IncomingPayment(
        source=row.source, ref=row.ref, booked_on=row.booked_on if isinstance(row.booked_on, date)
        else date.fromisoformat(str(row.booked_on)), amount=row.amount or Decimal(0), currency=row.currency,
        account=row.account, payer_name=row.payer_name, payer_account=row.payer_account, remittance=row.remittance,
        occurrence=int(twin) if twin.isdigit() else 1))


def downgrade() -> None:
    op.drop_index('uq_payments_shop_booking', table_name='payments')
    # In place on SQLite too (3.35+): rebuilding the table would fail on payment_events' foreign key.
    with op.batch_alter_table('payments', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('booking')
