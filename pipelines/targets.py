"""What a metric asks of targets and predictions, for every model family alike: log-error
metrics (RMSLE) train on log1p(y) and predict back through expm1; log-loss probabilities are
clipped away from 0 and 1 and may be temperature-scaled on the out-of-fold predictions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.errors import DataError
from pipelines.metrics import Metric

__all__ = [
    "PROBA_EPS",
    "Calibration",
    "apply_temperature",
    "calibrate",
    "check_target",
    "clip_proba",
    "fit_temperature",
    "from_fit_space",
    "target_transform",
    "to_fit_space",
]

# Log loss charges -log(eps) for a sure but wrong row: 13.8 at 1e-6 instead of 34.5 at
# Kaggle's 1e-15, while a sure and right row loses only 1e-6.
PROBA_EPS = 1e-6
# Temperatures searched, as log(T): from sharpening 20x to flattening 20x.
LOG_T_BOUNDS = (float(np.log(0.05)), float(np.log(20.0)))


def target_transform(metric: Metric) -> str:
    """The space models train in for `metric`: "log1p" or "identity"."""
    return "log1p" if metric.log_target else "identity"


def check_target(y: np.ndarray, metric: Metric) -> None:
    """Refuse targets the metric's transform cannot take (negative values for RMSLE)."""
    if not metric.log_target:
        return
    values = np.asarray(y, dtype=float)
    negative = int((values < 0).sum())
    if negative:
        raise DataError(
            f"Metric {metric.name!r} trains on log1p(target), undefined below zero: {negative} "
            f"targets are negative (smallest {values.min():g}); choose rmse or mae instead."
        )


def to_fit_space(y: np.ndarray, metric: Metric) -> np.ndarray:
    """Targets as the models see them: log1p(y) for log-error metrics, else unchanged."""
    return np.log1p(np.asarray(y, dtype=float)) if metric.log_target else y


def from_fit_space(raw: np.ndarray, metric: Metric) -> np.ndarray:
    """Model outputs back on the target's scale: expm1, clipped at 0, for log-error metrics."""
    return np.clip(np.expm1(raw), 0, None) if metric.log_target else raw


def clip_proba(proba: np.ndarray, task: str, eps: float = PROBA_EPS) -> np.ndarray:
    """Probabilities kept within [eps, 1 - eps]; multiclass rows summed to one again."""
    proba = np.clip(np.asarray(proba, dtype=float), eps, 1 - eps)
    if task == "multiclass":
        proba = proba / proba.sum(axis=1, keepdims=True)
    return proba


def apply_temperature(proba: np.ndarray, temperature: float, task: str) -> np.ndarray:
    """softmax(log(p) / T): T > 1 flattens over-confident probabilities, T < 1 sharpens them;
    binary P(positive) goes through the sigmoid of its logit / T."""
    proba = clip_proba(proba, task)
    if task == "binary":
        logit = np.log(proba) - np.log1p(-proba)
        return clip_proba(1 / (1 + np.exp(-logit / temperature)), task)
    logits = np.log(proba) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return clip_proba(scaled / scaled.sum(axis=1, keepdims=True), task)


def fit_temperature(proba: np.ndarray, y: np.ndarray, task: str, metric: Metric) -> float:
    """The temperature that minimises `metric` (a log loss) of `proba` against `y`."""
    from scipy.optimize import minimize_scalar

    def loss(log_t: float) -> float:
        return metric.score(y, apply_temperature(proba, float(np.exp(log_t)), task))

    found = minimize_scalar(loss, bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-3})
    return float(np.exp(found.x))


@dataclass(frozen=True)
class Calibration:
    """A temperature scaling that was kept (or not): `oof` is cross-fitted, each fold scaled
    by the temperature fit on the other folds, so its score is not fit on its own rows;
    `test` is scaled by `temperature`, fit on all the OOF rows."""

    temperature: float
    kept: bool
    score_before: float
    score_after: float
    oof: np.ndarray
    test: np.ndarray


def calibrate(
    raw_oof: np.ndarray,
    raw_test: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    *,
    task: str,
    metric: Metric,
) -> Calibration:
    """Temperature-scale clipped probabilities when it lowers the cross-fitted OOF log loss;
    otherwise keep them as they are (temperature 1)."""
    oof, test = clip_proba(raw_oof, task), clip_proba(raw_test, task)
    before = metric.score(y, oof)
    crossed = np.empty_like(oof)
    for fold in np.unique(folds):
        rows = folds == fold
        t = fit_temperature(oof[~rows], y[~rows], task, metric)
        crossed[rows] = apply_temperature(oof[rows], t, task)
    after = metric.score(y, crossed)
    if not metric.is_better(after, before):
        return Calibration(1.0, False, before, before, oof, test)
    temperature = fit_temperature(oof, y, task, metric)
    scaled_test = apply_temperature(test, temperature, task)
    return Calibration(temperature, True, before, after, crossed, scaled_test)
