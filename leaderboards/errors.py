"""The exception hierarchy of `leaderboards`."""

from __future__ import annotations


class StoreError(Exception):
    """A history-store failure; the message says what to do."""


class UnknownCompetitionError(StoreError):
    """The store has no competition of that name on that host."""
