"""The "Better by Default" families (pytabkit): RealMLP-TD and LightGBM with the TD defaults,
on tiny real tables for every task, the same seed repeating them, and their deadlines kept.
(`compete train --budget` with each family's shortest budget: tests/compete/test_budget.py.)"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from pipelines.cv import cross_validate
from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError
from pipelines.features import prepare_frames
from pipelines.folds import make_folds
from pipelines.metrics import get_metric
from pipelines.models import FAMILIES, FoldData, td_gbdt, xgb_td
from pipelines.models import realmlp as realmlp_module

TINY = {
    "realmlp": {"n_epochs": 16, "batch_size": 64, "n_threads": 1},
    "lgbm_td": {"n_estimators": 40, "n_jobs": 1},
    "xgb_td": {"n_estimators": 40, "n_jobs": 1},
}
FAMILY_NAMES = tuple(TINY)
PASSED = Deadline(0.0, clock=lambda: 1.0)  # a deadline that has passed before anything starts


@pytest.fixture(scope="module")
def binary(prepared_churn):
    return prepared_churn(500, 400, random_state=3)


def _diamonds(diamonds, target: str):
    sample = diamonds.iloc[:400]
    data = prepare_frames(
        sample.iloc[:300],
        sample.iloc[300:].drop(columns=target),
        target=target,
        id_column="rownames",
    )
    return data, make_folds(data.y, task=data.task, n_splits=3, seed=0)


@pytest.fixture(scope="module")
def multiclass(diamonds):
    return _diamonds(diamonds, "cut")


@pytest.fixture(scope="module")
def regression(diamonds):
    return _diamonds(diamonds, "price")


TASK_METRIC = {"binary": "auc", "multiclass": "multiclass_logloss", "regression": "rmse"}


@pytest.mark.parametrize("name", FAMILY_NAMES)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_task_gets_complete_oof_that_beats_the_prior(name, task, request):
    data, folds = request.getfixturevalue(task)
    assert data.task == task
    result = cross_validate(
        data, model=name, metric=TASK_METRIC[task], folds=folds, params=TINY[name], device="cpu"
    )
    assert result.model == name and len(result.fold_scores) == 3
    assert np.isfinite(result.oof).all() and np.isfinite(result.test_predictions).all()
    assert len(result.test_predictions) == len(data.X_test)
    score = float(np.mean(result.fold_scores))
    if task == "binary":
        assert 0.6 < score <= 1.0  # churn is learnable: better than chance
    elif task == "multiclass":
        assert result.raw_oof.shape == (len(data.y), len(data.classes))
        assert np.allclose(result.raw_oof.sum(axis=1), 1.0, atol=1e-4)
        prior = np.bincount(data.y, minlength=len(data.classes)) / len(data.y)
        assert score < -np.mean(np.log(prior[data.y]))  # better than predicting the prior
    else:
        assert score < np.std(data.y)  # better than predicting the mean


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_the_same_seed_repeats_the_oof_and_another_seed_changes_it(name, binary):
    data, folds = binary

    def run(seed: int) -> np.ndarray:
        return cross_validate(
            data, model=name, metric="auc", folds=folds, params=TINY[name], seed=seed, device="cpu"
        ).oof

    first, again, other = run(0), run(0), run(1)
    assert np.array_equal(first, again), f"{name} differs under the same seed"
    assert not np.array_equal(first, other), f"{name} ignores its seed"


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_a_deadline_already_passed_still_fits_every_fold_fast(name, binary):
    """A budget far too short: every fold keeps a one-epoch network or a one-tree booster,
    so the OOF and the test predictions are complete."""
    data, folds = binary
    import pytabkit  # noqa: F401 - imported before the clock starts: the folds' time is timed

    params = {"realmlp": {"n_threads": 1}, "lgbm_td": {"n_jobs": 1}, "xgb_td": {"n_jobs": 1}}[
        name
    ]  # full-length fits
    started = time.monotonic()
    result = cross_validate(
        data, model=name, metric="auc", folds=folds, params=params, device="cpu", deadline=PASSED
    )
    assert time.monotonic() - started < 15.0
    assert np.isfinite(result.oof).all() and np.isfinite(result.test_predictions).all()
    assert result.best_iterations == ([0, 0, 0] if name == "realmlp" else [1, 1, 1])
    if name == "realmlp":
        assert result.params["n_epochs"] == 1


def test_realmlp_sizes_its_epochs_to_the_deadline_and_ends_before_it(binary):
    """With a few seconds per fold, RealMLP trains a shortened schedule (more than one
    epoch, fewer than its 256) that ends before the deadline, later folds fitting the time
    the earlier ones left."""
    import pytabkit  # noqa: F401 - imported before the clock starts: the folds' time is timed

    data, folds = binary
    family = FAMILIES["realmlp"]
    realmlp_module._PACES.clear()  # measure the pace afresh: the probe path runs
    budget = 6.0
    deadline = Deadline.after(budget)
    started = time.monotonic()
    result = cross_validate(
        data,
        model="realmlp",
        metric="auc",
        folds=folds,
        params={"n_threads": 1},
        device="cpu",
        deadline=deadline,
    )
    took = time.monotonic() - started
    assert took <= budget * 1.05 + 1.0, f"RealMLP took {took:.1f}s of a {budget}s deadline"
    assert 1 < result.params["n_epochs"] < realmlp_module.TD_EPOCHS
    assert np.mean(result.fold_scores) > 0.6
    assert family.min_budget >= 10


def test_realmlp_refuses_the_settings_it_sets_per_fold():
    family = FAMILIES["realmlp"]
    with pytest.raises(PipelinesError, match="realmlp params device, random_state are set"):
        family.check_params({"device": "cuda", "random_state": 3, "lr": 0.1})
    with pytest.raises(PipelinesError, match="n_epochs must be a whole number >= 1, got 0"):
        family.check_params({"n_epochs": 0})
    family.check_params({"n_epochs": 8, "lr": 0.1, "hidden_width": 128})


def test_realmlp_reads_categories_and_fills_missing_numbers(binary, fold_of):
    """Categorical columns reach pytabkit as categories (it one-hot encodes or embeds them);
    a missing number becomes the fit rows' median, so a row with one still predicts."""
    data, folds = binary
    assert data.categorical, "the churn table has categorical columns"
    fold = fold_of(data, folds)
    family = FAMILIES["realmlp"]
    fitted = family.fit_fold(fold, TINY["realmlp"], seed=0, device="cpu", deadline=Deadline.never())
    model = fitted.state.model
    assert model.x_converter_.tensor_infos["x_cat"].get_n_features() == len(data.categorical)
    numeric = data.numeric[0]
    holed = data.X_test.copy()
    holed.loc[holed.index[0], numeric] = np.nan
    predicted = family.predict(fitted, holed)["realmlp"]
    assert np.isfinite(predicted).all() and ((predicted >= 0) & (predicted <= 1)).all()
    filled = holed.copy()
    filled.loc[filled.index[0], numeric] = fitted.state.medians[numeric]
    assert np.array_equal(predicted, family.predict(fitted, filled)["realmlp"])


