"""Scale: nycflights13/flights (336k rows, arrival delay in minutes, rows without one dropped)
cross-validated by our LightGBM, and by the network for a few epochs, each in its own
subprocess whose peak memory is measured against the 4 GB target."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _harness as h

PEAK_TARGET_MB = 4096
DATASET = h.FLIGHTS


def fit_child(model: str, out: Path, *, max_rows: int | None, folds: int, epochs: int) -> None:
    """The measured child: load flights, hold out 20% as the test part, cross-validate."""
    from pipelines.cv import cross_validate
    from pipelines.features import prepare_frames
    from pipelines.folds import make_folds

    started = time.perf_counter()
    frame = h.load_frame(DATASET, max_rows=max_rows)
    train, test = h.outer_split(frame, DATASET, seed=0)
    data = prepare_frames(
        train, test.drop(columns=DATASET.target), target=DATASET.target, id_column=None
    )
    del frame, train
    loaded = time.perf_counter() - started
    fold_ids = make_folds(data.y, task=data.task, n_splits=folds, seed=0)
    params = {"max_epochs": epochs} if model == "nn" else None
    result = cross_validate(
        data, model=model, metric=DATASET.metric, folds=fold_ids, params=params, device="cpu"
    )
    out.write_text(
        json.dumps(
            {
                "rows": len(data.y) + len(data.X_test),
                "train_rows": len(data.y),
                "features": data.X.shape[1],
                "cv_rmse": result.mean,
                "cv_rmse_std": result.std,
                "load_seconds": loaded,
                "cv_seconds": result.fit_seconds,
                "best_iterations": result.best_iterations,
            }
        )
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--models", nargs="+", default=["lgbm", "nn"], choices=["lgbm", "nn"])
    parser.add_argument("--max-rows", type=int, default=None, help="sample rows (quick runs)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3, help="network epochs per fold")
    parser.add_argument("--cores", type=int, default=h.CORES)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--quick", action="store_true", help="5000 rows, 2 folds, 1 epoch")
    parser.add_argument("--results", type=Path, default=h.RESULTS)
    parser.add_argument("--child", choices=["lgbm", "nn"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.max_rows, args.folds, args.epochs = 5000, 2, 1
    if args.child:
        fit_child(
            args.child, args.out, max_rows=args.max_rows, folds=args.folds, epochs=args.epochs
        )
        return {}

    report: dict[str, Any] = {
        "machine": h.machine(),
        "dataset": f"{DATASET.package}/{DATASET.item}",
        "target": DATASET.target,
        "folds": args.folds,
        "cores": args.cores,
        "peak_target_mb": PEAK_TARGET_MB,
        "models": {},
    }
    for model in args.models:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            out = Path(tmp) / "result.json"
            command = [sys.executable, "-m", "benchmarks.scale", "--child", model]
            command += ["--out", str(out), "--folds", str(args.folds), "--epochs", str(args.epochs)]
            if args.max_rows:
                command += ["--max-rows", str(args.max_rows)]
            measured = h.run_measured(
                command, timeout=args.timeout, env=h.limited_env(args.cores), cwd=tmp
            )
            entry: dict[str, Any] = {
                "wall_seconds": measured.wall_seconds,
                "peak_mb": measured.peak_mb,
                "peak_tree_mb": measured.peak_tree_mb,
                "max_rss_mb": measured.max_rss_mb,
                "status": "ok" if measured.returncode == 0 and out.is_file() else "error",
            }
            entry["within_target"] = entry["status"] == "ok" and measured.peak_mb <= PEAK_TARGET_MB
            if model == "nn":
                entry["epochs"] = args.epochs
            if entry["status"] == "ok":
                entry.update(json.loads(out.read_text()))
            else:
                entry["error"] = measured.output[-2000:]
        report["models"][model] = entry
        verdict = "met" if entry["within_target"] else "MISSED"
        print(
            f"flights {model:<5} {entry['status']:<6} rows {entry.get('rows', '?')}  "
            f"cv rmse {entry.get('cv_rmse', float('nan')):.3f}  wall {entry['wall_seconds']:.1f}s  "
            f"peak {entry['peak_mb']:.0f} MB (target <= {PEAK_TARGET_MB} MB: {verdict})",
            flush=True,
        )
    args.results.mkdir(parents=True, exist_ok=True)
    stem = "scale_quick" if args.quick else "scale"
    path = args.results / f"{stem}.json"
    # A run of one model keeps the other model's last result beside it (marked as earlier).
    if path.is_file():
        earlier = json.loads(path.read_text()).get("models", {})
        for model, entry in earlier.items():
            report["models"].setdefault(model, {**entry, "from_earlier_run": True})
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
