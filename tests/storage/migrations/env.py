"""Alembic environment of the contract suite's small store."""

from __future__ import annotations

from sqlalchemy import MetaData

from storage import run_migrations

run_migrations(MetaData())
