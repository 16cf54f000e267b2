"""Cross-validation of a LightGBM baseline, and CVResult that every later stage reads."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.errors import PipelinesError
from pipelines.features import prepare_frames
from pipelines.folds import make_folds
from pipelines.metrics import Metric, get_metric

if TYPE_CHECKING:
    import pandas as pd

OnFold = Callable[[int, int, float], None]

DEFAULT_LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 1000,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "verbose": -1,
    "n_jobs": 2,
    # deterministic needs a fixed histogram layout (col-wise) to repeat bit for bit
    "deterministic": True,
    "force_col_wise": True,
}
EARLY_STOPPING_ROUNDS = 50

# LightGBM's own metric used for early stopping, close to the competition metric.
_EARLY_STOPPING_METRIC = {"auc": "auc", "mae": "l1", "rmse": "rmse", "rmsle": "rmse"}
_TASK_METRIC = {"binary": "binary_logloss", "multiclass": "multi_logloss", "regression": "rmse"}


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def _prediction_frame(values: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    if values.ndim == 1:
        return pd.DataFrame({"prediction": values})
    return pd.DataFrame({f"class_{j}": values[:, j] for j in range(values.shape[1])})


def _prediction_array(frame: pd.DataFrame) -> np.ndarray:
    if list(frame.columns) == ["prediction"]:
        return frame["prediction"].to_numpy()
    return frame[[c for c in frame.columns if c.startswith("class_")]].to_numpy()


@dataclass(frozen=True)
class CVResult:
    """One cross-validated model: OOF and test predictions, per-fold scores, settings, timing.

    `oof` and `test_predictions` are 1-D (positive-class probabilities, labels or values) or
    (n, k) class probabilities whose columns follow `classes`; labels are encoded 0..k-1.
    """

    model: str
    metric: str
    task: str
    oof: np.ndarray
    test_predictions: np.ndarray
    test_ids: np.ndarray
    classes: tuple[Any, ...] | None
    fold_scores: list[float]
    params: dict[str, Any]
    fit_seconds: float
    device: str
    seed: int
    n_folds: int
    best_iterations: list[int] = field(default_factory=list)

    @property
    def mean(self) -> float:
        """The mean of the fold scores."""
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        """The standard deviation of the fold scores."""
        return float(np.std(self.fold_scores))

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write oof.parquet, test_predictions.parquet and result.json into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "oof": folder / "oof.parquet",
            "test_predictions": folder / "test_predictions.parquet",
            "result": folder / "result.json",
        }
        _prediction_frame(self.oof).to_parquet(paths["oof"], index=False)
        test = _prediction_frame(self.test_predictions)
        test.insert(0, "id", self.test_ids)
        test.to_parquet(paths["test_predictions"], index=False)
        summary = {
            "model": self.model,
            "metric": self.metric,
            "task": self.task,
            "classes": None if self.classes is None else _json_value(list(self.classes)),
            "fold_scores": _json_value(self.fold_scores),
            "mean": self.mean,
            "std": self.std,
            "params": _json_value(self.params),
            "fit_seconds": self.fit_seconds,
            "device": self.device,
            "seed": self.seed,
            "n_folds": self.n_folds,
            "best_iterations": _json_value(self.best_iterations),
        }
        paths["result"].write_text(json.dumps(summary, indent=2) + "\n")
        return paths

    @classmethod
    def load(cls, folder: str | Path) -> CVResult:
        """Read a result written by `save`."""
        import pandas as pd

        folder = Path(folder)
        path = folder / "result.json"
        if not path.is_file():
            raise PipelinesError(f"No CV result in {str(folder)!r}: result.json is missing.")
        summary = json.loads(path.read_text())
        test = pd.read_parquet(folder / "test_predictions.parquet")
        classes = summary["classes"]
        return cls(
            model=summary["model"],
            metric=summary["metric"],
            task=summary["task"],
            oof=_prediction_array(pd.read_parquet(folder / "oof.parquet")),
            test_predictions=_prediction_array(test.drop(columns="id")),
            test_ids=test["id"].to_numpy(),
            classes=None if classes is None else tuple(classes),
            fold_scores=[float(s) for s in summary["fold_scores"]],
            params=summary["params"],
            fit_seconds=float(summary["fit_seconds"]),
            device=summary["device"],
            seed=int(summary["seed"]),
            n_folds=int(summary["n_folds"]),
            best_iterations=[int(i) for i in summary.get("best_iterations", [])],
        )


def _class_probabilities(model: Any, X: pd.DataFrame, n_classes: int) -> np.ndarray:
    """predict_proba spread over all k classes, even when a fold's train part lacked some."""
    proba = model.predict_proba(X)
    full = np.zeros((len(X), n_classes))
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return full


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
    """K-fold LightGBM with early stopping on each fold's validation part.

    OOF predictions are scored per fold with `metric`; test predictions are averaged over the
    folds' models (probabilities averaged before taking labels). `params` override the
    defaults (DEFAULT_LGBM_PARAMS; "early_stopping_rounds" is read from it too);
    `on_fold(fold_index, n_folds, score)` runs after each fold.
    """
    import lightgbm

    started = time.perf_counter()
    metric = get_metric(metric) if isinstance(metric, str) else metric
    data = prepare_frames(train, test, target=target, id_column=id_column, task=task)
    if data.task not in metric.tasks:
        raise PipelinesError(
            f"Metric {metric.name!r} does not apply to a {data.task} task; it fits "
            f"{', '.join(metric.tasks)}. Pick another metric or pass task=."
        )
    settings = {**DEFAULT_LGBM_PARAMS, "random_state": seed, **(params or {})}
    patience = int(settings.pop("early_stopping_rounds", EARLY_STOPPING_ROUNDS))
    n_classes = len(data.classes) if data.classes is not None else 0
    # Two classes forced to "multiclass" still train LightGBM's binary objective.
    objective_task = "binary" if n_classes == 2 else data.task
    settings.setdefault(
        "metric", _EARLY_STOPPING_METRIC.get(metric.name, _TASK_METRIC[objective_task])
    )
    estimator = lightgbm.LGBMRegressor if data.task == "regression" else lightgbm.LGBMClassifier

    folds = make_folds(data.y, task=data.task, n_splits=n_folds, seed=seed)
    # Raw model outputs: values (regression), P(positive) (binary) or (n, k) probabilities.
    width = (n_classes,) if data.task == "multiclass" else ()
    raw_oof = np.zeros((len(data.y), *width))
    raw_test = np.zeros((len(data.X_test), *width))
    fold_scores: list[float] = []
    best_iterations: list[int] = []
    for fold in range(n_folds):
        fit_rows, valid_rows = folds != fold, folds == fold
        model = estimator(**settings)
        model.fit(
            data.X[fit_rows],
            data.y[fit_rows],
            **_eval_arguments(estimator, data.X[valid_rows], data.y[valid_rows]),
            callbacks=[lightgbm.early_stopping(patience, verbose=False)],
        )
        best_iterations.append(int(model.best_iteration_ or settings["n_estimators"]))
        if data.task == "regression":
            raw_oof[valid_rows] = model.predict(data.X[valid_rows])
            raw_test += model.predict(data.X_test) / n_folds
        elif data.task == "binary":
            raw_oof[valid_rows] = model.predict_proba(data.X[valid_rows])[:, 1]
            raw_test += model.predict_proba(data.X_test)[:, 1] / n_folds
        else:
            raw_oof[valid_rows] = _class_probabilities(model, data.X[valid_rows], n_classes)
            raw_test += _class_probabilities(model, data.X_test, n_classes) / n_folds
        score = metric.score(
            data.y[valid_rows], _as_metric_input(raw_oof[valid_rows], data.task, metric)
        )
        fold_scores.append(score)
        if on_fold is not None:
            on_fold(fold, n_folds, score)

    return CVResult(
        model="lgbm",
        metric=metric.name,
        task=data.task,
        oof=_as_metric_input(raw_oof, data.task, metric),
        test_predictions=_as_metric_input(raw_test, data.task, metric),
        test_ids=data.test_ids,
        classes=data.classes,
        fold_scores=fold_scores,
        params={**settings, "early_stopping_rounds": patience},
        fit_seconds=time.perf_counter() - started,
        device="cpu",
        seed=seed,
        n_folds=n_folds,
        best_iterations=best_iterations,
    )


def _eval_arguments(estimator: type, X: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """The validation data for early stopping: eval_X/eval_y since LightGBM 4.7, else eval_set."""
    if "eval_X" in inspect.signature(estimator.fit).parameters:
        return {"eval_X": (X,), "eval_y": (y,)}
    return {"eval_set": [(X, y)]}


def _as_metric_input(raw: np.ndarray, task: str, metric: Metric) -> np.ndarray:
    """Raw outputs as the metric wants them: probabilities, or labels for label metrics."""
    if task == "regression":
        # rmsle is undefined below zero, and no price or count is negative.
        return np.clip(raw, 0, None) if metric.name == "rmsle" else raw
    if metric.needs_proba:
        return raw
    if task == "binary":
        return (raw >= 0.5).astype(np.int64)
    return raw.argmax(axis=1).astype(np.int64)
