"""Blending out-of-fold predictions: Caruana hill climbing with replacement, and rank averaging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pipelines.errors import PipelinesError
from pipelines.metrics import Metric, get_metric
from pipelines.result import CVResult, as_metric_input
from pipelines.targets import calibrate

METHODS = ("hill", "rank")
PATIENCE = 3  # rounds without a better blend before hill climbing stops


@dataclass(frozen=True)
class BlendResult:
    """A blend of named members: weights summing to 1, the blend's OOF score next to each
    member's, and the blended OOF (model outputs, or ranks in (0, 1] for method "rank")."""

    weights: dict[str, float]
    score: float
    member_scores: dict[str, float]
    oof: np.ndarray
    method: str
    metric: str

    def apply(self, test_members: Mapping[str, np.ndarray]) -> np.ndarray:
        """The blend of other predictions of the same members (test rows), with these weights."""
        missing = [name for name, w in self.weights.items() if w > 0 and name not in test_members]
        if missing:
            raise PipelinesError(
                f"The blend needs predictions of {', '.join(missing)}; got "
                f"{', '.join(test_members) or 'none'}."
            )
        arrays = _check_arrays({n: test_members[n] for n in self.weights if n in test_members})
        if self.method == "rank":
            arrays = {name: _ranks(values) for name, values in arrays.items()}
        return _weighted(arrays, self.weights)


def _metric(metric: str | Metric) -> Metric:
    return get_metric(metric) if isinstance(metric, str) else metric


