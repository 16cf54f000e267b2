"""Item calibration: refit 2PL parameters per topic from stored responses with girth's
marginal maximum likelihood; items with too few responses keep their priors."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from interview.bank import IRT, Bank
from interview.store import CalibrationRecord, InterviewStore, ResponseRecord, first_answers

# Fitted values are clipped into the bank schema's range (a in (0, 4], b in [-4, 4]): an item
# everyone passes has no finite MML difficulty.
A_RANGE = (0.2, 4.0)
B_RANGE = (-4.0, 4.0)


@dataclass(frozen=True)
class ItemCalibration:
    """One item's parameters after a calibration run, next to its prior."""

    item_id: str
    topic: str
    a: float
    b: float
    prior_a: float
    prior_b: float
    n_responses: int
    calibrated: bool


@dataclass(frozen=True)
class CalibrationReport:
    items: tuple[ItemCalibration, ...]
    min_responses: int
    n_responses: int
    fitted_at: datetime

    @property
    def fitted(self) -> int:
        return sum(i.calibrated for i in self.items)

    @property
    def kept(self) -> int:
        return len(self.items) - self.fitted


def current_parameters(bank: Bank, store: InterviewStore) -> dict[str, IRT]:
    """Every item's parameters: stored calibrations where present, otherwise the bank's."""
    fitted = store.calibrations()
    found: dict[str, IRT] = {}
    for item_id, item in bank.items.items():
        if item_id in fitted:
            row = fitted[item_id]
            found[item_id] = IRT(a=row.a, b=row.b, calibrated=True)
        else:
            found[item_id] = item.parameters
    return found


def fit_2pl(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Discrimination and difficulty of each row of an [items x people] matrix of 0/1
    answers (NaN where a person did not see the item), by girth's 2PL MML."""
    from girth import twopl_mml
    from girth.utilities import INVALID_RESPONSE

    data = np.where(np.isnan(matrix), INVALID_RESPONSE, matrix).astype(int)
    result = twopl_mml(data)
    a = np.clip(np.asarray(result["Discrimination"], dtype=float), *A_RANGE)
    b = np.clip(np.atleast_1d(np.asarray(result["Difficulty"], dtype=float)), *B_RANGE)
    return a, b


def calibrate(
    store: InterviewStore,
    bank: Bank,
    *,
    min_responses: int = 30,
    now: datetime | None = None,
) -> CalibrationReport:
    """Fit each topic's items that have at least `min_responses` stored answers (a person
    is a session; answers are dichotomised at the item's pass mark) and store their (a, b);
    the others keep their priors. A topic needs two such items to be fitted. Only a person's
    first answer to an item counts: a later one follows its feedback (the model answer, the
    right option), so it would make the item look easier than it is."""
    now = now or datetime.now(UTC)
    answers = [
        r
        for r in first_answers(store.all_responses(), store.session_users())
        if r.item_id in bank.items
    ]
    counts = defaultdict(int)
    for r in answers:
        counts[r.item_id] += 1
    results: list[ItemCalibration] = []
    records: list[CalibrationRecord] = []
    for topic in bank.topics:
        items = bank.by_topic(topic)
        enough = [i.id for i in items if counts[i.id] >= min_responses]
        fitted: dict[str, tuple[float, float]] = {}
        if len(enough) >= 2:
            a, b = fit_2pl(_matrix(answers, enough, bank))
            fitted = {item_id: (float(a[k]), float(b[k])) for k, item_id in enumerate(enough)}
        for item in items:
            prior = item.parameters
            a_i, b_i = fitted.get(item.id, (prior.a, prior.b))
            results.append(
                ItemCalibration(
                    item_id=item.id,
                    topic=topic,
                    a=a_i,
                    b=b_i,
                    prior_a=prior.a,
                    prior_b=prior.b,
                    n_responses=counts[item.id],
                    calibrated=item.id in fitted,
                )
            )
            if item.id in fitted:
                records.append(CalibrationRecord(item.id, a_i, b_i, counts[item.id], now))
    store.save_calibrations(records)
    return CalibrationReport(
        items=tuple(results),
        min_responses=min_responses,
        n_responses=len(answers),
        fitted_at=now,
    )


def _matrix(answers: Sequence[ResponseRecord], item_ids: Sequence[str], bank: Bank) -> np.ndarray:
    """[items x sessions] of 0/1 (score at or above the pass mark), NaN where unseen; a
    session that saw an item twice keeps its last answer."""
    rows = {item_id: k for k, item_id in enumerate(item_ids)}
    sessions = sorted({r.session_id for r in answers if r.item_id in rows})
    columns = {s: k for k, s in enumerate(sessions)}
    matrix = np.full((len(item_ids), len(sessions)), np.nan)
    for r in answers:
        if r.item_id in rows:
            passed = r.score >= bank.items[r.item_id].pass_mark
            matrix[rows[r.item_id], columns[r.session_id]] = float(passed)
    return matrix
