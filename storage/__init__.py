"""The database layer both stores use: engines from URLs (SQLite by default, PostgreSQL),
checks before writing, migrations under a lock, conflict retries, UTC times, store errors."""

from __future__ import annotations

from storage.database import Database, DatabaseStore
from storage.errors import IntegrityViolation, StorageError
from storage.migrations import run_migrations
from storage.spec import StoreSpec
from storage.timestamps import UTCDateTime, utcnow

__all__ = [
    "Database",
    "DatabaseStore",
    "IntegrityViolation",
    "StorageError",
    "StoreSpec",
    "UTCDateTime",
    "run_migrations",
    "utcnow",
]
