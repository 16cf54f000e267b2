"""Cross-validation of every model (LightGBM, network, hybrid) on shared folds, and CVResult,
the one value that tuning, blending, tracking and reports read."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.errors import PipelinesError
from pipelines.features import prepare_frames
from pipelines.folds import make_folds
from pipelines.gbdt import (
    DEFAULT_LGBM_PARAMS,
    EARLY_STOPPING_METRIC,
    EARLY_STOPPING_ROUNDS,
    TASK_METRIC,
)
from pipelines.metrics import Metric, get_metric

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.features import Prepared

__all__ = [
    "DEFAULT_LGBM_PARAMS",
    "EARLY_STOPPING_ROUNDS",
    "MODELS",
    "CVResult",
    "as_metric_input",
    "cross_validate",
    "cross_validate_lgbm",
    "resolve_device",
]

OnFold = Callable[[int, int, float], None]
EpochCallback = Callable[[int, float], None]

MODELS = ("lgbm", "nn", "hybrid")
DEVICES = ("auto", "cpu", "cuda")
HYBRID_MEMBERS = ("nn", "lgbm_emb")  # the network, and LightGBM on the network's embeddings


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

    `oof` and `test_predictions` are what the metric reads: 1-D (positive-class probabilities,
    labels or values) or (n, k) class probabilities whose columns follow `classes`; labels are
    encoded 0..k-1. `raw_oof`/`raw_test` are the model outputs before any label conversion
    (values, P(positive) or (n, k) probabilities), so label metrics can still be blended.
    `folds` holds the fold id of each train row; `members` and `blend_weights` are set for a
    blend (the hybrid model, or `pipelines.blend.blend_results`).
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
    fold_seconds: list[float] = field(default_factory=list)
    folds: np.ndarray | None = None
    raw_oof: np.ndarray | None = None
    raw_test: np.ndarray | None = None
    members: tuple[CVResult, ...] = ()
    blend_weights: dict[str, float] | None = None

    @property
    def mean(self) -> float:
        """The mean of the fold scores."""
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        """The standard deviation of the fold scores."""
        return float(np.std(self.fold_scores))

    def summary(self) -> dict[str, Any]:
        """The scalar part of the result (no per-row arrays), as JSON-ready values."""
        return {
            "model": self.model,
            "metric": self.metric,
            "task": self.task,
            "classes": None if self.classes is None else _json_value(list(self.classes)),
            "fold_scores": _json_value(self.fold_scores),
            "mean": self.mean,
            "std": self.std,
            "params": _json_value(self.params),
            "fit_seconds": self.fit_seconds,
            "fold_seconds": _json_value(self.fold_seconds),
            "device": self.device,
            "seed": self.seed,
            "n_folds": self.n_folds,
            "best_iterations": _json_value(self.best_iterations),
            "blend_weights": self.blend_weights,
            "members": [member.model for member in self.members],
        }

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write oof.parquet, test_predictions.parquet and result.json into `folder`; also
        raw_oof.parquet (with each row's fold), raw_test_predictions.parquet, and each member
        under members/NAME/."""
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
        if self.raw_oof is not None:
            paths["raw_oof"] = folder / "raw_oof.parquet"
            raw = _prediction_frame(self.raw_oof)
            if self.folds is not None:
                raw.insert(0, "fold", self.folds)
            raw.to_parquet(paths["raw_oof"], index=False)
        if self.raw_test is not None:
            paths["raw_test"] = folder / "raw_test_predictions.parquet"
            raw = _prediction_frame(self.raw_test)
            raw.insert(0, "id", self.test_ids)
            raw.to_parquet(paths["raw_test"], index=False)
        for member in self.members:
            member.save(folder / "members" / member.model)
        paths["result"].write_text(json.dumps(self.summary(), indent=2) + "\n")
        return paths

    @classmethod
    def load(cls, folder: str | Path) -> CVResult:
        """Read a result written by `save` (older results without raw predictions too)."""
        import pandas as pd

        folder = Path(folder)
        path = folder / "result.json"
        if not path.is_file():
            raise PipelinesError(f"No CV result in {str(folder)!r}: result.json is missing.")
        summary = json.loads(path.read_text())
        test = pd.read_parquet(folder / "test_predictions.parquet")
        classes = summary["classes"]
        folds = raw_oof = raw_test = None
        if (folder / "raw_oof.parquet").is_file():
            raw = pd.read_parquet(folder / "raw_oof.parquet")
            if "fold" in raw.columns:
                folds = raw.pop("fold").to_numpy()
            raw_oof = _prediction_array(raw)
        if (folder / "raw_test_predictions.parquet").is_file():
            raw_test = _prediction_array(
                pd.read_parquet(folder / "raw_test_predictions.parquet").drop(columns="id")
            )
        members = tuple(cls.load(folder / "members" / name) for name in summary.get("members", []))
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
            fold_seconds=[float(s) for s in summary.get("fold_seconds", [])],
            folds=folds,
            raw_oof=raw_oof,
            raw_test=raw_test,
            members=members,
            blend_weights=summary.get("blend_weights"),
        )


