"""LightGBM settings: the defaults every run starts from and the Optuna search space around them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

DEFAULT_LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 1000,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "verbose": -1,
    # threads: pipelines.threads.openmp_threads for the fit's data, unless params set n_jobs
    # deterministic needs a fixed histogram layout (col-wise) to repeat bit for bit
    "deterministic": True,
    "force_col_wise": True,
}
EARLY_STOPPING_ROUNDS = 50

# LightGBM's own metric used for early stopping, close to the competition metric.
EARLY_STOPPING_METRIC = {"auc": "auc", "mae": "l1", "rmse": "rmse", "rmsle": "rmse"}
TASK_METRIC = {"binary": "binary_logloss", "multiclass": "multi_logloss", "regression": "rmse"}


def lgbm_space(trial: optuna.Trial) -> dict[str, Any]:
    """LightGBM parameters sampled by `trial`, in the scikit-learn API's names; early stopping
    picks the number of trees, so n_estimators stays at its default."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        # bagging only happens with a frequency above zero
        "subsample_freq": trial.suggest_int("subsample_freq", 0, 5),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
    }
