"""Scoring a submission file against a practice competition's hidden solution, and ranking teams
from their scored submissions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compete.practice.state import COMPLETE, ERROR, PracticeCompetition, SubmissionRecord

if TYPE_CHECKING:
    import pandas as pd

USAGE_COLUMN = "Usage"
PUBLIC, PRIVATE = "Public", "Private"


@dataclass(frozen=True)
class ScoreResult:
    """COMPLETE with both scores, or ERROR with a description of what is wrong."""

    status: str
    public_score: float | None = None
    private_score: float | None = None
    error_description: str | None = None

    @classmethod
    def error(cls, *problems: str) -> ScoreResult:
        return cls(status=ERROR, error_description=" ".join(p.strip() for p in problems if p))


class _Invalid(Exception):
    """A submission whose values cannot be scored (out-of-range probabilities, unknown labels)."""


def format_score(score: float | None) -> str:
    return "" if score is None else f"{score:.5f}"


def score_submission(competition: PracticeCompetition, file_path: Path) -> ScoreResult:
    """Validate `file_path` against the sample submission, then score its Public and Private
    rows against the solution. Never raises for a bad file: the result says what is wrong."""
    import pandas as pd

    from pipelines.errors import PipelinesError, SubmissionFormatError
    from pipelines.submission import read_csv_checked, validate_submission

    try:
        submission = read_csv_checked(file_path)
        sample = pd.read_csv(competition.sample_path)
        validate_submission(submission, sample, id_column=competition.id_column)
    except SubmissionFormatError as error:
        return ScoreResult.error(*error.problems)
    solution = pd.read_csv(competition.solution_path)
    try:
        return _score_rows(competition, submission, solution)
    except _Invalid as error:
        return ScoreResult.error(str(error))
    except (PipelinesError, ValueError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return ScoreResult.error(f"The submission could not be scored: {first}")


def _score_rows(
    competition: PracticeCompetition, submission: pd.DataFrame, solution: pd.DataFrame
) -> ScoreResult:
    from pipelines.metrics import get_metric
    from pipelines.submission import id_strings

    metric = get_metric(competition.metric)
    position = {key: i for i, key in enumerate(id_strings(submission[competition.id_column]))}
    order = np.array([position[key] for key in id_strings(solution[competition.id_column])])
    aligned = submission.iloc[order].reset_index(drop=True)
    y_true, y_pred = _metric_inputs(competition, metric, aligned, solution[competition.target])
    usage = solution[USAGE_COLUMN].astype(str).to_numpy()
    scores = {}
    for part in (PUBLIC, PRIVATE):
        rows = usage == part
        scores[part] = float(metric.score(y_true[rows], y_pred[rows]))
        if not np.isfinite(scores[part]):
            raise _Invalid(f"The {part.lower()} score is not a finite number; check the values.")
    return ScoreResult(status=COMPLETE, public_score=scores[PUBLIC], private_score=scores[PRIVATE])


def _metric_inputs(
    competition: PracticeCompetition, metric: Any, submission: pd.DataFrame, truth: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred) as the metric wants them: 0/1 or class codes, probabilities, values."""
    from pipelines.submission import id_strings

    columns = list(competition.prediction_columns)
    if competition.task == "regression":
        pred = submission[columns[0]].to_numpy(dtype=float)
        if metric.name == "rmsle" and (pred < 0).any():
            raise _Invalid(f"Column {columns[0]!r} holds negative values; rmsle needs values >= 0.")
        return truth.to_numpy(dtype=float), pred

    labels = [str(c) for c in competition.classes or ()] if competition.task == "multiclass" else []
    labels = labels or ["0", "1"]
    codes = {label: i for i, label in enumerate(labels)}
    y_true = np.array([codes[v] for v in id_strings(truth)])

    if not metric.needs_proba:
        given = id_strings(submission[columns[0]])
        unknown = sorted({v for v in given if v not in codes})
        if unknown:
            shown = ", ".join(repr(v) for v in unknown[:5])
            raise _Invalid(
                f"Column {columns[0]!r} holds labels that are not classes of this competition: "
                f"{shown}; use one of {', '.join(labels)}."
            )
        return y_true, np.array([codes[v] for v in given])

    proba = submission[columns].to_numpy(dtype=float)
    bad = _out_of_range_rows(proba)
    if len(bad):
        ids = submission[competition.id_column].to_numpy()
        shown = ", ".join(str(ids[r]) for r in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise _Invalid(
            f"Probabilities must lie between 0 and 1; {len(bad)} row(s) do not "
            f"({competition.id_column} {shown}): clip or rescale them."
        )
    if competition.task == "binary":
        return y_true, proba[:, 0]
    sums = proba.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise _Invalid("Every row needs at least one positive class probability; some are all 0.")
    # Kaggle rescales each row to sum to 1 before the log loss.
    return y_true, proba / sums


def _out_of_range_rows(proba: np.ndarray) -> np.ndarray:
    return np.flatnonzero(((proba < 0) | (proba > 1) | ~np.isfinite(proba)).any(axis=1))


# -- ranking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """One team on a leaderboard: its best submission's score and date."""

    rank: int
    team_id: int
    team_name: str
    score: float
    submission_date: Any
    submission_count: int
    usernames: str


def rank_teams(
    submissions: Sequence[SubmissionRecord], *, private: bool, greater_is_better: bool
) -> list[Standing]:
    """Each team's best score (public, or private once the competition has ended), best team
    first; ties go to the earlier submission."""
    best: dict[int, SubmissionRecord] = {}
    counts: dict[int, int] = {}
    for s in submissions:
        counts[s.team_id] = counts.get(s.team_id, 0) + 1
        score = s.private_score if private else s.public_score
        if score is None:
            continue
        current = best.get(s.team_id)
        if current is None:
            best[s.team_id] = s
            continue
        held = current.private_score if private else current.public_score
        if (score > held) if greater_is_better else (score < held):
            best[s.team_id] = s

    def key(s: SubmissionRecord) -> tuple[float, Any, int]:
        score = s.private_score if private else s.public_score
        return (-score if greater_is_better else score, s.date, s.id)

    ordered = sorted(best.values(), key=key)
    return [
        Standing(
            rank=i + 1,
            team_id=s.team_id,
            team_name=s.team_name,
            score=float(s.private_score if private else s.public_score),
            submission_date=s.date,
            submission_count=counts[s.team_id],
            usernames=s.submitted_by or "",
        )
        for i, s in enumerate(ordered)
    ]
