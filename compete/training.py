"""Training runs in a workspace: cross-validate with `pipelines`, keep the artefacts in a new
run folder, write a submission file beside them, and record the run in the history store."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compete.errors import UsageError
from compete.lifecycle import RUN_RECORD, SAMPLE
from compete.workspace import Workspace

if TYPE_CHECKING:
    from leaderboards.store import Store

    from pipelines.cv import CVResult


@dataclass(frozen=True)
class TrainedRun:
    run_id: int | None
    folder: Path
    submission: Path
    cv: CVResult


def train_lgbm(
    workspace: Workspace,
    *,
    store: Store | None = None,
    host: str = "kaggle",
    params: dict[str, Any] | None = None,
    n_folds: int = 5,
    seed: int = 0,
    on_fold: Callable[[int, int, float], None] | None = None,
) -> TrainedRun:
    """LightGBM with K-fold CV on the workspace's train.csv; test predictions become
    submission.csv in a fresh run folder."""
    import numpy as np

    from pipelines.cv import cross_validate_lgbm
    from pipelines.submission import build_submission, read_csv_checked, write_submission

    config = workspace.read_config()
    if not (config.target and config.metric):
        raise UsageError(
            f"{workspace.config_path} lacks the target or the metric: "
            f"set them with `compete init {workspace.name} --target COL --metric M`"
        )
    data = workspace.data_dir
    missing = [f for f in ("train.csv", "test.csv", SAMPLE) if not (data / f).is_file()]
    if missing:
        raise UsageError(
            f"{', '.join(missing)} missing in {data}: run `compete download {workspace.name}`"
        )
    train, test = read_csv_checked(data / "train.csv"), read_csv_checked(data / "test.csv")
    sample = read_csv_checked(data / SAMPLE)
    id_column = config.id_column or str(sample.columns[0])
    started = datetime.now(UTC)
    cv = cross_validate_lgbm(
        train,
        test,
        target=config.target,
        id_column=id_column,
        metric=config.metric,
        n_folds=n_folds,
        seed=seed,
        params=params,
        on_fold=on_fold,
        task=config.task,
    )
    folder = workspace.new_run_dir("lgbm", json.dumps({"params": params, "seed": seed}))
    cv.save(folder)
    predictions = cv.test_predictions
    if predictions.ndim == 1 and cv.task == "multiclass" and cv.classes is not None:
        predictions = np.asarray(cv.classes, dtype=object)[predictions.astype(int)]
    submission = folder / "submission.csv"
    write_submission(
        build_submission(
            sample,
            id_column=id_column,
            ids=cv.test_ids,
            predictions=predictions,
            classes=cv.classes,
        ),
        submission,
    )
    run_id = None
    if store is not None:
        store.ensure_competition(workspace.name, host=host, metric=config.metric)
        run = store.record_run(
            workspace.name,
            host=host,
            model=cv.model,
            metric=cv.metric,
            cv_mean=cv.mean,
            cv_std=cv.std,
            params=cv.params,
            seed=seed,
            device=cv.device,
            path=str(folder),
            started_at=started,
            finished_at=datetime.now(UTC),
        )
        run_id = run.id
    record = {"run_id": run_id, "cv_mean": cv.mean, "cv_std": cv.std, "metric": cv.metric}
    (folder / RUN_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return TrainedRun(run_id=run_id, folder=folder, submission=submission, cv=cv)
