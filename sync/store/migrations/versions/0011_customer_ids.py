"""Claims: the customer's account id in the shop

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

`claims.customer_id` is the customer's account as the merchant looks it up in the shop (WooCommerce: the WordPress
user id; Shopware 6: the customer number), empty for a guest order; the web console's customer page finds a
customer's claims by it (index with the shop). Claims mirrored before fill it at their next change or re-read.
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_id', sa.String(length=64), nullable=False, server_default=''))
        batch_op.create_index('ix_claims_shop_customer', ['shop_id', 'customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_shop_customer')
        batch_op.drop_column('customer_id')