def as_metric_input(raw: np.ndarray, task: str, metric: Metric) -> np.ndarray:
    """Raw outputs as the metric wants them: probabilities, or labels for label metrics."""
    if task == "regression":
        # rmsle is undefined below zero, and no price or count is negative.
        return np.clip(raw, 0, None) if metric.name == "rmsle" else raw
    if metric.needs_proba:
        return raw
    if task == "binary":
        return (raw >= 0.5).astype(np.int64)
    return raw.argmax(axis=1).astype(np.int64)


def resolve_device(device: str) -> str:
    """ "auto" as "cuda" when torch sees a GPU, else "cpu"; "cuda" without a GPU is refused."""
    if device not in DEVICES:
        raise PipelinesError(f"Unknown device {device!r}; expected one of {', '.join(DEVICES)}.")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise PipelinesError("device 'cuda' was asked for but torch sees no GPU; use auto or cpu.")
    return "cpu"


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
    """One model's predictions gathered fold by fold."""

    raw_oof: np.ndarray
    raw_test: np.ndarray
    fold_scores: list[float] = field(default_factory=list)
    fold_seconds: list[float] = field(default_factory=list)
    best_iterations: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"


@dataclass(frozen=True)
class _FoldFit:
    """What one model made on one fold."""

    raw_valid: np.ndarray
    raw_test: np.ndarray
    best_iteration: int
    seconds: float
    params: dict[str, Any]
    device: str


def _raw_predictions(model: Any, X: pd.DataFrame, task: str, n_classes: int) -> np.ndarray:
    """Values (regression), P(positive) (binary), or (n, k) probabilities spread over all k
    classes even when a fold's train part lacked some."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X))
    if task == "binary":
        return proba[:, 1]
    full = np.zeros((len(X), n_classes))
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return full


def _eval_arguments(estimator: type, X: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """The validation data for early stopping: eval_X/eval_y since LightGBM 4.7, else eval_set."""
    if "eval_X" in inspect.signature(estimator.fit).parameters:
        return {"eval_X": (X,), "eval_y": (y,)}
    return {"eval_set": [(X, y)]}


def _lgbm_settings(
    params: dict[str, Any] | None, *, seed: int, task: str, n_classes: int, metric: Metric
) -> tuple[dict[str, Any], int]:
    settings = {**DEFAULT_LGBM_PARAMS, "random_state": seed, **(params or {})}
    patience = int(settings.pop("early_stopping_rounds", EARLY_STOPPING_ROUNDS))
    # Two classes forced to "multiclass" still train LightGBM's binary objective.
    objective_task = "binary" if n_classes == 2 else task
    settings.setdefault(
        "metric", EARLY_STOPPING_METRIC.get(metric.name, TASK_METRIC[objective_task])
    )
    return settings, patience


def _fit_lgbm(
    settings: dict[str, Any],
    patience: int,
    task: str,
    n_classes: int,
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    X_test: pd.DataFrame,
) -> _FoldFit:
    """LightGBM through its scikit-learn API, early-stopped on the fold's valid part."""
    import lightgbm

    started = time.perf_counter()
    estimator = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    model = estimator(**settings)
    model.fit(
        X_fit,
        y_fit,
        **_eval_arguments(estimator, X_valid, y_valid),
        callbacks=[lightgbm.early_stopping(patience, verbose=False)],
    )
    return _FoldFit(
        raw_valid=_raw_predictions(model, X_valid, task, n_classes),
        raw_test=_raw_predictions(model, X_test, task, n_classes),
        best_iteration=int(model.best_iteration_ or settings["n_estimators"]),
        seconds=time.perf_counter() - started,
        params={**settings, "early_stopping_rounds": patience},
        device="cpu",
    )


def _make_net(params: dict[str, Any] | None, *, task: str, seed: int, device: str) -> Any:
    from pipelines.nn import TabularNetClassifier, TabularNetRegressor

    estimator = TabularNetRegressor if task == "regression" else TabularNetClassifier
    return estimator(**{"random_state": seed, **(params or {}), "device": device})


def _fit_net(
    net: Any,
    task: str,
    n_classes: int,
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    X_test: pd.DataFrame,
    callbacks: Sequence[EpochCallback] | None,
) -> _FoldFit:
    """The network, early-stopped on the fold's valid part; `callbacks` run after each epoch."""
    started = time.perf_counter()
    net.fit(X_fit, y_fit, eval_set=(X_valid, y_valid), callbacks=list(callbacks or []))
    return _FoldFit(
        raw_valid=_raw_predictions(net, X_valid, task, n_classes),
        raw_test=_raw_predictions(net, X_test, task, n_classes),
        best_iteration=int(net.best_epoch_),
        seconds=time.perf_counter() - started,
        params=_json_value(net.get_params()),
        device=str(net.device_),
    )