def test_realmlp_leaves_no_files_behind(binary, tmp_path, monkeypatch):
    data, folds = binary
    monkeypatch.chdir(tmp_path)
    cross_validate(
        data, model="realmlp", metric="auc", folds=folds, params=TINY["realmlp"], device="cpu"
    )
    assert os.listdir(tmp_path) == []


def test_the_td_defaults_are_pytabkits():
    """The LightGBM and XGBoost TD settings are pytabkit's DefaultParams, in the libraries'
    scikit-learn names."""
    from pytabkit.models.sklearn.default_params import DefaultParams

    names = {
        "lr": "learning_rate",
        "bagging_freq": "subsample_freq",
        "min_data_in_leaf": "min_child_samples",
        "min_sum_hessian_in_leaf": "min_child_weight",
    }
    for ours, theirs in (
        (td_gbdt.TD_CLASSIFICATION, DefaultParams.LGBM_TD_CLASS),
        (td_gbdt.TD_REGRESSION, DefaultParams.LGBM_TD_REG),
        (xgb_td.TD_CLASSIFICATION, DefaultParams.XGB_TD_CLASS),
        (xgb_td.TD_REGRESSION, DefaultParams.XGB_TD_REG),
    ):
        assert ours == {names.get(key, key): value for key, value in theirs.items()}


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_every_sampled_setting_fits(name, binary, fold_of):
    """Tuning's samples are settings the estimator takes: a few trials fit a fold each."""
    import optuna

    data, folds = binary
    family = FAMILIES[name]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    fold = fold_of(data, folds)
    for _ in range(3):
        params = {**family.search_space(study.ask()), **TINY[name]}
        family.check_params(params)
        fitted = family.fit_fold(fold, params, seed=0, device="cpu", deadline=Deadline.never())
        assert np.isfinite(family.predict(fitted, fold.X_valid)[name]).all()


