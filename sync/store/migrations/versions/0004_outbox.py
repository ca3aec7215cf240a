"""Outbox and tasks: every decided action is written before it is executed, and done exactly once

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

`outbox` holds one row per action with its idempotency key, state, attempts and the shop's reference once done;
`tasks` holds work for a person (post a letter to a customer without e-mail, confirm a delivery).
"""

import sqlalchemy as sa
from alembic import op

from mahnwerk.sync.store.coltypes import UTCDateTime

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('shop_id', sa.String(length=40), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('stage', sa.String(length=60), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('planned_on', sa.Date(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(), nullable=False),
        sa.Column('last_error', sa.String(length=2000), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('reference', sa.String(length=500), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('done_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id']),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_outbox_shop_state', 'outbox', ['shop_id', 'state'], unique=False)
    op.create_index('ix_outbox_claim_id', 'outbox', ['claim_id'], unique=False)
    op.create_table(
        'tasks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('text', sa.String(length=2000), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('done_at', UTCDateTime(), nullable=True),
        sa.Column('done_by', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_tasks_claim_id', 'tasks', ['claim_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tasks_claim_id', table_name='tasks')
    op.drop_table('tasks')
    op.drop_index('ix_outbox_claim_id', table_name='outbox')
    op.drop_index('ix_outbox_shop_state', table_name='outbox')
    op.drop_table('outbox')
