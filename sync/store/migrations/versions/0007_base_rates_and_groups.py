"""Base rates fetched from the central banks, and the customer group a claim's order carries

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

`base_rates` holds the statutory base-rate rows Mahnwerk fetched (`mahnwerk rates update`), one per table and
half-year, with where and when they came from; the shipped table and the merchant's config rows are not stored.
`claims.customer_group` is the shop's customer group or role of the order's customer (empty where the kind has
none), for `[policy] business_when = ["customer_group:…"]`.
"""

import sqlalchemy as sa
from alembic import op

from mahnwerk.sync.store.coltypes import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'base_rates',
        sa.Column('table_key', sa.String(length=10), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('rate', sa.Numeric(precision=8, scale=4), nullable=False),
        sa.Column('source', sa.String(length=500), nullable=False),
        sa.Column('fetched_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('table_key', 'valid_from'),
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_group', sa.String(length=100), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('customer_group')
    op.drop_table('base_rates')
