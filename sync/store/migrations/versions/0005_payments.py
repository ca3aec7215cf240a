"""Payments: incoming credits from bank statements and payment providers, their history, provider cursors

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

`payments` holds every imported credit once (shop + source + the bank's or provider's reference) with how it was
matched; `payment_events` is its append-only history; `payment_cursors` says how far each provider was read.
"""

import sqlalchemy as sa
from alembic import op

from mahnwerk.sync.store.coltypes import Money, UTCDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'payments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('ref', sa.String(length=140), nullable=False),
        sa.Column('origin', sa.String(length=500), nullable=False),
        sa.Column('position', sa.String(length=200), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('booked_on', sa.Date(), nullable=False),
        sa.Column('amount', Money(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('charges', Money(), nullable=False),
        sa.Column('original_amount', Money(), nullable=True),
        sa.Column('original_currency', sa.String(length=3), nullable=False),
        sa.Column('payer_name', sa.String(length=300), nullable=False),
        sa.Column('payer_account', sa.String(length=64), nullable=False),
        sa.Column('remittance', sa.String(length=2000), nullable=False),
        sa.Column('end_to_end_id', sa.String(length=140), nullable=False),
        sa.Column('creditor_ref', sa.String(length=140), nullable=False),
        sa.Column('order_hint', sa.String(length=64), nullable=False),
        sa.Column('provider_ids', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('rule', sa.String(length=20), nullable=False),
        sa.Column('confidence', Money(), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('candidates', sa.JSON(), nullable=False),
        sa.Column('unallocated', Money(), nullable=False),
        sa.Column('imported_at', UTCDateTime(), nullable=False),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.Column('decided_by', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shop_id', 'source', 'ref', name='uq_payments_shop_source_ref'),
    )
    op.create_index('ix_payments_shop_state', 'payments', ['shop_id', 'state'], unique=False)
    op.create_table(
        'payment_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_payment_events_payment_id', 'payment_events', ['payment_id'], unique=False)
    op.create_table(
        'payment_cursors',
        sa.Column('shop_id', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('value', sa.String(length=500), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id']),
        sa.PrimaryKeyConstraint('shop_id', 'source'),
    )


def downgrade() -> None:
    op.drop_table('payment_cursors')
    op.drop_index('ix_payment_events_payment_id', table_name='payment_events')
    op.drop_table('payment_events')
    op.drop_index('ix_payments_shop_state', table_name='payments')
    op.drop_table('payments')
