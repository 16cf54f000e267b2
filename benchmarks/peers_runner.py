"""Fit one peer (FLAML or AutoGluon) on a benchmark cell inside the peers' environment.

Run as `benchmarks/.peers-venv/bin/python benchmarks/peers_runner.py CELL_FOLDER`: it reads
spec.json, train.parquet and test.parquet from the folder and writes predictions.npy (P(positive)
for binary, (n, k) probabilities in the spec's class order for multiclass, values for
regression) and info.json. It imports nothing of this project: that env has none of it.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

# Our metric names in each peer's vocabulary.
FLAML_METRICS = {"auc": "roc_auc", "rmse": "rmse", "multiclass_logloss": "log_loss"}
FLAML_TASKS = {"binary": "classification", "multiclass": "classification"}
AUTOGLUON_METRICS = {
    "auc": "roc_auc",
    "rmse": "root_mean_squared_error",
    "multiclass_logloss": "log_loss",
}


def _in_class_order(proba: Any, columns: list[Any], classes: list[Any], task: str) -> Any:
    """Probability columns reordered to the spec's sorted classes; binary gives P(positive)."""
    import numpy as np

    index = {str(c): j for j, c in enumerate(columns)}
    proba = np.asarray(proba, dtype=float)[:, [index[str(c)] for c in classes]]
    return proba[:, 1] if task == "binary" else proba


def fit_flaml(spec: dict[str, Any], train: Any, test: Any, folder: Path) -> tuple[Any, dict]:
    from flaml import AutoML

    X, y = train.drop(columns=spec["target"]), train[spec["target"]]
    automl = AutoML()
    automl.fit(
        X,
        y,
        task=FLAML_TASKS.get(spec["task"], "regression"),
        metric=FLAML_METRICS[spec["metric"]],
        time_budget=spec["budget"],
        n_jobs=spec["cores"],
        seed=spec["seed"],
        verbose=0,
        log_file_name=str(folder / "flaml.log"),
    )
    if spec["task"] == "regression":
        predictions = automl.predict(test)
    else:
        proba = automl.predict_proba(test)
        predictions = _in_class_order(proba, list(automl.classes_), spec["classes"], spec["task"])
    info = {"best_estimator": automl.best_estimator, "best_config": automl.best_config}
    return predictions, info


def fit_autogluon(spec: dict[str, Any], train: Any, test: Any, folder: Path) -> tuple[Any, dict]:
    from autogluon.tabular import TabularPredictor

    problem = {"binary": "binary", "multiclass": "multiclass"}.get(spec["task"], "regression")
    path = folder / "autogluon"
    predictor = TabularPredictor(
        label=spec["target"],
        problem_type=problem,
        eval_metric=AUTOGLUON_METRICS[spec["metric"]],
        path=str(path),
        verbosity=0,
    )
    predictor.fit(
        train,
        time_limit=spec["budget"],
        presets="best_quality",
        num_cpus=spec["cores"],
        num_gpus=0,
        # Dynamic stacking's hold-out sub-fit needs minutes; under 10 minutes it leaves no
        # time for the full fit and AutoGluon stops with an error, so it is off there.
        dynamic_stacking=spec["budget"] >= 600,
    )
    if spec["task"] == "regression":
        predictions = predictor.predict(test).to_numpy()
    else:
        proba = predictor.predict_proba(test)
        predictions = _in_class_order(
            proba.to_numpy(), list(proba.columns), spec["classes"], spec["task"]
        )
    # Which of its models carry the result (validation scores in AutoGluon's "higher is
    # better" sign), to see where it wins.
    board = predictor.leaderboard()
    info = {
        "best_model": predictor.model_best,
        "n_models": len(predictor.model_names()),
        "leaderboard": [
            {
                "model": str(row["model"]),
                "score_val": float(row["score_val"]),
                "fit_time": float(row["fit_time"]),
                "stack_level": int(row["stack_level"]),
            }
            for row in board.to_dict("records")
        ],
    }
    shutil.rmtree(path, ignore_errors=True)  # models run to gigabytes; only the scores matter
    return predictions, info


def main(folder: Path) -> None:
    import numpy as np
    import pandas as pd

    started = time.perf_counter()
    spec = json.loads((folder / "spec.json").read_text())
    train = pd.read_parquet(folder / "train.parquet")
    test = pd.read_parquet(folder / "test.parquet")
    fit = {"flaml": fit_flaml, "autogluon": fit_autogluon}[spec["method"]]
    predictions, info = fit(spec, train, test, folder)
    np.save(folder / "predictions.npy", np.asarray(predictions, dtype=float))
    info["fit_seconds"] = time.perf_counter() - started
    (folder / "info.json").write_text(json.dumps(info, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
