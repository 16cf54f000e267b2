"""Speed, side by side in one run with interleaved repetitions: our LightGBM cross-validation
with fixed parameters and rounds against a plain `lightgbm.train` loop over the same folds
(target: at most 1.10x its time), and one epoch of our network's training loop against a
minimal hand-written torch loop over the same module (target: at most 1.15x); rows per second
for each, on the CPU and on a GPU when torch sees one."""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks import _harness as h

LGBM_TARGET = 1.10
EPOCH_TARGET = 1.15
DATASET = h.SUITE["diamonds_price"]


def interleaved(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Wall seconds of each run, repeated in turns so machine noise falls on all alike (one
    untimed warm-up round first)."""
    for run in runs.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - started)
    return samples


def lgbm_runs(data: Any, folds: Any, rounds: int, cores: int) -> dict[str, Callable[[], Any]]:
    """Ours (pipelines.cv.cross_validate) and a plain lightgbm.train loop doing the same work:
    the same folds, parameters, rounds, validation metric and predictions."""
    import lightgbm

    from pipelines.cv import cross_validate
    from pipelines.gbdt import DEFAULT_LGBM_PARAMS

    params = {**DEFAULT_LGBM_PARAMS, "n_jobs": cores, "n_estimators": rounds}

    def ours() -> Any:
        # Patience past the last round: early stopping never fires, every fold grows `rounds`.
        fixed = {**params, "early_stopping_rounds": rounds + 1}
        return cross_validate(data, model="lgbm", metric="rmse", folds=folds, params=fixed)

    plain_params = {k: v for k, v in params.items() if k != "n_estimators"}
    plain_params.update(objective="regression", metric="rmse", seed=0)

    def plain() -> Any:
        for fold in range(int(folds.max()) + 1):
            fit, valid = folds != fold, folds == fold
            train_set = lightgbm.Dataset(data.X[fit], data.y[fit])
            valid_set = lightgbm.Dataset(data.X[valid], data.y[valid], reference=train_set)
            booster = lightgbm.train(
                plain_params, train_set, num_boost_round=rounds, valid_sets=[valid_set]
            )
            booster.predict(data.X[valid])
            booster.predict(data.X_test)

    return {"ours_cv": ours, "plain_lgbm_train": plain}


def epoch_runs(data: Any, device: str) -> tuple[dict[str, Callable[[], Any]], dict[str, Any]]:
    """One epoch of pipelines.nn.train_network and of a minimal AdamW loop, each on a fresh
    copy of the same module, over the same tensors and batch size."""
    import torch
    import torch.nn.functional as F

    from pipelines.nn import TabularNetRegressor, train_network

    # fit(max_epochs=1) builds the encoder, module and plan exactly as a real run does.
    net = TabularNetRegressor(max_epochs=1, device=device, random_state=0).fit(data.X, data.y)
    plan = replace(net.plan_, max_epochs=1)
    rows, valid_rows = _split(len(data.y))

    def tensors(index: Any) -> tuple[Any, Any, Any]:
        table = net.encoder_.transform(data.X.iloc[index])
        y = (data.y[index] - net.y_mean_) / net.y_scale_
        return (
            torch.as_tensor(table.numbers, device=device),
            torch.as_tensor(table.codes, device=device),
            torch.as_tensor(y, dtype=torch.float32, device=device),
        )

    train, valid = tensors(rows), tensors(valid_rows)
    initial = copy.deepcopy(net.module_)

    def synchronize() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def ours() -> None:
        train_network(copy.deepcopy(initial), plan, train, valid)
        synchronize()

    def minimal() -> None:
        module = copy.deepcopy(initial)
        module.train()
        optimizer = torch.optim.AdamW(
            module.parameters(), lr=plan.lr, weight_decay=plan.weight_decay
        )
        numbers, codes, y = train
        order = torch.randperm(len(y), device=device)
        for start in range(0, len(y), plan.batch_size):
            index = order[start : start + plan.batch_size]
            out = module(numbers[index], codes[index])  # (batch, members, 1)
            loss = F.mse_loss(out.squeeze(-1), y[index, None].expand(-1, out.shape[1]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronize()

    setup = {
        "batch_size": plan.batch_size,
        "train_rows": len(rows),
        "valid_rows": len(valid_rows),
        "backbone": net.backbone,
        "amp_dtype": plan.amp_dtype,
    }
    return {"ours_epoch": ours, "minimal_epoch": minimal}, setup


def _split(n: int) -> tuple[Any, Any]:
    """90/10 rows, as the network's own validation split."""
    import numpy as np

    order = np.random.RandomState(0).permutation(n)
    cut = n - max(1, n // 10)
    return np.sort(order[:cut]), np.sort(order[cut:])


def _medians(samples: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import torch

    from pipelines.features import prepare_frames
    from pipelines.folds import make_folds

    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-rows", type=int, default=None)
    parser.add_argument("--cores", type=int, default=h.CORES)
    parser.add_argument("--parts", nargs="+", default=["lgbm", "epoch"], choices=["lgbm", "epoch"])
    parser.add_argument("--quick", action="store_true", help="2000 rows, 20 rounds, 1 repeat")
    parser.add_argument("--results", type=Path, default=h.RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.rounds, args.max_rows, args.folds = 1, 20, 2000, 3
    torch.set_num_threads(args.cores)

    frame = h.load_frame(DATASET, max_rows=args.max_rows)
    train, test = h.outer_split(frame, DATASET, seed=0)
    data = prepare_frames(
        train, test.drop(columns=DATASET.target), target=DATASET.target, id_column=None
    )
    folds = make_folds(data.y, task=data.task, n_splits=args.folds, seed=0)

    report: dict[str, Any] = {
        "machine": h.machine(),
        "dataset": DATASET.name,
        "rows": len(data.y),
        "repeats": args.repeats,
        "cores": args.cores,
        "lgbm": {},
        "epoch": {},
    }
    print(f"{DATASET.name}: {len(data.y)} rows, {args.folds} folds, {args.cores} cores")
    if "lgbm" in args.parts:
        report["lgbm"] = _lgbm_report(data, folds, args)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices if "epoch" in args.parts else []:
        report["epoch"][device] = _epoch_report(data, device, args.repeats)

    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"{'speed_quick' if args.quick else 'speed'}.json"
    if path.is_file():
        # A run of some --parts keeps the other parts' last numbers in the report.
        previous = json.loads(path.read_text())
        for part in {"lgbm", "epoch"} - set(args.parts):
            report[part] = previous.get(part, {})
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _lgbm_report(data: Any, folds: Any, args: argparse.Namespace) -> dict[str, Any]:
    lgbm = _medians(interleaved(lgbm_runs(data, folds, args.rounds, args.cores), args.repeats))
    lgbm_ratio = lgbm["ours_cv"] / lgbm["plain_lgbm_train"]
    fold_rows = int(sum((folds != f).sum() for f in range(args.folds)))
    report = {
        "rounds": args.rounds,
        "folds": args.folds,
        "median_s": lgbm,
        "ratio": lgbm_ratio,
        "target": LGBM_TARGET,
        "met": lgbm_ratio <= LGBM_TARGET,
        # training rows times rounds, over all folds, per second
        "row_rounds_per_s": {k: fold_rows * args.rounds / v for k, v in lgbm.items()},
    }
    print(f"LightGBM CV, {args.rounds} fixed rounds  (median of {args.repeats})")
    for name, seconds in lgbm.items():
        rate = report["row_rounds_per_s"][name]
        print(f"  {name:<18} {seconds:8.3f} s  {rate / 1e6:8.2f} M row-rounds/s")
    print(f"  ours / plain = {lgbm_ratio:.3f}  ({_verdict(lgbm_ratio, LGBM_TARGET)})")
    return report


def _epoch_report(data: Any, device: str, repeats: int) -> dict[str, Any]:
    import torch

    runs, setup = epoch_runs(data, device)
    epoch = _medians(interleaved(runs, repeats))
    ratio = epoch["ours_epoch"] / epoch["minimal_epoch"]
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    report = {
        **setup,
        "device_name": name,
        "median_s": epoch,
        "ratio": ratio,
        "target": EPOCH_TARGET,
        "met": ratio <= EPOCH_TARGET,
        "rows_per_s": {k: setup["train_rows"] / v for k, v in epoch.items()},
    }
    print(f"Network epoch on {name}  (batch {setup['batch_size']}, {setup['backbone']})")
    for key, seconds in epoch.items():
        print(f"  {key:<18} {seconds:8.3f} s  {report['rows_per_s'][key]:10.0f} rows/s")
    print(f"  ours / minimal = {ratio:.3f}  ({_verdict(ratio, EPOCH_TARGET)})")
    return report


def _verdict(ratio: float, target: float) -> str:
    return f"target <= {target}: {'met' if ratio <= target else 'MISSED'}"


if __name__ == "__main__":
    main()
