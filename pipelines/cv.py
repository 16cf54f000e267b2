"""Cross-validation of any registered model family (pipelines.models) on shared folds, each
fold fit within its share of a deadline; the result is a CVResult (pipelines.result)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.blend import blend_results, temperature_scaled
from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError
from pipelines.features import prepare_frames
from pipelines.folds import make_folds
from pipelines.gbdt import DEFAULT_LGBM_PARAMS, EARLY_STOPPING_ROUNDS
from pipelines.metrics import Metric, get_metric
from pipelines.models import FoldData, get_family
from pipelines.result import CVResult, as_metric_input
from pipelines.targets import (
    check_target,
    from_fit_space,
    target_transform,
    to_fit_space,
)

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.features import Prepared

__all__ = [
    "DEFAULT_LGBM_PARAMS",
    "EARLY_STOPPING_ROUNDS",
    "CVResult",
    "as_metric_input",
    "cross_validate",
    "cross_validate_lgbm",
    "temperature_scaled",
]

OnFold = Callable[[int, int, float], None]
# (fold, the fold's own rows as a mask, the family's predictions for them on the target scale:
# values, P(positive) or class probabilities, as CVResult.raw_oof holds them)
OnFoldPredictions = Callable[[int, np.ndarray, np.ndarray], None]
EpochCallback = Callable[[int, float], None]

DEVICES = ("auto", "cpu", "cuda")


def _check_inputs(data: Prepared, metric: Metric, folds: np.ndarray) -> np.ndarray:
    if data.task not in metric.tasks:
        raise PipelinesError(
            f"Metric {metric.name!r} does not apply to a {data.task} task; it fits "
            f"{', '.join(metric.tasks)}. Pick another metric or pass task=."
        )
    folds = np.asarray(folds)
    if folds.shape != (len(data.y),):
        raise PipelinesError(
            f"folds must hold one fold id per train row ({len(data.y)}), got shape "
            f"{folds.shape}; make them with pipelines.folds.make_folds."
        )
    ids = np.unique(folds)
    if len(ids) < 2 or not np.array_equal(ids, np.arange(len(ids))):
        raise PipelinesError(
            f"fold ids must be 0..k-1 with k >= 2, got {ids.tolist()[:10]}; "
            "make them with pipelines.folds.make_folds."
        )
    return folds.astype(np.int64)


@dataclass
class _Member:
    """One member's predictions gathered fold by fold."""

    raw_oof: np.ndarray
    raw_test: np.ndarray
    fold_scores: list[float] = field(default_factory=list)
    fold_seconds: list[float] = field(default_factory=list)
    best_iterations: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"


