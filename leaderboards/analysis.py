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
    residuals: dict[int, float] = field(default_factory=dict)  # submission id -> residual

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
        if abs(residuals[i]) > 1e-12  # a point on the line disagrees with nothing
    ]
    return CvPublicFit(
        len(rows),
        pearson,
        spearman,
        float(slope),
        float(intercept),
        residual_std,
        disagreements,
        residuals={row.id: float(r) for row, r in zip(rows, residuals, strict=True)},
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
    `n_public` rows, with replacement, of the out-of-fold predictions (`oof` of shape (n,) or
    (n, k)). The std of those scores is the noise of one public score; draws the metric cannot
    score (one class only, for AUC) are skipped, so `n_boot` says how many counted."""
    y_true, oof = np.asarray(y_true), np.asarray(oof)
    if n_public < 2 or len(y_true) < 2:
        raise ValueError("public_noise needs at least two rows and n_public >= 2")
    if len(oof) != len(y_true):
        raise ValueError(
            f"public_noise needs one prediction per row: {len(y_true)} targets, {len(oof)} "
            "out-of-fold predictions (was the run made on other data?)"
        )
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(n_boot):
        rows = rng.integers(0, len(y_true), n_public)
        try:
            value = float(score(y_true[rows], oof[rows]))
        except ValueError:  # e.g. a draw with one class only, for AUC
            continue
        if math.isfinite(value):  # newer scikit-learn answers such a draw with NaN
            scores.append(value)
    values = np.array(scores, dtype=float)
    if len(values) < 2:
        raise ValueError(
            f"public_noise could score only {len(values)} of {n_boot} draws of {n_public} rows: "
            "the metric needs more varied targets, or a larger n_public"
        )
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
    return _noise_probability(gain, noise.std)


# -- after the deadline ------------------------------------------------------------------------


@dataclass(frozen=True)
class RankMove:
    team: str
    public_rank: int
    private_rank: int
    team_id: str = ""

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
    """Public-to-private rank changes across the board, matching teams by id (else, for a
    board without ids, by name); each private entry is matched at most once. `our_team` is
    our team's id or name (case does not matter). Spearman is over the matched teams' ranks;
    a change is public rank minus private rank, so a riser's change is positive."""
    by_id = {e.team_id: e for e in private if e.team_id}
    by_name = {e.team_name: e for e in private if e.team_name}
    moves = []
    used: set[int] = set()
    for entry in public:
        other = by_id.get(entry.team_id) if entry.team_id else None
        if other is None:
            other = by_name.get(entry.team_name)
        if other is not None and id(other) not in used:
            used.add(id(other))
            moves.append(RankMove(entry.team_name, entry.rank, other.rank, entry.team_id))
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
        wanted = our_team.casefold()
        ours = next((m for m in moves if wanted in (m.team.casefold(), m.team_id.casefold())), None)
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
    cv_weight: float | None = None  # w in expected = w * CV's prediction + (1 - w) * public
    noise_std: float | None = None  # the public noise std used: given, or estimated
    noise_source: str | None = None  # "bootstrap" | "residuals" | None


def final_picks(
    submissions: Sequence[SubmissionRecord],
    *,
    greater_is_better: bool,
    noise_std: float | None,
    fit: CvPublicFit | None = None,
) -> FinalPicks:
    """Two final submissions, chosen on each complete submission's expected private score.

    Model: public = skill + public noise, with variance v_pub; CV, through the CV-vs-public
    line (`fit`, computed here when not given), predicts skill with variance v_cv. Then

        expected = w * fit.predict(cv) + (1 - w) * public,   w = v_pub / (v_pub + v_cv)

    which is the inverse-variance mean of the two. The line's residuals carry both errors
    (residual_std**2 = v_cv + v_pub), so:
    - with a bootstrap `noise_std`: v_pub = noise_std**2 and v_cv = residual_std**2 - v_pub,
      floored at v_pub / 10 (CV is trusted at most ten times more than public);
    - without one: the residual variance is split equally, v_pub = v_cv = residual_std**2 / 2
      (so w = 1/2 and the noise std is estimated as residual_std / sqrt 2);
    - without a residual std (fewer than three points): w = 1/2 and CV counts as its own
      prediction when there is no line.
    A submission without CV is expected to score its public score.

    Pick 1 ("trusts CV") is the best expected score; pick 2 ("hedge") is the best public score
    among the rest when pick 1 is not the best public, else the best CV among the rest.
    `reasoning` says why, in sentences that name the numbers."""
    sign = 1.0 if greater_is_better else -1.0
    candidates = [s for s in submissions if s.public_score is not None and s.status == "complete"]
    if not candidates:
        return FinalPicks([], ["no scored submission yet: submit, then run `compete sync`"])
    if fit is None:
        fit = cv_vs_public(submissions, greater_is_better=greater_is_better)
    w, noise, source, weighing = _cv_weight(fit, noise_std)

    def predicted(s: SubmissionRecord) -> float | None:
        if s.cv_score is None:
            return None
        line = fit.predict(s.cv_score)
        return s.cv_score if line is None else line

    def expected(s: SubmissionRecord) -> float:
        from_cv = predicted(s)
        if from_cv is None:
            return float(s.public_score)
        return w * from_cv + (1 - w) * s.public_score

    def pick(s: SubmissionRecord, role: str) -> Pick:
        return Pick(s.id, s.message, s.cv_score, s.public_score, expected(s), role)

    # Ties go to the earlier submission: sorted() is stable and candidates keep store order.
    first = sorted(candidates, key=lambda s: -sign * expected(s))[0]
    rest = [s for s in candidates if s.id != first.id]
    with_cv = [s for s in candidates if s.cv_score is not None]
    best_cv = max(with_cv, key=lambda s: sign * s.cv_score) if with_cv else None
    best_public = max(candidates, key=lambda s: sign * s.public_score)

    reasoning = [weighing]
    what = "the best CV" if best_cv is not None and best_cv.id == first.id else "CV"
    lead = f"#{first.id} has the best expected private score ({expected(first):.5f})"
    from_cv = predicted(first)
    if from_cv is None:
        reasoning.append(f"{lead}; it has no CV, so its public {first.public_score:.5f} is all "
                         "the evidence there is.")  # fmt: skip
    else:
        lead += f" and {what} ({first.cv_score:.5f})"
        gap = first.public_score - from_cv
        if noise is None:
            reasoning.append(f"{lead}; its public {first.public_score:.5f} against "
                             f"{from_cv:.5f} predicted from CV.")  # fmt: skip
        elif abs(gap) <= noise:
            reasoning.append(
                f"{lead}; its public {first.public_score:.5f} is within one noise std "
                f"({noise:.5f}) of what CV predicts ({from_cv:.5f}), so its public rank is not "
                "evidence against it."
            )
        else:
            better = sign * gap > 0
            reasoning.append(
                f"{lead}; its public {first.public_score:.5f} is {abs(gap) / noise:.1f} noise "
                f"stds ({noise:.5f}) {'better' if better else 'worse'} than CV predicts "
                f"({from_cv:.5f})"
                + (", so part of that public score is likely luck." if better else
                   ", which counts against it but not enough to lose the lead.")
            )  # fmt: skip
    picks = [pick(first, "trusts CV")]
    if not rest:
        reasoning.append("only one scored submission: it is both picks.")
        return FinalPicks(picks, reasoning, w, noise, source)
    if best_public.id != first.id:
        second = best_public
        gap = abs(second.public_score - first.public_score)
        why = f"#{second.id} has the best public score ({second.public_score:.5f}), {gap:.5f} "
        why += f"better than #{first.id}'s public {first.public_score:.5f}"
        if noise:
            chance = _noise_probability(gap, noise)
            shown = "below 1%" if chance < 0.01 else f"{chance:.0%}"
            why += f"; a gap that large comes from noise alone with probability {shown}, "
            why += (
                "so the public rows see a real difference; it hedges in case that carries to "
                "the private rows." if chance < 0.05 else
                "so it may be luck; it hedges in case the public board is right."
            )  # fmt: skip
        else:
            why += ", so it hedges in case the public board is right."
    else:
        rest_cv = [s for s in rest if s.cv_score is not None]
        if rest_cv:
            second = max(rest_cv, key=lambda s: sign * s.cv_score)
            why = (f"#{first.id} is also the best public score, so #{second.id} hedges with "
                   f"the best remaining CV ({second.cv_score:.5f}).")  # fmt: skip
        else:
            second = max(rest, key=lambda s: sign * s.public_score)
            why = (f"#{first.id} is also the best public score and no other submission has a "
                   f"CV, so #{second.id} hedges with the next public score "
                   f"({second.public_score:.5f}).")  # fmt: skip
    picks.append(pick(second, "hedge"))
    reasoning.append(why)
    return FinalPicks(picks, reasoning, w, noise, source)


def _cv_weight(
    fit: CvPublicFit, noise_std: float | None
) -> tuple[float, float | None, str | None, str]:
    """The weight on CV's prediction, the public noise std used, where it came from, and a
    sentence saying so (the formulas are in `final_picks`)."""
    residual_std = fit.residual_std
    if noise_std and residual_std is not None:
        public_var = noise_std**2
        cv_var = max(residual_std**2 - public_var, public_var / 10)
        w = public_var / (public_var + cv_var)
        return w, noise_std, "bootstrap", (
            f"Expected private = {w:.2f} x what CV predicts + {1 - w:.2f} x public: public "
            f"scores carry noise of std {noise_std:.5f} and CV misses public by "
            f"{residual_std:.5f} (robust std over {fit.n} submissions), which leaves CV an "
            f"error of about {math.sqrt(cv_var):.5f}"
            + (" (the floor: CV counts at most ten times more than public)."
               if cv_var == public_var / 10 else ".")
        )  # fmt: skip
    if noise_std:
        return 0.5, noise_std, "bootstrap", (
            f"Public scores carry noise of std {noise_std:.5f}, but too few submissions have "
            "both CV and public to measure CV's error, so CV and public count equally."
        )  # fmt: skip
    if residual_std:
        noise = residual_std / math.sqrt(2)
        return 0.5, noise, "residuals", (
            f"No bootstrap noise estimate: CV misses public by {residual_std:.5f} (robust std "
            f"over {fit.n} submissions), split equally between CV error and public noise "
            f"(std {noise:.5f} each), so CV and public count equally."
        )  # fmt: skip
    return (
        0.5,
        None,
        None,
        (
            "Too few submissions with both CV and public to weigh one against the other: they "
            "count equally."
        ),
    )


def _noise_probability(gain: float, std: float) -> float:
    """P(|A - B| >= |gain|) for two public scores with independent N(., std**2) noise."""
    spread = math.sqrt(2) * std
    if spread == 0:
        return 1.0 if gain == 0 else 0.0
    return 2 * (1 - NormalDist().cdf(abs(gain) / spread))


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


@dataclass(frozen=True)
class PublicGain:
    submission_id: int
    gain: float  # over the best public score before it, in the metric's better direction
    p_noise: float | None  # how likely a gain this large is noise alone (None: no estimate)


def public_gains(
    submissions: Sequence[SubmissionRecord],
    *,
    greater_is_better: bool,
    noise: NoiseEstimate | None,
) -> list[PublicGain]:
    """For each scored submission after the first, in time order: how much it moved the best
    public score so far (negative when it did worse), and how likely that move is noise."""
    sign = 1.0 if greater_is_better else -1.0
    best: float | None = None
    gains = []
    for s in sorted(submissions, key=lambda s: (s.submitted_at or s.created_at, s.id)):
        if s.public_score is None:
            continue
        if best is not None:
            gain = sign * (s.public_score - best)
            p_noise = gain_is_noise(gain, noise) if noise is not None else None
            gains.append(PublicGain(s.id, gain, p_noise))
            best = best if gain <= 0 else s.public_score
        else:
            best = s.public_score
    return gains
