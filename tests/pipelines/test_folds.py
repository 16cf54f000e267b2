"""Folds: deterministic per seed, stratified for classification, balanced for regression."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.errors import PipelinesError
from pipelines.folds import make_folds


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