def cross_validate(
    data: Prepared,
    *,
    model: str,
    metric: str | Metric,
    folds: np.ndarray,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
    on_fold: OnFold | None = None,
    callbacks: Sequence[EpochCallback] | None = None,
    deadline: Deadline | None = None,
    temperature: bool = True,
    on_fold_predictions: OnFoldPredictions | None = None,
) -> CVResult:
    """K-fold cross-validation of the model family `model` (pipelines.models: "lgbm", "nn",
    "hybrid", ...) on the given fold ids.

    Each fold's model is fit on the other folds' rows and early-stopped on its own rows; the
    OOF predictions are scored per fold with `metric`, test predictions are averaged over the
    folds' models (probabilities averaged before taking labels). `params` override the
    family's defaults (for "hybrid" they are {"nn": {...}, "lgbm": {...}}). `on_fold(fold,
    n_folds, score)` runs after each fold, after `on_fold_predictions(fold, rows, raw)` (the
    fold's rows and their predictions, the members averaged); `callbacks` run after each
    network epoch as cb(epoch, valid_loss) and may raise (optuna.TrialPruned) to stop. A
    family with several members (the hybrid) has them blended by hill climbing on their OOF
    predictions. `device` ("auto", "cpu", "cuda") places networks; LightGBM always runs on
    the CPU.

    `deadline`: each fold gets the time left divided over the folds left, less the time the
    last fold took to predict, so every fold is fitted (at least one tree or one batch) and
    the OOF predictions are complete; a fold's model stops at its share with the best
    iteration so far.

    The metric's targets (pipelines.targets), the same for every family: for RMSLE the models
    train and early-stop on log1p(y) and their outputs come back through expm1, clipped at 0
    (negative targets are refused); log-loss probabilities are clipped and, with
    `temperature`, scaled by the temperature that lowers the cross-fitted OOF log loss (kept
    only when it does; recorded in the result); label metrics take labels from the averaged
    or blended probabilities.
    """
    metric = get_metric(metric) if isinstance(metric, str) else metric
    folds = _check_inputs(data, metric, folds)
    check_target(data.y, metric)
    family = get_family(model)
    if data.task not in family.tasks:
        raise PipelinesError(
            f"Model {model!r} does not fit a {data.task} task; it fits {', '.join(family.tasks)}."
        )
    family.check_params(params)
    if device not in DEVICES:
        raise PipelinesError(f"Unknown device {device!r}; expected one of {', '.join(DEVICES)}.")
    deadline = deadline or Deadline.never()
    started = time.perf_counter()
    task = data.task
    n_classes = len(data.classes) if data.classes is not None else 0
    n_folds = int(folds.max()) + 1
    width = (n_classes,) if task == "multiclass" else ()
    members = {
        name: _Member(np.zeros((len(data.y), *width)), np.zeros((len(data.X_test), *width)))
        for name in family.members
    }

    # The last fold's prediction time, kept back from the next fold's share; on the deadline's
    # clock, so a scripted clock (the schedule's tests) sees no real time.
    predicting = 0.0
    for fold in range(n_folds):
        fit_rows, valid_rows = folds != fold, folds == fold
        part = FoldData(
            X_fit=data.X[fit_rows],
            y_fit=to_fit_space(data.y[fit_rows], metric),
            X_valid=data.X[valid_rows],
            y_valid=to_fit_space(data.y[valid_rows], metric),
            task=task,
            n_classes=n_classes,
            metric=metric,
        )
        fitted = family.fit_fold(
            part,
            params,
            seed=seed,
            device=device,
            deadline=deadline.split(n_folds - fold).earlier(predicting),
            callbacks=tuple(callbacks or ()),
        )
        predicted = deadline.clock()
        raw_valid = _on_target_scale(family.predict(fitted, part.X_valid), metric)
        raw_test = _on_target_scale(family.predict(fitted, data.X_test), metric)
        predicting = deadline.clock() - predicted
        y_valid = data.y[valid_rows]
        for name, member in members.items():
            fit = fitted.members[name]
            member.raw_oof[valid_rows] = raw_valid[name]
            member.raw_test += raw_test[name] / n_folds
            member.fold_scores.append(
                metric.score(y_valid, as_metric_input(raw_valid[name], task, metric))
            )
            member.fold_seconds.append(fit.seconds + predicting / len(members))
            member.best_iterations.append(fit.best_iteration)
            member.params, member.device = fit.params, fit.device
        # The fold's model is done with: freed before the next one grows (a forest of deep
        # trees holds hundreds of MB).
        del fitted
        # Several members' blend weights are known only at the end: report their average.
        average = np.mean([raw_valid[name] for name in members], axis=0)
        if on_fold_predictions is not None:
            on_fold_predictions(fold, valid_rows, average)
        if on_fold is not None:
            on_fold(fold, n_folds, metric.score(y_valid, as_metric_input(average, task, metric)))

    results = {
        name: _member_result(
            name, member, data=data, metric=metric, folds=folds, seed=seed, n_folds=n_folds
        )
        for name, member in members.items()
    }
    if len(results) == 1:
        (result,) = results.values()
        result = replace(result, model=family.name)
        if temperature and metric.calibrated:
            result = temperature_scaled(result, data.y, metric)
    else:
        _, result = blend_results(
            list(results.values()),
            data.y,
            metric=metric,
            model=family.name,
            temperature=temperature,
        )
        params = family.result_params({name: r.params for name, r in results.items()})
        result = replace(result, params=params)
    # A blend's CVResult comes from blend_results, which knows nothing of the transform.
    return replace(
        result, target=target_transform(metric), fit_seconds=time.perf_counter() - started
    )


def _on_target_scale(raw: dict[str, np.ndarray], metric: Metric) -> dict[str, np.ndarray]:
    return {name: from_fit_space(values, metric) for name, values in raw.items()}


def _member_result(
    name: str,
    member: _Member,
    *,
    data: Prepared,
    metric: Metric,
    folds: np.ndarray,
    seed: int,
    n_folds: int,
) -> CVResult:
    return CVResult(
        model=name,
        metric=metric.name,
        task=data.task,
        oof=as_metric_input(member.raw_oof, data.task, metric),
        test_predictions=as_metric_input(member.raw_test, data.task, metric),
        test_ids=data.test_ids,
        classes=data.classes,
        fold_scores=member.fold_scores,
        params=member.params,
        fit_seconds=float(sum(member.fold_seconds)),
        device=member.device,
        seed=seed,
        n_folds=n_folds,
        best_iterations=member.best_iterations,
        fold_seconds=member.fold_seconds,
        folds=folds,
        raw_oof=member.raw_oof,
        raw_test=member.raw_test,
        target=target_transform(metric),
    )


def cross_validate_lgbm(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    target: str,
    id_column: str | None,
    metric: str | Metric,
    n_folds: int = 5,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    on_fold: OnFold | None = None,
    task: str | None = None,
) -> CVResult:
    """K-fold LightGBM from raw train/test frames: prepare them, make seeded folds, and run
    `cross_validate(model="lgbm")`. `params` override DEFAULT_LGBM_PARAMS
    ("early_stopping_rounds" is read from them too)."""
    metric = get_metric(metric) if isinstance(metric, str) else metric
    data = prepare_frames(train, test, target=target, id_column=id_column, task=task)
    if data.task not in metric.tasks:
        raise PipelinesError(
            f"Metric {metric.name!r} does not apply to a {data.task} task; it fits "
            f"{', '.join(metric.tasks)}. Pick another metric or pass task=."
        )
    folds = make_folds(data.y, task=data.task, n_splits=n_folds, seed=seed)
    return cross_validate(
        data, model="lgbm", metric=metric, folds=folds, params=params, seed=seed, on_fold=on_fold
    )
