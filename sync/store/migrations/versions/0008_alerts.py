"""Alerts: the shop problems the daemon has mailed about

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

`alerts` holds one row per shop and open problem (failed_syncs, dead_letters, rate_missing) with when it began and
when it was last mailed (`[alerts] email`): at most one mail per problem and day, and one when it clears (the row
goes then).
"""

import sqlalchemy as sa
from alembic import op

from mahnwerk.sync.store.coltypes import UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'alerts',
        sa.Column('shop_id', sa.String(length=40), nullable=False),
        sa.Column('problem', sa.String(length=40), nullable=False),
        sa.Column('opened_at', UTCDateTime(), nullable=False),
        sa.Column('mailed_at', UTCDateTime(), nullable=True),
        sa.Column('detail', sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id']),
        sa.PrimaryKeyConstraint('shop_id', 'problem'),
    )


def downgrade() -> None:
    op.drop_table('alerts')
