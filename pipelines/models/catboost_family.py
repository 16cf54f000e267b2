"""The CatBoost family: one early-stopped CatBoost model per fold, with the prepared frames'
categorical columns handed to CatBoost as categorical features (its ordered target
statistics), cut at its deadline by a callback on the CPU."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError
from pipelines.models.base import Fitted, MemberFit, OneModelFamily, raw_predictions
from pipelines.threads import available_cores

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd

    from pipelines.metrics import Metric
    from pipelines.models.base import EpochCallback, FoldData

# Strong settings for small and medium tables: depth 6 and a moderate rate, the tree count
# left to early stopping on the fold's valid rows.
DEFAULT_CATBOOST_PARAMS: dict[str, Any] = {
    "iterations": 3000,
    "learning_rate": 0.06,
    "depth": 6,
    "l2_leaf_reg": 3.0,
}
EARLY_STOPPING_ROUNDS = 100

# CatBoost's own metric used for early stopping, close to the competition metric; the others
# stop on the loss, which is smoother than a thresholded metric.
EARLY_STOPPING_METRIC = {"auc": "AUC", "mae": "MAE", "rmse": "RMSE", "rmsle": "RMSE"}
TASK_LOSS = {"binary": "Logloss", "multiclass": "MultiClass", "regression": "RMSE"}

# The scikit-learn names CatBoost also takes, as its own names, so they override the defaults.
ALIASES = {
    "n_estimators": "iterations",
    "num_trees": "iterations",
    "num_boost_round": "iterations",
    "eta": "learning_rate",
    "max_depth": "depth",
    "reg_lambda": "l2_leaf_reg",
    "random_state": "random_seed",
    "objective": "loss_function",
    "n_jobs": "thread_count",
}
# Settings the family owns: a fold's data and the device decide them, not the user.
_OWNED = ("cat_features", "class_names", "task_type", "devices", "callbacks", "eval_set")
# Missing category values get their own code, since CatBoost refuses NaN categories.
MISSING_CODE = -1
# On the GPU, CatBoost runs no Python callbacks: fits of growing size (from this many trees,
# at most STEP_GROWTH times more a step) are each sized to end within this share of the time
# left (_fit_stepped).
GPU_PROBE_ITERATIONS = 20
STEP_GROWTH = 4.0
STEP_TIME_SAFETY = 0.8
# "auto" puts CatBoost on a GPU only from this many rows to fit: below, CPU trees are about
# as fast and keep the deadline tree by tree.
GPU_MIN_ROWS = 50_000


def categorical_columns(X: pd.DataFrame) -> list[str]:
    """The columns CatBoost should treat as categories: pandas categories (what
    pipelines.features makes) and any text left as objects."""
    import pandas as pd

    return [
        str(name)
        for name, dtype in X.dtypes.items()
        if isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ]


def catboost_frame(X: pd.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    """X with each categorical column as integer codes (missing: MISSING_CODE). Categories
    share the train's categories in train and test (pipelines.features), so one value has
    one code everywhere; other text columns become strings with missing as ''."""
    import pandas as pd

    if not categorical:
        return X
    out = X.copy()
    for name in categorical:
        column = out[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            out[name] = column.cat.codes.astype("int64")  # NaN is already code -1
        else:
            out[name] = column.fillna("").astype(str)
    return out


def catboost_settings(
    params: Mapping[str, Any] | None, *, seed: int, task: str, n_classes: int, metric: Metric
) -> tuple[dict[str, Any], int]:
    """The estimator's settings (defaults under `params`) and the early-stopping patience."""
    given = {ALIASES.get(key, key): value for key, value in (params or {}).items()}
    settings = {**DEFAULT_CATBOOST_PARAMS, "random_seed": seed, **given}
    patience = int(settings.pop("early_stopping_rounds", EARLY_STOPPING_ROUNDS))
    settings.setdefault("loss_function", TASK_LOSS[task])
    loss = str(settings["loss_function"])
    default_metric = EARLY_STOPPING_METRIC.get(metric.name, loss)
    # AUC scores one probability: for classes forced to "multiclass" it stops on the loss.
    settings.setdefault("eval_metric", loss if task == "multiclass" else default_metric)
    return settings, patience


