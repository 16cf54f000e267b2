"""The evidence behind a competition's leaderboard analysis: the stored history, the newest
board of each kind, and the noise of a public score estimated from a run's out-of-fold
predictions. `leaderboards.analysis` does the reasoning; this module only gathers inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compete.lifecycle import SAMPLE, metric_points_up
from compete.settings import Settings
from compete.workspace import Workspace

if TYPE_CHECKING:
    from leaderboards.analysis import (
        CvPublicFit,
        FinalPicks,
        NoiseEstimate,
        PrivatePrediction,
        PublicGain,
        Shakeup,
    )
    from leaderboards.records import History, RankedEntry
    from leaderboards.store import Store


@dataclass(frozen=True)
class Evidence:
    history: History
    metric: str | None
    greater_is_better: bool
    boards: dict[str, list[RankedEntry]]  # the newest snapshot of each board
    noise: NoiseEstimate | None
    fit: CvPublicFit
    picks: FinalPicks
    shakeup: Shakeup | None
    private_prediction: PrivatePrediction
    gains: list[PublicGain]  # each public gain over the best before it, and P(noise)


def public_rows(settings: Settings, name: str) -> int | None:
    """How many rows score the public board: competition.toml's public_rows, or what the
    practice host says."""
    from compete.hosts import is_practice_competition

    workspace = Workspace.at(settings.competitions_dir, name)
    configured = workspace.read_config().public_rows if workspace.root.is_dir() else None
    if configured:
        return configured
    if is_practice_competition(settings.home, name):
        from compete.practice.create import get_competition

        return get_competition(settings.home, name).n_public or None
    return None


def best_run(workspace: Workspace, *, greater_is_better: bool) -> Path | None:
    """The run folder with the best CV score (the newest when none says its score)."""
    from compete.lifecycle import read_run_record

    runs = sorted(p for p in workspace.runs_dir.glob("*") if (p / "oof.parquet").is_file())
    scored = [(read_run_record(p).get("cv_mean"), p) for p in runs]
    scored = [(cv, p) for cv, p in scored if isinstance(cv, int | float)]
    if not scored:
        return runs[-1] if runs else None
    sign = 1 if greater_is_better else -1
    return max(scored, key=lambda item: sign * item[0])[1]


def estimate_noise(
    workspace: Workspace, n_public: int, *, greater_is_better: bool = True, seed: int = 0
) -> NoiseEstimate | None:
    """Bootstrap the noise of a public score on `n_public` rows from the best run's
    out-of-fold predictions and the training targets."""
    folder = best_run(workspace, greater_is_better=greater_is_better)
    config = workspace.read_config()
    if folder is None or not config.target or not (workspace.data_dir / "train.csv").is_file():
        return None
    from leaderboards.analysis import public_noise
    from pipelines.cv import CVResult
    from pipelines.features import prepare_frames
    from pipelines.metrics import get_metric
    from pipelines.submission import read_csv_checked

    result = CVResult.load(folder)
    train = read_csv_checked(workspace.data_dir / "train.csv")
    test = read_csv_checked(workspace.data_dir / "test.csv")
    id_column = config.id_column or str(read_csv_checked(workspace.data_dir / SAMPLE).columns[0])
    prepared = prepare_frames(
        train, test, target=config.target, id_column=id_column, task=result.task
    )
    if len(prepared.y) != len(result.oof):
        return None  # the data changed since that run
    metric = get_metric(result.metric)
    return public_noise(prepared.y, result.oof, n_public=n_public, score=metric.score, seed=seed)


def gather(settings: Settings, store: Store, name: str, *, host: str) -> Evidence:
    from leaderboards import analysis

    history = store.history(name, host=host)
    metric_name = history.competition.metric
    greater = metric_points_up(metric_name)
    boards: dict[str, list[Any]] = {}
    for snapshot in reversed(history.snapshots):
        if snapshot.board not in boards:
            boards[snapshot.board] = store.snapshot_entries(snapshot.id)
    noise = None
    n_public = public_rows(settings, name)
    workspace = Workspace.at(settings.competitions_dir, name)
    if n_public and workspace.root.is_dir():
        noise = estimate_noise(workspace, n_public, greater_is_better=greater)
    fit = analysis.cv_vs_public(history.submissions, greater_is_better=greater)
    our_team = next((s.our_team for s in reversed(history.snapshots) if s.our_team), None)
    shakeup = None
    if "public" in boards and "private" in boards:
        shakeup = analysis.shakeup(boards["public"], boards["private"], our_team=our_team)
    return Evidence(
        history=history,
        metric=metric_name,
        greater_is_better=greater,
        boards=boards,
        noise=noise,
        fit=fit,
        picks=analysis.final_picks(
            history.submissions,
            greater_is_better=greater,
            noise_std=noise.std if noise else None,
            fit=fit,
        ),
        shakeup=shakeup,
        private_prediction=analysis.cv_predicts_private(
            history.submissions, greater_is_better=greater
        ),
        gains=analysis.public_gains(history.submissions, greater_is_better=greater, noise=noise),
    )
