"""Cross-validation folds: one fold id per training row, stratified for classification."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipelines.errors import PipelinesError


def make_folds(y: Any, *, task: str, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Fold ids 0..n_splits-1 per row: shuffled StratifiedKFold for binary/multiclass, KFold
    for regression; the same seed gives the same folds."""
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y)
    if n_splits < 2:
        raise PipelinesError(f"n_splits must be at least 2, got {n_splits}.")
    if len(y) < n_splits:
        raise PipelinesError(f"{len(y)} rows cannot be split into {n_splits} folds.")
    if task in ("binary", "multiclass"):
        smallest = int(np.unique(y, return_counts=True)[1].min())
        if smallest < n_splits:
            raise PipelinesError(
                f"The rarest class has {smallest} rows, fewer than the {n_splits} folds; "
                "use fewer folds or merge rare classes."
            )
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    elif task == "regression":
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        raise PipelinesError(f"Unknown task {task!r}; expected binary, multiclass or regression.")
    folds = np.empty(len(y), dtype=np.int64)
    for fold, (_, valid) in enumerate(splitter.split(np.zeros(len(y)), y)):
        folds[valid] = fold
    return folds
