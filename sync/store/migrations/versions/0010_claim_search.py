"""Claim search: indexes for the web console's claims list

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

The list pages 100,000 claims most overdue first (state, due date, id; with the shop, so counting a state's
claims of some shops reads the index alone) and finds a claim by its exact order or
invoice number, or by the start of the customer's name or e-mail address: lower(name) and lower(email) indexes,
compared by byte order on PostgreSQL (COLLATE "C") so a prefix is one index range, as it is on SQLite.
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

PREFIXES = {'ix_claims_name_prefix': 'customer_name', 'ix_claims_email_prefix': 'email'}


def upgrade() -> None:
    op.create_index('ix_claims_state_due', 'claims', ['state', 'due_date', 'id', 'shop_id'])
    op.create_index('ix_claims_order_number', 'claims', ['order_number'])
    op.create_index('ix_claims_invoice_number', 'claims', ['invoice_number'])
    collate = ' COLLATE "C"' if op.get_bind().dialect.name == 'postgresql' else ''
    for name, column in PREFIXES.items():
        op.create_index(name, 'claims', [sa.text(f'lower({column}){collate}')])


def downgrade() -> None:
    for name in PREFIXES:
        op.drop_index(name, table_name='claims')
    op.drop_index('ix_claims_invoice_number', table_name='claims')
    op.drop_index('ix_claims_order_number', table_name='claims')
    op.drop_index('ix_claims_state_due', table_name='claims')
