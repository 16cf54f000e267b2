"""The LightGBM family: one early-stopped booster per fold, cut at its deadline by a callback."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipelines.deadline import Deadline
from pipelines.gbdt import (
    DEFAULT_LGBM_PARAMS,
    EARLY_STOPPING_METRIC,
    EARLY_STOPPING_ROUNDS,
    TASK_METRIC,
    lgbm_space,
)
from pipelines.models.base import EpochCallback, Fitted, FoldData, MemberFit, OneModelFamily
from pipelines.threads import openmp_threads

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd

    from pipelines.metrics import Metric

# After LightGBM's early stopping (order 30), so both see the same iteration.
DEADLINE_CALLBACK_ORDER = 40


def eval_arguments(estimator: type, X: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """The validation data for early stopping: eval_X/eval_y since LightGBM 4.7, else eval_set."""
    if "eval_X" in inspect.signature(estimator.fit).parameters:
        return {"eval_X": (X,), "eval_y": (y,)}
    return {"eval_set": [(X, y)]}


def lgbm_settings(
    params: Mapping[str, Any] | None, *, seed: int, task: str, n_classes: int, metric: Metric
) -> tuple[dict[str, Any], int]:
    """The estimator's settings (defaults under `params`) and the early-stopping patience."""
    settings = {**DEFAULT_LGBM_PARAMS, "random_state": seed, **(params or {})}
    patience = int(settings.pop("early_stopping_rounds", EARLY_STOPPING_ROUNDS))
    # Two classes forced to "multiclass" still train LightGBM's binary objective.
    objective_task = "binary" if n_classes == 2 else task
    settings.setdefault(
        "metric", EARLY_STOPPING_METRIC.get(metric.name, TASK_METRIC[objective_task])
    )
    return settings, patience


def deadline_callback(deadline: Deadline) -> Callable[[Any], None]:
    """A LightGBM callback that ends boosting once `deadline` has passed, keeping the best
    iteration so far on the first validation metric (as early stopping would)."""
    from lightgbm.callback import EarlyStopException

    best: dict[str, Any] = {"iteration": -1, "score": None, "results": []}

    def callback(env: Any) -> None:
        results = list(env.evaluation_result_list or [])
        if results:
            score, higher = results[0][2], results[0][3]
            better = best["score"] is None or (
                score > best["score"] if higher else score < best["score"]
            )
            if better:
                best.update(iteration=env.iteration, score=score, results=results)
        elif best["iteration"] < 0:
            best.update(iteration=env.iteration, results=results)
        if deadline.passed():
            raise EarlyStopException(best["iteration"], best["results"])

    callback.order = DEADLINE_CALLBACK_ORDER  # type: ignore[attr-defined]
    return callback


def fit_booster(
    settings: dict[str, Any],
    patience: int,
    task: str,
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    deadline: Deadline,
) -> tuple[Any, MemberFit]:
    """LightGBM through its scikit-learn API, early-stopped on the valid rows and stopped at
    `deadline`; the first tree is always grown. Threads: `n_jobs` if set, else
    pipelines.threads.openmp_threads for the fit rows."""
    import lightgbm

    started = time.perf_counter()
    estimator = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    settings = {"n_jobs": openmp_threads("lightgbm", *X_fit.shape), **settings}
    model = estimator(**settings)
    callbacks = [lightgbm.early_stopping(patience, verbose=False)]
    if deadline.bounded:
        callbacks.append(deadline_callback(deadline))
    model.fit(X_fit, y_fit, **eval_arguments(estimator, X_valid, y_valid), callbacks=callbacks)
    return model, MemberFit(
        best_iteration=int(model.best_iteration_ or settings["n_estimators"]),
        params={**settings, "early_stopping_rounds": patience},
        device="cpu",
        seconds=time.perf_counter() - started,
    )


def fit_lgbm(
    fold: FoldData, params: Mapping[str, Any] | None, *, seed: int, deadline: Deadline
) -> tuple[Any, MemberFit]:
    """A booster on the fold's rows with `params` over our defaults (lgbm_settings)."""
    settings, patience = lgbm_settings(
        params, seed=seed, task=fold.task, n_classes=fold.n_classes, metric=fold.metric
    )
    return fit_booster(
        settings, patience, fold.task, fold.X_fit, fold.y_fit, fold.X_valid, fold.y_valid,
        deadline,
    )  # fmt: skip


class LightGBMFamily(OneModelFamily):
    """Gradient-boosted trees (LightGBM on the CPU), early-stopped on each fold's rows."""

    name = "lgbm"
    description = "LightGBM, early-stopped on each fold"
    members = ("lgbm",)
    min_budget = 10.0

    def default_params(self) -> dict[str, Any]:
        return {**DEFAULT_LGBM_PARAMS, "early_stopping_rounds": EARLY_STOPPING_ROUNDS}

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return lgbm_space(trial)

    def seed_varies(self, params: Mapping[str, Any] | None) -> bool:
        """Whether another seed grows other trees with these settings: only row bagging
        (subsample below 1 at a frequency above 0), column sampling or extra trees draw on
        it; the defaults do none, so bagging their seeds would repeat one model."""
        settings = {**DEFAULT_LGBM_PARAMS, **(params or {})}
        rows = settings.get("subsample", settings.get("bagging_fraction", 1.0))
        every = settings.get("subsample_freq", settings.get("bagging_freq", 0))
        columns = settings.get("colsample_bytree", settings.get("feature_fraction", 1.0))
        return (rows < 1 and every > 0) or columns < 1 or bool(settings.get("extra_trees"))

    def fit_fold(
        self,
        fold: FoldData,
        params: Mapping[str, Any] | None,
        *,
        seed: int,
        device: str,
        deadline: Deadline,
        callbacks: Sequence[EpochCallback] = (),
    ) -> Fitted:
        return self.fitted(fold, *fit_lgbm(fold, params, seed=seed, deadline=deadline))


FAMILY = LightGBMFamily()
