"""The exception hierarchy of `storage`; each store raises its own subclasses of these."""

from __future__ import annotations


class StorageError(Exception):
    """A database failure; the message names the store and says what to do."""


class IntegrityViolation(StorageError):
    """A write broke a constraint (usually: a concurrent writer stored the same row first)."""
