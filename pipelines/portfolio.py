"""The portfolio: the best ensemble a time budget can buy from the registered model families.

The schedule, all on the competition's shared folds and inside one Deadline:

1. defaults: each family's defaults cross-validated, the first in PRIORITY order (strong
   and cheap), then the cheapest expected first. The first family gets the time it needs;
   each later one at most STEP_SHARE of what is left, and is not started when its expected
   time (measured, or the first member's time scaled by PRIOR_COST) exceeds that. Its first
   fold is the probe: when that fold is cut, or says the whole CV would not fit, or (the CV
   costing more than NO_GAIN_SHARE of the time left) its predictions earn no weight in a
   hill climb with the members' on that fold (it would add nothing to the ensemble), the
   family stops there (the fill may still run it). A family that cannot be imported, does
   not fit the task or fails is skipped with a note. A family with a `GATES` entry (the
   hybrid) runs after its rival and only when its probe on the first fold beats the rival's
   first fold;
2. tuning: Optuna (pipelines.tuning.tune) on the leading families, when the time left buys
   at least MIN_TRIALS trials;
3. level 2 (as AutoGluon's stack layer): LightGBM on the features and each family's best
   member's OOF predictions, on the same folds, in time kept back for it once LightGBM's
   defaults were measured (LEVEL2_COST times their CV, at most LEVEL2_SHARE of the time
   left); it joins the members, and what it did not use goes on to the seeds;
4. seeds: another seed of each family's best member, same folds, its OOF and test
   predictions averaged into the member (bagging), while time remains: next the member whose
   seed is expected to gain most per second, w^2 / (n (n + 1) cost) with w its weight in a
   hill climb over the members so far and n its seeds (the variance a seed takes out of the
   ensemble), members without weight last; a seed is planned on that member's own measured
   cost, and one cut at its deadline is not averaged in; time still left (FILL_SHARE of the
   budget) goes to the skipped families expected to cost least, one after another, cut at
   the deadline if they must be;
5. ensemble: hill climbing (pipelines.blend) over every member's OOF predictions, and a
   linear stacker cross-validated on the same folds, used only when its OOF score is better.

Every step gets a Deadline carved out of the overall one, so it is cut cleanly keeping what it
has; all time is read from the deadline's clock, so a scripted clock replays a schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError
from pipelines.metrics import Metric, get_metric
from pipelines.models import FoldData, family_names, get_family
from pipelines.result import CVResult, as_metric_input
from pipelines.targets import from_fit_space, to_fit_space

if TYPE_CHECKING:
    from pipelines.blend import BlendResult
    from pipelines.features import Prepared

__all__ = [
    "GATES",
    "MIN_BUDGET",
    "Ensemble",
    "Member",
    "PortfolioResult",
    "Stacked",
    "Step",
    "candidate_families",
    "ensemble",
    "run_portfolio",
    "stack",
]

# The shortest wall budget (seconds) of a whole portfolio `compete train` on a small table:
# start-up and data, the probes, one full CV, the ensemble and the submission.
MIN_BUDGET = 30.0
# Share of the whole budget kept back for the ensemble (hill climbing and the stacker).
ENSEMBLE_SHARE, ENSEMBLE_MIN = 0.04, 1.0
# The order families' defaults run in: strong and cheap first (on small and medium tables
# the boosted trees lead and cost seconds; the networks cost ten times more). The linear
# model comes second: it costs about what LightGBM does and errs unlike any tree (on churn it
# beats every tree alone). Families not named here run after these, in the order given.
PRIORITY = (
    "lgbm", "linear", "catboost", "xgb_td", "lgbm_td", "extra_trees", "realmlp", "nn", "hybrid"
)  # fmt: skip
# A full CV's cost relative to LightGBM's defaults (2 CPU cores): before a family has run,
# its time is guessed from the first member's by these. Measured on the nine tables of
# benchmarks.quality at 300 s, LightGBM with one thread (pipelines.threads), the ratio's
# range and median over the tables: catboost 3.6-20 (10), xgb_td 1.4-25 (3.8), lgbm_td
# 1.5-8 (2.9), nn 5-100 (27), realmlp 10-400 (25), hybrid 30-46 (31); extra_trees 3-37
# (13) on five of them, linear 0.1-2 (1) on nine; a little below the median, so that a
# family is rather probed than skipped on a guess.
PRIOR_COST = {"lgbm": 1.0, "catboost": 8.0, "xgb_td": 3.0, "lgbm_td": 2.5, "realmlp": 20.0,
              "nn": 20.0, "hybrid": 25.0, "extra_trees": 10.0, "linear": 1.0}  # fmt: skip
# After the first family, one family's defaults may take at most this share of the time left
# (the cheapest expected runs first, so a costly one takes only what the cheaper ones left).
STEP_SHARE = 0.9
# A family that sizes its fit to the deadline it is given (`fills_deadline`: RealMLP plans its
# epochs to end there) would take STEP_SHARE of a long budget for little gain. On diamonds
# price its defaults gave CV 538.8 with 32 epochs in 137 s (300 s budget) and 537.2 with 167
# epochs in 635 s (900 s), and the 635 s left CatBoost untuned. Its defaults step takes at most
# SIZED_SHARE of the whole budget, never less than SIZED_MIN seconds: the 60 s and 300 s
# schedules (RealMLP given ~160 s there) stay as they were.
SIZED_SHARE, SIZED_MIN = 0.35, 180.0
# Time left after the seeds, when at least this share of the budget (and FILL_MIN seconds),
# goes to a skipped family, cut at the deadline (run_fill).
FILL_SHARE, FILL_MIN, FILL_SLACK = 0.15, 10.0, 0.1
# A full CV is estimated as the first fold's time times the fold count, times this margin
# (the data and fold sizes vary a little); a seed step is given its estimate times STEP_SLACK.
ESTIMATE_MARGIN, STEP_SLACK = 1.1, 1.5
# A family's defaults stop after their first fold when it earns no weight beside the members
# on that fold, if their whole CV would take more than this share of the time left.
NO_GAIN_SHARE = 0.15
# Tuning: the leading families tuned, the least trials worth a study, the share of the time
# left that tuning may take (the rest goes to seeds), and a trial's cost against a default
# CV's (sampled settings, such as a low learning rate, take longer).
TUNE_LEADERS, MIN_TRIALS, TUNE_FRACTION, TRIAL_COST = 2, 4, 0.6, 1.3
# A step that ends with less than this share of its time left was cut at its deadline.
CUT_SHARE = 0.02
# Seeds averaged into one member at most (more reduce the variance little).
MAX_SEEDS = 5
# The level-2 model (as AutoGluon's stack layer): LightGBM on the features and the level-1
# members' out-of-fold predictions, on the same folds. Its time is kept back as soon as
# LightGBM's defaults have been measured: their CV's seconds times LEVEL2_COST, at most
# LEVEL2_SHARE of the time left (cut at its deadline, it keeps its trees so far); it runs
# after tuning, and the seeds and the fill get what it did not use. The members' predictions
# make it converge in fewer trees than level 1 (diamonds cut: 0.3x LightGBM's CV; price 0.4x).
LEVEL2_FAMILY, LEVEL2_COST, LEVEL2_SHARE, LEVEL2_MIN = "lgbm", 1.0, 0.3, 1.0
# family -> (its member that must win, the family it must beat): the hybrid earns its place
# only when LightGBM on the network's embeddings beats plain LightGBM on the probe fold.
GATES = {"hybrid": ("lgbm_emb", "lgbm")}


@dataclass(frozen=True)
class Step:
    """Progress: the member that runs, its CV so far (None before its first fold), and the
    seconds left of the whole deadline."""

    phase: str  # probe, defaults, tune, seed, ensemble
    member: str
    score: float | None
    remaining: float


@dataclass(frozen=True)
class Member:
    """One member of the ensemble: a family's settings, cross-validated on the shared folds
    with each of `seeds` (their predictions averaged), and its weight in the final ensemble."""

    name: str
    family: str
    kind: str  # defaults or tuned
    params: dict[str, Any]
    seeds: tuple[int, ...]
    score: float
    seconds: float
    result: CVResult = field(repr=False)
    weight: float = 0.0

    def summary(self) -> dict[str, Any]:
        from pipelines.result import json_value

        return {
            "name": self.name,
            "family": self.family,
            "kind": self.kind,
            "seeds": list(self.seeds),
            "cv": self.score,
            "seconds": self.seconds,
            "weight": self.weight,
            "params": json_value(self.params),
        }


@dataclass(frozen=True)
class PortfolioResult:
    """The portfolio's outcome: the final ensemble as a CVResult (model "portfolio"), its
    members with their weights, how the ensemble was made (hill or stack, with both OOF
    scores), and the schedule's log of what ran, what was skipped and why."""

    result: CVResult
    members: tuple[Member, ...]
    method: str
    hill_score: float
    stack_score: float | None
    log: tuple[str, ...]
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "cv_mean": self.result.mean,
            "hill_score": self.hill_score,
            "stack_score": self.stack_score,
            "members": [m.summary() for m in self.members],
            "log": list(self.log),
            "seconds": self.seconds,
        }


