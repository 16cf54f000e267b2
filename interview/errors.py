"""The exception hierarchy of `interview`: each message says what was wrong and what to do."""

from __future__ import annotations


class InterviewError(Exception):
    """Base of every error raised by `interview`."""


class BankError(InterviewError):
    """The item bank's files are missing or break the schema."""