def _check_arrays(members: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not members:
        raise PipelinesError("Nothing to blend: give at least one member's predictions.")
    arrays = {str(name): np.asarray(values, dtype=float) for name, values in members.items()}
    shapes = {name: values.shape for name, values in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise PipelinesError(
            f"Members to blend must have the same shape; got {shapes}. Blend predictions of the "
            "same rows (and classes)."
        )
    return arrays


def _weighted(arrays: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    first = next(iter(arrays.values()))
    total = np.zeros_like(first, dtype=float)
    for name, weight in weights.items():
        if weight > 0:
            total += weight * arrays[name]
    return total


def _scorer(y: Any, metric: Metric, task: str | None):
    """Scores model outputs, turning them into labels first when the metric wants labels."""
    y = np.asarray(y)

    def score(values: np.ndarray) -> float:
        return metric.score(y, as_metric_input(values, task, metric) if task else values)

    return score


def hill_climb(
    members: Mapping[str, np.ndarray],
    y: Any,
    metric: str | Metric,
    *,
    iterations: int = 50,
    seed: int = 0,
    task: str | None = None,
) -> BlendResult:
    """Caruana et al. (2004) ensemble selection: start from the best single member, then add,
    with replacement, the member whose addition scores best; keep the best blend seen and stop
    after `iterations` additions or PATIENCE rounds without improvement. Weights are how often
    each member was picked. Members are 1-D (values or P(positive)) or (n, k) probabilities;
    with `task`, outputs are turned into labels before scoring for label metrics (accuracy,
    qwk). `seed` breaks ties between equally good members."""
    metric = _metric(metric)
    arrays = _check_arrays(members)
    score = _scorer(y, metric, task)
    names = list(arrays)
    member_scores = {name: score(values) for name, values in arrays.items()}
    rng = np.random.default_rng(seed)

    def best_of(scores: dict[str, float]) -> str:
        # A seeded shuffle decides between ties; max/min keeps the first of equals.
        order = [names[i] for i in rng.permutation(len(names))]
        pick = max if metric.greater_is_better else min
        return pick(order, key=lambda name: scores[name])

    start = best_of(member_scores)
    counts = dict.fromkeys(names, 0)
    counts[start] = 1
    total = arrays[start].copy()
    best_counts, best_score = dict(counts), member_scores[start]
    stale = 0
    for _ in range(iterations):
        n = sum(counts.values())
        candidates = {name: score((total + arrays[name]) / (n + 1)) for name in names}
        chosen = best_of(candidates)
        counts[chosen] += 1
        total += arrays[chosen]
        if metric.is_better(candidates[chosen], best_score):
            best_counts, best_score, stale = dict(counts), candidates[chosen], 0
        else:
            stale += 1
            if stale >= PATIENCE:
                break
    n_picks = sum(best_counts.values())
    weights = {name: count / n_picks for name, count in best_counts.items()}
    blended = _weighted(arrays, weights)
    return BlendResult(
        weights=weights,
        score=score(blended),
        member_scores=member_scores,
        oof=blended,
        method="hill",
        metric=metric.name,
    )


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    if values.ndim != 1:
        raise PipelinesError(
            f"Rank averaging needs 1-D predictions (P(positive) or values), got shape "
            f"{values.shape}; blend class-probability matrices with method 'hill'."
        )
    return rankdata(values) / len(values)


def rank_average(
    members: Mapping[str, np.ndarray],
    y: Any,
    metric: str | Metric,
    *,
    weights: Mapping[str, float] | None = None,
) -> BlendResult:
    """The (weighted, default equal) mean of each member's ranks scaled to (0, 1]: a blend of
    members whose scales differ, for metrics that read only the order (AUC)."""
    metric = _metric(metric)
    arrays = {name: _ranks(values) for name, values in _check_arrays(members).items()}
    y = np.asarray(y)
    if weights is None:
        weights = dict.fromkeys(arrays, 1.0)
    unknown = set(weights) - set(arrays)
    total = float(sum(weights.values()))
    if unknown or total <= 0 or min(weights.values()) < 0:
        raise PipelinesError(
            f"Rank weights must be non-negative, not all zero, and name members "
            f"({', '.join(arrays)}); got {dict(weights)}."
        )
    weights = {name: float(weights.get(name, 0.0)) / total for name in arrays}
    blended = _weighted(arrays, weights)
    return BlendResult(
        weights=weights,
        score=metric.score(y, blended),
        member_scores={name: metric.score(y, values) for name, values in arrays.items()},
        oof=blended,
        method="rank",
        metric=metric.name,
    )


def _unique_names(results: Sequence[CVResult]) -> list[str]:
    names: list[str] = []
    for result in results:
        name, n = result.model, 2
        while name in names:
            name, n = f"{result.model}_{n}", n + 1
        names.append(name)
    return names


def _check_blendable(results: Sequence[CVResult], metric: Metric) -> None:
    first = results[0]
    for other in results[1:]:
        problems = []
        if other.task != first.task:
            problems.append(f"task {other.task!r} vs {first.task!r}")
        if len(other.oof) != len(first.oof):
            problems.append(f"{len(other.oof)} vs {len(first.oof)} train rows")
        elif (
            first.folds is not None
            and other.folds is not None
            and not np.array_equal(other.folds, first.folds)
        ):
            problems.append("different folds")
        if not np.array_equal(other.test_ids, first.test_ids):
            problems.append("different test rows")
        if other.classes != first.classes:
            problems.append(f"classes {other.classes} vs {first.classes}")
        if problems:
            raise PipelinesError(
                f"Runs {first.model!r} and {other.model!r} cannot be blended: "
                f"{'; '.join(problems)}. Train every model on the same folds of the same data."
            )
    for result in results:
        if result.folds is None:
            raise PipelinesError(
                f"Run {result.model!r} was saved without its fold ids, so its folds cannot be "
                "checked against the others; train it again."
            )
        if result.raw_oof is None and first.task != "regression" and not metric.needs_proba:
            raise PipelinesError(
                f"Run {result.model!r} holds only labels for {metric.name!r}; label blends need "
                "its probabilities (raw_oof): train it again."
            )


def blend_results(
    results: Sequence[CVResult],
    y: Any,
    method: str = "hill",
    *,
    metric: str | Metric | None = None,
    iterations: int = 50,
    seed: int = 0,
    model: str = "blend",
    temperature: bool = True,
) -> tuple[BlendResult, CVResult]:
    """Blend cross-validated runs of the same rows and folds by their raw OOF predictions, and
    give the blend as a CVResult too (per-fold scores, blended test predictions, the runs as
    members). `y` is the encoded target (Prepared.y); `metric` defaults to the runs' metric.

    With `temperature`, a hill-climbed log-loss blend is temperature-scaled on its OOF
    predictions when that lowers the cross-fitted log loss (`temperature_scaled`): an average
    of calibrated members is flatter than each of them."""
    if method not in METHODS:
        raise PipelinesError(f"Unknown blend method {method!r}; expected one of {METHODS}.")
    if not results:
        raise PipelinesError("Nothing to blend: give at least one CV result.")
    if metric is None:
        names = {r.metric for r in results}
        if len(names) > 1:
            raise PipelinesError(f"The runs use different metrics {sorted(names)}; pass metric=.")
        metric = results[0].metric
    metric = _metric(metric)
    _check_blendable(results, metric)
    first, y = results[0], np.asarray(y)
    if len(y) != len(first.oof):
        raise PipelinesError(f"y has {len(y)} rows but the runs have {len(first.oof)}.")
    task = first.task
    names = _unique_names(results)
    # Members keep unique names, as they are saved under members/NAME.
    runs = [r if r.model == n else replace(r, model=n) for n, r in zip(names, results, strict=True)]
    oofs = {r.model: r.blend_oof for r in runs}
    tests = {r.model: r.blend_test for r in runs}
    if method == "hill":
        blend = hill_climb(oofs, y, metric, iterations=iterations, seed=seed, task=task)
    else:
        blend = rank_average(oofs, y, metric)
    raw_test = blend.apply(tests)
    folds = first.folds
    oof = as_metric_input(blend.oof, task, metric) if method == "hill" else blend.oof
    fold_scores = [
        metric.score(y[folds == fold], oof[folds == fold]) for fold in range(first.n_folds)
    ]
    per_fold = [r.fold_seconds for r in results]
    devices = list(dict.fromkeys(r.device for r in results))
    blended = CVResult(
        model=model,
        metric=metric.name,
        task=task,
        oof=oof,
        test_predictions=as_metric_input(raw_test, task, metric) if method == "hill" else raw_test,
        test_ids=first.test_ids,
        classes=first.classes,
        fold_scores=fold_scores,
        params={"method": method, "iterations": iterations, "members": names},
        fit_seconds=float(sum(r.fit_seconds for r in results)),
        device="+".join(devices),
        seed=first.seed,
        n_folds=first.n_folds,
        fold_seconds=[float(s) for s in np.sum(per_fold, axis=0)]
        if all(len(s) == first.n_folds for s in per_fold)
        else [],
        folds=folds,
        raw_oof=blend.oof,
        raw_test=raw_test,
        members=tuple(runs),
        blend_weights=blend.weights,
    )
    if temperature and method == "hill" and metric.calibrated:
        blended = temperature_scaled(blended, y, metric)
    return blend, blended


def temperature_scaled(result: CVResult, y: np.ndarray, metric: Metric) -> CVResult:
    """`result` with its probabilities temperature-scaled (pipelines.targets.calibrate) when
    that lowers the cross-fitted OOF log loss, else unchanged; a blend's members stay as
    they were."""
    if result.raw_oof is None or result.raw_test is None or result.folds is None:
        raise PipelinesError(
            f"Run {result.model!r} has no raw predictions or folds to fit a temperature on; "
            "train it again."
        )
    found = calibrate(
        result.raw_oof, result.raw_test, y, result.folds, task=result.task, metric=metric
    )
    if not found.kept:
        return result
    folds = result.folds
    return replace(
        result,
        oof=found.oof,
        test_predictions=found.test,
        raw_oof=found.oof,
        raw_test=found.test,
        fold_scores=[
            metric.score(y[folds == fold], found.oof[folds == fold])
            for fold in range(result.n_folds)
        ],
        temperature=found.temperature,
    )
