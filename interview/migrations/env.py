"""Alembic environment of the interview store: runs on the connection the store hands over and
keeps its own version table beside the history store's."""

from __future__ import annotations

from interview.store import metadata
from storage import run_migrations

run_migrations(metadata)
