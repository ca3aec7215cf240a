"""Web console: its users and the key that signs its session cookies

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

`web_users` holds who may log in to the console (`mahnwerk web adduser`), with the role (clerk or viewer), the argon2
hash of the password and the language; `web_secrets` the random key that signs session cookies, made on first use,
so sessions survive a restart and every process serving the console agrees on it.
"""

import sqlalchemy as sa
from alembic import op

from mahnwerk.sync.store.coltypes import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_users',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('password_hash', sa.String(length=300), nullable=False),
        sa.Column('lang', sa.String(length=10), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'web_secrets',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('web_secrets')
    op.drop_table('web_users')
