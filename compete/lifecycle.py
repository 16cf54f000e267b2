"""One competition's life against its host: download, submit (recorded before the upload and
completed after it) and sync into the history store."""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from compete.adapter import KaggleAdapter
from compete.errors import (
    AuthError,
    CompeteError,
    CompetitionEndedError,
    HostError,
    NotFoundError,
    SubmissionLimitError,
    SubmissionScoringError,
    UsageError,
)
from compete.workspace import CompetitionConfig, Workspace, file_sha256, validate_name

if TYPE_CHECKING:
    from leaderboards.records import SubmissionRecord
    from leaderboards.store import Store

SAMPLE = "sample_submission.csv"
RUN_RECORD = "compete.json"  # written into a run folder: the store's run id and CV score
_TASK_OF_METRIC = {
    "auc": "binary",
    "logloss": "binary",
    "f1": "binary",
    "multiclass_logloss": "multiclass",
    "rmse": "regression",
    "rmsle": "regression",
    "mae": "regression",
    "r2": "regression",
}


@dataclass(frozen=True)
class DownloadResult:
    workspace: Workspace
    files: dict[str, str]  # file name -> "new" | "same" | "updated"
    config: CompetitionConfig


@dataclass(frozen=True)
class SubmitOutcome:
    record: SubmissionRecord
    kept_file: Path


@dataclass(frozen=True)
class SyncResult:
    competition: str
    board: str
    submissions_updated: int
    submissions_added: int
    submissions_lost: int
    team_count: int
    our_rank: int | None
    deadline: datetime | None


def canonical_metric(text: str | None) -> str | None:
    """Our metric name for what a host calls its metric, or None when we do not know it."""
    if not text:
        return None
    from pipelines.errors import UnknownMetricError
    from pipelines.metrics import get_metric

    try:
        return get_metric(text).name
    except UnknownMetricError:
        return None


def metric_points_up(metric: str | None) -> bool:
    """Whether higher is better for a metric (unknown metrics: assume so, as most do)."""
    if not canonical_metric(metric):
        return True
    from pipelines.metrics import get_metric

    return get_metric(metric).greater_is_better


def task_for_metric(metric: str | None) -> str | None:
    """The task a metric implies, when it implies one (accuracy and qwk do not)."""
    return _TASK_OF_METRIC.get(metric or "")


def _header(path: Path) -> list[str]:
    """The column names on a CSV file's first line, read without scanning the whole file: UTF-8
    (with or without its byte-order mark), else Windows-1252 as `read_csv_checked` reads it."""
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = first.decode("cp1252", errors="replace")
    return next(csv.reader([text]), [])


def infer_config(workspace: Workspace, *, metric: str | None = None) -> CompetitionConfig:
    """What a competition's files say about it: the id is the sample submission's first column,
    the target is what train.csv has and test.csv lacks. Values in competition.toml win."""
    current = workspace.read_config()
    data = workspace.data_dir
    target = id_column = None
    if (data / SAMPLE).is_file():
        id_column = _header(data / SAMPLE)[0]
    if (data / "train.csv").is_file() and (data / "test.csv").is_file():
        test_columns = set(_header(data / "test.csv"))
        extra = [c for c in _header(data / "train.csv") if c not in test_columns]
        extra = [c for c in extra if c != id_column]
        target = extra[0] if len(extra) == 1 else None
    metric = current.metric or canonical_metric(metric)
    # Everything else the user wrote (group_column, [columns], public_rows) is kept as it is.
    return replace(
        current,
        name=workspace.name,
        target=current.target or target,
        id_column=current.id_column or id_column,
        metric=metric,
        task=current.task or task_for_metric(metric),
    )


def download(adapter: KaggleAdapter, workspace: Workspace) -> DownloadResult:
    """Fetch every data file into data/; files that changed keep their old copy in
    data/previous/, so a download never overwrites what was there."""
    info = adapter.competition(workspace.name)
    workspace.ensure()
    with tempfile.TemporaryDirectory(dir=workspace.root, prefix=".download-") as tmp:
        fetched = adapter.download(workspace.name, Path(tmp))
        files = {}
        for path in fetched:
            kept, state = workspace.keep_data_file(path)
            files[kept.name] = state
    config = infer_config(workspace, metric=info.metric)
    workspace.write_config(config)
    return DownloadResult(workspace=workspace, files=files, config=config)


def read_run_record(folder: Path) -> dict:
    path = folder / RUN_RECORD
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}


def latest_run_submission(workspace: Workspace) -> Path:
    candidates = sorted(workspace.runs_dir.glob("*/submission.csv"))
    if not candidates:
        raise UsageError(
            f"no submission file given and no run in {workspace.runs_dir} has one: "
            f"pass -f FILE (or train a model first)"
        )
    # Run folders start with a time to the second; two runs in one second go by their file.
    return max(candidates, key=lambda p: (p.parent.name.partition("-")[0], p.stat().st_mtime_ns))


def validate_against_sample(workspace: Workspace, file: Path) -> None:
    from pipelines.errors import SubmissionFormatError
    from pipelines.submission import read_csv_checked, validate_submission

    sample_path = workspace.data_dir / SAMPLE
    if not sample_path.is_file():
        raise NotFoundError(
            f"{sample_path} is missing, so {file.name} cannot be checked before upload: "
            f"run `compete download {workspace.name}` first"
        )
    config = workspace.read_config()
    sample = read_csv_checked(sample_path)
    id_column = config.id_column or str(sample.columns[0])
    try:
        submission = read_csv_checked(file)
        validate_submission(
            submission, sample, id_column=id_column, metric=canonical_metric(config.metric)
        )
    except SubmissionFormatError as error:
        raise UsageError(
            f"{file} does not match {SAMPLE}, nothing was uploaded: " + "; ".join(error.problems)
        ) from None