def resolve_device(device: str, rows: int) -> str:
    """ "auto" as "cuda" when CatBoost sees a GPU and there are `rows` >= GPU_MIN_ROWS to fit,
    else "cpu"; "cuda" without a GPU is refused."""
    if device == "cpu" or (device == "auto" and rows < GPU_MIN_ROWS):
        return "cpu"
    from catboost.utils import get_gpu_device_count

    if get_gpu_device_count() > 0:
        return "cuda"
    if device == "cuda":
        raise PipelinesError(
            "device 'cuda' was asked for but CatBoost sees no GPU; use auto or cpu."
        )
    return "cpu"


class DeadlineCallback:
    """A CatBoost callback that ends boosting once `deadline` has passed; with
    use_best_model, CatBoost then keeps the best iteration so far on the valid rows."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def after_iteration(self, info: Any) -> bool:
        return not self.deadline.passed()  # False stops; the first tree is already grown


def _estimator(task: str) -> type:
    import catboost

    return catboost.CatBoostRegressor if task == "regression" else catboost.CatBoostClassifier


def fit_catboost(
    settings: dict[str, Any],
    patience: int,
    fold: FoldData,
    *,
    device: str,
    deadline: Deadline,
    python_callbacks: bool | None = None,
) -> tuple[Any, list[str], MemberFit]:
    """CatBoost through its scikit-learn API, early-stopped on the valid rows and stopped at
    `deadline` with its best iteration; the first tree is always grown. `python_callbacks`
    (default: on the CPU only, as CatBoost allows) says whether a callback keeps the
    deadline or fits of growing size do (_fit_stepped)."""
    started = time.perf_counter()
    categorical = categorical_columns(fold.X_fit)
    X_fit = catboost_frame(fold.X_fit, categorical)
    X_valid = catboost_frame(fold.X_valid, categorical)
    where = resolve_device(device, len(fold.X_fit))
    fixed: dict[str, Any] = {
        "cat_features": categorical,
        "early_stopping_rounds": patience,
        "use_best_model": True,
        "allow_writing_files": False,  # no catboost_info/ in the user's folder
        "logging_level": "Silent",
        "task_type": "GPU" if where == "cuda" else "CPU",
    }
    fixed["thread_count"] = settings.pop("thread_count", available_cores())
    if fold.task != "regression":
        # Every class named, so a fold whose train part lacks one still predicts k columns.
        fixed["class_names"] = list(range(max(fold.n_classes, 2)))
    estimator = _estimator(fold.task)
    iterations = int(settings.pop("iterations"))

    def fit(iterations: int, callbacks: list[Any] | None) -> Any:
        model = estimator(**{**settings, "iterations": iterations}, **fixed)
        model.fit(X_fit, fold.y_fit, eval_set=(X_valid, fold.y_valid), callbacks=callbacks)
        return model

    if python_callbacks is None:
        python_callbacks = where == "cpu"
    if python_callbacks:
        model = fit(iterations, [DeadlineCallback(deadline)] if deadline.bounded else None)
    else:
        model = (
            _fit_stepped(fit, iterations, deadline) if deadline.bounded else fit(iterations, None)
        )
    return (
        model,
        categorical,
        MemberFit(
            best_iteration=int(model.tree_count_),
            params={**settings, "iterations": iterations, "early_stopping_rounds": patience},
            device=where,
            seconds=time.perf_counter() - started,
        ),
    )


def _trees_grown(model: Any) -> int:
    """How many trees a fit grew before use_best_model cut it back to the best."""
    validation = model.get_evals_result().get("validation", {})
    return max((len(values) for values in validation.values()), default=model.tree_count_)


def _fit_stepped(fit: Any, iterations: int, deadline: Deadline) -> Any:
    """Without Python callbacks (the GPU): fits of growing size, each sized so that it should
    end before `deadline`, the last one kept; the first fit (a few trees) always runs. Later
    trees cost more than early ones (CatBoost adds combinations of categories as trees use
    them; on churn 4x the trees took 1x to 20x the time), so the next fit is predicted to
    cost the last one's time times the square of its growth, within STEP_TIME_SAFETY of the
    time left: on churn (400 and 5600 rows; 1, 3 and 8 s) every fit ended before its
    deadline, using 50-80% of it."""
    n = min(GPU_PROBE_ITERATIONS, iterations)
    started = time.perf_counter()
    model = fit(n, None)
    took = max(time.perf_counter() - started, 1e-3)
    while n < iterations and _trees_grown(model) >= n:  # fewer: early stopping ended it
        room = deadline.remaining() * STEP_TIME_SAFETY
        # the largest growth g with took * g**2 <= room, at most STEP_GROWTH a step
        growth = min(STEP_GROWTH, math.sqrt(max(room, 0.0) / took))
        grown = min(iterations, math.floor(n * growth))
        if grown < n * 1.25:
            break  # too little room for a fit worth redoing the trees so far
        started = time.perf_counter()
        model, n = fit(grown, None), grown
        took = max(time.perf_counter() - started, 1e-3)
    return model


@dataclass(frozen=True)
class _State:
    model: Any
    categorical: list[str]
    task: str
    n_classes: int


class CatBoostFamily(OneModelFamily):
    """Gradient-boosted oblivious trees (CatBoost) with native categorical features,
    early-stopped on each fold; on a GPU when one is present and asked for."""

    name = "catboost"
    description = "CatBoost with native categoricals, early-stopped on each fold"
    members = ("catboost",)
    # `compete train` on 600 churn rows, 2 busy cores: ~3 s of interpreter, imports and data
    # before the first tree; a 5 s budget wrote submission.csv after 5.2-5.3 s with CV 0.792
    # (0.795 unbounded), a 1 s budget after 3.7 s.
    min_budget = 5.0

    def default_params(self) -> dict[str, Any]:
        return {**DEFAULT_CATBOOST_PARAMS, "early_stopping_rounds": EARLY_STOPPING_ROUNDS}

    def check_params(self, params: Mapping[str, Any] | None) -> None:
        if params is None:
            return
        if not isinstance(params, Mapping):
            raise PipelinesError(
                "CatBoost params must be a mapping of names to values, "
                f"got {type(params).__name__}."
            )
        import inspect

        import catboost

        known = set(inspect.signature(catboost.CatBoostClassifier).parameters) | set(
            inspect.signature(catboost.CatBoostRegressor).parameters
        )
        unknown = sorted(str(k) for k in params if k not in known)
        if unknown:
            raise PipelinesError(
                f"Unknown CatBoost parameter(s) {', '.join(map(repr, unknown))}; use the names "
                "of catboost.CatBoostClassifier (e.g. depth, learning_rate, l2_leaf_reg)."
            )
        owned = sorted(k for k in params if k in _OWNED)
        if owned:
            raise PipelinesError(
                f"CatBoost parameter(s) {', '.join(map(repr, owned))} are set from the data and "
                "the device; leave them out (choose the device with --device)."
            )
        for key in ("iterations", "n_estimators", "early_stopping_rounds"):
            value = params.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise PipelinesError(f"CatBoost {key} must be a whole number >= 1, got {value!r}.")

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        # Early stopping picks the tree count, so iterations stays at its default.
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "depth": trial.suggest_int("depth", 4, 8),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 30.0, log=True),
            "random_strength": trial.suggest_float("random_strength", 1e-3, 10.0, log=True),
            "bagging_temperature": trial.suggest_float("bagging_temperature", 0.0, 1.0),
            "border_count": trial.suggest_categorical("border_count", [64, 128, 254]),
        }

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
        settings, patience = catboost_settings(
            params, seed=seed, task=fold.task, n_classes=fold.n_classes, metric=fold.metric
        )
        model, categorical, member = fit_catboost(
            settings, patience, fold, device=device, deadline=deadline
        )
        return Fitted(_State(model, categorical, fold.task, fold.n_classes), {"catboost": member})

    def predict(self, fitted: Fitted, X: pd.DataFrame) -> dict[str, np.ndarray]:
        state = fitted.state
        frame = catboost_frame(X, state.categorical)
        return {"catboost": raw_predictions(state.model, frame, state.task, state.n_classes)}


FAMILY = CatBoostFamily()
