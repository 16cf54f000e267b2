"""Feature preparation: task inference, target encoding, categories shared with the test set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.errors import PipelinesError
from pipelines.features import prepare_frames


def test_churn_is_binary_with_yes_as_the_positive_class(churn):
    train, test = churn.iloc[:5000], churn.iloc[5000:].drop(columns="churn")
    data = prepare_frames(train, test, target="churn", id_column="rownames")
    assert data.task == "binary"
    assert data.classes == ("No", "Yes")
    assert np.array_equal(data.y, (train["churn"] == "Yes").to_numpy().astype(int))
    assert "churn" not in data.X.columns and "rownames" not in data.X.columns
    assert list(data.X.columns) == list(data.X_test.columns)
    assert isinstance(data.X["contract"].dtype, pd.CategoricalDtype)
    assert data.X["contract"].dtype == data.X_test["contract"].dtype
    assert data.X["tenure"].dtype == np.int64
    assert np.array_equal(data.test_ids, test["rownames"].to_numpy())


def test_unseen_test_categories_become_missing(churn):
    train = churn.iloc[:1000]
    test = churn.iloc[1000:1010].drop(columns="churn").copy()
    test.loc[test.index[:3], "contract"] = "Ten year"
    data = prepare_frames(train, test, target="churn", id_column="rownames")
    assert data.X_test["contract"].isna().sum() == 3
    assert "Ten year" not in data.X_test["contract"].cat.categories


def test_diamonds_price_is_regression_and_cut_is_multiclass(diamonds):
    test = diamonds.iloc[:10]
    price = prepare_frames(diamonds, test, target="price", id_column="rownames")
    assert price.task == "regression" and price.classes is None
    assert price.y.dtype == float
    cut = prepare_frames(diamonds, test, target="cut", id_column="rownames")
    assert cut.task == "multiclass"
    assert cut.classes == ("Fair", "Good", "Ideal", "Premium", "Very Good")
    assert set(np.unique(cut.y)) == {0, 1, 2, 3, 4}
    assert cut.classes[cut.y[0]] == diamonds["cut"].iloc[0]


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 1, 0, 1, 0], "binary"),
        ([3, 5, 3, 5, 3, 5], "binary"),
        ([1, 2, 3, 1, 2, 3], "multiclass"),
        (["a", "b", "c", "a", "b", "c"], "multiclass"),
        ([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], "multiclass"),
        ([0.5, 1.5, 2.25, 3.0, 4.0, 5.0], "regression"),
        (list(range(30)), "regression"),
    ],
)
def test_task_is_inferred_from_the_target(values, task):
    train = pd.DataFrame({"id": range(len(values)), "x": np.arange(len(values)), "y": values})
    data = prepare_frames(train, train.drop(columns="y"), target="y", id_column="id")
    assert data.task == task
    if task == "binary":
        assert data.y.tolist() == [int(v == max(values)) for v in values]


def test_task_argument_overrides_the_inference():
    train = pd.DataFrame({"id": range(6), "x": range(6), "y": [1, 2, 3, 1, 2, 3]})
    data = prepare_frames(train, train, target="y", id_column="id", task="regression")
    assert data.task == "regression" and data.y.tolist() == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    with pytest.raises(PipelinesError, match="exactly 2"):
        prepare_frames(train, train, target="y", id_column="id", task="binary")


def test_missing_targets_and_features_are_explained():
    train = pd.DataFrame({"id": range(4), "x": range(4), "y": [0, 1, None, 1]})
    with pytest.raises(PipelinesError, match="missing on 1 train rows"):
        prepare_frames(train, train, target="y", id_column="id")
    train = train.fillna(0)
    with pytest.raises(PipelinesError, match="lacks feature columns x"):
        prepare_frames(train, train.drop(columns="x"), target="y", id_column="id")
    with pytest.raises(PipelinesError, match="no target column 'label'"):
        prepare_frames(train, train, target="label", id_column="id")
