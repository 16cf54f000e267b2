"""Feature preparation: train/test frames into model inputs, the task and the encoded target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.errors import PipelinesError

if TYPE_CHECKING:
    import pandas as pd

TASKS = ("binary", "multiclass", "regression")
MAX_INTEGER_CLASSES = 20  # an integer target with more distinct values is treated as regression


@dataclass(frozen=True)
class Prepared:
    """Model inputs: features, the encoded target, test features and ids, the task, the classes.

    `y` is 0/1 for binary (1 = the second of the sorted labels), 0..k-1 for multiclass (codes
    into `classes`), floats for regression; `classes` is None for regression.
    """

    X: pd.DataFrame
    y: np.ndarray
    X_test: pd.DataFrame
    test_ids: np.ndarray
    task: str
    classes: tuple[Any, ...] | None


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value, so that labels survive JSON."""
    return value.item() if isinstance(value, np.generic) else value


def infer_task(target: pd.Series) -> str:
    """binary for two distinct values; multiclass for labels or a few integer grades; else
    regression."""
    import pandas as pd

    values = target.dropna()
    distinct = values.nunique()
    if distinct == 2:
        return "binary"
    if distinct < 2:
        raise PipelinesError(
            f"The target {target.name!r} has {distinct} distinct value(s); nothing to learn."
        )
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "multiclass"
    numbers = values.to_numpy(dtype=float)
    integer_like = bool(np.all(numbers == np.round(numbers)))
    if integer_like and distinct <= MAX_INTEGER_CLASSES:
        return "multiclass"
    return "regression"


def encode_target(target: pd.Series, task: str) -> tuple[np.ndarray, tuple[Any, ...] | None]:
    """The target as model labels (0/1, 0..k-1 or floats) and the sorted class labels."""
    import pandas as pd

    if task == "regression":
        if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
            raise PipelinesError(
                f"Task 'regression' needs a numeric target; {target.name!r} holds "
                f"{target.dtype} values. Choose task 'binary' or 'multiclass'."
            )
        return target.to_numpy(dtype=float), None
    classes = np.array(sorted(pd.unique(target)))
    if task == "binary" and len(classes) != 2:
        raise PipelinesError(
            f"Task 'binary' needs exactly 2 distinct target values; {target.name!r} has "
            f"{len(classes)}. Choose task 'multiclass' or 'regression'."
        )
    codes = np.searchsorted(classes, target.to_numpy()).astype(np.int64)
    return codes, tuple(_plain(c) for c in classes)


def _categorical_columns(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    return [
        name
        for name in frame.columns
        if isinstance(frame[name].dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(frame[name])
        or pd.api.types.is_string_dtype(frame[name])
        or pd.api.types.is_bool_dtype(frame[name])
    ]


def prepare_frames(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    target: str,
    id_column: str | None,
    task: str | None = None,
) -> Prepared:
    """Drop the id and target, make text/bool columns categorical with the train's categories
    (unseen test categories become NaN), and encode the target for `task` (inferred if None)."""
    import pandas as pd

    if target not in train.columns:
        raise PipelinesError(
            f"The train frame has no target column {target!r}; its columns are "
            f"{', '.join(map(str, train.columns))}."
        )
    for name, frame in (("train", train), ("test", test)):
        if id_column is not None and id_column not in frame.columns:
            raise PipelinesError(f"The {name} frame has no id column {id_column!r}.")
    missing_target = int(train[target].isna().sum())
    if missing_target:
        raise PipelinesError(
            f"The target {target!r} is missing on {missing_target} train rows; "
            "drop those rows before training."
        )
    if task is None:
        task = infer_task(train[target])
    elif task not in TASKS:
        raise PipelinesError(f"Unknown task {task!r}; expected one of {', '.join(TASKS)}.")
    y, classes = encode_target(train[target], task)

    dropped = {target} | ({id_column} if id_column is not None else set())
    features = [c for c in train.columns if c not in dropped]
    absent = [c for c in features if c not in test.columns]
    if absent:
        raise PipelinesError(
            f"The test frame lacks feature columns {', '.join(map(str, absent))}; "
            "train and test need the same features."
        )
    X = train[features].copy()
    X_test = test[features].copy()
    for name in _categorical_columns(X):
        column = X[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = column.cat.categories
        else:
            categories = pd.Index(sorted(column.dropna().unique(), key=str))
        dtype = pd.CategoricalDtype(categories)
        X[name] = column.astype(object).astype(dtype)
        # Categories that train never saw cannot be scored: they become missing values.
        values = X_test[name].astype(object)
        X_test[name] = values.where(values.isin(categories)).astype(dtype)
    for name in X.columns:
        if pd.api.types.is_numeric_dtype(X[name]) and not pd.api.types.is_numeric_dtype(
            X_test[name]
        ):
            # Stray text in a numeric test column would stop the model: read it as missing.
            X_test[name] = pd.to_numeric(X_test[name], errors="coerce")
    test_ids = test[id_column].to_numpy() if id_column is not None else test.index.to_numpy()
    return Prepared(
        X=X.reset_index(drop=True),
        y=y,
        X_test=X_test.reset_index(drop=True),
        test_ids=test_ids,
        task=task,
        classes=classes,
    )
