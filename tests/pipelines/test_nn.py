"""The tabular networks: the sklearn contract, real-data quality, determinism, transfer."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, r2_score, roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from pipelines.errors import PipelinesError
from pipelines.features import prepare_frames
from pipelines.nn import (
    CategoryEmbeddingTransformer,
    TabularNetClassifier,
    TabularNetRegressor,
    default_batch_size,
    default_max_epochs,
)

# Tiny networks and few epochs: the tests check behaviour, not the best score.
TINY = {"d_block": 32, "n_blocks": 1, "k": 4, "d_embedding": 8, "max_epochs": 12, "patience": 4}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: on a busy shared 2-core machine (CI runs two pytest workers),
    torch's OpenMP threads wait on each other and tiny batches run 10-30x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _check_settings() -> dict:
    return {**TINY, "d_block": 16, "k": 2, "d_embedding": 4, "max_epochs": 20, "lr": 1e-2}


@parametrize_with_checks(
    [TabularNetClassifier(**_check_settings()), TabularNetRegressor(**_check_settings())]
)
def test_sklearn_contract(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def churn_data(churn) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """2500 training and 1500 holdout customers, features as prepare_frames makes them."""
    sample = churn.sample(4000, random_state=0)
    train, holdout = sample.iloc[:2500], sample.iloc[2500:]
    data = prepare_frames(train, holdout, target="churn", id_column="rownames")
    y_holdout = (holdout["churn"] == "Yes").astype(int).to_numpy()
    return data.X, data.y, data.X_test, y_holdout


@pytest.fixture(scope="module")
def churn_net(churn_data) -> TabularNetClassifier:
    X, y, _, _ = churn_data
    return TabularNetClassifier(**TINY).fit(X, y)


def test_churn_auc_on_a_holdout_is_sensible(churn_net, churn_data):
    _, _, X_holdout, y_holdout = churn_data
    proba = churn_net.predict_proba(X_holdout)
    assert proba.shape == (len(X_holdout), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y_holdout, proba[:, 1]) > 0.8


def test_fitted_attributes_and_history(churn_net, churn_data):
    X = churn_data[0]
    net = churn_net
    assert list(net.classes_) == [0, 1]
    assert net.n_features_in_ == X.shape[1]
    assert list(net.feature_names_in_) == list(X.columns)
    assert net.device_ == "cpu"
    assert net.n_epochs_ == len(net.history_) <= TINY["max_epochs"]
    assert 0 <= net.best_epoch_ < net.n_epochs_
    losses = [h["valid_loss"] for h in net.history_]
    assert net.history_[net.best_epoch_]["valid_loss"] == min(losses)
    assert all(h["seconds"] > 0 and np.isfinite(h["train_loss"]) for h in net.history_)


def test_same_seed_gives_bit_identical_predictions_on_the_cpu(churn_data):
    X, y, X_holdout, _ = churn_data
    settings = {**TINY, "max_epochs": 3, "device": "cpu"}
    first = TabularNetClassifier(**settings).fit(X, y).predict_proba(X_holdout)
    again = TabularNetClassifier(**settings).fit(X, y).predict_proba(X_holdout)
    other = TabularNetClassifier(**settings, random_state=1).fit(X, y).predict_proba(X_holdout)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_unseen_categories_and_an_all_missing_column_at_predict_time(churn_net, churn_data):
    X_holdout = churn_data[2].iloc[:200].copy()
    baseline = churn_net.predict_proba(X_holdout)
    changed = X_holdout.copy()
    changed["contract"] = pd.Series("Lifetime", index=changed.index, dtype="category")
    changed["monthly_charges"] = np.nan
    proba = churn_net.predict_proba(changed)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)
    assert not np.allclose(proba, baseline)
    # An unseen category reads as missing: the same as NaN in that column.
    missing = changed.copy()
    missing["contract"] = pd.Series(np.nan, index=changed.index).astype(X_holdout["contract"].dtype)
    assert np.array_equal(churn_net.predict_proba(missing), proba)


def test_missing_values_in_training_get_an_indicator():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    X[rng.rand(300) < 0.3, 1] = np.nan
    X[:, 2] = np.nan  # no value at all in train
    net = TabularNetClassifier(**TINY).fit(X, y)
    assert net.config_.n_continuous == 3 and net.config_.n_indicators == 2
    assert np.isfinite(net.predict_proba(X)).all()


def test_a_single_class_in_the_validation_rows(churn_data):
    X, y, X_holdout, _ = churn_data
    negatives = X_holdout.iloc[:100]
    net = TabularNetClassifier(**{**TINY, "max_epochs": 3}).fit(
        X, y, eval_set=(negatives, np.zeros(100, dtype=int))
    )
    assert all(np.isfinite(h["valid_loss"]) for h in net.history_)
    assert list(net.classes_) == [0, 1]
    # a class with one row cannot be stratified: the split falls back to a plain one
    y_rare = np.zeros(len(y), dtype=int)
    y_rare[0] = 1
    rare = TabularNetClassifier(**{**TINY, "max_epochs": 2}).fit(X, y_rare)
    assert rare.predict_proba(X_holdout).shape == (len(X_holdout), 2)


def _diamonds(diamonds: pd.DataFrame, target: str):
    sample = diamonds.drop(columns="rownames")
    train, test = sample.iloc[:2400], sample.iloc[2400:]
    task = "regression" if target == "price" else "multiclass"
    data = prepare_frames(train, test, target=target, id_column=None, task=task)
    return data, test[target].to_numpy()


def test_multiclass_cut_beats_the_class_prior(diamonds):
    data, labels = _diamonds(diamonds, "cut")
    net = TabularNetClassifier(**{**TINY, "max_epochs": 20}).fit(data.X, data.y)
    y_test = np.searchsorted(np.array(data.classes), labels)
    proba = net.predict_proba(data.X_test)
    assert proba.shape == (len(labels), 5)
    prior = np.bincount(data.y, minlength=5) / len(data.y)
    prior_loss = log_loss(y_test, np.tile(prior, (len(y_test), 1)), labels=range(5))
    assert log_loss(y_test, proba, labels=range(5)) < prior_loss - 0.15


def test_regression_price_clearly_beats_the_mean(diamonds):
    data, price = _diamonds(diamonds, "price")
    net = TabularNetRegressor(**{**TINY, "max_epochs": 20}).fit(data.X, np.log(data.y))
    predicted = net.predict(data.X_test)
    assert r2_score(np.log(price), predicted) > 0.9
    assert abs(net.y_mean_ - np.log(data.y).mean()) < 0.1


@pytest.mark.parametrize("backbone", ["mlp", "tabm"])
@pytest.mark.parametrize("num_embeddings", ["periodic", "piecewise", "none"])
def test_each_backbone_and_numeric_embedding_fits(backbone, num_embeddings, diamonds):
    data, price = _diamonds(diamonds, "price")
    net = TabularNetRegressor(
        **{**TINY, "max_epochs": 4},
        backbone=backbone,
        num_embeddings=num_embeddings,
        schedule="onecycle",
    ).fit(data.X, np.log(data.y))
    assert net.config_.n_members == (4 if backbone == "tabm" else 1)
    assert r2_score(np.log(price), net.predict(data.X_test)) > 0.5


def test_callbacks_run_each_epoch_and_an_exception_stops_fit(churn_data):
    X, y, _, _ = churn_data
    seen: list[tuple[int, float]] = []
    net = TabularNetClassifier(**{**TINY, "max_epochs": 3, "patience": 10})
    net.fit(X, y, callbacks=[lambda epoch, loss: seen.append((epoch, loss))])
    assert [e for e, _ in seen] == [0, 1, 2]
    assert [loss for _, loss in seen] == [h["valid_loss"] for h in net.history_]

    class Pruned(Exception):
        pass

    def prune(epoch: int, loss: float) -> None:
        if epoch == 1:
            raise Pruned

    with pytest.raises(Pruned):
        TabularNetClassifier(**{**TINY, "max_epochs": 5}).fit(X, y, callbacks=[prune])


def test_pickle_round_trip_predicts_the_same(churn_net, churn_data):
    X_holdout = churn_data[2]
    restored = pickle.loads(pickle.dumps(churn_net))
    assert np.array_equal(restored.predict_proba(X_holdout), churn_net.predict_proba(X_holdout))
    assert all(p.device.type == "cpu" for p in restored.module_.parameters())


def test_category_embeddings_and_their_transformer(churn_net, churn_data):
    X_holdout = churn_data[2]
    embeddings = churn_net.category_embeddings()
    categorical = [
        c for c in X_holdout.columns if isinstance(X_holdout[c].dtype, pd.CategoricalDtype)
    ]
    assert sorted(embeddings) == sorted(categorical)
    categories, vectors = embeddings["contract"]
    assert categories == list(X_holdout["contract"].cat.categories)
    assert vectors.shape == (
        len(categories),
        churn_net.config_.cat_dims[categorical.index("contract")],
    )

    transformer = CategoryEmbeddingTransformer(churn_net).fit(X_holdout)
    out = transformer.transform(X_holdout)
    dim = vectors.shape[1]
    assert [f"contract__e{i}" for i in range(dim)] == [c for c in out if c.startswith("contract__")]
    assert "contract" not in out and "tenure" in out
    assert list(out.columns) == list(transformer.get_feature_names_out())
    assert all(pd.api.types.is_float_dtype(out[c]) for c in out if "__e" in c)
    first = X_holdout["contract"].iloc[0]
    row = out.loc[X_holdout.index[0], [f"contract__e{i}" for i in range(dim)]].to_numpy()
    assert np.allclose(row, vectors[categories.index(first)])
    assert out.equals(transformer.transform(X_holdout))  # deterministic

    kept = CategoryEmbeddingTransformer(churn_net, keep_original=True).fit(X_holdout)
    assert "contract" in kept.transform(X_holdout).columns


def test_sizes_chosen_by_data_size():
    assert default_batch_size(500) == 64 and default_batch_size(300_000) == 1024
    assert default_max_epochs(1_000) == 100 and default_max_epochs(300_000) < 20
    sizes = [default_batch_size(n) for n in (100, 2_000, 10_000, 50_000, 200_000)]
    assert sizes == sorted(sizes)


def test_bad_settings_say_what_to_use():
    with pytest.raises(ValueError, match="backbone"):
        TabularNetClassifier(backbone="resnet").fit(np.zeros((10, 2)), np.arange(10) % 2)


def test_a_numeric_column_of_nones_reads_as_missing(churn_net, churn_data):
    X_holdout = churn_data[2].iloc[:50].copy()
    as_nan = X_holdout.assign(total_charges=np.nan)
    as_none = X_holdout.assign(total_charges=None)
    assert np.array_equal(churn_net.predict_proba(as_none), churn_net.predict_proba(as_nan))


def test_asking_for_cuda_without_a_gpu_says_what_to_do():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(PipelinesError, match="device='auto'"):
        TabularNetClassifier(**TINY, device="cuda").fit(np.zeros((20, 2)), np.arange(20) % 2)


def test_importing_the_module_loads_no_torch():
    code = "import sys, pipelines.nn; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
