"""Alembic environment: migrates the connection that `Store.migrate` hands over (no alembic.ini needed)."""

from alembic import context
from sqlmodel import SQLModel

import mahnwerk.sync.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
)
with context.begin_transaction():
    context.run_migrations()
