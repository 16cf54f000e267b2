"""The exception hierarchy of `pipelines`."""

from __future__ import annotations


class PipelinesError(Exception):
    """Base of every error raised by `pipelines`; the message says what to do."""


class DataError(PipelinesError):
    """Input that cannot work: data too small for the folds asked for (rows, groups, the
    rarest class), an unknown metric, a malformed submission. The caller's input is at fault,
    not the code, so a command line reports it as bad input."""


class UnknownMetricError(DataError, KeyError):
    """A metric name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SubmissionFormatError(DataError):
    """A submission that does not match sample_submission.csv; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class TuningTerminated(PipelinesError):
    """SIGTERM arrived while tuning: the running trial was recorded as FAIL before stopping."""
