"""Payments: a store-side index of the claims' normalised invoice and order numbers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

A matching run held every open claim's numbers, amounts and names in memory (~950 B per claim: 1 GB for a shop
with a million open claims). `claim_keys` holds the forms a payer's text is searched by (policy.matching.key_forms
of invoice and order number, and "*" + an invoice number's core digits); `claim_index` what they were computed
from and the open amount, indexed for the amount rule. A matching run brings both up to date for the claims that
changed since the last one (sync/payments/claimindex.py), so the mirror writes nothing extra; this migration only
creates them, empty: the first run fills them.
"""

import sqlalchemy as sa
from alembic import op

from mahnwerk.sync.store.coltypes import Money

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'claim_index',
        sa.Column('claim_id', sa.Integer(), sa.ForeignKey('claims.id'), primary_key=True, autoincrement=False),
        sa.Column('shop_id', sa.String(length=40), nullable=False),
        sa.Column('invoice_number', sa.String(length=64), nullable=False),
        sa.Column('order_number', sa.String(length=64), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('open_amount', Money(), nullable=False),
    )
    op.create_index('ix_claim_index_amount', 'claim_index', ['shop_id', 'currency', 'open_amount'])
    op.create_table(
        'claim_keys',
        sa.Column('shop_id', sa.String(length=40), primary_key=True),
        sa.Column('key', sa.String(length=80), primary_key=True),
        sa.Column('claim_id', sa.Integer(), sa.ForeignKey('claims.id'), primary_key=True, autoincrement=False),
    )
    op.create_index('ix_claim_keys_claim', 'claim_keys', ['claim_id'])


def downgrade() -> None:
    op.drop_index('ix_claim_keys_claim', table_name='claim_keys')
    op.drop_table('claim_keys')
    op.drop_index('ix_claim_index_amount', table_name='claim_index')
    op.drop_table('claim_index')
