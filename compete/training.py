"""Training runs in a workspace: prepare the data by its schema, cross-validate (or tune) with
`pipelines` on the competition's saved folds, keep the artefacts in a new run folder with a
submission file beside them, and record the run in the history store."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compete.errors import NotFoundError, UsageError
from compete.lifecycle import RUN_RECORD, SAMPLE
from compete.workspace import CompetitionConfig, Workspace
from pipelines.deadline import Deadline
from pipelines.models import family_names, get_family

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leaderboards.store import Store
    from pipelines.cv import CVResult
    from pipelines.features import Prepared

MODELS = family_names()
DEFAULT_FOLDS = 5
FOLDS_FILE = "folds.parquet"
SCHEMA_FILE = "schema.json"
STUDIES_DIR = "studies"

MIN_BUDGET = 1.0  # seconds; less cannot even read the data
# Share of a budget the sentence model may spend embedding text columns (TF-IDF beyond it).
TEXT_SHARE = 0.3
# Time kept back from the budget for saving the run and writing submission.csv after training.
FINISH_SHARE, FINISH_MAX = 0.03, 2.0
# With tuning, trials stop starting at this share of what is left, so that re-fitting a best
# trial found by another process (or an earlier call) still fits in the budget.
TUNE_SHARE = 0.85
_DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d*)?)h)?(?:(?P<m>\d+(?:\.\d*)?)m)?(?:(?P<s>\d+(?:\.\d*)?)s?)?"
)


def parse_duration(text: str, *, option: str = "--budget") -> float:
    """A duration as seconds: 90s, 10m, 1h, 1h30m, 2m30s, 1.5h, or plain seconds (120).
    Zero, negative, malformed and sub-second budgets are refused with one line."""
    cleaned = text.strip().lower().replace(" ", "")
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None:
        raise UsageError(
            f"{option} {text!r} is not a duration: write seconds or units, e.g. 90s, 10m, 1h, 1h30m"
        )
    hours, minutes, seconds = (float(match[unit] or 0) for unit in ("h", "m", "s"))
    total = hours * 3600 + minutes * 60 + seconds
    if not math.isfinite(total) or total < MIN_BUDGET:
        raise UsageError(
            f"{option} {text!r} is too short: give at least {MIN_BUDGET:g}s, e.g. 90s or 10m"
        )
    return total


@dataclass(frozen=True)
class TrainProgress:
    """Callbacks the CLI passes to show progress; each may be None."""

    on_fold: Callable[[int, int, float], None] | None = None
    on_epoch: Callable[[int, float], None] | None = None
    on_trial: Callable[[Any], None] | None = None
    on_stage: Callable[[str], None] | None = None
    on_step: Callable[[Any], None] | None = None  # a pipelines.portfolio.Step, portfolio only


@dataclass(frozen=True)
class TrainOptions:
    """One `compete train` call, built once at the CLI."""

    model: str | None = "lgbm"  # None: the portfolio of every family (needs a budget)
    n_folds: int | None = None  # None: the competition's saved folds, or DEFAULT_FOLDS
    seed: int = 0
    device: str = "auto"
    params: dict[str, Any] | None = None
    trials: int | None = None
    timeout: float | None = None  # tune with Optuna within this budget (--timeout)
    storage: str | None = None  # an Optuna storage URL; None: a journal file in the workspace
    budget: float | None = None  # seconds from the command's start to submission.csv written
    families: tuple[str, ...] | None = None  # the portfolio's families (None: every one)

    @property
    def tuning(self) -> bool:
        return self.trials is not None or self.timeout is not None

    @property
    def seconds(self) -> float | None:
        """The wall budget of the whole call: --budget, or --timeout (its alias for tuning)."""
        return self.budget if self.budget is not None else self.timeout


@dataclass(frozen=True)
class TrainedRun:
    run_id: int | None
    folder: Path
    submission: Path
    cv: CVResult
    study: Any = None  # a pipelines.tuning.TuneResult when tuned
    portfolio: Any = None  # a pipelines.portfolio.PortfolioResult for a portfolio run


@dataclass(frozen=True)
class _Inputs:
    config: CompetitionConfig
    id_column: str
    sample: pd.DataFrame
    data: Prepared


def _read_inputs(
    workspace: Workspace, *, cache_dir: Path | None, deadline: Deadline | None = None
) -> _Inputs:
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
        # The sentence model may take TEXT_SHARE of a budget; beyond that, TF-IDF.
        text_embedder=TextEmbedder(
            cache_dir=cache_dir, deadline=deadline.share(TEXT_SHARE) if deadline else None
        ),
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


def check_budget(model: str | None, budget: float | None) -> None:
    """Refuse a budget shorter than the family (or, model None, the portfolio) can keep,
    saying the minimum."""
    if model is None:
        from pipelines.portfolio import MIN_BUDGET as least

        if budget is not None and budget < least:
            raise UsageError(
                f"a budget of {budget:g}s is too short for the portfolio: it needs at least "
                f"{least:g}s (start-up, data, probes and one full CV); give --budget {least:g}s "
                "or more, or one family with --model"
            )
        return
    if model not in MODELS:
        raise UsageError(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    least = get_family(model).min_budget
    if budget is not None and budget < least:
        raise UsageError(
            f"a budget of {budget:g}s is too short for {model}: it needs at least {least:g}s "
            f"(start-up, data, and a first tree or batch on every fold); give --budget "
            f"{least:g}s or more"
        )


def train(
    workspace: Workspace,
    options: TrainOptions,
    *,
    store: Store | None = None,
    host: str = "kaggle",
    cache_dir: Path | None = None,
    progress: TrainProgress = TrainProgress(),
    deadline: Deadline | None = None,
) -> TrainedRun:
    """Cross-validate (or tune, with trials or a timeout) one model on the workspace's data;
    the test predictions become submission.csv in a fresh run folder.

    With a budget (options.budget, or options.timeout) the whole call, data and schema
    included, ends near `deadline` (by default the budget from now; the CLI starts it when the
    command starts): every fold gets a share of the time left, and each model stops at its
    share with the best iteration so far.
    """
    from pipelines.cv import cross_validate

    if options.budget is not None and options.timeout is not None:
        raise UsageError("give --budget or --timeout (its alias), not both")
    budget = options.seconds
    check_portfolio(options)
    check_budget(options.model, budget)
    if deadline is None:
        deadline = Deadline.after(budget) if budget is not None else Deadline.never()
    stage = progress.on_stage or (lambda text: None)
    stage("reading the data and inferring its schema")
    inputs = _read_inputs(workspace, cache_dir=cache_dir, deadline=deadline)
    folds = competition_folds(workspace, inputs, n_folds=options.n_folds, seed=options.seed)
    started = datetime.now(UTC)
    # What is left after training: saving the run and writing its submission.
    fit_deadline = deadline.earlier(min(FINISH_MAX, FINISH_SHARE * (budget or 0.0)))
    if options.model is None:
        return _train_portfolio(
            workspace, options, inputs, folds, fit_deadline,
            store=store, host=host, started=started, progress=progress,
        )  # fmt: skip
    study = None
    if options.tuning:
        from pipelines.tuning import open_storage, tune

        stage(f"tuning {options.model} with Optuna")
        storage = open_storage(
            options.storage, journal_path=workspace.root / STUDIES_DIR / "optuna.journal"
        )
        timeout = None
        if fit_deadline.bounded:
            timeout = max(fit_deadline.remaining() * TUNE_SHARE, 0.0)
        study = tune(
            inputs.data,
            model=options.model,
            metric=inputs.config.metric,
            folds=folds,
            n_trials=options.trials,
            timeout=timeout,
            storage=storage,
            study_name=f"{workspace.name}-{options.model}",
            seed=options.seed,
            device=options.device,
            params=options.params,
            on_trial=progress.on_trial,
            budget=fit_deadline,
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
            deadline=fit_deadline,
        )
    described = json.dumps(
        {
            "params": options.params,
            "seed": options.seed,
            "tuned": options.tuning,
            "budget": budget,
        },
        default=str,
    )
    folder = workspace.new_run_dir(options.model, described)
    return _keep_run(
        workspace, inputs, cv, folder, store=store, host=host, started=started, study=study
    )


def check_portfolio(options: TrainOptions) -> None:
    """Refuse what the portfolio (no --model) cannot take: no budget, tuning or one family's
    settings, unknown families; --families without the portfolio."""
    if options.model is not None:
        if options.families is not None:
            raise UsageError("--families picks the portfolio's families: drop --model to use it")
        return
    if options.budget is None:
        raise UsageError(
            "the portfolio (no --model) needs a time budget: give --budget, e.g. --budget 10m"
        )
    if options.tuning:
        raise UsageError("--trials and --timeout tune one family: give --model too")
    if options.params:
        raise UsageError("--param sets one family's settings: give --model too")
    if options.families is not None:
        unknown = [f for f in options.families if f not in MODELS]
        if unknown or not options.families:
            named = f"unknown {', '.join(unknown)}" if unknown else "no family"
            raise UsageError(
                f"--families {','.join(options.families)!r} names {named}: use some of "
                f"{', '.join(MODELS)}, comma-separated, e.g. lgbm,nn"
            )


def _train_portfolio(
    workspace: Workspace,
    options: TrainOptions,
    inputs: _Inputs,
    folds: np.ndarray,
    deadline: Deadline,
    *,
    store: Store | None,
    host: str,
    started: datetime,
    progress: TrainProgress,
) -> TrainedRun:
    """The portfolio within `deadline`: one run folder holds the final ensemble, its members
    under members/NAME, and its submission; the history records it with members and weights."""
    from pipelines.errors import PipelinesError
    from pipelines.portfolio import run_portfolio

    if progress.on_stage:
        progress.on_stage("portfolio: probing the families")
    try:
        portfolio = run_portfolio(
            inputs.data, metric=inputs.config.metric, folds=folds, deadline=deadline,
            families=options.families, seed=options.seed, device=options.device,
            on_step=progress.on_step,
        )  # fmt: skip
    except PipelinesError as error:
        raise UsageError(str(error)) from None
    described = json.dumps(
        {"families": options.families, "seed": options.seed, "budget": options.budget},
        default=str,
    )
    folder = workspace.new_run_dir("portfolio", described)
    (folder / "portfolio.json").write_text(
        json.dumps(portfolio.summary(), indent=2, default=str) + "\n", encoding="utf-8"
    )
    kept = _keep_run(
        workspace, inputs, portfolio.result, folder, store=store, host=host, started=started
    )
    return replace(kept, portfolio=portfolio)


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
