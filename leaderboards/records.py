"""Value objects the history store takes and returns; never ORM rows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime


def parse_score(raw: str | float | None) -> float | None:
    """A score as the host gives it ("0.81234", "", None) as a float, or None when unknown."""
    if raw is None:
        return None
    if isinstance(raw, int | float):
        return None if math.isnan(raw) else float(raw)
    text = str(raw).strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class CompetitionRecord:
    id: int
    name: str
    host: str
    title: str | None
    metric: str | None
    deadline: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class RunRecord:
    id: int
    competition: str
    model: str
    metric: str
    cv_mean: float | None
    cv_std: float | None
    params: dict
    seed: int | None
    device: str | None
    path: str
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class SubmissionRecord:
    id: int
    competition: str
    run_id: int | None
    file_path: str | None
    file_hash: str | None
    file_name: str | None
    message: str
    cv_score: float | None
    remote_ref: str | None
    status: str
    error: str | None
    public_score: float | None
    private_score: float | None
    created_at: datetime
    submitted_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class LeaderboardEntry:
    """One team's line of a leaderboard, as the host served it."""

    team_id: str
    team_name: str
    score_raw: str
    submission_date: datetime | None = None

    @property
    def score(self) -> float | None:
        return parse_score(self.score_raw)


@dataclass(frozen=True)
class RankedEntry:
    rank: int
    team_id: str
    team_name: str
    score: float | None
    score_raw: str
    submission_date: datetime | None


@dataclass(frozen=True)
class SnapshotRecord:
    id: int
    competition: str
    board: str  # "public" | "private"
    taken_at: datetime
    team_count: int
    our_team: str | None
    our_rank: int | None
    content_hash: str
    entries: tuple[RankedEntry, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class RemoteSubmission:
    """A submission as the host lists it."""

    ref: str
    file_name: str
    description: str
    date: datetime | None
    status: str  # PENDING | COMPLETE | ERROR
    error: str | None
    public_score_raw: str
    private_score_raw: str


@dataclass(frozen=True)
class ReconcileResult:
    updated: int
    added: int
    linked: int
    lost: int


@dataclass(frozen=True)
class History:
    competition: CompetitionRecord
    submissions: list[SubmissionRecord]
    snapshots: list[SnapshotRecord]
    runs: list[RunRecord]
