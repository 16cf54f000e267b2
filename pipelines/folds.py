"""Cross-validation folds: one fold id per training row, made once and saved for every model."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from pipelines.errors import DataError, PipelinesError

STRATEGIES = ("kfold", "stratified", "group")
_FOLDS_KEY = b"compete.folds"  # parquet metadata key that holds seed, strategy and n_splits


def default_strategy(task: str, groups: Any = None) -> str:
    """group when groups are given, stratified for classification, kfold for regression."""
    if groups is not None:
        return "group"
    return "stratified" if task in ("binary", "multiclass") else "kfold"


def make_folds(
    y: Any,
    *,
    task: str,
    n_splits: int = 5,
    seed: int = 0,
    groups: Any = None,
    strategy: str | None = None,
) -> np.ndarray:
    """Fold ids 0..n_splits-1 per row from scikit-learn's shuffled splitters: StratifiedKFold
    ("stratified"), KFold ("kfold") or GroupKFold ("group": all rows of a group in one fold).
    The same seed gives the same folds; `strategy` defaults to `default_strategy`."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    y = np.asarray(y)
    if task not in ("binary", "multiclass", "regression"):
        raise PipelinesError(f"Unknown task {task!r}; expected binary, multiclass or regression.")
    if strategy is None:
        strategy = default_strategy(task, groups)
    if strategy not in STRATEGIES:
        raise PipelinesError(
            f"Unknown fold strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}."
        )
    if n_splits < 2:
        raise PipelinesError(f"n_splits must be at least 2, got {n_splits}.")
    if len(y) < n_splits:
        raise DataError(f"{len(y)} rows cannot be split into {n_splits} folds.")
    if strategy == "group":
        if groups is None:
            raise PipelinesError("The 'group' strategy needs groups: one group label per row.")
        groups = np.asarray(groups)
        if len(groups) != len(y):
            raise DataError(f"{len(groups)} group labels were given for {len(y)} rows.")
        if _has_missing(groups):
            raise DataError("Some group labels are missing; give every row a group.")
        n_groups = len(np.unique(groups.astype(str)))
        if n_groups < n_splits:
            raise DataError(
                f"{n_groups} groups cannot be split into {n_splits} folds; use fewer folds."
            )
        splitter: Any = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    elif strategy == "stratified":
        if task == "regression":
            raise PipelinesError(
                "Stratified folds need class labels; use 'kfold' for a regression task."
            )
        smallest = int(np.unique(y, return_counts=True)[1].min())
        if smallest < n_splits:
            raise DataError(
                f"The rarest class has {smallest} rows, fewer than the {n_splits} folds; "
                "use fewer folds or merge rare classes."
            )
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = np.empty(len(y), dtype=np.int64)
    for fold, (_, valid) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        folds[valid] = fold
    return folds


def _has_missing(values: np.ndarray) -> bool:
    import pandas as pd

    return bool(pd.isna(values).any())


def save_folds(
    folds: np.ndarray, path: str | os.PathLike[str], *, seed: int, strategy: str
) -> None:
    """Write the fold ids as parquet (one `fold` column, one row per train row) with the seed,
    strategy and fold count in the file's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folds = np.asarray(folds, dtype=np.int64)
    if folds.ndim != 1 or len(folds) == 0 or folds.min() < 0:
        raise PipelinesError("Folds must be one non-negative fold id per row.")
    metadata = {"seed": int(seed), "strategy": strategy, "n_splits": int(folds.max()) + 1}
    table = pa.table({"fold": folds})
    table = table.replace_schema_metadata({_FOLDS_KEY: json.dumps(metadata).encode()})
    pq.write_table(table, os.fspath(path))


def read_fold_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The seed, strategy and n_splits saved with the folds."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(os.fspath(path)).metadata or {}).get(_FOLDS_KEY)
    return json.loads(raw) if raw else {}


def load_folds(path: str | os.PathLike[str], n_rows: int) -> np.ndarray:
    """The saved fold ids; they must cover exactly `n_rows` training rows."""
    import pyarrow.parquet as pq

    if not os.path.isfile(path):
        raise PipelinesError(f"No folds file at {os.fspath(path)}; make the folds first.")
    try:
        table = pq.read_table(os.fspath(path), columns=["fold"])
    except Exception as error:  # pyarrow raises several types for damaged files
        raise PipelinesError(
            f"The folds file {os.fspath(path)} cannot be read ({error}); delete it and "
            "re-create the folds."
        ) from error
    folds = table.column("fold").to_numpy().astype(np.int64)
    if len(folds) != n_rows:
        raise PipelinesError(
            f"The folds file {os.fspath(path)} has {len(folds)} rows but the training data has "
            f"{n_rows}; the data changed since the folds were made. Delete the file or "
            "re-create the folds (every model must then be trained again to blend)."
        )
    return folds
