"""Quality at equal wall budgets: ours (LightGBM CV, tuned, network, hybrid) against LightGBM
defaults, LightGBM with early stopping, FLAML and AutoGluon on the public suite.

Each (dataset, seed, method, budget) cell runs in its own subprocess on the same seeded 80/20
outer split, so wall time and peak memory are measured alike for all; cells are appended to a
JSONL log as they finish and a re-run skips them. `python -m benchmarks.quality --help`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
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
OUR_METHODS = ("lgbm_cv", "lgbm_tuned", *FAMILY_METHODS)
BASELINES = ("lgbm_default", "lgbm_early_stopping")
METHODS = BASELINES + OUR_METHODS + PEER_METHODS
PEERS_RUNNER = Path(__file__).with_name("peers_runner.py")

# Quick mode: the smoke test's configuration — tiny data, a tiny budget, one seed.
QUICK_ROWS = 1200
QUICK_BUDGET = 8.0
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
    "lgbm_tuned": (("pipelines.tuning", "tune"),),
    **{name: (("pipelines.cv", "cross_validate"),) for name in FAMILY_METHODS},
}


def missing_requirement(method: str) -> str | None:
    """Why `method` cannot run here, or None when it can."""
    if method in PEER_METHODS:
        return None if h.peers_ready() else "peers env not built (bash benchmarks/peers.sh)"
    for module, name in _NEEDS.get(method, ()):
        found = importlib.util.find_spec(module)
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


def run_cell(cell: Cell, *, cores: int = h.CORES) -> dict[str, Any]:
    """Prepare the cell's split on disk, run the method in a measured subprocess, score it."""
    import numpy as np

    from pipelines.metrics import get_metric

    spec = h.SUITE[cell.dataset]
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
        if peer:
            command = [h.python_for(True), str(PEERS_RUNNER), str(folder)]
        else:
            command = [sys.executable, "-m", "benchmarks.quality", "--cell", str(folder)]
        measured = h.run_measured(
            command, timeout=cell.budget * 2 + 120, env=h.limited_env(cores), cwd=folder
        )
        record.update(
            wall_seconds=round(measured.wall_seconds, 2),
            peak_mb=round(measured.peak_mb, 1),
            peak_tree_mb=round(measured.peak_tree_mb, 1),
            max_rss_mb=round(measured.max_rss_mb, 1),
            returncode=measured.returncode,
        )
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


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per (dataset, budget, method), ranked within (dataset, budget)."""
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
        "| dataset | budget s | method | metric | mean ± std | seeds | rank | wall s | peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: (r["dataset"], r["budget"], r["rank"] or 99)):
        failed = f" ({row['failures']} failed)" if row["failures"] else ""
        lines.append(
            f"| {row['dataset']} | {row['budget']:g} | {row['method']} | {row['metric']} | "
            f"{_number(row['mean'])} ± {_number(row['std'])}{failed} | {len(row['seeds'])} | "
            f"{row['rank'] or '—'} | {row['wall_seconds']:.1f} | {row['peak_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The bar the hybrid is held to at the largest budget run: better than LightGBM defaults on
    every set and than FLAML on at least 3 of 4; returns the wins per rival ("3/4")."""
    from pipelines.metrics import get_metric

    if not rows:
        return {}
    budget = max(r["budget"] for r in rows)
    means = {
        (r["dataset"], r["method"]): r
        for r in rows
        if r["budget"] == budget and r["mean"] is not None
    }
    verdict: dict[str, Any] = {"budget": budget}
    for rival in ("lgbm_default", "flaml", "autogluon"):
        wins, compared = 0, 0
        for dataset in sorted({d for d, _ in means}):
            ours, theirs = means.get((dataset, "hybrid")), means.get((dataset, rival))
            if ours is None or theirs is None:
                continue
            compared += 1
            wins += get_metric(ours["metric"]).is_better(ours["mean"], theirs["mean"])
        verdict[f"hybrid_beats_{rival}"] = f"{wins}/{compared}"
    return verdict


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__)
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0, 300.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(h.SUITE), choices=list(h.SUITE))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="tiny budget, 1 seed, subsampled")
    parser.add_argument("--results", type=Path, default=h.RESULTS, help="report folder")
    parser.add_argument("--retry-failed", action="store_true", help="re-run failed cells")
    parser.add_argument("--cores", type=int, default=h.CORES)
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
    cells = [
        Cell(dataset, seed, method, budget, args.quick)
        for budget in args.budgets
        for seed in args.seeds
        for dataset in args.datasets
        for method in methods
    ]
    for cell in cells:
        if cell.key in done:
            continue
        record = run_cell(cell, cores=args.cores)
        h.append_record(log, record)
        print(
            f"{cell.dataset:<15} seed {cell.seed} {cell.method:<20} {cell.budget:>5g}s  "
            f"{record['status']:<7} score {_number(record['score'])}  "
            f"wall {record['wall_seconds']:6.1f}s  peak {record['peak_mb']:7.0f} MB",
            flush=True,
        )
    # The summary covers every logged method on the asked sets, seeds and budgets, so a run
    # that adds one method still reports it beside the others.
    records = [
        r
        for r in h.read_records(log)
        if r["dataset"] in args.datasets
        and r["seed"] in args.seeds
        and float(r["budget"]) in {float(b) for b in args.budgets}
        and r.get("quick", False) == args.quick
    ]
    rows = summarize(records)
    table = markdown_table(rows)
    print(table)
    verdict = targets(rows)
    report = {
        "machine": h.machine(),
        "cores": args.cores,
        "quick": args.quick,
        "budgets": args.budgets,
        "seeds": args.seeds,
        "datasets": args.datasets,
        "methods": methods,
        "cells": len(records),
        "summary": rows,
        "targets": verdict,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{stem}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (args.results / f"{stem}.md").write_text(
        f"# Quality ({'quick' if args.quick else 'full'})\n\n{table}\nTargets: {verdict}\n"
    )
    return report


if __name__ == "__main__":
    main()
