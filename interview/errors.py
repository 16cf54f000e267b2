"""The exception hierarchy of `interview`: each message says what was wrong and what to do."""

from __future__ import annotations


class InterviewError(Exception):
    """Base of every error raised by `interview`."""


class BankError(InterviewError):
    """The item bank's files are missing or break the schema."""


class GradingError(InterviewError):
    """A response cannot be graded (wrong kind of item, broken rubric or response)."""


class SandboxError(GradingError):
    """The code sandbox could not be started on this host (not the candidate's fault)."""


class JudgeError(GradingError):
    """The optional LLM judge failed or answered something unusable."""
