"""The exception hierarchy of `compete`: each message says what was wrong and what to do."""

from __future__ import annotations


class CompeteError(Exception):
    """A failure the CLI turns into one red line and exit code 1."""

    exit_code = 1


class UsageError(CompeteError):
    """Bad input from the user (a name, a flag, a file): exit code 2."""

    exit_code = 2


class NotFoundError(CompeteError):
    """A competition, run or file that does not exist."""


class HostError(CompeteError):
    """The Kaggle host (kaggle.com or a practice host) refused or failed a call."""


class AuthError(HostError):
    """Missing or wrong credentials."""


class SubmissionLimitError(HostError):
    """The daily submission limit is reached."""


class CompetitionEndedError(HostError):
    """The competition has ended and accepts no more submissions: a refusal, not a failure."""


class SubmissionScoringError(HostError):
    """The host took the submission but scored it as ERROR."""
