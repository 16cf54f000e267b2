"""CVResult, the one value of a cross-validated model that tuning, blending, tracking and
reports read, and how raw model outputs become what a metric reads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.errors import PipelinesError
from pipelines.targets import clip_proba

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.metrics import Metric

__all__ = ["CVResult", "as_metric_input", "json_value"]


def json_value(value: Any) -> Any:
    """`value` with numpy scalars turned into Python ones, for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
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
    blend (the hybrid model, or `pipelines.blend.blend_results`). `target` is the space the
    models trained in ("log1p" for RMSLE; predictions are back on the target's scale);
    `temperature` scaled the saved probabilities (1.0: none), see pipelines.targets.
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
    target: str = "identity"
    temperature: float = 1.0

    @property
    def mean(self) -> float:
        """The mean of the fold scores."""
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        """The standard deviation of the fold scores."""
        return float(np.std(self.fold_scores))

    @property
    def blend_oof(self) -> np.ndarray:
        """The OOF predictions a blend reads: the raw outputs when kept, else `oof`."""
        return self.oof if self.raw_oof is None else self.raw_oof

    @property
    def blend_test(self) -> np.ndarray:
        """The test predictions a blend reads: the raw outputs when kept, else
        `test_predictions`."""
        return self.test_predictions if self.raw_test is None else self.raw_test

    def summary(self) -> dict[str, Any]:
        """The scalar part of the result (no per-row arrays), as JSON-ready values."""
        return {
            "model": self.model,
            "metric": self.metric,
            "task": self.task,
            "classes": None if self.classes is None else json_value(list(self.classes)),
            "fold_scores": json_value(self.fold_scores),
            "mean": self.mean,
            "std": self.std,
            "params": json_value(self.params),
            "fit_seconds": self.fit_seconds,
            "fold_seconds": json_value(self.fold_seconds),
            "device": self.device,
            "seed": self.seed,
            "n_folds": self.n_folds,
            "best_iterations": json_value(self.best_iterations),
            "blend_weights": self.blend_weights,
            "members": [member.model for member in self.members],
            "target": self.target,
            "temperature": self.temperature,
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
            target=summary.get("target", "identity"),
            temperature=float(summary.get("temperature", 1.0)),
        )


def as_metric_input(raw: np.ndarray, task: str, metric: Metric) -> np.ndarray:
    """Raw outputs as the metric wants them: values, probabilities (clipped for log losses), or
    labels for label metrics, taken from the (fold-averaged, blended) probabilities."""
    if task == "regression":
        # rmsle is undefined below zero, and no price or count is negative.
        return np.clip(raw, 0, None) if metric.log_target else raw
    if metric.needs_proba:
        return clip_proba(raw, task) if metric.calibrated else raw
    if task == "binary":
        return (raw >= 0.5).astype(np.int64)
    return raw.argmax(axis=1).astype(np.int64)
