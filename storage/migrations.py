"""Alembic migrations to head, once, under a lock; each store keeps its own version table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

from storage.spec import StoreSpec


def migrate(engine: Engine, spec: StoreSpec) -> None:
    """Upgrade to head; refuse a schema newer than these migrations know."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(spec.migrations))
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes opening an empty database must not both create the tables.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({spec.lock_key})")
        context = MigrationContext.configure(connection, opts={"version_table": spec.version_table})
        current = context.get_current_revision()
        if current == head:
            return
        if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
            shown = engine.url.render_as_string(hide_password=True)
            raise spec.error(
                f"the {spec.name} at {shown} has schema revision {current!r}, newer than this "
                f"compete knows (head {head!r}): upgrade compete, or point {spec.setting} at "
                "another database"
            )
        config.attributes["connection"] = connection
        config.attributes["version_table"] = spec.version_table
        command.upgrade(config, "head")


def run_migrations(metadata: MetaData) -> None:
    """The body of a store's migrations/env.py: run on the connection `migrate` hands over
    (no alembic.ini), recording the revision in the store's own version table."""
    from alembic import context

    attributes: dict[str, Any] = context.config.attributes
    connection = attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=attributes.get("version_table", "alembic_version"),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