OnStep = Callable[[Step], None]


class _TooSlow(Exception):
    """A family's first fold says its full CV would not fit the time it was given."""

    def __init__(self, first: float, need: float, given: float) -> None:
        super().__init__(f"a full CV needs ~{need:.1f}s, {given:.1f}s given")
        self.first, self.need, self.given = first, need, given


class _NoGain(Exception):
    """A family's first fold earns no weight beside the members' predictions on that fold."""

    def __init__(self, first: float, need: float, score: float, blend: float) -> None:
        super().__init__(f"no weight beside the members (fold score {score}, blend {blend})")
        self.first, self.need, self.score, self.blend = first, need, score, blend


@dataclass
class _Probe:
    family: str
    score: float  # the family's (or its gate member's) score on the probe fold
    cv_seconds: float  # a full CV's estimated seconds
    scores: dict[str, float]  # each member's probe score
    cut: bool  # the probe fold reached its deadline: a full CV needs more than estimated


class _Schedule:
    """The running state of one portfolio: its clock, deadlines, members and log."""

    def __init__(
        self,
        data: Prepared,
        metric: Metric,
        folds: np.ndarray,
        deadline: Deadline,
        seed: int,
        device: str,
        on_step: OnStep | None,
        gates: Mapping[str, tuple[str, str]],
        with_level2: bool = True,
    ) -> None:
        self.gates = dict(gates)
        self.data, self.metric, self.folds = data, metric, folds
        self.deadline, self.clock = deadline, deadline.clock
        self.seed, self.device = seed, device
        self.on_step = on_step or (lambda step: None)
        self.n_folds = int(folds.max()) + 1
        self.started = self.clock()
        reserve = max(ENSEMBLE_MIN, ENSEMBLE_SHARE * max(deadline.remaining(), 0.0))
        # What the fitting steps may use; the rest is the ensemble's.
        self.work = deadline.earlier(reserve)
        self.log: list[str] = []
        self.members: list[Member] = []
        self.total = max(deadline.remaining(), 0.0)
        # Families not run for want of time -> their expected seconds (None: no estimate).
        self.skipped: dict[str, float | None] = {}
        self.estimates: dict[str, float] = {}  # family -> seconds of a full CV of its defaults
        self.member_seconds: dict[str, float] = {}  # member -> seconds of a full CV of it
        self.level2: Deadline | None = None  # the work deadline before level 2's time was kept
        self.with_level2 = with_level2
        self.level2_seconds = 0.0  # the time kept for level 2

    def note(self, text: str) -> None:
        self.log.append(f"[{self.clock() - self.started:7.1f}s] {text}")

    def report(self, phase: str, member: str, score: float | None) -> None:
        self.on_step(Step(phase, member, score, self.deadline.remaining()))

    def carve(self, seconds: float) -> Deadline:
        """A deadline `seconds` from now, no later than the work deadline."""
        left = self.work.remaining()
        if left <= 0:
            return self.work
        return self.work.share(min(1.0, seconds / left))

    # -- probes ---------------------------------------------------------------------------

    def probe(self, name: str, deadline: Deadline) -> _Probe:
        """The family's defaults on the first fold: its score and the time a full CV takes."""
        family = get_family(name)
        n_classes = len(self.data.classes) if self.data.classes is not None else 0
        fit_rows, valid_rows = self.folds != 0, self.folds == 0
        part = FoldData(
            X_fit=self.data.X[fit_rows],
            # the metric's target space, as cross_validate trains (log1p for RMSLE)
            y_fit=to_fit_space(self.data.y[fit_rows], self.metric),
            X_valid=self.data.X[valid_rows],
            y_valid=to_fit_space(self.data.y[valid_rows], self.metric),
            task=self.data.task,
            n_classes=n_classes,
            metric=self.metric,
        )
        started = self.clock()
        fitted = family.fit_fold(part, None, seed=self.seed, device=self.device, deadline=deadline)
        fitted_at = self.clock()
        cut = deadline.passed()
        raw = family.predict(fitted, part.X_valid)
        predicting = self.clock() - fitted_at
        y_valid = self.data.y[valid_rows]
        scores = {
            member: self.metric.score(
                y_valid,
                as_metric_input(from_fit_space(values, self.metric), self.data.task, self.metric),
            )
            for member, values in raw.items()
        }
        # Each fold fits once and predicts its own rows and the test rows.
        test_share = len(self.data.X_test) / max(int(valid_rows.sum()), 1)
        fold = (fitted_at - started) + predicting * (1 + test_share)
        gate = self.gates.get(name)
        pick = max if self.metric.greater_is_better else min
        score = scores[gate[0]] if gate and gate[0] in scores else pick(scores.values())
        return _Probe(name, score, fold * self.n_folds * ESTIMATE_MARGIN, scores, cut)

    def gate(self, name: str) -> bool:
        """Whether a gated family (the hybrid) is scheduled: its gate member's probe on the
        first fold must beat its rival's first fold (the rival runs before it). A family
        without a gate, or whose rival is not a member, is scheduled."""
        rule = self.gates.get(name)
        rival = next((m for m in self.members if m.family == rule[1]), None) if rule else None
        if rule is None or rival is None:
            return True
        deadline = self.carve(self.work.remaining() / (2 * self.n_folds))
        self.report("probe", name, None)
        probe = self.probe(name, deadline)
        self.estimates[name] = probe.cv_seconds
        rival_score = rival.result.fold_scores[0]
        if probe.cut or not self.metric.is_better(probe.score, rival_score):
            why = "was cut at its deadline" if probe.cut else f"{probe.score:.5f} does not beat"
            self.note(
                f"{name}: not scheduled, its {rule[0]} probe {why} {rule[1]}'s first fold "
                f"{rival_score:.5f}"
            )
            return False
        self.note(
            f"{name}: scheduled, its {rule[0]} probe {probe.score:.5f} beats {rule[1]}'s first "
            f"fold {rival_score:.5f}"
        )
        return True

    # -- full cross-validations -----------------------------------------------------------

    def cross_validate(
        self,
        name: str,
        label: str,
        phase: str,
        *,
        params: dict[str, Any] | None,
        seed: int,
        deadline: Deadline,
        probe: bool = False,
        data: Prepared | None = None,
    ) -> tuple[CVResult, float, bool]:
        """Cross-validate within `deadline`: the result, its seconds, and whether it was cut
        (it ended at its deadline, so its folds stopped before they converged). With `probe`,
        the first fold decides whether to go on: _TooSlow when it was cut or says the whole
        CV would not fit the deadline. `data`: other inputs than the competition's (level 2)."""
        from pipelines.cv import cross_validate

        scores: list[float] = []
        started = self.clock()
        allotted = max(deadline.remaining(), 0.0)
        first: dict[str, np.ndarray] = {}  # the first fold's rows and predictions

        def on_predictions(fold: int, rows: np.ndarray, raw: np.ndarray) -> None:
            if probe and fold == 0:
                first.update(rows=rows, raw=raw)

        def on_fold(fold: int, n_folds: int, score: float) -> None:
            scores.append(score)
            self.report(phase, label, float(np.mean(scores)))
            if probe and fold == 0:
                took = self.clock() - started
                need = took * n_folds * ESTIMATE_MARGIN
                # The first fold's share is a k-th of the step: reaching it means it was cut.
                if need > allotted or took >= (1 - CUT_SHARE) * allotted / n_folds:
                    raise _TooSlow(took, need, allotted)
                # Judged only where it matters: on a fold of a small table the score is noisy,
                # and there the whole CV is cheap.
                dear = need > NO_GAIN_SHARE * (self.work.remaining() + took)
                if first and dear:
                    weight, blend = self.probe_weight(first["rows"], first["raw"])
                    if weight <= 0:
                        raise _NoGain(took, need, score, blend)

        self.report(phase, label, None)
        result = cross_validate(
            data or self.data, model=name, metric=self.metric, folds=self.folds, params=params,
            seed=seed, device=self.device, on_fold=on_fold, deadline=deadline,
            on_fold_predictions=on_predictions,
        )  # fmt: skip
        seconds = self.clock() - started
        # Each fold's share is what is left over the folds left, so a cut fold leaves the
        # step ending at its deadline.
        cut = deadline.remaining() <= CUT_SHARE * allotted
        if not cut:
            self.member_seconds[label] = seconds
        return result, seconds, cut

    def probe_weight(self, rows: np.ndarray, raw: np.ndarray) -> tuple[float, float]:
        """A probe fold's weight in a hill climb with the members' predictions of the same
        rows, and that blend's score on them: (1.0, nan) when there are no members or the
        blend cannot be made (the probe then goes on)."""
        arrays = {m.name: m.result.blend_oof[rows] for m in self.members}
        if not arrays:
            return 1.0, float("nan")
        key = "\0probe"  # no member's name
        arrays[key] = raw
        blend = self.hill_climb(arrays, rows)
        if blend is None:
            return 1.0, float("nan")
        return float(blend.weights.get(key, 0.0)), float(blend.score)

    def weights(self) -> dict[str, float]:
        """Each member's weight in a hill climb over every member's OOF predictions so far
        (the final ensemble's first step); equal weights when there is no such blend."""
        arrays = {m.name: m.result.blend_oof for m in self.members}
        blend = self.hill_climb(arrays, slice(None))
        if blend is None:
            return dict.fromkeys(arrays, 1.0 / max(len(arrays), 1))
        return dict(blend.weights)

    def hill_climb(
        self, arrays: dict[str, np.ndarray], rows: np.ndarray | slice
    ) -> BlendResult | None:
        """pipelines.blend's hill climb of `arrays` against these rows' targets; None when no
        blend can be made (the callers then judge without one)."""
        from pipelines.blend import hill_climb

        try:
            return hill_climb(
                arrays, self.data.y[rows], self.metric, seed=self.seed, task=self.data.task
            )
        except Exception:  # noqa: BLE001 - no blend to judge by
            return None

    def order(self, names: Sequence[str]) -> list[str]:
        """Families in PRIORITY order (others after, as given); a gated family after its
        rival, so its probe has the rival's first fold to beat."""
        rank = {name: i for i, name in enumerate(PRIORITY)}
        ordered = sorted(names, key=lambda n: (rank.get(n, len(rank)), list(names).index(n)))
        for name, (_, rival) in self.gates.items():
            if name in ordered and rival in ordered:
                ordered.remove(name)
                ordered.insert(ordered.index(rival) + 1, name)
        return ordered

    def expected(self, name: str) -> float | None:
        """A full CV's seconds for a family not run yet: its measured time if known, else the
        first member's measured time scaled by PRIOR_COST (None when there is no basis)."""
        if name in self.estimates:
            return self.estimates[name]
        if not self.members or name not in PRIOR_COST:
            return None
        first = self.members[0]
        if first.family not in PRIOR_COST:
            return None
        return first.seconds * PRIOR_COST[name] / PRIOR_COST[first.family]

    def next_family(self, pending: list[str]) -> str:
        """The first family in priority order; after it, the one expected to cost least
        (families without an estimate in priority order after those with one), a gated family
        never before its rival."""
        if not self.members:
            return pending[0]
        gated = {name for name, (_, rival) in self.gates.items() if rival in pending}
        ready = [name for name in pending if name not in gated] or pending
        guesses = {name: self.expected(name) for name in ready}
        return min(
            ready,
            key=lambda n: (guesses[n] is None, guesses[n] or 0.0, pending.index(n)),
        )

    def run_defaults(self, names: Sequence[str]) -> None:
        """Each family's defaults cross-validated: the first in priority order, then the
        cheapest expected first. The first fold is the probe: a family whose first fold says
        a full CV would not fit what it was given is stopped there. The first family gets all
        the time (something must come out); the others at most STEP_SHARE of what is left,
        and those expected to need more than that are not started."""
        pending = self.order(names)
        while pending:
            name = self.next_family(pending)
            pending.remove(name)
            left = self.work.remaining()
            first = not self.members
            if left <= 0:
                self.note(f"{name}: defaults skipped, no time left")
                continue
            guess = self.expected(name)
            if not first and guess is not None and guess > left * STEP_SHARE:
                self.skipped[name] = guess
                self.note(
                    f"{name}: defaults skipped, a full CV needs ~{guess:.1f}s and "
                    f"{left * STEP_SHARE:.1f}s of the {left:.1f}s left could go to it"
                )
                continue
            try:
                if not first and not self.gate(name):
                    continue
                deadline = self.carve(left if first else self.step_seconds(name))
                result, seconds, cut = self.cross_validate(
                    name, name, "defaults", params=None, seed=self.seed, deadline=deadline,
                    probe=not first,
                )  # fmt: skip
            except _TooSlow as slow:
                self.estimates[name] = self.skipped[name] = slow.need
                self.note(
                    f"{name}: defaults skipped after its first fold ({slow.first:.1f}s): a full "
                    f"CV needs ~{slow.need:.1f}s and {slow.given:.1f}s could go to it"
                )
                continue
            except _NoGain as none:
                self.estimates[name] = self.skipped[name] = none.need
                self.note(
                    f"{name}: defaults stopped after its first fold ({none.first:.1f}s, score "
                    f"{none.score:.5f}): it earns no weight in a blend with the members on that "
                    f"fold ({none.blend:.5f})"
                )
                continue
            except Exception as error:  # noqa: BLE001 - one broken family must not end the run
                self.note(f"{name}: skipped, its probe failed ({_one_line(error)})")
                continue
            # A CV measured whole is a better estimate than any guess.
            self.estimates[name] = seconds
            self.add(Member(name, name, "defaults", dict(result.params), (self.seed,),
                            result.mean, seconds, result))  # fmt: skip
            how = ", cut at its deadline" if cut else ""
            self.note(f"{name}: defaults CV {result.mean:.5f} in {seconds:.1f}s{how}")
            if name == LEVEL2_FAMILY:
                self.keep_level2()

    def step_seconds(self, name: str) -> float:
        """The most a family's defaults (not the first family's) may take: STEP_SHARE of the
        time left, and for a family that fills its deadline at most SIZED_SHARE of the budget
        (at least SIZED_MIN seconds)."""
        seconds = self.work.remaining() * STEP_SHARE
        if getattr(get_family(name), "fills_deadline", False):
            seconds = min(seconds, max(SIZED_SHARE * self.total, SIZED_MIN))
        return seconds

    def run_fill(self) -> None:
        """Time that no full step fits (a large table whose first family took most of the
        budget, nothing left to tune or bag) goes to the skipped families expected to cost
        least, one after another, each cut at the deadline if it must be: out-of-fold
        predictions are honest even when folds stopped early, and hill climbing gives a
        member weight only if it helps."""
        while self.skipped:
            left = self.work.remaining()
            if left < max(FILL_MIN, FILL_SHARE * self.total):
                return
            name = min(
                self.skipped, key=lambda n: (self.skipped[n] is None, self.skipped[n] or 0.0)
            )
            del self.skipped[name]
            try:
                # A member cut at its deadline still predicts its last fold and the test
                # rows after it: FILL_SLACK of the time is kept for that.
                result, seconds, cut = self.cross_validate(
                    name, name, "defaults", params=None, seed=self.seed,
                    deadline=self.carve(left * (1 - FILL_SLACK)),
                )  # fmt: skip
            except Exception as error:  # noqa: BLE001 - one broken family must not end the run
                self.note(f"{name}: skipped, it failed in the time left ({_one_line(error)})")
                continue
            self.estimates[name] = seconds
            self.add(Member(name, name, "defaults", dict(result.params), (self.seed,),
                            result.mean, seconds, result))  # fmt: skip
            how = ", cut at its deadline" if cut else ""
            self.note(f"{name}: defaults CV {result.mean:.5f} in the {left:.1f}s left{how}")

    # -- level 2 --------------------------------------------------------------------------

    def keep_level2(self) -> None:
        """Keep back the level-2 model's time once LEVEL2_FAMILY's defaults were measured:
        their seconds times LEVEL2_COST, at most LEVEL2_SHARE of the time left."""
        if not self.with_level2 or self.level2 is not None:
            return
        left = self.work.remaining()
        need = min(self.estimates[LEVEL2_FAMILY] * LEVEL2_COST, LEVEL2_SHARE * left)
        if need < LEVEL2_MIN:
            self.note(f"level 2: not run, {left:.1f}s left")
            return
        self.level2, self.work = self.work, self.work.earlier(need)
        self.level2_seconds = need
        self.note(f"level 2: {need:.1f}s kept for {LEVEL2_FAMILY} on the members' predictions")

    def run_level2(self) -> None:
        """LEVEL2_FAMILY's defaults on the features and the best member of each family's
        out-of-fold predictions (their test predictions for the test rows), on the same
        folds: each fold's rows are predicted by a model that did not see them, from level-1
        predictions made by models that did not see them either."""
        if self.level2 is None:
            return
        self.work, self.level2 = self.level2, None
        inputs = self.best_per_family()
        label = f"{LEVEL2_FAMILY}_l2"
        try:
            result, seconds, cut = self.cross_validate(
                LEVEL2_FAMILY, label, "level2", params=None, seed=self.seed,
                deadline=self.carve(self.level2_seconds), data=_level2_data(self.data, inputs),
            )  # fmt: skip
        except Exception as error:  # noqa: BLE001 - level 2 is optional, the rest goes on
            self.note(f"level 2: failed ({_one_line(error)})")
            return
        self.add(Member(label, LEVEL2_FAMILY, "level2", dict(result.params), (self.seed,),
                        result.mean, seconds, result))  # fmt: skip
        how = ", cut at its deadline" if cut else ""
        self.note(
            f"level 2: {label} on {', '.join(m.name for m in inputs)}: CV {result.mean:.5f} "
            f"in {seconds:.1f}s{how}"
        )

    def add(self, member: Member) -> None:
        self.members.append(member)
        self.report(member.kind, member.name, member.score)

    def ranked(self) -> list[Member]:
        sign = -1.0 if self.metric.greater_is_better else 1.0
        return sorted(self.members, key=lambda m: sign * m.score)

    # -- tuning ---------------------------------------------------------------------------

    def run_tuning(self) -> None:
        leaders: list[str] = []
        for member in self.ranked():
            if member.family not in leaders:
                leaders.append(member.family)
        leaders = leaders[:TUNE_LEADERS]
        for i, name in enumerate(leaders):
            trial = self.estimates[name] * TRIAL_COST
            allot = self.work.remaining() * TUNE_FRACTION / (len(leaders) - i)
            trials = int(allot // trial) if trial > 0 else MIN_TRIALS
            if trials < MIN_TRIALS:
                self.note(
                    f"{name}: not tuned, {allot:.1f}s buy {trials} of the {MIN_TRIALS} trials "
                    f"worth a study (~{trial:.1f}s each)"
                )
                continue
            try:
                from pipelines.tuning import tune
            except Exception as error:  # noqa: BLE001 - tuning is optional, the rest goes on
                self.note(f"tuning skipped: pipelines.tuning cannot load ({_one_line(error)})")
                return
            deadline = self.carve(allot)
            label = f"{name}_tuned"
            ends: dict[int, float] = {}  # trial number -> when it ended, on the clock
            self.report("tune", label, None)
            started = self.clock()
            try:
                study = tune(
                    self.data, model=name, metric=self.metric, folds=self.folds,
                    study_name=f"portfolio-{name}", n_trials=trials,
                    space=get_family(name).search_space,
                    timeout=max(deadline.remaining(), 0.0) * 0.85, seed=self.seed,
                    device=self.device, budget=deadline,
                    on_trial=lambda t, label=label, ends=ends: self.trial_ended(label, t, ends),
                )  # fmt: skip
            except PipelinesError as error:
                self.note(f"{name}: tuning gave no result ({_one_line(error)})")
                continue
            seconds = self.clock() - started
            result = study.best
            # The best settings (a low learning rate, many leaves) may cost other than the
            # defaults: their seeds are planned on the best trial's own time.
            best = next(
                (t.number for t in study.trials
                 if t.state == "COMPLETE" and t.value == study.best_value),
                None,
            )  # fmt: skip
            self.member_seconds[label] = _trial_seconds(ends, started).get(best, trial)
            self.add(Member(label, name, "tuned", dict(study.best_params), (self.seed,),
                            result.mean, seconds, result))  # fmt: skip
            self.note(
                f"{name}: tuned over {study.n_run} trials in {seconds:.1f}s, best CV "
                f"{result.mean:.5f}"
            )

    def trial_ended(self, label: str, trial: Any, ends: dict[int, float]) -> None:
        ends[trial.number] = self.clock()
        self.report("tune", label, trial.value)

    # -- seeds ----------------------------------------------------------------------------

    def run_seeds(self) -> None:
        settled: set[str] = set()  # members whose seeds change nothing, or that are full
        weights = self.weights()
        while True:
            ready = [
                m
                for m in self.best_per_family()
                if m.name not in settled and self.member_cost(m) <= self.work.remaining()
            ]
            if not ready:
                return
            base = max(ready, key=lambda m: self.seed_value(m, weights.get(m.name, 0.0)))
            varies = getattr(get_family(base.family), "seed_varies", None)
            params = base.params if base.kind == "tuned" else None
            if varies is not None and not varies(params):
                settled.add(base.name)
                self.note(f"{base.name}: no seeds, its settings draw nothing from the seed")
                continue
            seed = max(base.seeds) + 1
            deadline = self.carve(self.member_cost(base) * STEP_SLACK + 1.0)
            result, seconds, cut = self.cross_validate(
                base.family, base.name, "seed", params=params, seed=seed, deadline=deadline,
            )  # fmt: skip
            if cut:
                # Folds stopped before they converged would pull the average down.
                settled.add(base.name)
                self.note(
                    f"{base.name}: seed {seed} cut at its deadline after {seconds:.1f}s, not "
                    "averaged in; no more seeds for it"
                )
                continue
            if _same(result, base.result):
                settled.add(base.name)
                self.note(f"{base.name}: seed {seed} changes nothing, no more seeds for it")
                continue
            bagged = _average(base, result, self.data.y, self.metric)
            member = replace(
                base,
                seeds=(*base.seeds, seed),
                score=bagged.mean,
                seconds=base.seconds + seconds,
                result=bagged,
            )
            self.members[self.members.index(base)] = member
            weights = self.weights()
            if len(member.seeds) >= MAX_SEEDS:
                settled.add(member.name)
            self.note(
                f"{base.name}: seed {seed} in {seconds:.1f}s, {len(member.seeds)} seeds "
                f"averaged: CV {base.score:.5f} -> {member.score:.5f}"
            )
            self.report("seed", member.name, member.score)

    def seed_value(self, member: Member, weight: float) -> tuple[bool, float]:
        """How much another seed of `member` is worth per second: averaging n + 1 seeds
        instead of n takes w^2 s^2 / (n (n + 1)) of variance out of the ensemble, w the
        member's weight (s, a seed's spread, taken as alike). Members without weight come
        after every member with some, the fewest seeds first (their gains fall with each)."""
        n = len(member.seeds)
        if weight <= 0:
            return False, -float(n)
        return True, weight**2 / (n * (n + 1) * max(self.member_cost(member), 1e-9))

    def member_cost(self, member: Member) -> float:
        """The seconds a full CV of `member` takes: measured, else its family's defaults."""
        return self.member_seconds.get(member.name, self.estimates[member.family])

    def best_per_family(self) -> list[Member]:
        """Each family's best level-1 member (level 2 learns from them; it is not one)."""
        best: dict[str, Member] = {}
        for member in self.ranked():
            if member.kind != "level2":
                best.setdefault(member.family, member)
        return list(best.values())


def _level2_data(data: Prepared, members: Sequence[Member]) -> Prepared:
    """The competition's inputs with the members' predictions as more numeric columns:
    out-of-fold for the train rows, averaged over the folds' models for the test rows."""
    import pandas as pd

    oof = _stack_features([m.result.raw_oof for m in members], data.task)
    test = _stack_features([m.result.raw_test for m in members], data.task)
    width = oof.shape[1] // len(members)
    names = [f"level1__{m.name}__{j}" for m in members for j in range(width)]
    return replace(
        data,
        X=pd.concat([data.X, pd.DataFrame(oof, columns=names, index=data.X.index)], axis=1),
        X_test=pd.concat(
            [data.X_test, pd.DataFrame(test, columns=names, index=data.X_test.index)], axis=1
        ),
        numeric=(*data.numeric, *names),
    )


def _trial_seconds(ends: Mapping[int, float], started: float) -> dict[int, float]:
    """Each trial's seconds, from when the trials (run one after another) ended."""
    seconds, previous = {}, started
    for number in sorted(ends):
        seconds[number], previous = ends[number] - previous, ends[number]
    return seconds


def _same(a: CVResult, b: CVResult) -> bool:
    return bool(np.array_equal(a.blend_oof, b.blend_oof))


def _average(base: Member, extra: CVResult, y: np.ndarray, metric: Metric) -> CVResult:
    """`base`'s result with `extra`'s predictions averaged in, weighted by seed count."""
    done = base.result
    n = len(base.seeds)
    raw_oof = (done.raw_oof * n + extra.raw_oof) / (n + 1)
    raw_test = (done.raw_test * n + extra.raw_test) / (n + 1)
    oof = as_metric_input(raw_oof, done.task, metric)
    folds = done.folds
    return replace(
        done,
        oof=oof,
        test_predictions=as_metric_input(raw_test, done.task, metric),
        raw_oof=raw_oof,
        raw_test=raw_test,
        fold_scores=[
            metric.score(y[folds == fold], oof[folds == fold]) for fold in range(done.n_folds)
        ],
        fit_seconds=done.fit_seconds + extra.fit_seconds,
        fold_seconds=[a + b for a, b in zip(done.fold_seconds, extra.fold_seconds, strict=False)],
    )


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


# -- the level-2 stacker ------------------------------------------------------------------


def _stack_features(raw: Sequence[np.ndarray], task: str) -> np.ndarray:
    """Members' outputs as a stacker's inputs: logits for probabilities, values as they are."""
    if task == "regression":
        return np.column_stack(raw)
    eps = 1e-6
    if task == "binary":
        return np.column_stack(
            [np.log(np.clip(p, eps, 1 - eps) / np.clip(1 - p, eps, 1)) for p in raw]
        )
    return np.hstack([np.log(np.clip(p, eps, 1.0)) for p in raw])


def _stacker(task: str, seed: int) -> Any:
    if task == "regression":
        from sklearn.linear_model import Ridge

        return Ridge(alpha=1.0)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Standardised log-probabilities: lbfgs converges in a tenth of the iterations and 30x
    # faster (34,000 rows x 4 members x 5 classes: 1.2 s against 33 s unscaled).
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
    )


