"""Training runs in a workspace: prepare the data by its schema, cross-validate (or tune) with
`pipelines` on the competition's saved folds, keep the artefacts in a new run folder with a
submission file beside them, and record the run in the history store."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compete.errors import NotFoundError, UsageError
from compete.lifecycle import RUN_RECORD, SAMPLE
from compete.workspace import CompetitionConfig, Workspace

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leaderboards.store import Store
    from pipelines.cv import CVResult
    from pipelines.features import Prepared

MODELS = ("lgbm", "nn", "hybrid")
DEFAULT_FOLDS = 5
FOLDS_FILE = "folds.parquet"
SCHEMA_FILE = "schema.json"
STUDIES_DIR = "studies"


@dataclass(frozen=True)
class TrainProgress:
    """Callbacks the CLI passes to show progress; each may be None."""

    on_fold: Callable[[int, int, float], None] | None = None
    on_epoch: Callable[[int, float], None] | None = None
    on_trial: Callable[[Any], None] | None = None
    on_stage: Callable[[str], None] | None = None


@dataclass(frozen=True)
class TrainOptions:
    """One `compete train` call, built once at the CLI."""

    model: str = "lgbm"
    n_folds: int | None = None  # None: the competition's saved folds, or DEFAULT_FOLDS
    seed: int = 0
    device: str = "auto"
    params: dict[str, Any] | None = None
    trials: int | None = None
    timeout: float | None = None
    storage: str | None = None  # an Optuna storage URL; None: a journal file in the workspace

    @property
    def tuning(self) -> bool:
        return self.trials is not None or self.timeout is not None


@dataclass(frozen=True)
class TrainedRun:
    run_id: int | None
    folder: Path
    submission: Path
    cv: CVResult
    study: Any = None  # a pipelines.tuning.TuneResult when tuned


@dataclass(frozen=True)
class _Inputs:
    config: CompetitionConfig
    id_column: str
    sample: pd.DataFrame
    data: Prepared


def _read_inputs(workspace: Workspace, *, cache_dir: Path | None) -> _Inputs:
    from pipelines.features import prepare_frames
    from pipelines.submission import read_csv_checked
    from pipelines.text import TextEmbedder

    config = workspace.read_config()
    if not (config.target and config.metric):
        raise UsageError(
            f"{workspace.config_path} lacks the target or the metric: "
            f"set them with `compete init {workspace.name} --target COL --metric M`"
        )
    data_dir = workspace.data_dir
    missing = [f for f in ("train.csv", "test.csv", SAMPLE) if not (data_dir / f).is_file()]
    if missing:
        raise UsageError(
            f"{', '.join(missing)} missing in {data_dir}: run `compete download {workspace.name}`"
        )
    train = read_csv_checked(data_dir / "train.csv")
    test = read_csv_checked(data_dir / "test.csv")
    sample = read_csv_checked(data_dir / SAMPLE)
    id_column = config.id_column or str(sample.columns[0])
    prepared = prepare_frames(
        train,
        test,
        target=config.target,
        id_column=id_column,
        task=config.task,
        overrides=config.columns,
        text_embedder=TextEmbedder(cache_dir=cache_dir),
    )
    if prepared.schema is not None:
        (workspace.root / SCHEMA_FILE).write_text(
            json.dumps(prepared.schema.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
    return _Inputs(config=config, id_column=id_column, sample=sample, data=prepared)


def competition_folds(
    workspace: Workspace, inputs: _Inputs, *, n_folds: int | None, seed: int
) -> np.ndarray:
    """The competition's folds: made once, saved in the workspace, and reused by every model
    so that out-of-fold predictions can be blended. A file made for other data or another
    fold count is refused rather than silently replaced."""
    from pipelines.errors import DataError
    from pipelines.folds import load_folds, make_folds, save_folds

    path = workspace.root / FOLDS_FILE
    if path.is_file():
        folds = load_folds(path, n_rows=len(inputs.data.y))
        found = int(folds.max()) + 1
        if n_folds is not None and found != n_folds:
            raise UsageError(
                f"{path} holds {found} folds but --folds is {n_folds}: drop --folds to reuse "
                f"them (runs blend only on the same folds), or delete {path} to start over"
            )
        return folds
    groups = None
    if inputs.config.group_column:
        from pipelines.submission import read_csv_checked

        train = read_csv_checked(workspace.data_dir / "train.csv")
        if inputs.config.group_column not in train.columns:
            raise UsageError(
                f"group_column {inputs.config.group_column!r} in {workspace.config_path} is not "
                "a column of train.csv: fix or remove it"
            )
        groups = train[inputs.config.group_column].to_numpy()
    try:
        folds = make_folds(
            inputs.data.y,
            task=inputs.data.task,
            n_splits=n_folds or DEFAULT_FOLDS,
            seed=seed,
            groups=groups,
        )
    except DataError as error:
        # pipelines cannot name our option; say which one sets the fold count.
        raise UsageError(
            f"{error} (`compete train {workspace.name} --folds K` sets the number of folds)"
        ) from None
    strategy = "group" if groups is not None else None
    save_folds(folds, path, seed=seed, strategy=strategy)
    return folds


def train(
    workspace: Workspace,
    options: TrainOptions,
    *,
    store: Store | None = None,
    host: str = "kaggle",
    cache_dir: Path | None = None,
    progress: TrainProgress = TrainProgress(),
) -> TrainedRun:
    """Cross-validate (or tune, with trials or a timeout) one model on the workspace's data;
    the test predictions become submission.csv in a fresh run folder."""
    from pipelines.cv import cross_validate

    if options.model not in MODELS:
        raise UsageError(f"unknown model {options.model!r}: use one of {', '.join(MODELS)}")
    stage = progress.on_stage or (lambda text: None)
    stage("reading the data and inferring its schema")
    inputs = _read_inputs(workspace, cache_dir=cache_dir)
    folds = competition_folds(workspace, inputs, n_folds=options.n_folds, seed=options.seed)
    started = datetime.now(UTC)
    study = None
    if options.tuning:
        from pipelines.tuning import open_storage, tune

        stage(f"tuning {options.model} with Optuna")
        storage = open_storage(
            options.storage, journal_path=workspace.root / STUDIES_DIR / "optuna.journal"
        )
        study = tune(
            inputs.data,
            model=options.model,
            metric=inputs.config.metric,
            folds=folds,
            n_trials=options.trials,
            timeout=options.timeout,
            storage=storage,
            study_name=f"{workspace.name}-{options.model}",
            seed=options.seed,
            device=options.device,
            on_trial=progress.on_trial,
        )
        cv = study.best
    else:
        stage(f"cross-validating {options.model}")
        callbacks = [progress.on_epoch] if progress.on_epoch else None
        cv = cross_validate(
            inputs.data,
            model=options.model,
            metric=inputs.config.metric,
            folds=folds,
            params=options.params,
            seed=options.seed,
            device=options.device,
            on_fold=progress.on_fold,
            callbacks=callbacks,
        )
    described = json.dumps(
        {"params": options.params, "seed": options.seed, "tuned": options.tuning}, default=str
    )
    folder = workspace.new_run_dir(options.model, described)
    return _keep_run(
        workspace, inputs, cv, folder, store=store, host=host, started=started, study=study
    )


def train_lgbm(
    workspace: Workspace,
    *,
    store: Store | None = None,
    host: str = "kaggle",
    params: dict[str, Any] | None = None,
    n_folds: int | None = None,
    seed: int = 0,
    on_fold: Callable[[int, int, float], None] | None = None,
) -> TrainedRun:
    """LightGBM with K-fold CV: `train` with model lgbm (the demo's and notebooks' shortcut)."""
    return train(
        workspace,
        TrainOptions(model="lgbm", n_folds=n_folds, seed=seed, params=params),
        store=store,
        host=host,
        progress=TrainProgress(on_fold=on_fold),
    )


def _keep_run(
    workspace: Workspace,
    inputs: _Inputs,
    cv: CVResult,
    folder: Path,
    *,
    store: Store | None,
    host: str,
    started: datetime,
    study: Any = None,
) -> TrainedRun:
    """Save the CV result and its submission in `folder`, and record the run in the store."""
    import numpy as np

    from pipelines.submission import build_submission, write_submission

    cv.save(folder)
    predictions = cv.test_predictions
    if predictions.ndim == 1 and cv.task == "multiclass" and cv.classes is not None:
        predictions = np.asarray(cv.classes, dtype=object)[predictions.astype(int)]
    submission = folder / "submission.csv"
    write_submission(
        build_submission(
            inputs.sample,
            id_column=inputs.id_column,
            ids=cv.test_ids,
            predictions=predictions,
            classes=cv.classes,
        ),
        submission,
    )
    run_id = None
    params = dict(cv.params)
    if study is not None:
        params["study"] = {"name": study.study_name, "trials": study.n_trials}
    if store is not None:
        store.ensure_competition(workspace.name, host=host, metric=inputs.config.metric)
        run = store.record_run(
            workspace.name,
            host=host,
            model=cv.model,
            metric=cv.metric,
            cv_mean=cv.mean,
            cv_std=cv.std,
            params=params,
            seed=cv.seed,
            device=cv.device,
            path=str(folder),
            started_at=started,
            finished_at=datetime.now(UTC),
        )
        run_id = run.id
    record = {"run_id": run_id, "cv_mean": cv.mean, "cv_std": cv.std, "metric": cv.metric}
    (folder / RUN_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return TrainedRun(run_id=run_id, folder=folder, submission=submission, cv=cv, study=study)


@dataclass(frozen=True)
class BlendedRun:
    run: TrainedRun
    members: dict[str, float]  # run folder name -> CV score
    weights: dict[str, float]  # run folder name -> weight


def run_folders(workspace: Workspace, chosen: Sequence[str] = ()) -> list[Path]:
    """The run folders to blend: the named ones (folder names or their unique prefixes), or
    every run that kept out-of-fold predictions."""
    folders = sorted(p.parent for p in workspace.runs_dir.glob("*/result.json"))
    if not chosen:
        return folders
    picked = []
    for name in chosen:
        matches = [f for f in folders if f.name == name] or [
            f for f in folders if f.name.startswith(name)
        ]
        if len(matches) != 1:
            where = "matches no run" if not matches else f"matches {len(matches)} runs"
            raise NotFoundError(
                f"{name!r} {where} in {workspace.runs_dir}: name a run folder (see `ls`)"
            )
        picked.append(matches[0])
    return picked


def blend(
    workspace: Workspace,
    *,
    runs: Sequence[str] = (),
    method: str = "hill",
    store: Store | None = None,
    host: str = "kaggle",
    cache_dir: Path | None = None,
) -> BlendedRun:
    """Blend runs' out-of-fold predictions (Caruana hill climbing, or rank averaging) into a
    new run with its own submission; only runs made on the competition's current folds mix."""
    from pipelines.blend import blend_results
    from pipelines.cv import CVResult

    folders = run_folders(workspace, runs)
    loaded = [(folder.name, CVResult.load(folder)) for folder in folders]
    # Earlier blends are not blended again unless named.
    loaded = [(name, r) for name, r in loaded if r.model != "blend" or runs]
    if len(loaded) < 2:
        raise UsageError(
            f"blending needs at least 2 runs with out-of-fold predictions; {workspace.runs_dir} "
            f"has {len(loaded)}: train more models first (`compete train {workspace.name}`)"
        )
    inputs = _read_inputs(workspace, cache_dir=cache_dir)
    started = datetime.now(UTC)
    # Members are named by their run folders, so the weights say which run they belong to.
    results = [replace(r, model=name) for name, r in loaded]
    blended, cv = blend_results(results, inputs.data.y, method=method)
    names = [name for name, _ in loaded]
    folder = workspace.new_run_dir("blend", json.dumps({"runs": names, "method": method}))
    kept = _keep_run(workspace, inputs, cv, folder, store=store, host=host, started=started)
    members = {r.model: r.mean for r in results}
    return BlendedRun(run=kept, members=members, weights=dict(blended.weights))
