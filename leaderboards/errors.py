"""The exception hierarchy of `leaderboards`."""

from __future__ import annotations

from storage import IntegrityViolation, StorageError


class StoreError(StorageError):
    """A history-store failure; the message says what to do."""


class StoreConflictError(StoreError, IntegrityViolation):
    """A write broke a constraint of the history store (another writer won the race)."""


class UnknownCompetitionError(StoreError):
    """The store has no competition of that name on that host."""


class InputError(StoreError):
    """The caller's input is at fault (a file that cannot be read, a chart name of the wrong
    kind), not the store: a command line reports it as bad input."""


class ImportFormatError(InputError):
    """A downloaded leaderboard or submissions file that cannot be read; the message names the
    file and what is wrong with it."""


class ChartError(StoreError):
    """Charts cannot be written where asked."""


class ChartNameError(ChartError, InputError):
    """A chart file name that is neither .png nor .html."""
