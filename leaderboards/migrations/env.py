"""Alembic environment of the history store: runs on the connection the store hands over."""

from __future__ import annotations

from leaderboards.models import Base
from storage import run_migrations

run_migrations(Base.metadata)
