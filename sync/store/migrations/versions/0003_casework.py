"""Casework: who made a ledger entry, claims settled in Mahnwerk, ledger lookups by kind

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Case management (holds, payment plans, payments recorded by hand, notes, tasks) writes ledger entries that name
the person who made them. A claim settled by payments recorded in Mahnwerk stays settled when the shop still says
"on-hold". The planner reads the policy-relevant entries of many claims at once by kind.
"""

import sqlalchemy as sa
from alembic import op

from mahnwerk.sync.store.coltypes import UTCDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor', sa.String(length=100), nullable=False, server_default=''))
        batch_op.create_index('ix_ledger_kind_claim', ['kind', 'claim_id'], unique=False)
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settled_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('settled_at')
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_kind_claim')
        batch_op.drop_column('actor')