def test_xgboost_stops_at_its_deadline_keeping_the_best_iteration_so_far(binary, fold_of, ticks):
    data, folds = binary
    fold = fold_of(data, folds)
    family = FAMILIES["xgb_td"]
    params = {"n_estimators": 300, "early_stopping_rounds": 300, "n_jobs": 1}
    free = family.fit_fold(fold, params, seed=0, device="cpu", deadline=Deadline.never())
    cut = family.fit_fold(fold, params, seed=0, device="cpu", deadline=Deadline(8.0, ticks()))
    model = cut.state.model
    assert model.get_booster().num_boosted_rounds() == 8, "boosting went on past the deadline"
    auc = free.state.model.evals_result()["validation_0"]["auc"]
    assert len(auc) == 300
    best = int(np.argmax(auc[:8]))
    assert model.best_iteration == best and cut.members["xgb_td"].best_iteration == best + 1
    assert np.array_equal(
        family.predict(cut, data.X_test)["xgb_td"],
        free.state.model.predict_proba(data.X_test, iteration_range=(0, best + 1))[:, 1],
    )


def test_xgboost_fits_a_fold_that_lacks_a_class(multiclass):
    """A multiclass fold whose fit rows miss a class: XGBoost is fit on the classes present,
    and the absent class gets probability 0 in every row."""
    data, folds = multiclass
    rare = int(np.argmin(np.bincount(data.y)))
    fit = (folds != 0) & (data.y != rare)
    fold = FoldData(
        X_fit=data.X[fit],
        y_fit=data.y[fit],
        X_valid=data.X[folds == 0],
        y_valid=data.y[folds == 0],
        task="multiclass",
        n_classes=len(data.classes),
        metric=get_metric("multiclass_logloss"),
    )
    family = FAMILIES["xgb_td"]
    fitted = family.fit_fold(fold, TINY["xgb_td"], seed=0, device="cpu", deadline=Deadline.never())
    proba = family.predict(fitted, data.X_test)["xgb_td"]
    assert proba.shape == (len(data.X_test), len(data.classes))
    assert (proba[:, rare] == 0).all() and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_realmlp_places_itself_on_the_device_asked_for(binary):
    """The device "auto" uses CUDA when torch sees it (pytabkit's "cuda:0"), else the CPU;
    "cuda" on a machine without a GPU is refused in one line, before any fold is fit."""
    import torch

    data, folds = binary
    gpu = torch.cuda.is_available()
    assert realmlp_module.resolve_device("auto") == ("cuda:0" if gpu else "cpu")
    assert realmlp_module.resolve_device("cpu") == "cpu"
    if not gpu:
        with pytest.raises(PipelinesError, match="device 'cuda' was asked for but torch sees no"):
            cross_validate(data, model="realmlp", metric="auc", folds=folds, device="cuda")
    result = cross_validate(
        data, model="realmlp", metric="auc", folds=folds, params=TINY["realmlp"], device="auto"
    )
    assert result.device == ("cuda" if gpu else "cpu")
