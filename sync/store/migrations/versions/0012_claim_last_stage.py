"""Claims: the last stage entered in the ledger, kept by the database

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

The console's stage filter asked the whole ledger for every claim's latest stage entry on each request (1.4 s on
PostgreSQL, 0.5 s on SQLite at 100,000 claims, bench/webclaims.py). `claims.last_stage` holds it ("" before any
stage), indexed in list order. A trigger on the append-only ledger keeps it, so every path that records a stage
(run, hand-over, demo, a skipped stage) updates it in the same transaction, whoever wrote the entry.
SQLite's batch mode recreates a table without its triggers: a later migration that rebuilds `ledger` on SQLite
must create LEDGER_TRIGGER_SQLITE again.
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

LEDGER_TRIGGER_SQLITE = """
CREATE TRIGGER ledger_last_stage AFTER INSERT ON ledger WHEN NEW.kind = 'stage'
BEGIN
    UPDATE claims SET last_stage = coalesce(json_extract(NEW.data, '$.stage'), '') WHERE id = NEW.claim_id;
END
"""
LEDGER_FUNCTION_POSTGRESQL = """
CREATE FUNCTION ledger_last_stage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE claims SET last_stage = coalesce(NEW.data ->> 'stage', '') WHERE id = NEW.claim_id;
    RETURN NULL;
END
$$
"""
LEDGER_TRIGGER_POSTGRESQL = """
CREATE TRIGGER ledger_last_stage AFTER INSERT ON ledger FOR EACH ROW WHEN (NEW.kind = 'stage')
EXECUTE FUNCTION ledger_last_stage()
"""
BACKFILL = {
    'sqlite': "json_extract(ledger.data, '$.stage')",
    'postgresql': "ledger.data ->> 'stage'",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_stage', sa.String(length=40), nullable=False, server_default=''))
    op.execute(f"""
        UPDATE claims SET last_stage = coalesce((
            SELECT {BACKFILL[dialect]} FROM ledger
            WHERE ledger.claim_id = claims.id AND ledger.kind = 'stage' ORDER BY ledger.id DESC LIMIT 1), '')
        WHERE id IN (SELECT claim_id FROM ledger WHERE kind = 'stage')
    """)
    op.create_index('ix_claims_state_stage_due', 'claims', ['state', 'last_stage', 'due_date', 'id'])
    if dialect == 'postgresql':
        op.execute(LEDGER_FUNCTION_POSTGRESQL)
        op.execute(LEDGER_TRIGGER_POSTGRESQL)
    else:
        op.execute(LEDGER_TRIGGER_SQLITE)


def downgrade() -> None:
    op.execute('DROP TRIGGER IF EXISTS ledger_last_stage' + (' ON ledger' if op.get_bind().dialect.name ==
                                                              'postgresql' else ''))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS ledger_last_stage()')
    op.drop_index('ix_claims_state_stage_due', table_name='claims')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('last_stage')
