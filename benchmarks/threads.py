"""Threads under OpenMP's wait policies, side by side in one run: LightGBM and XGBoost fits
on synthetic tables of 3k to 300k rows, each in a fresh process (the policy is read when the
OpenMP runtime loads), with

- `passive, 1 thread` (what pipelines.threads.openmp_threads chooses below its threshold),
- `passive, all cores` (what the families did before: pipelines sets passive waits),
- `spinning, all cores` (OpenMP's default policy),

alone, and the same with two processes at once (two `compete train` runs, or two test
workers). Printed: seconds per fit and the ratio of each setting to `passive, 1 thread`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks import _harness as h

SIZES = (3_000, 40_000, 300_000)
SETTINGS = {
    "passive, 1 thread": ("PASSIVE", 1),
    "passive, all cores": ("PASSIVE", 0),
    "spinning, all cores": (None, 0),
}
_CHILD = r"""
import json, sys, time
import numpy as np, lightgbm, xgboost
rows, threads, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
X = rng.normal(size=(rows, 10))
y = 3 * X[:, 0] + np.sin(X[:, 1]) + rng.normal(size=rows)
out = {}
for name, make in (
    ("lightgbm", lambda: lightgbm.LGBMRegressor(n_estimators=rounds, verbose=-1, n_jobs=threads,
                                                 deterministic=True, force_col_wise=True)),
    ("xgboost", lambda: xgboost.XGBRegressor(n_estimators=rounds, n_jobs=threads,
                                              tree_method="hist", max_depth=6)),
):
    started = time.perf_counter()
    make().fit(X, y)
    out[name] = time.perf_counter() - started
print(json.dumps(out))
"""


def _env(policy: str | None, cores: int) -> dict[str, str]:
    env = h.limited_env(cores)
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    return env


def measure(
    rows: int, threads: int, policy: str | None, cores: int, together: int, rounds: int
) -> dict[str, float]:
    """Seconds of each library's fit, the mean over `together` processes run at once."""
    env = _env(policy, cores)
    command = [sys.executable, "-c", _CHILD, str(rows), str(threads or cores), str(rounds)]
    children = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(together)
    ]
    results = [json.loads(child.communicate()[0]) for child in children]
    return {lib: sum(r[lib] for r in results) / len(results) for lib in results[0]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=h.CORES)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="the smallest table only")
    parser.add_argument("--results", type=Path, default=h.RESULTS)
    args = parser.parse_args(argv)
    sizes = SIZES[:1] if args.quick else SIZES
    report: dict = {"machine": h.machine(), "cores": args.cores, "rounds": args.rounds, "runs": []}
    for together in (1, 2):
        for rows in sizes:
            seconds = {
                label: measure(rows, threads, policy, args.cores, together, args.rounds)
                for label, (policy, threads) in SETTINGS.items()
            }
            base = seconds["passive, 1 thread"]
            for label, values in seconds.items():
                ratios = {lib: values[lib] / base[lib] for lib in values}
                report["runs"].append({"processes": together, "rows": rows, "setting": label,
                                       "seconds": values, "ratio_to_1_thread": ratios})  # fmt: skip
                cells = [f"{lib} {values[lib]:6.2f}s ({ratios[lib]:4.1f}x)" for lib in values]
                print(f"{together} process(es) {rows:>7} rows  {label:<20} " + "  ".join(cells))
    if not args.quick:
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "threads.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
