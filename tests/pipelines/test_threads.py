"""Threads per fit: one for small OpenMP fits while threads wait passively (waking sleeping
threads in every parallel region cost LightGBM 5-9x on a quiet 2-core VM), every allowed core
otherwise."""

from __future__ import annotations

import os

import pytest

from pipelines.threads import SINGLE_THREAD_VALUES, available_cores, openmp_threads


def test_small_fits_get_one_thread_only_while_threads_wait_passively(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    limit = SINGLE_THREAD_VALUES["lightgbm"]
    assert openmp_threads("lightgbm", 3_000, 10) == 1
    assert openmp_threads("lightgbm", limit // 10 - 1, 10) == 1
    assert openmp_threads("lightgbm", limit // 10, 10) == 4
    # XGBoost's threads pay for their wake-ups sooner than LightGBM's.
    assert openmp_threads("xgboost", 300_000, 10) == 4
    assert openmp_threads("lightgbm", 300_000, 10) == 1
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # a user's own choice: spinning threads
    assert openmp_threads("lightgbm", 3_000, 10) == 4
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert openmp_threads("xgboost", 3_000, 10) == 4
    with pytest.raises(KeyError):
        openmp_threads("catboost", 10, 10)


def test_available_cores_follow_the_affinity_and_omp_num_threads(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert available_cores() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert available_cores() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "8")  # more than the process may use
    assert available_cores() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")  # not a number: ignored
    assert available_cores() == 3


def test_the_families_record_the_threads_they_fit_with(monkeypatch):
    import numpy as np
    import pandas as pd

    from pipelines.deadline import Deadline
    from pipelines.metrics import get_metric
    from pipelines.models import FoldData, get_family

    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = X["a"].to_numpy() + rng.normal(size=200)
    fold = FoldData(X[:150], y[:150], X[150:], y[150:], "regression", 0, get_metric("rmse"))
    for name in ("lgbm", "lgbm_td", "xgb_td"):
        family = get_family(name)
        fitted = family.fit_fold(
            fold, {"n_estimators": 5}, seed=0, device="cpu", deadline=Deadline.never()
        )
        (member,) = fitted.members.values()
        assert member.params["n_jobs"] == 1, name
        given = family.fit_fold(
            fold, {"n_estimators": 5, "n_jobs": 2}, seed=0, device="cpu",
            deadline=Deadline.never(),
        )  # fmt: skip
        assert next(iter(given.members.values())).params["n_jobs"] == 2, name
