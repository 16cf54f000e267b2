"""The model families behind one interface: the registry, fitting a fold and predicting with
every family, and each family's deadline (on a scripted clock where the moment matters)."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import optuna
import pytest

from pipelines.cv import cross_validate
from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError
from pipelines.gbdt import lgbm_space
from pipelines.models import FAMILIES, ModelFamily, family_names, get_family
from pipelines.tuning import SPACES, tune

TINY_NET = {"backbone": "mlp", "n_blocks": 1, "d_block": 32, "d_embedding": 8, "max_epochs": 3}
FEW_TREES = {"n_estimators": 30, "n_jobs": 1}
TINY = {"lgbm": FEW_TREES, "nn": TINY_NET, "hybrid": {"nn": TINY_NET, "lgbm": FEW_TREES}}
TINY["catboost"] = {"iterations": 30, "thread_count": 1}
TINY |= {"realmlp": {"n_epochs": 3, "n_threads": 1}, "lgbm_td": FEW_TREES, "xgb_td": FEW_TREES}
TINY["extra_trees"] = {"n_estimators": 30, "n_jobs": 1}
TINY["linear"] = {"C": 1.0}
PASSED = Deadline(0.0, clock=lambda: 1.0)  # a deadline that has passed before anything starts


@pytest.fixture(scope="module")
def tiny(prepared_churn):
    return prepared_churn(500, 400, random_state=7)


def test_the_registry_lists_every_family_without_importing_them():
    code = (
        "import sys, pipelines.models as m; print(','.join(m.family_names())); "
        "print(sorted(x for x in ('numpy', 'pandas', 'lightgbm', 'torch', 'sklearn', 'catboost', "
        "'pipelines.models.lgbm') if x in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [",".join(family_names()), "[]"]
    assert family_names()[:2] == ("lgbm", "catboost") and "hybrid" in family_names()
    assert list(FAMILIES) == list(family_names()) == list(SPACES)
    with pytest.raises(PipelinesError, match="'xgb'; expected one of lgbm, catboost, nn"):
        get_family("xgb")


@pytest.mark.parametrize("name", family_names())
def test_every_family_fits_a_fold_and_the_same_seed_repeats_it(name, tiny, fold_of):
    data, folds = tiny
    family = FAMILIES[name]
    assert isinstance(family, ModelFamily) and family.name == name and family.min_budget > 0
    sampled = family.search_space(optuna.create_study().ask())
    assert sampled, f"{name} samples no parameters"
    fold = fold_of(data, folds)
    runs = []
    for _ in range(2):
        fitted = family.fit_fold(fold, TINY[name], seed=0, device="cpu", deadline=Deadline.never())
        assert list(fitted.members) == list(family.members)
        assert all(m.best_iteration >= 0 and m.params for m in fitted.members.values())
        runs.append(family.predict(fitted, data.X_test))
    for member in family.members:
        first, second = runs[0][member], runs[1][member]
        assert first.shape == (len(data.X_test),) and ((first >= 0) & (first <= 1)).all()
        assert np.array_equal(first, second), f"{name}/{member} differs under the same seed"
    # cross_validate is only the loop around the family: its fold-0 OOF is the family's own.
    result = cross_validate(
        data, model=name, metric="auc", folds=folds, params=TINY[name], device="cpu"
    )
    valid = family.predict(
        family.fit_fold(fold, TINY[name], seed=0, device="cpu", deadline=Deadline.never()),
        fold.X_valid,
    )
    members = result.members or (result,)
    for member in members:
        assert np.array_equal(member.raw_oof[folds == 0], valid[member.model])


def test_lightgbm_stops_at_its_deadline_keeping_the_best_iteration_so_far(tiny, fold_of, ticks):
    data, folds = tiny
    fold = fold_of(data, folds)
    family = FAMILIES["lgbm"]
    params = {"n_estimators": 300, "early_stopping_rounds": 300, "n_jobs": 1}
    free = family.fit_fold(fold, params, seed=0, device="cpu", deadline=Deadline.never())
    cut = family.fit_fold(fold, params, seed=0, device="cpu", deadline=Deadline(8.0, ticks()))
    model = cut.state.model
    assert model.booster_.current_iteration() == 8, "boosting went on past the deadline"
    auc = free.state.model.evals_result_["valid_0"]["auc"]
    assert len(auc) == 300
    best = int(np.argmax(auc[:8])) + 1
    assert model.best_iteration_ == best == cut.members["lgbm"].best_iteration
    assert np.array_equal(
        model.predict_proba(data.X_test)[:, 1],
        free.state.model.predict_proba(data.X_test, num_iteration=best)[:, 1],
    )


def test_the_network_stops_at_its_deadline_within_an_epoch_keeping_its_best_epoch(
    tiny, fold_of, ticks
):
    data, folds = tiny
    fold = fold_of(data, folds)
    family = FAMILIES["nn"]
    params = {**TINY_NET, "max_epochs": 50, "patience": 50, "batch_size": 32}
    # ~9 batches an epoch: the 3rd check falls in the first epoch, the 30th in the fourth.
    first = family.fit_fold(fold, params, seed=0, device="cpu", deadline=Deadline(3.0, ticks()))
    net = first.state.net
    assert net.n_epochs_ == 1 and net.best_epoch_ == 0
    assert np.isfinite(family.predict(first, data.X_test)["nn"]).all()
    later = family.fit_fold(fold, params, seed=0, device="cpu", deadline=Deadline(30.0, ticks()))
    net = later.state.net
    losses = [h["valid_loss"] for h in net.history_]
    assert net.n_epochs_ == 4 and net.best_epoch_ == int(np.argmin(losses))


def test_the_hybrid_fits_both_members_even_past_its_deadline(tiny, fold_of):
    data, folds = tiny
    family = FAMILIES["hybrid"]
    params = {"nn": {**TINY_NET, "max_epochs": 50}, "lgbm": {"n_estimators": 300}}
    fitted = family.fit_fold(fold_of(data, folds), params, seed=0, device="cpu", deadline=PASSED)
    assert fitted.state.net.n_epochs_ == 1
    assert fitted.members["lgbm_emb"].best_iteration == 1
    assert all(np.isfinite(p).all() for p in family.predict(fitted, data.X_test).values())


@pytest.mark.parametrize("name", family_names())
def test_a_deadline_already_passed_still_fits_every_fold(name, tiny):
    """A budget far too short: every fold still gets a model, so the OOF and the test
    predictions are complete and a submission can be written."""
    data, folds = tiny
    params = {
        "lgbm": {"n_estimators": 300},
        "nn": {**TINY_NET, "max_epochs": 50},
        "hybrid": {"nn": {**TINY_NET, "max_epochs": 50}, "lgbm": {"n_estimators": 300}},
        "catboost": {"iterations": 300},
        "realmlp": {"n_threads": 1},
        "lgbm_td": {"n_estimators": 300},
        "xgb_td": {"n_estimators": 300},
        "extra_trees": {"n_estimators": 300},
        "linear": {"C": 1.0},
    }[name]
    result = cross_validate(
        data, model=name, metric="auc", folds=folds, params=params, device="cpu", deadline=PASSED
    )
    assert len(result.fold_scores) == 3 and np.isfinite(result.oof).all()
    assert np.isfinite(result.test_predictions).all()
    members = result.members or (result,)
    for member in members:
        trees = "lgbm" in member.model or "xgb" in member.model or member.model == "catboost"
        chunks = member.model == "extra_trees"  # a chunk of trees always grows
        if member.model == "linear":  # a second's fit, not cut: its solver's iterations
            assert all(0 < n <= 500 for n in member.best_iterations)
            continue
        assert member.best_iterations == ([20] * 3 if chunks else [1] * 3 if trees else [0] * 3)


def test_a_first_trial_past_the_timeout_is_cut_not_run_to_the_end(tiny):
    """The first trial is never pruned (the study needs a result), but its folds now share
    the time left before the timeout: past it, each fold grows its first tree only."""
    data, folds = tiny

    def slow_space(trial):
        time.sleep(1.5)
        return lgbm_space(trial)

    started = time.monotonic()
    result = tune(
        data,
        model="lgbm",
        metric="auc",
        folds=folds,
        study_name="cut",
        timeout=1.0,
        params={"n_estimators": 300, "n_jobs": 1},
        space=slow_space,
    )
    assert [t.state for t in result.trials] == ["COMPLETE"]
    assert result.best.best_iterations == [1, 1, 1]
    assert time.monotonic() - started < 1.5 + 10.0


def test_lightgbm_says_when_another_seed_grows_other_trees(tiny):
    """The portfolio bags a member over seeds only when a seed changes it: LightGBM's
    defaults draw nothing from it, row bagging and column sampling do."""
    lgbm = get_family("lgbm")
    bagged = {"subsample": 0.7, "subsample_freq": 1}
    assert not lgbm.seed_varies(None) and not lgbm.seed_varies({"subsample": 0.7})
    assert lgbm.seed_varies(bagged) and lgbm.seed_varies({"colsample_bytree": 0.8})
    data, folds = tiny
    for params, differ in ((FEW_TREES, False), ({**FEW_TREES, **bagged}, True)):
        a, b = (
            cross_validate(data, model="lgbm", metric="auc", folds=folds, params=params, seed=s)
            for s in (0, 1)
        )
        assert (not np.array_equal(a.oof, b.oof)) == differ == lgbm.seed_varies(params)


def test_extra_trees_grow_in_chunks_until_the_deadline_or_the_memory_cap(
    tiny, fold_of, ticks, monkeypatch
):
    """A chunk starts only when the time left covers another at the pace so far; the trees
    grown are kept (and say so in the member's params); the forest stops at its memory cap."""
    import pipelines.models.extra_trees as extra_trees

    data, folds = tiny
    fold = fold_of(data, folds)
    family = FAMILIES["extra_trees"]
    whole = family.fit_fold(fold, None, seed=0, device="cpu", deadline=Deadline.never())
    assert len(whole.state.model.estimators_) == 300
    # A chunk reads the scripted clock as it starts and ends (its pace: 1 tick) and the check
    # after it a third time: 5 and 2 ticks are left after the first two chunks, -1 after the
    # third.
    cut = family.fit_fold(fold, None, seed=0, device="cpu", deadline=Deadline(8.0, ticks()))
    grown = len(cut.state.model.estimators_)
    assert grown == 3 * extra_trees.CHUNK == cut.members["extra_trees"].best_iteration
    assert cut.members["extra_trees"].params["n_estimators"] == grown
    proba = family.predict(cut, data.X_test)["extra_trees"]
    assert proba.shape == (len(data.X_test),) and ((proba >= 0) & (proba <= 1)).all()
    # A cap below one chunk's size: the first chunk grows, and no more.
    monkeypatch.setattr(extra_trees, "MAX_FOREST_MB", 1e-6)
    capped = family.fit_fold(fold, None, seed=0, device="cpu", deadline=Deadline.never())
    assert len(capped.state.model.estimators_) == extra_trees.CHUNK


def test_extra_trees_read_categories_as_codes_and_missing_values_as_nan():
    import pandas as pd

    from pipelines.models.extra_trees import as_matrix

    frame = pd.DataFrame(
        {
            "colour": pd.Categorical(["red", None, "blue"], categories=["blue", "red"]),
            "size": [1.5, None, 3.0],
            "flag": [True, False, True],
        }
    )
    matrix = as_matrix(frame)
    assert matrix.dtype == np.float32 and matrix.shape == (3, 3)
    np.testing.assert_array_equal(matrix[:, 0], [1.0, np.nan, 0.0])
    np.testing.assert_array_equal(matrix[:, 1], [1.5, np.nan, 3.0])
    np.testing.assert_array_equal(matrix[:, 2], [1.0, 0.0, 1.0])


def test_the_linear_model_reads_missing_and_unseen_categories_and_wide_tables():
    """One-hot categories with missing values as a level and unseen ones all zero; numbers
    with missing values imputed; quantile maps on a narrow table, a signed log on a wide one
    (its quantile maps would cost seconds a fold)."""
    import pandas as pd
    from sklearn.preprocessing import QuantileTransformer

    from pipelines.metrics import get_metric
    from pipelines.models.base import FoldData
    from pipelines.models.linear import QUANTILE_MAX_COLUMNS, preprocessor

    rng = np.random.default_rng(0)
    n = 400
    colour = rng.choice(["red", "blue", "green"], size=n)
    size = rng.normal(size=n)
    y = ((colour == "red") ^ (size > 0.5)).astype(int)
    frame = pd.DataFrame(
        {
            "colour": pd.Categorical(np.where(rng.random(n) < 0.1, None, colour)),
            "size": np.where(rng.random(n) < 0.1, np.nan, size),
            "flag": rng.random(n) < 0.5,
        }
    )
    fold = FoldData(frame[:300], y[:300], frame[300:], y[300:], "binary", 2, get_metric("auc"))
    family = get_family("linear")
    fitted = family.fit_fold(fold, None, seed=0, device="cpu", deadline=PASSED)
    unseen = frame[300:].copy()
    unseen["colour"] = pd.Categorical(["purple"] * 50 + [None] * 50)
    for X in (frame[300:], unseen):
        proba = family.predict(fitted, X)["linear"]
        assert proba.shape == (100,) and np.isfinite(proba).all()
    assert get_metric("auc").score(y[300:], family.predict(fitted, frame[300:])["linear"]) > 0.6
    assert not family.seed_varies(None)  # lbfgs draws nothing from the seed

    def scaler(columns: int) -> object:
        wide = pd.DataFrame(rng.poisson(1.0, size=(50, columns)).astype(float))
        numbers = preprocessor(wide).transformers[0][1]
        return numbers.steps[-1][1]

    assert isinstance(scaler(QUANTILE_MAX_COLUMNS), QuantileTransformer)
    assert not isinstance(scaler(QUANTILE_MAX_COLUMNS + 1), QuantileTransformer)
