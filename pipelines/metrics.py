"""The metric registry: each Kaggle metric's scorer, direction and need for probabilities."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.errors import PipelinesError, UnknownMetricError

TASKS = ("binary", "multiclass", "regression")


def _as_1d(values: Any, *, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise PipelinesError(f"{name} must be 1-D, got shape {array.shape}.")
    return array


def _positive_proba(y_pred: Any) -> np.ndarray:
    """Binary probabilities as a 1-D array; an (n, 2) matrix gives its second column."""
    array = np.asarray(y_pred, dtype=float)
    if array.ndim == 2 and array.shape[1] == 2:
        return array[:, 1]
    return _as_1d(array, name="y_pred")


def _auc(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import roc_auc_score

    y = _as_1d(y_true, name="y_true")
    if len(np.unique(y)) < 2:
        raise PipelinesError("AUC needs both classes in y_true; this sample holds only one.")
    return float(roc_auc_score(y, _positive_proba(y_pred)))


def _logloss(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(_as_1d(y_true, name="y_true"), _positive_proba(y_pred), labels=[0, 1]))


def _class_labels(y_true: np.ndarray, n_columns: int) -> np.ndarray:
    """The labels that the probability columns stand for, in sorted order."""
    present = np.unique(y_true)
    if len(present) == n_columns:
        return present
    # Some classes may be absent from this sample (a public split): integer codes 0..k-1 still
    # identify the columns.
    integer_codes = np.issubdtype(present.dtype, np.number) and np.all(present == np.round(present))
    if integer_codes and present.min() >= 0 and present.max() < n_columns:
        return np.arange(n_columns)
    raise PipelinesError(
        f"multiclass_logloss got {n_columns} probability columns but y_true holds "
        f"{len(present)} distinct labels; encode labels as 0..{n_columns - 1} in sorted order."
    )


def _multiclass_logloss(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import log_loss

    y = _as_1d(y_true, name="y_true")
    proba = np.asarray(y_pred, dtype=float)
    if proba.ndim != 2:
        raise PipelinesError(
            f"multiclass_logloss needs an (n, k) probability matrix, got shape {proba.shape}."
        )
    # Kaggle rescales each row to sum to one after clipping; do the same.
    eps = np.finfo(proba.dtype).eps
    proba = np.clip(proba, eps, 1 - eps)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(log_loss(y, proba, labels=_class_labels(y, proba.shape[1])))


def _accuracy(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(_as_1d(y_true, name="y_true"), _as_1d(y_pred, name="y_pred")))


def _f1(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import f1_score

    y = _as_1d(y_true, name="y_true")
    pred = _as_1d(y_pred, name="y_pred")
    # Binary 0/1 labels: F1 of the positive class; more labels: the macro average.
    binary = set(np.unique(np.concatenate([y, pred])).tolist()) <= {0, 1}
    return float(f1_score(y, pred, average="binary" if binary else "macro"))


def _rmse(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import root_mean_squared_error

    y = _as_1d(y_true, name="y_true").astype(float)
    return float(root_mean_squared_error(y, _as_1d(y_pred, name="y_pred").astype(float)))


def _rmsle(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import root_mean_squared_log_error

    y = _as_1d(y_true, name="y_true").astype(float)
    pred = _as_1d(y_pred, name="y_pred").astype(float)
    for label, values in (("targets", y), ("predictions", pred)):
        negative = int((values < 0).sum())
        if negative:
            raise PipelinesError(
                f"rmsle is undefined for negative values: {negative} {label} are below zero "
                f"(smallest {values.min():g}); clip predictions at 0 or choose another metric."
            )
    return float(root_mean_squared_log_error(y, pred))


def _mae(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import mean_absolute_error

    y = _as_1d(y_true, name="y_true").astype(float)
    return float(mean_absolute_error(y, _as_1d(y_pred, name="y_pred").astype(float)))


def _r2(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import r2_score

    y = _as_1d(y_true, name="y_true").astype(float)
    return float(r2_score(y, _as_1d(y_pred, name="y_pred").astype(float)))


def _qwk(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import cohen_kappa_score

    y = _as_1d(y_true, name="y_true")
    pred = _as_1d(y_pred, name="y_pred")
    # Ordinal targets are often predicted by a regressor: round to the nearest grade.
    if np.issubdtype(pred.dtype, np.floating):
        pred = np.rint(pred).astype(int)
    if np.issubdtype(y.dtype, np.floating):
        y = np.rint(y).astype(int)
    return float(cohen_kappa_score(y, pred, weights="quadratic"))


@dataclass(frozen=True)
class Metric:
    """One metric: its canonical name, direction, whether it scores probabilities, its tasks.

    `log_target`: models train on log1p(target) and predict through expm1 (log errors);
    `calibrated`: a log loss, whose probabilities are clipped and may be temperature-scaled
    (pipelines.targets applies both in cross-validation, for every model family).
    """

    name: str
    greater_is_better: bool
    needs_proba: bool
    tasks: tuple[str, ...]
    scorer: Callable[[Any, Any], float] = field(repr=False, compare=False)
    aliases: tuple[str, ...] = ()
    log_target: bool = False
    calibrated: bool = False

    def score(self, y_true: Any, y_pred: Any) -> float:
        """The metric of `y_pred` against `y_true` (binary labels 0/1, positive = 1)."""
        return self.scorer(y_true, y_pred)

    def is_better(self, a: float, b: float) -> bool:
        """True when score `a` is strictly better than score `b` under this metric."""
        return a > b if self.greater_is_better else a < b


_BINARY, _MULTI, _REG = ("binary",), ("multiclass",), ("regression",)

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "auc",
            True,
            True,
            _BINARY,
            _auc,
            ("roc_auc", "auroc", "area_under_receiver_operating_characteristic_curve"),
        ),
        Metric(
            "logloss",
            False,
            True,
            _BINARY,
            _logloss,
            ("log_loss", "binary_logloss"),
            calibrated=True,
        ),
        Metric(
            "multiclass_logloss",
            False,
            True,
            _MULTI,
            _multiclass_logloss,
            ("mlogloss", "multi_logloss", "multiclass_log_loss", "multiclass_loss"),
            calibrated=True,
        ),
        Metric(
            "accuracy", True, False, _BINARY + _MULTI, _accuracy, ("acc", "categorization_accuracy")
        ),
        Metric("f1", True, False, _BINARY + _MULTI, _f1, ("f1_score", "mean_f_score", "f_score")),
        Metric("rmse", False, False, _REG, _rmse, ("root_mean_squared_error",)),
        Metric(
            "rmsle",
            False,
            False,
            _REG,
            _rmsle,
            ("root_mean_squared_log_error", "root_mean_squared_logarithmic_error"),
            log_target=True,
        ),
        Metric("mae", False, False, _REG, _mae, ("mean_absolute_error",)),
        Metric("r2", True, False, _REG, _r2, ("r2_score", "r_squared")),
        Metric(
            "qwk",
            True,
            False,
            _MULTI + _REG,
            _qwk,
            ("quadratic_weighted_kappa", "kappa", "cohen_kappa"),
        ),
    )
}


def _key(name: str) -> str:
    """Names compare without case, spaces, hyphens or underscores, so Kaggle's display names
    ("Area Under Receiver Operating Characteristic Curve", "RootMeanSquaredError") match."""
    return re.sub(r"[\s_\-]+", "", str(name).lower())


_LOOKUP: dict[str, Metric] = {
    _key(key): metric for metric in METRICS.values() for key in (metric.name, *metric.aliases)
}

_DEFAULTS = {"binary": "auc", "multiclass": "multiclass_logloss", "regression": "rmse"}


def get_metric(name: str) -> Metric:
    """The metric called `name` (case-insensitive; aliases such as "roc_auc" or "mlogloss")."""
    key = _key(name)
    if key in _LOOKUP:
        return _LOOKUP[key]
    known = ", ".join(sorted(METRICS))
    raise UnknownMetricError(f"Unknown metric {name!r}; known metrics: {known}.")


def default_metric(task: str) -> Metric:
    """The metric used when none is given: auc, multiclass_logloss or rmse."""
    if task not in _DEFAULTS:
        raise PipelinesError(f"Unknown task {task!r}; expected one of {', '.join(TASKS)}.")
    return METRICS[_DEFAULTS[task]]
