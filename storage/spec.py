"""What a store tells the database layer about itself: names for messages, errors, migrations."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from storage.errors import IntegrityViolation, StorageError


@dataclass(frozen=True)
class StoreSpec:
    """One store's identity; every message the layer raises names the store and its setting."""

    name: str  # "history store": how messages call it
    setting: str  # "COMPETE_DATABASE_URL": where the user points it elsewhere
    error: type[StorageError]  # raised for every failure ...
    conflict: type[IntegrityViolation]  # ... and this one for a broken constraint
    migrations: Path  # an Alembic script folder whose env.py calls `storage.run_migrations`
    version_table: str = "alembic_version"  # its own, so two stores can share one database
    rebuild: str = "start it afresh"  # what moving a damaged file aside lets the user do

    def __post_init__(self) -> None:
        if not issubclass(self.conflict, self.error):
            raise TypeError(f"{self.conflict.__name__} must subclass {self.error.__name__}")

    @property
    def lock_key(self) -> int:
        """PostgreSQL advisory-lock key for migrations, one per version table."""
        return zlib.crc32(f"compete:{self.version_table}".encode())
