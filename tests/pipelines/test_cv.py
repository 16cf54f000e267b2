"""LightGBM cross-validation on real data: sensible scores, determinism, saved results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.cv import CVResult, cross_validate_lgbm
from pipelines.errors import PipelinesError
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


def test_a_metric_for_another_task_is_refused(diamonds):
    with pytest.raises(PipelinesError, match="does not apply to a regression task"):
        cross_validate_lgbm(diamonds, diamonds, target="price", id_column="rownames", metric="auc")