def _split_hybrid_params(params: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    params = dict(params or {})
    unknown = set(params) - {"nn", "lgbm"}
    if unknown:
        raise PipelinesError(
            f"hybrid params take two groups, 'nn' and 'lgbm'; got also {sorted(unknown)}: "
            'pass {"nn": {...}, "lgbm": {...}}.'
        )
    return dict(params.get("nn") or {}), dict(params.get("lgbm") or {})


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
) -> CVResult:
    """K-fold cross-validation of `model` ("lgbm", "nn" or "hybrid") on the given fold ids.

    Each fold's model is fit on the other folds' rows and early-stopped on its own rows; the
    OOF predictions are scored per fold with `metric`, test predictions are averaged over the
    folds' models (probabilities averaged before taking labels). `params` override the model's
    defaults; for "hybrid" they are {"nn": {...}, "lgbm": {...}}. `on_fold(fold, n_folds,
    score)` runs after each fold; `callbacks` run after each network epoch as cb(epoch,
    valid_loss) and may raise (optuna.TrialPruned) to stop. "hybrid" fits, per fold, the
    network and then LightGBM on the network's category embeddings (numeric columns kept), and
    blends the two by hill climbing on their OOF predictions. LightGBM always runs on the CPU;
    `device` ("auto", "cpu", "cuda") places the network.
    """
    metric = get_metric(metric) if isinstance(metric, str) else metric
    folds = _check_inputs(data, metric, folds)
    if model not in MODELS:
        raise PipelinesError(f"Unknown model {model!r}; expected one of {', '.join(MODELS)}.")
    started = time.perf_counter()
    task = data.task
    n_classes = len(data.classes) if data.classes is not None else 0
    n_folds = int(folds.max()) + 1
    names = HYBRID_MEMBERS if model == "hybrid" else (model,)
    width = (n_classes,) if task == "multiclass" else ()
    members = {
        name: _Member(np.zeros((len(data.y), *width)), np.zeros((len(data.X_test), *width)))
        for name in names
    }

    if model == "lgbm":
        settings, patience = _lgbm_settings(
            params, seed=seed, task=task, n_classes=n_classes, metric=metric
        )
    elif model == "hybrid":
        nn_params, lgbm_params = _split_hybrid_params(params)
        settings, patience = _lgbm_settings(
            lgbm_params, seed=seed, task=task, n_classes=n_classes, metric=metric
        )
    if device not in DEVICES:
        raise PipelinesError(f"Unknown device {device!r}; expected one of {', '.join(DEVICES)}.")
    if model != "lgbm":
        device = resolve_device(device)

    for fold in range(n_folds):
        fit_rows, valid_rows = folds != fold, folds == fold
        X_fit, y_fit = data.X[fit_rows], data.y[fit_rows]
        X_valid, y_valid = data.X[valid_rows], data.y[valid_rows]
        fits: dict[str, _FoldFit] = {}
        if model == "lgbm":
            fits["lgbm"] = _fit_lgbm(
                settings, patience, task, n_classes, X_fit, y_fit, X_valid, y_valid, data.X_test
            )
        else:
            net = _make_net(
                params if model == "nn" else nn_params, task=task, seed=seed, device=device
            )
            fits["nn"] = _fit_net(
                net, task, n_classes, X_fit, y_fit, X_valid, y_valid, data.X_test, callbacks
            )
        if model == "hybrid":
            from pipelines.nn import CategoryEmbeddingTransformer

            embed = CategoryEmbeddingTransformer(net).fit()
            fits["lgbm_emb"] = _fit_lgbm(
                settings,
                patience,
                task,
                n_classes,
                embed.transform(X_fit),
                y_fit,
                embed.transform(X_valid),
                y_valid,
                embed.transform(data.X_test),
            )
        for name, fit in fits.items():
            member = members[name]
            member.raw_oof[valid_rows] = fit.raw_valid
            member.raw_test += fit.raw_test / n_folds
            member.fold_scores.append(
                metric.score(y_valid, as_metric_input(fit.raw_valid, task, metric))
            )
            member.fold_seconds.append(fit.seconds)
            member.best_iterations.append(fit.best_iteration)
            member.params, member.device = fit.params, fit.device
        if on_fold is not None:
            # The hybrid's blend weights are known only at the end: report the plain average.
            average = np.mean([fit.raw_valid for fit in fits.values()], axis=0)
            on_fold(fold, n_folds, metric.score(y_valid, as_metric_input(average, task, metric)))

    results = {
        name: _member_result(
            name, member, data=data, metric=metric, folds=folds, seed=seed, n_folds=n_folds
        )
        for name, member in members.items()
    }
    if model != "hybrid":
        return replace(results[model], fit_seconds=time.perf_counter() - started)
    from pipelines.blend import blend_results

    _, blended = blend_results(list(results.values()), data.y, metric=metric, model="hybrid")
    # The params re-make this hybrid; the blend itself is in blend_weights.
    params = {"nn": results["nn"].params, "lgbm": results["lgbm_emb"].params}
    return replace(blended, params=params, fit_seconds=time.perf_counter() - started)


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
