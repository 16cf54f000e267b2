"""Cross-validation on real data: LightGBM, the network and the hybrid on shared folds; sensible
scores, determinism, timings, raw predictions, saved results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.cv import CVResult, cross_validate, cross_validate_lgbm
from pipelines.errors import PipelinesError
from pipelines.features import prepare_frames
from pipelines.folds import make_folds
from pipelines.metrics import get_metric

FAST = {"n_estimators": 150, "learning_rate": 0.1, "early_stopping_rounds": 20}


@pytest.fixture(scope="module")
def churn_split(churn) -> tuple[pd.DataFrame, pd.DataFrame]:
    sample = churn.sample(2500, random_state=1)
    return sample.iloc[:2000], sample.iloc[2000:].drop(columns="churn")


@pytest.fixture(scope="module")
def churn_auc(churn_split) -> CVResult:
    train, test = churn_split
    return cross_validate_lgbm(
        train, test, target="churn", id_column="rownames", metric="auc", n_folds=3, params=FAST
    )


def test_churn_auc_is_sensible_and_predictions_are_probabilities(churn_auc, churn_split):
    train, test = churn_split
    result = churn_auc
    assert result.task == "binary" and result.metric == "auc" and result.model == "lgbm"
    assert result.mean > 0.75
    assert len(result.fold_scores) == 3 and result.std >= 0
    assert result.oof.shape == (len(train),) and result.test_predictions.shape == (len(test),)
    assert result.oof.min() >= 0 and result.oof.max() <= 1
    assert np.array_equal(result.test_ids, test["rownames"].to_numpy())
    y = (train["churn"] == "Yes").astype(int)
    assert get_metric("auc").score(y, result.oof) > 0.75
    assert result.params["learning_rate"] == 0.1 and result.params["verbose"] == -1
    assert result.device == "cpu" and result.fit_seconds > 0


def test_same_seed_gives_identical_oof(churn_auc, churn_split):
    train, test = churn_split
    again = cross_validate_lgbm(
        train, test, target="churn", id_column="rownames", metric="auc", n_folds=3, params=FAST
    )
    assert np.array_equal(again.oof, churn_auc.oof)
    assert np.array_equal(again.test_predictions, churn_auc.test_predictions)
    assert again.fold_scores == churn_auc.fold_scores


def test_label_metrics_get_label_predictions(churn_split):
    train, test = churn_split
    result = cross_validate_lgbm(
        train,
        test,
        target="churn",
        id_column="rownames",
        metric="accuracy",
        n_folds=3,
        params=FAST,
    )
    assert set(np.unique(result.oof)) <= {0, 1}
    assert set(np.unique(result.test_predictions)) <= {0, 1}
    assert result.mean > 0.7


def test_on_fold_reports_each_fold(churn_split):
    train, test = churn_split
    calls = []
    result = cross_validate_lgbm(
        train,
        test,
        target="churn",
        id_column="rownames",
        metric="logloss",
        n_folds=3,
        params=FAST,
        on_fold=lambda i, n, score: calls.append((i, n, score)),
    )
    assert calls == [(i, 3, s) for i, s in enumerate(result.fold_scores)]


def test_on_fold_predictions_gives_each_folds_rows_and_their_predictions(prepared_churn):
    """The portfolio judges a probe fold by its predictions: the rows are the fold's own and
    the values are what the result keeps as raw OOF predictions (AUC: no temperature)."""
    data, folds = prepared_churn(600, 100, 3)
    seen = []
    result = cross_validate(
        data, model="lgbm", metric="auc", folds=folds, params=FAST,
        on_fold_predictions=lambda fold, rows, raw: seen.append((fold, rows.copy(), raw)),
    )  # fmt: skip
    assert [fold for fold, _, _ in seen] == [0, 1, 2]
    for fold, rows, raw in seen:
        np.testing.assert_array_equal(rows, folds == fold)
        np.testing.assert_allclose(raw, result.raw_oof[rows])


def test_unseen_test_categories_do_not_crash(churn_split):
    train, test = churn_split
    test = test.copy()
    test["contract"] = test["contract"].astype(object)
    test.loc[test.index[:50], "contract"] = "Lifetime"
    test.loc[test.index[50:60], "payment_method"] = None
    result = cross_validate_lgbm(
        train, test, target="churn", id_column="rownames", metric="auc", n_folds=3, params=FAST
    )
    assert np.isfinite(result.test_predictions).all()


def test_diamond_prices_are_predicted_well_below_their_spread(diamonds):
    train, test = diamonds.iloc[:2500], diamonds.iloc[2500:].drop(columns="price")
    result = cross_validate_lgbm(
        train, test, target="price", id_column="rownames", metric="rmse", n_folds=3, params=FAST
    )
    assert result.task == "regression"
    assert result.mean < 0.3 * train["price"].std()
    assert result.test_predictions.shape == (500,)


def test_diamond_cut_beats_the_prior_logloss(diamonds, tmp_path):
    train, test = diamonds.iloc[:2500], diamonds.iloc[2500:].drop(columns="cut")
    result = cross_validate_lgbm(
        train, test, target="cut", id_column="rownames", metric="mlogloss", n_folds=3, params=FAST
    )
    frequencies = train["cut"].value_counts(normalize=True).to_numpy()
    prior_logloss = -(frequencies * np.log(frequencies)).sum()
    assert result.metric == "multiclass_logloss"
    assert result.mean < 0.9 * prior_logloss
    assert result.oof.shape == (2500, 5) and result.test_predictions.shape == (500, 5)
    assert np.allclose(result.oof.sum(axis=1), 1) and np.allclose(result.test_predictions.sum(1), 1)

    paths = result.save(tmp_path / "run")
    assert {p.name for p in paths.values()} == {
        "oof.parquet",
        "test_predictions.parquet",
        "result.json",
        "raw_oof.parquet",
        "raw_test_predictions.parquet",
    }
    summary = json.loads(paths["result"].read_text())
    assert summary["mean"] == pytest.approx(result.mean)
    assert summary["classes"] == ["Fair", "Good", "Ideal", "Premium", "Very Good"]
    assert not any(isinstance(v, list) and len(v) > 100 for v in summary.values())
    loaded = CVResult.load(tmp_path / "run")
    assert np.array_equal(loaded.oof, result.oof)
    assert np.array_equal(loaded.test_predictions, result.test_predictions)
    assert np.array_equal(loaded.test_ids, result.test_ids)
    assert loaded.classes == result.classes and loaded.fold_scores == result.fold_scores
    assert loaded.mean == result.mean and loaded.params == result.params
    assert np.array_equal(loaded.raw_oof, result.raw_oof)
    assert np.array_equal(loaded.raw_test, result.raw_test)
    assert np.array_equal(loaded.folds, result.folds)
    assert loaded.fold_seconds == result.fold_seconds

    # A result saved before raw predictions existed still loads.
    for name in ("raw_oof.parquet", "raw_test_predictions.parquet"):
        (tmp_path / "run" / name).unlink()
    for key in ("fold_seconds", "members", "blend_weights"):
        summary.pop(key)
    paths["result"].write_text(json.dumps(summary))
    old = CVResult.load(tmp_path / "run")
    assert old.raw_oof is None and old.folds is None and old.members == ()
    assert np.array_equal(old.oof, result.oof)


def test_a_metric_for_another_task_is_refused(diamonds):
    with pytest.raises(PipelinesError, match="does not apply to a regression task"):
        cross_validate_lgbm(diamonds, diamonds, target="price", id_column="rownames", metric="auc")


def test_fold_timings_folds_and_raw_predictions_are_kept(churn_auc, churn_split):
    result = churn_auc
    assert len(result.fold_seconds) == 3 and all(s > 0 for s in result.fold_seconds)
    assert sum(result.fold_seconds) <= result.fit_seconds
    assert result.folds.shape == (len(churn_split[0]),)
    assert np.bincount(result.folds).min() > 600
    assert np.array_equal(result.raw_oof, result.oof)  # AUC reads probabilities
    assert len(result.best_iterations) == 3


def test_label_metrics_keep_the_probabilities_as_raw_predictions(churn_split):
    train, test = churn_split
    result = cross_validate_lgbm(
        train, test, target="churn", id_column="rownames", metric="f1", n_folds=3, params=FAST
    )
    assert result.raw_oof.dtype == float and 0 < result.raw_oof.mean() < 1
    assert np.array_equal(result.oof, (result.raw_oof >= 0.5).astype(int))
    assert np.array_equal(result.test_predictions, (result.raw_test >= 0.5).astype(int))


@pytest.fixture(scope="module")
def churn_data(churn_split):
    train, test = churn_split
    return prepare_frames(train, test, target="churn", id_column="rownames")


def test_the_engine_on_given_folds_matches_the_wrapper(churn_data, churn_auc):
    folds = make_folds(churn_data.y, task="binary", n_splits=3, seed=0)
    result = cross_validate(churn_data, model="lgbm", metric="auc", folds=folds, params=FAST)
    assert np.array_equal(result.oof, churn_auc.oof)
    assert np.array_equal(result.folds, folds)
    # LightGBM runs on the CPU whatever the device asked for.
    assert result.device == "cpu"


def test_bad_folds_and_models_are_refused(churn_data):
    folds = make_folds(churn_data.y, task="binary", n_splits=3, seed=0)
    with pytest.raises(PipelinesError, match="one fold id per train row"):
        cross_validate(churn_data, model="lgbm", metric="auc", folds=folds[:-1])
    with pytest.raises(PipelinesError, match="0..k-1"):
        cross_validate(churn_data, model="lgbm", metric="auc", folds=folds + 1)
    with pytest.raises(PipelinesError, match="Unknown model"):
        cross_validate(churn_data, model="xgb", metric="auc", folds=folds)
    with pytest.raises(PipelinesError, match="hybrid params"):
        cross_validate(churn_data, model="hybrid", metric="auc", folds=folds, params={"lr": 0.1})


# A tiny network and few epochs: these tests check the wiring, not the network's quality.
TINY_NET = {
    "backbone": "mlp",
    "n_blocks": 1,
    "d_block": 32,
    "d_embedding": 8,
    "max_epochs": 3,
    "patience": 2,
}


@pytest.fixture(scope="module")
def small_churn(prepared_churn):
    return prepared_churn(1500, 1200, random_state=2)


def test_network_cross_validates_and_calls_back_each_epoch(small_churn):
    data, folds = small_churn
    epochs = []
    folds_seen = []
    result = cross_validate(
        data,
        model="nn",
        metric="auc",
        folds=folds,
        params=TINY_NET,
        device="cpu",
        callbacks=[lambda epoch, loss: epochs.append((epoch, loss))],
        on_fold=lambda fold, n, score: folds_seen.append(fold),
    )
    assert result.model == "nn" and result.device == "cpu"
    assert result.mean > 0.7
    assert folds_seen == [0, 1, 2] and len(result.fold_seconds) == 3
    assert 3 <= len(epochs) <= 9 and all(np.isfinite(loss) for _, loss in epochs)
    assert all(0 <= best < 3 for best in result.best_iterations)
    assert result.params["d_block"] == 32
    assert result.oof.shape == (1200,) and result.test_predictions.shape == (300,)


def test_a_callback_that_raises_stops_the_network(small_churn):
    data, folds = small_churn

    class Stop(Exception):
        pass

    def stop(epoch, loss):
        raise Stop

    with pytest.raises(Stop):
        cross_validate(
            data, model="nn", metric="auc", folds=folds, params=TINY_NET, callbacks=[stop]
        )


def test_hybrid_blends_the_network_and_lightgbm_on_its_embeddings(small_churn, tmp_path):
    data, folds = small_churn
    result = cross_validate(
        data,
        model="hybrid",
        metric="auc",
        folds=folds,
        params={"nn": TINY_NET, "lgbm": FAST},
        device="cpu",
    )
    assert result.model == "hybrid"
    assert [m.model for m in result.members] == ["nn", "lgbm_emb"]
    assert all(np.array_equal(m.folds, folds) for m in result.members)
    assert sum(result.blend_weights.values()) == pytest.approx(1.0)
    auc = get_metric("auc")
    member_scores = [auc.score(data.y, m.oof) for m in result.members]
    assert auc.score(data.y, result.oof) >= max(member_scores)
    assert result.members[1].mean > 0.75
    assert set(result.params) == {"nn", "lgbm"}
    assert len(result.fold_scores) == 3 and len(result.fold_seconds) == 3

    result.save(tmp_path / "hybrid")
    loaded = CVResult.load(tmp_path / "hybrid")
    assert [m.model for m in loaded.members] == ["nn", "lgbm_emb"]
    assert loaded.blend_weights == result.blend_weights
    assert np.array_equal(loaded.members[0].raw_oof, result.members[0].raw_oof)


@pytest.mark.parametrize("model", ["lgbm", "nn", "hybrid"])
def test_tiny_and_wide_data_and_the_same_oof_for_the_same_seed(model):
    """40 rows with 120 columns (more features than rows, a categorical among them): every
    model cross-validates, and the same seed gives the same OOF predictions on the CPU."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(50, 120)), columns=[f"x{i}" for i in range(120)])
    X["kind"] = rng.choice(["a", "b", "c"], size=50)
    X["y"] = (X["x0"] + (X["kind"] == "a") > 0.5).map({True: "yes", False: "no"})
    X["id"] = np.arange(50)
    train, test = X.iloc[:40], X.iloc[40:].drop(columns="y")
    data = prepare_frames(train, test, target="y", id_column="id")
    folds = make_folds(data.y, task=data.task, n_splits=3, seed=0)
    net = {**TINY_NET, "batch_size": 16}
    small_leaves = {"min_child_samples": 3}
    params = {"lgbm": small_leaves, "nn": net, "hybrid": {"nn": net, "lgbm": small_leaves}}[model]
    runs = [
        cross_validate(data, model=model, metric="auc", folds=folds, params=params, device="cpu")
        for _ in range(2)
    ]
    assert runs[0].oof.shape == (40,) and runs[0].test_predictions.shape == (10,)
    assert np.isfinite(runs[0].oof).all()
    assert np.array_equal(runs[0].oof, runs[1].oof)
    assert np.array_equal(runs[0].test_predictions, runs[1].test_predictions)
