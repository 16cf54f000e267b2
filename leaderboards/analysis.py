"""Pure analysis of a competition's history: CV against public, the noise of a public score,
shake-up after the deadline, which of CV or public predicted private, final-pick advice, medals.
Functions of their inputs only: no database, no files, no clock."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from leaderboards.records import History, RankedEntry, SubmissionRecord

MEDALS = ("gold", "silver", "bronze")


# -- CV against public ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    submission_id: int
    cv: float
    public: float
    residual: float  # public minus what the fit predicts from CV
    public_better_than_predicted: bool


@dataclass(frozen=True)
class CvPublicFit:
    n: int
    pearson: float | None
    spearman: float | None
    slope: float | None
    intercept: float | None
    residual_std: float | None
    disagreements: list[Disagreement] = field(default_factory=list)

    def predict(self, cv: float) -> float | None:
        if self.slope is None or self.intercept is None:
            return None
        return self.slope * cv + self.intercept


def _correlations(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None
    from scipy.stats import pearsonr, spearmanr

    return float(pearsonr(x, y)[0]), float(spearmanr(x, y)[0])


def cv_vs_public(
    submissions: Sequence[SubmissionRecord], *, greater_is_better: bool
) -> CvPublicFit:
    """Correlation of CV and public over the submissions that have both, the line
    public = slope * cv + intercept, and the five submissions furthest from it. The line is
    Theil-Sen (median of pairwise slopes) and the residual std is 1.4826 * MAD: one lucky or
    broken submission must not bend the evidence used to judge the others."""
    rows = [s for s in submissions if s.cv_score is not None and s.public_score is not None]
    cv = np.array([s.cv_score for s in rows], dtype=float)
    public = np.array([s.public_score for s in rows], dtype=float)
    pearson, spearman = _correlations(cv, public)
    if len(rows) < 2 or np.ptp(cv) == 0:
        return CvPublicFit(len(rows), pearson, spearman, None, None, None)
    from scipy.stats import theilslopes

    slope, intercept, _, _ = theilslopes(public, cv)
    residuals = public - (slope * cv + intercept)
    residual_std = None
    if len(rows) > 2:
        residual_std = float(1.4826 * np.median(np.abs(residuals - np.median(residuals))))
    order = np.argsort(-np.abs(residuals))[:5]
    disagreements = [
        Disagreement(
            submission_id=rows[i].id,
            cv=float(cv[i]),
            public=float(public[i]),
            residual=float(residuals[i]),
            public_better_than_predicted=bool((residuals[i] > 0) == greater_is_better),
        )
        for i in order
        if residuals[i] != 0
    ]
    return CvPublicFit(
        len(rows), pearson, spearman, float(slope), float(intercept), residual_std, disagreements
    )


# -- noise of a public score -----------------------------------------------------------------


@dataclass(frozen=True)
class NoiseEstimate:
    mean: float
    std: float
    p05: float
    p95: float
    n_public: int
    n_boot: int


def public_noise(
    y_true: np.ndarray,
    oof: np.ndarray,
    *,
    n_public: int,
    score: Callable[[np.ndarray, np.ndarray], float],
    n_boot: int = 500,
    seed: int = 0,
) -> NoiseEstimate:
    """What a public score on `n_public` rows would look like: score `n_boot` draws of
    `n_public` rows, with replacement, of the out-of-fold predictions."""
    y_true, oof = np.asarray(y_true), np.asarray(oof)
    if n_public < 2 or len(y_true) < 2:
        raise ValueError("public_noise needs at least two rows and n_public >= 2")
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(n_boot):
        rows = rng.integers(0, len(y_true), n_public)
        try:
            scores.append(score(y_true[rows], oof[rows]))
        except ValueError:  # e.g. a draw with one class only, for AUC
            continue
    values = np.array(scores, dtype=float)
    return NoiseEstimate(
        mean=float(values.mean()),
        std=float(values.std(ddof=1)),
        p05=float(np.percentile(values, 5)),
        p95=float(np.percentile(values, 95)),
        n_public=n_public,
        n_boot=len(values),
    )


def gain_is_noise(gain: float, noise: NoiseEstimate) -> float:
    """The probability that two equally good submissions differ on the public board by at
    least |gain|. Assumes the two public scores are independent and normal with the bootstrap
    std, so their difference has std sqrt(2) * std (the same rows score both, so this is an
    upper bound on the noise: a cautious reading)."""
    spread = math.sqrt(2) * noise.std
    if spread == 0:
        return 1.0 if gain == 0 else 0.0
    return 2 * (1 - NormalDist().cdf(abs(gain) / spread))


# -- after the deadline ------------------------------------------------------------------------


@dataclass(frozen=True)
class RankMove:
    team: str
    public_rank: int
    private_rank: int

    @property
    def change(self) -> int:
        """Places gained (positive) or lost (negative) from public to private."""
        return self.public_rank - self.private_rank


@dataclass(frozen=True)
class Shakeup:
    matched: int
    spearman: float | None
    mean_abs_change: float | None
    risers: list[RankMove]
    fallers: list[RankMove]
    ours: RankMove | None


def shakeup(
    public: Sequence[RankedEntry], private: Sequence[RankedEntry], *, our_team: str | None
) -> Shakeup:
    """Public-to-private rank changes across the board, matching teams by id (else name)."""
    by_id = {e.team_id: e for e in private}
    by_name = {e.team_name: e for e in private}
    moves = []
    for entry in public:
        other = by_id.get(entry.team_id) or by_name.get(entry.team_name)
        if other is not None:
            moves.append(RankMove(entry.team_name, entry.rank, other.rank))
    if not moves:
        return Shakeup(0, None, None, [], [], None)
    pub = np.array([m.public_rank for m in moves], dtype=float)
    priv = np.array([m.private_rank for m in moves], dtype=float)
    _, spearman = _correlations(pub, priv)
    if spearman is None and len(moves) >= 3 and np.array_equal(pub, priv):
        spearman = 1.0
    ranked = sorted(moves, key=lambda m: m.change)
    ours = None
    if our_team:
        ours = next((m for m in moves if m.team.casefold() == our_team.casefold()), None)
    return Shakeup(
        matched=len(moves),
        spearman=spearman,
        mean_abs_change=float(np.mean(np.abs(pub - priv))),
        risers=[m for m in reversed(ranked) if m.change > 0][:5],
        fallers=[m for m in ranked if m.change < 0][:5],
        ours=ours,
    )


@dataclass(frozen=True)
class PrivatePrediction:
    n: int
    cv_spearman: float | None
    public_spearman: float | None
    verdict: str  # "cv" | "public" | "tie" | "not enough data"


def cv_predicts_private(
    submissions: Sequence[SubmissionRecord], *, greater_is_better: bool
) -> PrivatePrediction:
    """Did CV or the public board order our submissions more like the private board did?"""
    rows = [s for s in submissions if None not in (s.cv_score, s.public_score, s.private_score)]
    if len(rows) < 3:
        return PrivatePrediction(len(rows), None, None, "not enough data")
    private = np.array([s.private_score for s in rows], dtype=float)
    _, by_cv = _correlations(np.array([s.cv_score for s in rows], dtype=float), private)
    _, by_public = _correlations(np.array([s.public_score for s in rows], dtype=float), private)
    if by_cv is None or by_public is None:
        return PrivatePrediction(len(rows), by_cv, by_public, "not enough data")
    verdict = "tie" if math.isclose(by_cv, by_public) else ("cv" if by_cv > by_public else "public")
    return PrivatePrediction(len(rows), by_cv, by_public, verdict)


# -- final picks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    submission_id: int
    message: str
    cv: float | None
    public: float
    expected_private: float
    role: str  # "trusts CV" | "hedge"


@dataclass(frozen=True)
class FinalPicks:
    picks: list[Pick]
    reasoning: list[str]


def final_picks(
    submissions: Sequence[SubmissionRecord],
    *,
    greater_is_better: bool,
    noise_std: float | None,
    fit: CvPublicFit | None = None,
) -> FinalPicks:
    """Two final submissions. Model: public = skill + public noise (variance noise_std**2), and
    the CV-vs-public line predicts skill from CV with variance v_cv. The residuals of that line
    carry both, so v_cv = residual variance - noise_std**2, floored at noise_std**2 / 10 (CV is
    trusted at most ten times more than public). Each candidate's expected private score is the
    inverse-variance mean of the line's prediction and its public score; without a noise
    estimate or a fit, the two count equally.
    Pick 1 is the best expected score; pick 2 hedges with the best public score among the rest
    when pick 1 is not it, else with the best CV among the rest."""
    sign = 1.0 if greater_is_better else -1.0
    candidates = [s for s in submissions if s.public_score is not None and s.status == "complete"]
    if not candidates:
        return FinalPicks([], ["no scored submission yet: submit, then run `compete sync`"])
    fit_std = fit.residual_std if fit is not None else None
    public_var = noise_std**2 if noise_std else None
    cv_var = None
    if public_var and fit_std is not None:
        cv_var = max(fit_std**2 - public_var, public_var / 10)

    def expected(s: SubmissionRecord) -> float:
        if s.cv_score is None:
            return float(s.public_score)
        predicted = (fit.predict(s.cv_score) if fit is not None else None) or s.cv_score
        if not public_var or not cv_var:
            return (predicted + s.public_score) / 2
        w_cv, w_public = 1 / cv_var, 1 / public_var
        return (w_cv * predicted + w_public * s.public_score) / (w_cv + w_public)

    scored = sorted(candidates, key=lambda s: -sign * expected(s))
    first = scored[0]
    rest = scored[1:]
    picks = [Pick(first.id, first.message, first.cv_score, first.public_score, expected(first),
                  "trusts CV")]  # fmt: skip
    reasoning = [
        f"#{first.id} has the best expected private score ({expected(first):.5f}) from its "
        f"CV {_num(first.cv_score)} and public {first.public_score:.5f}"
        + (f", weighing public noise (std {noise_std:.5f})" if noise_std else "")
        + "."
    ]
    best_public = max(candidates, key=lambda s: sign * s.public_score)
    if rest:
        if best_public.id != first.id:
            second = best_public
            gap = abs(best_public.public_score - first.public_score)
            why = f"#{second.id} has the best public score ({second.public_score:.5f}), "
            if noise_std:
                chance = 2 * (1 - NormalDist().cdf(gap / (math.sqrt(2) * noise_std)))
                why += (
                    f"{gap:.5f} above #{first.id}; a gap that large comes from noise alone "
                    f"with probability {chance:.0%}, so it hedges in case public is right."
                )
            else:
                why += "so it hedges in case the public board is right."
        else:
            with_cv = [s for s in rest if s.cv_score is not None]
            pool = with_cv or rest
            second = max(pool, key=lambda s: sign * (s.cv_score if s.cv_score is not None
                                                    else s.public_score))  # fmt: skip
            why = (
                f"#{first.id} is also the best public score, so #{second.id} hedges with the "
                f"best remaining CV ({_num(second.cv_score)})."
            )
        picks.append(Pick(second.id, second.message, second.cv_score, second.public_score,
                          expected(second), "hedge"))  # fmt: skip
        reasoning.append(why)
    else:
        reasoning.append("only one scored submission: it is both picks.")
    return FinalPicks(picks, reasoning)


def _num(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.5f}"


# -- standing ----------------------------------------------------------------------------------


def percentile(rank: int, team_count: int) -> float:
    """Where a rank stands, in percent of the board from the top: 100 * rank / team_count
    (rank 1 of 200 is 0.5: the top 0.5%)."""
    if team_count <= 0 or rank < 1:
        raise ValueError("percentile needs rank >= 1 and team_count >= 1")
    return 100.0 * rank / team_count


def medal(rank: int, team_count: int) -> str | None:
    """The medal a final private rank earns under Kaggle's competition progression rules:

    | teams    | gold              | silver   | bronze   |
    | 0-99     | top 10%           | top 20%  | top 40%  |
    | 100-249  | top 10            | top 20%  | top 40%  |
    | 250-999  | top 10 + 0.2% * N | top 50   | top 100  |
    | 1000+    | top 10 + 0.2% * N | top 5%   | top 10%  |
    """
    if team_count <= 0 or rank < 1 or rank > team_count:
        return None
    n = team_count
    if n < 100:
        cuts = (0.1 * n, 0.2 * n, 0.4 * n)
    elif n < 250:
        cuts = (10, 0.2 * n, 0.4 * n)
    elif n < 1000:
        cuts = (10 + 0.002 * n, 50, 100)
    else:
        cuts = (10 + 0.002 * n, 0.05 * n, 0.1 * n)
    for name, cut in zip(MEDALS, cuts, strict=True):
        if rank <= math.floor(cut):
            return name
    return None


@dataclass(frozen=True)
class Standing:
    competition: str
    host: str
    board: str | None  # the board of the newest snapshot: "private" once the deadline passed
    rank: int | None
    team_count: int | None
    percentile: float | None
    medal: str | None  # only for a private (final) rank
    best_score: float | None  # our best private score, else best public


def standings(
    histories: Iterable[History], *, greater_is_better: Callable[[str | None], bool]
) -> list[Standing]:
    """Where we stand in each competition: the newest private snapshot when there is one
    (the final result), else the newest public one. `greater_is_better(metric)` says which
    way a competition's metric points."""
    rows = []
    for history in histories:
        snapshots = [s for s in history.snapshots if s.our_rank]
        private = [s for s in snapshots if s.board == "private"]
        newest = (private or snapshots or [None])[-1]
        scores = [s.private_score for s in history.submissions if s.private_score is not None]
        scores = scores or [
            s.public_score for s in history.submissions if s.public_score is not None
        ]
        rank = newest.our_rank if newest else None
        count = newest.team_count if newest else None
        best = None
        if scores:
            higher = greater_is_better(history.competition.metric)
            best = max(scores) if higher else min(scores)
        rows.append(
            Standing(
                competition=history.competition.name,
                host=history.competition.host,
                board=newest.board if newest else None,
                rank=rank,
                team_count=count,
                percentile=percentile(rank, count) if rank and count else None,
                medal=medal(rank, count) if newest and newest.board == "private" else None,
                best_score=best,
            )
        )
    return rows
