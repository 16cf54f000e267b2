"""XGBoost with the meta-tuned "TD" defaults of pytabkit (Holzmüller et al., "Better by
Default", 2024): one early-stopped booster per fold on native categories, cut at its deadline
by a training callback.

The settings are pytabkit's `DefaultParams.XGB_TD_CLASS` / `XGB_TD_REG` in XGBoost's
scikit-learn names (tests/pipelines/test_pytabkit_families.py checks them against pytabkit).
They are fit here rather than by pytabkit's XGB_TD_Classifier because pytabkit passes XGBoost
no callbacks of ours: no deadline could reach it (and it would import torch for a tree model).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.deadline import Deadline
from pipelines.models.base import Fitted, MemberFit, OneModelFamily, raw_predictions
from pipelines.threads import openmp_threads

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd

    from pipelines.metrics import Metric
    from pipelines.models.base import EpochCallback, FoldData

# pytabkit 1.8 DefaultParams.XGB_TD_CLASS: lr 8e-2, min_child_weight 5e-6, reg_lambda 0,
# max_depth 6, colsample_bylevel 0.9, subsample 0.65, hist, max_bin 256, 1000 trees,
# early_stopping_rounds 300.
TD_CLASSIFICATION: dict[str, Any] = {
    "n_estimators": 1000,
    "learning_rate": 0.08,
    "min_child_weight": 5e-6,
    "reg_lambda": 0.0,
    "max_depth": 6,
    "colsample_bylevel": 0.9,
    "subsample": 0.65,
    "tree_method": "hist",
    "max_bin": 256,
    "early_stopping_rounds": 300,
}
# pytabkit 1.8 DefaultParams.XGB_TD_REG: lr 5e-2, max_depth 9, min_child_weight 2,
# reg_lambda 0, subsample 0.7, hist, max_bin 256, 1000 trees, early_stopping_rounds 300.
TD_REGRESSION: dict[str, Any] = {
    "n_estimators": 1000,
    "learning_rate": 0.05,
    "max_depth": 9,
    "min_child_weight": 2.0,
    "reg_lambda": 0.0,
    "subsample": 0.7,
    "tree_method": "hist",
    "max_bin": 256,
    "early_stopping_rounds": 300,
}
# Ours: native pandas categories, quiet (threads: openmp_threads for the fit's data).
ENGINE: dict[str, Any] = {"enable_categorical": True, "verbosity": 0}
# XGBoost's own metric for early stopping, close to the competition metric.
EVAL_METRIC = {"auc": "auc", "logloss": "logloss", "multiclass_logloss": "mlogloss", "mae": "mae"}
TASK_EVAL_METRIC = {"binary": "logloss", "multiclass": "mlogloss", "regression": "rmse"}


def xgb_space(trial: optuna.Trial) -> dict[str, Any]:
    """XGBoost parameters sampled by `trial` around the TD defaults; early stopping picks the
    number of trees."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 10),
        "min_child_weight": trial.suggest_float("min_child_weight", 1e-6, 10.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bylevel": trial.suggest_float("colsample_bylevel", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
    }


def td_params(task: str) -> dict[str, Any]:
    """The task's TD settings, with our engine settings."""
    return {**ENGINE, **(TD_REGRESSION if task == "regression" else TD_CLASSIFICATION)}


def eval_metric(metric: Metric, task: str, n_classes: int) -> str:
    # Two classes forced to "multiclass" still train XGBoost's binary objective.
    objective_task = "binary" if n_classes == 2 else task
    chosen = EVAL_METRIC.get(metric.name, TASK_EVAL_METRIC[objective_task])
    return "logloss" if chosen == "mlogloss" and objective_task == "binary" else chosen


def deadline_callback(deadline: Deadline) -> Any:
    """An XGBoost training callback that ends boosting once `deadline` has passed; early
    stopping (which runs with it) has kept the best iteration so far, which predict uses."""
    import xgboost

    class _Deadline(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return deadline.passed()

    return _Deadline()


@dataclass(frozen=True)
class _State:
    model: Any
    task: str
    n_classes: int
    present: np.ndarray | None  # the classes the fold's fit rows hold (XGBoost needs 0..k-1)


class XGBoostTDFamily(OneModelFamily):
    """XGBoost with pytabkit's meta-tuned defaults, early-stopped on each fold.

    default_params stays empty: td_params(task) applies when a fold is fit, as the TD values
    differ by task."""

    name = "xgb_td"
    description = "XGBoost with the meta-tuned TD defaults (pytabkit), early-stopped"
    members = ("xgb_td",)
    min_budget = 10.0  # like lgbm: no torch, the first tree of each fold

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return xgb_space(trial)

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
        import numpy as np
        import xgboost

        started = time.perf_counter()
        settings = {
            **td_params(fold.task),
            "n_jobs": openmp_threads("xgboost", *fold.X_fit.shape),
            "random_state": seed,
            "eval_metric": eval_metric(fold.metric, fold.task, fold.n_classes),
            **(params or {}),
        }
        y_fit, X_valid, y_valid, present = fold.y_fit, fold.X_valid, fold.y_valid, None
        if fold.task == "regression":
            estimator: type = xgboost.XGBRegressor
        else:
            estimator = xgboost.XGBClassifier
            # A fold whose fit rows lack a class: XGBoost wants labels 0..k-1, so the present
            # classes are renumbered, and valid rows of an absent class leave the eval set.
            present = np.unique(fold.y_fit)
            y_fit = np.searchsorted(present, fold.y_fit)
            known = np.isin(fold.y_valid, present)
            X_valid, y_valid = fold.X_valid[known], np.searchsorted(present, fold.y_valid[known])
        model = estimator(
            **settings, callbacks=[deadline_callback(deadline)] if deadline.bounded else None
        )
        model.fit(fold.X_fit, y_fit, eval_set=[(X_valid, y_valid)], verbose=False)
        best = getattr(model, "best_iteration", None)
        member = MemberFit(
            best_iteration=int(best) + 1
            if best is not None
            else model.get_booster().num_boosted_rounds(),
            params={k: v for k, v in settings.items() if k != "callbacks"},
            device="cpu",
            seconds=time.perf_counter() - started,
        )
        return Fitted(_State(model, fold.task, fold.n_classes, present), {"xgb_td": member})

    def predict(self, fitted: Fitted, X: pd.DataFrame) -> dict[str, np.ndarray]:
        s = fitted.state
        return {"xgb_td": raw_predictions(s.model, X, s.task, s.n_classes, classes=s.present)}


FAMILY = XGBoostTDFamily()
