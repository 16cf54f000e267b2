"""Alembic environment of the interview store: runs on the connection the store hands over
(no alembic.ini) and keeps its own version table beside the history store's."""

from __future__ import annotations

from alembic import context

from interview.store import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