def _stack_predict(model: Any, X: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = model.predict_proba(X)
    if task == "binary":
        return proba[:, 1]
    full = np.zeros((len(X), n_classes))
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return full


@dataclass(frozen=True)
class Stacked:
    """A level-2 model's raw OOF and test predictions, its fold scores, the refit model."""

    raw_oof: np.ndarray
    raw_test: np.ndarray
    fold_scores: list[float]
    model: Any


def stack(
    results: Sequence[CVResult],
    y: np.ndarray,
    metric: Metric,
    *,
    seed: int = 0,
    deadline: Deadline | None = None,
) -> Stacked | None:
    """A linear model on the members' raw OOF predictions, cross-validated on the members'
    own folds (each fold's rows predicted by a stacker fit on the other folds, so its OOF is
    as honest as the members'), then refit on every row for the test rows. None when the
    first fold's fit says the other fits would not end before `deadline`."""
    first = results[0]
    task, folds = first.task, first.folds
    n_classes = len(first.classes) if first.classes is not None else 0
    X = _stack_features([r.raw_oof for r in results], task)
    X_test = _stack_features([r.raw_test for r in results], task)
    width = (n_classes,) if task == "multiclass" else ()
    raw_oof = np.zeros((len(y), *width))
    scores = []
    for fold in range(first.n_folds):
        rows = folds == fold
        started = deadline.clock() if deadline is not None else 0.0
        model = _stacker(task, seed).fit(X[~rows], y[~rows])
        # the other folds and the refit on every row cost about as much each
        if (
            deadline is not None
            and fold == 0
            and (deadline.clock() - started) * first.n_folds > deadline.remaining()
        ):
            return None
        raw_oof[rows] = _stack_predict(model, X[rows], task, n_classes)
        scores.append(metric.score(y[rows], as_metric_input(raw_oof[rows], task, metric)))
    model = _stacker(task, seed).fit(X, y)
    return Stacked(raw_oof, _stack_predict(model, X_test, task, n_classes), scores, model)


def _final_step(model: Any) -> Any:
    """The stacker's linear model: the last step of a scaler's pipeline, or the model."""
    return model[-1] if hasattr(model, "steps") else model


def _stacker_name(model: Any) -> str:
    return type(_final_step(model)).__name__


def _stack_weights(model: Any, names: Sequence[str], n_features: int) -> dict[str, float]:
    """Each member's share of the stacker's absolute coefficients (for the summary)."""
    coef = np.abs(np.atleast_2d(np.asarray(_final_step(model).coef_)))
    per_feature = coef.sum(axis=0)
    width = n_features // len(names)
    totals = {
        name: float(per_feature[i * width : (i + 1) * width].sum()) for i, name in enumerate(names)
    }
    total = sum(totals.values()) or 1.0
    return {name: value / total for name, value in totals.items()}


@dataclass(frozen=True)
class Ensemble:
    """The final ensemble: its CVResult, how it was made ("hill" or "stack"), both OOF
    scores (the stacker's None when it was not tried) and each member's weight."""

    result: CVResult
    method: str
    hill_score: float
    stack_score: float | None
    weights: dict[str, float]


def ensemble(
    members: Sequence[Member],
    y: np.ndarray,
    metric: Metric,
    *,
    seed: int,
    stack_ok: bool = True,
    deadline: Deadline | None = None,
) -> Ensemble:
    """Hill climbing over the members' OOF predictions, or the stacker when its OOF score is
    better (the stacker is tried with two members or more, when `stack_ok`, and only when
    its fits end before `deadline`). For a log loss the hill-climbed blend is
    temperature-scaled on its OOF predictions when that helps (pipelines.blend.
    temperature_scaled): an average of calibrated members is flatter than each of them."""
    from pipelines.blend import blend_results

    runs = [replace(m.result, model=m.name) for m in members]
    blend, hill = blend_results(runs, y, metric=metric, seed=seed, model="portfolio")
    chosen = Ensemble(hill, "hill", hill.mean, None, dict(blend.weights))
    if len(runs) < 2 or not stack_ok:
        return chosen
    return _stacked_or(chosen, runs, y, metric, seed, deadline)


def _stacked_or(
    hill: Ensemble,
    runs: Sequence[CVResult],
    y: np.ndarray,
    metric: Metric,
    seed: int,
    deadline: Deadline | None,
) -> Ensemble:
    """The stacker's ensemble when it fits in time and its OOF beats `hill`'s, else `hill`
    with the stacker's score noted."""
    stacked = stack(runs, y, metric, seed=seed, deadline=deadline)
    if stacked is None:
        return hill
    stack_score = float(np.mean(stacked.fold_scores))
    if not metric.is_better(stack_score, hill.hill_score):
        return replace(hill, stack_score=stack_score)
    names = [r.model for r in runs]
    width = _stack_features([r.raw_oof for r in runs], hill.result.task).shape[1]
    weights = _stack_weights(stacked.model, names, width)
    result = replace(
        hill.result,
        oof=as_metric_input(stacked.raw_oof, hill.result.task, metric),
        test_predictions=as_metric_input(stacked.raw_test, hill.result.task, metric),
        raw_oof=stacked.raw_oof,
        raw_test=stacked.raw_test,
        fold_scores=stacked.fold_scores,
        params={"method": "stack", "stacker": _stacker_name(stacked.model), "members": names},
        blend_weights=weights,
    )
    return Ensemble(result, "stack", hill.hill_score, stack_score, weights)


def _verdict(chosen: Ensemble, *, stack_tried: bool) -> str:
    """How the ensemble was chosen, for the log."""
    hill, stacked = chosen.hill_score, chosen.stack_score
    if chosen.method == "stack":
        return f"stacker OOF {stacked:.5f} beats hill climbing {hill:.5f}"
    scaled = chosen.result.temperature
    hill_text = f"hill climbing {hill:.5f}" + (
        f" at temperature {scaled:.3f}" if scaled != 1 else ""
    )
    if stacked is not None:
        return f"{hill_text} (stacker {stacked:.5f} not better)"
    if stack_tried:
        return f"{hill_text} (the stacker would not have ended in time)"
    return hill_text


# -- the entry point ------------------------------------------------------------------------


def candidate_families(
    task: str, names: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """The families to consider (default: every registered one) that load and fit `task`,
    and a note for each one left out. An unknown name is refused."""
    from pipelines.models import FAMILIES

    chosen = list(names) if names else list(family_names())
    unknown = [n for n in chosen if n not in family_names()]
    if unknown:
        raise PipelinesError(
            f"Unknown model {', '.join(map(repr, unknown))}; expected some of "
            f"{', '.join(family_names())}."
        )
    kept, notes = [], []
    for name in dict.fromkeys(chosen):
        try:
            family = FAMILIES[name]
        except Exception as error:  # noqa: BLE001 - a family whose library is missing
            notes.append(f"{name}: skipped, it cannot be loaded ({_one_line(error)})")
            continue
        if task not in family.tasks:
            notes.append(f"{name}: skipped, it does not fit a {task} task")
            continue
        kept.append(name)
    return kept, notes


def run_portfolio(
    data: Prepared,
    *,
    metric: str | Metric,
    folds: np.ndarray,
    deadline: Deadline,
    families: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "auto",
    on_step: OnStep | None = None,
    tuning: bool = True,
    gates: Mapping[str, tuple[str, str]] = GATES,
    level2: bool = True,
) -> PortfolioResult:
    """The best ensemble of the registered families that `deadline` allows (see the module's
    docstring for the schedule). `families` restricts the families considered; `tuning=False`
    leaves out the Optuna step, `level2=False` the level-2 model; `gates` says which families
    must beat which on the probe to be scheduled (default GATES). Same data, seed and clock:
    the same schedule."""
    metric = get_metric(metric) if isinstance(metric, str) else metric
    if not deadline.bounded:
        raise PipelinesError("The portfolio needs a bounded deadline: give it a time budget.")
    if data.task not in metric.tasks:
        raise PipelinesError(
            f"Metric {metric.name!r} does not apply to a {data.task} task; it fits "
            f"{', '.join(metric.tasks)}. Pick another metric."
        )
    folds = np.asarray(folds).astype(np.int64)
    schedule = _Schedule(data, metric, folds, deadline, seed, device, on_step, gates, level2)
    names, notes = candidate_families(data.task, families)
    for text in notes:
        schedule.note(text)
    schedule.run_defaults(names)
    if not schedule.members:
        raise PipelinesError(
            "No model family could be probed or fit in the time given: give a longer budget "
            "or other families (the log says why each was skipped)."
        )
    if tuning:
        schedule.run_tuning()
    # Level 2 before the seeds: the time it kept and did not use goes to them and the fill.
    schedule.run_level2()
    schedule.run_seeds()
    schedule.run_fill()
    schedule.report("ensemble", "portfolio", None)
    # The stacker only when time is left for it (it fits k+1 small linear models).
    stack_ok = schedule.deadline.remaining() > 0
    chosen = ensemble(
        schedule.members, data.y, metric, seed=seed, stack_ok=stack_ok, deadline=schedule.deadline
    )
    method, hill_score, stack_score = chosen.method, chosen.hill_score, chosen.stack_score
    members = tuple(
        replace(m, weight=float(chosen.weights.get(m.name, 0.0))) for m in schedule.members
    )
    final = chosen.result
    final = replace(
        final,
        params={
            **final.params,
            "weights": {m.name: m.weight for m in members},
            "portfolio": [m.summary() for m in members],
        },
        fit_seconds=schedule.clock() - schedule.started,
    )
    verdict = _verdict(chosen, stack_tried=stack_ok and len(schedule.members) > 1)
    schedule.note(f"ensemble: {verdict}")
    schedule.report("ensemble", "portfolio", final.mean)
    return PortfolioResult(
        result=final,
        members=members,
        method=method,
        hill_score=hill_score,
        stack_score=stack_score,
        log=tuple(schedule.log),
        seconds=schedule.clock() - schedule.started,
    )