def submit(
    adapter: KaggleAdapter,
    store: Store,
    workspace: Workspace,
    file: Path,
    message: str,
) -> SubmitOutcome:
    """Validate, keep a copy, write the store row, upload, then complete the row. The row is
    there before the upload starts, so a crash or a dead network never loses the attempt."""
    if not file.is_file():
        raise UsageError(f"submission file {file} does not exist")
    if not message.strip():
        raise UsageError("a submission needs a message: pass -m 'what changed'")
    validate_against_sample(workspace, file)
    run = read_run_record(file.parent) if file.parent.parent == workspace.runs_dir else {}
    kept = workspace.keep_submission(file)
    label = adapter.target.label
    store.ensure_competition(workspace.name, host=label, metric=workspace.read_config().metric)
    record = store.begin_submission(
        workspace.name,
        host=label,
        file_path=str(kept),
        file_hash=file_sha256(kept),
        file_name=file.name,
        message=message,
        run_id=run.get("run_id"),
        cv_score=run.get("cv_mean"),
    )
    try:
        result = adapter.submit(workspace.name, kept, message)
    except (SubmissionLimitError, CompetitionEndedError, AuthError, NotFoundError) as error:
        # The host answered and said no (daily limit, ended, ...): nothing to reconcile later.
        store.complete_submission(record.id, remote_ref=None, status="refused", error=str(error))
        raise
    except CompeteError as error:
        store.fail_submission(record.id, error=str(error))
        raise type(error)(
            f"{error} (the attempt is kept as submission #{record.id}; "
            f"`compete sync {workspace.name}` reconciles it)"
        ) from None
    record = store.complete_submission(record.id, remote_ref=result.ref, status="pending")
    return SubmitOutcome(record=record, kept_file=kept)


def check_scored(record: SubmissionRecord) -> None:
    """Raise when the host has scored the submission as ERROR, with the host's description:
    the upload worked, but the submission counts for nothing."""
    if record.status == "error":
        raise SubmissionScoringError(
            f"the host scored submission #{record.id} as ERROR: "
            f"{record.error or 'it gave no description'}; fix the file and submit again"
        )


def sync(adapter: KaggleAdapter, store: Store, name: str, *, team: str | None = None) -> SyncResult:
    """Pull submission scores and one leaderboard snapshot into the store; idempotent."""
    info = adapter.competition(name)
    label = adapter.target.label
    store.ensure_competition(
        name,
        host=label,
        title=info.title,
        metric=canonical_metric(info.metric),
        deadline=info.deadline,
    )
    reconciled = store.reconcile_submissions(name, host=label, remote=adapter.submissions(name))
    entries = adapter.leaderboard(name)
    # The API does not say which board it served: after the deadline Kaggle shows the private.
    board = "private" if info.ended() else "public"
    our_team = team or adapter.target.username or _username(adapter)
    snapshot = store.add_snapshot(
        name,
        host=label,
        board=board,
        taken_at=datetime.now(UTC),
        entries=entries,
        our_team=our_team,
    )
    return SyncResult(
        competition=name,
        board=board,
        submissions_updated=reconciled.updated,
        submissions_added=reconciled.added,
        submissions_lost=reconciled.lost,
        team_count=snapshot.team_count,
        our_rank=snapshot.our_rank,
        deadline=info.deadline,
    )


def _username(adapter: KaggleAdapter) -> str | None:
    try:
        return adapter.api.config_values.get("username")
    except HostError:
        return None


@dataclass(frozen=True)
class ImportResult:
    competition: str
    board: str | None
    entries: int
    our_rank: int | None
    submissions_added: int


def import_competition(
    db_url: str,
    name: str,
    *,
    leaderboard: Path | None,
    submissions: Path | None,
    board: str | None,
    team: str | None,
    metric: str | None,
) -> ImportResult:
    """A past kaggle.com competition into the store: a leaderboard download becomes one
    snapshot (taken when its newest entry was made), a submissions list becomes rows."""
    from leaderboards.importing import (
        board_of_download,
        read_leaderboard_download,
        read_submissions_csv,
    )
    from leaderboards.store import Store

    validate_name(name)
    entries = read_leaderboard_download(leaderboard) if leaderboard else []
    remote = read_submissions_csv(submissions) if submissions else []
    if leaderboard and board is None:
        board = board_of_download(leaderboard)
        if board is None:
            raise UsageError(
                f"cannot tell from {leaderboard.name} whether it is the public or the private "
                "board: pass --board public or --board private"
            )
    dates = [e.submission_date for e in entries if e.submission_date]
    taken = max(dates) if dates else None
    if taken is None and leaderboard is not None:
        taken = datetime.fromtimestamp(leaderboard.stat().st_mtime, UTC)
    with Store.open(db_url) as store:
        store.ensure_competition(name, host="kaggle", metric=canonical_metric(metric))
        added, snapshot = 0, None
        if remote:
            added = store.reconcile_submissions(name, host="kaggle", remote=remote).added
        if entries:
            snapshot = store.add_snapshot(
                name, host="kaggle", board=board, taken_at=taken, entries=entries, our_team=team
            )
    return ImportResult(
        competition=name,
        board=board if entries else None,
        entries=len(entries),
        our_rank=snapshot.our_rank if snapshot else None,
        submissions_added=added,
    )
