"""Blending: hill climbing and rank averaging on synthetic members, and blends of real runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pipelines.blend import BlendResult, blend_results, hill_climb, rank_average
from pipelines.cv import cross_validate
from pipelines.errors import PipelinesError
from pipelines.metrics import get_metric


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@pytest.fixture(scope="module")
def binary_members() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Three noisy views of one signal: blending them averages part of the noise away."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=2000)
    y = (signal + rng.normal(scale=0.8, size=2000) > 0).astype(int)
    members = {
        name: _sigmoid(signal + rng.normal(scale=scale, size=2000))
        for name, scale in (("a", 0.6), ("b", 0.7), ("c", 0.9))
    }
    return y, members


def test_hill_climbing_beats_or_equals_the_best_member(binary_members):
    y, members = binary_members
    for metric in ("auc", "logloss"):
        blend = hill_climb(members, y, metric)
        better = get_metric(metric).greater_is_better
        best_member = (max if better else min)(blend.member_scores.values())
        assert (blend.score >= best_member) if better else (blend.score <= best_member)
        assert sum(blend.weights.values()) == pytest.approx(1.0)
        assert all(w >= 0 for w in blend.weights.values())
        # Independent noise: more than one member is worth keeping.
        assert sum(w > 0 for w in blend.weights.values()) >= 2
        assert blend.score == pytest.approx(get_metric(metric).score(y, blend.oof))
        assert blend.method == "hill" and blend.metric == metric


def test_a_useless_member_gets_little_or_no_weight(binary_members):
    y, members = binary_members
    noise = np.random.default_rng(1).uniform(size=len(y))
    blend = hill_climb({**members, "noise": noise}, y, "auc")
    assert blend.weights["noise"] <= 0.1
    assert blend.member_scores["noise"] < 0.6 < blend.score


def test_lower_is_better_metric_picks_the_accurate_member():
    rng = np.random.default_rng(2)
    y = rng.normal(size=1000)
    members = {"good": y + rng.normal(scale=0.3, size=1000), "bad": y + 2.0}
    blend = hill_climb(members, y, "rmse")
    assert blend.member_scores["good"] < blend.member_scores["bad"]
    assert blend.weights["good"] > blend.weights["bad"]
    assert blend.score <= blend.member_scores["good"]
    # Maximizing rmse would have picked "bad": the direction is honoured.


def test_multiclass_probability_matrices_blend_rows_that_sum_to_one():
    rng = np.random.default_rng(3)
    n, k = 1500, 4
    logits = rng.normal(size=(n, k))
    y = np.argmax(logits + rng.gumbel(size=(n, k)), axis=1)

    def view(scale: float) -> np.ndarray:
        noisy = np.exp(logits + rng.normal(scale=scale, size=(n, k)))
        return noisy / noisy.sum(axis=1, keepdims=True)

    members = {"x": view(0.5), "y": view(0.6), "z": view(0.8)}
    blend = hill_climb(members, y, "multiclass_logloss")
    assert blend.oof.shape == (n, k)
    assert np.allclose(blend.oof.sum(axis=1), 1)
    assert blend.score <= min(blend.member_scores.values())
    test = blend.apply({name: values[:10] for name, values in members.items()})
    expected = sum(w * members[name][:10] for name, w in blend.weights.items())
    assert np.allclose(test, expected)


def test_label_metrics_blend_probabilities_with_the_task(binary_members):
    y, members = binary_members
    blend = hill_climb(members, y, "accuracy", task="binary")
    assert blend.score >= max(blend.member_scores.values())
    assert blend.oof.min() >= 0 and blend.oof.max() <= 1  # probabilities, not labels
    assert blend.score == pytest.approx(np.mean((blend.oof >= 0.5) == y))


def test_rank_average_blends_members_on_different_scales(binary_members):
    y, members = binary_members
    # A logit-scale member would dominate a plain mean of probabilities and logits.
    scaled = {"a": members["a"], "b_logit": np.log(members["b"] / (1 - members["b"])) * 50}
    blend = rank_average(scaled, y, "auc")
    assert blend.method == "rank" and blend.weights == {"a": 0.5, "b_logit": 0.5}
    assert blend.oof.min() > 0 and blend.oof.max() <= 1
    assert blend.score > max(blend.member_scores.values())
    assert blend.apply(scaled).shape == (len(y),)
    with pytest.raises(PipelinesError, match="1-D"):
        rank_average({"m": np.ones((10, 3))}, np.zeros(10), "auc")


def test_mismatched_members_are_refused(binary_members):
    y, members = binary_members
    with pytest.raises(PipelinesError, match="same shape"):
        hill_climb({"a": members["a"], "short": members["b"][:-1]}, y, "auc")
    blend = hill_climb(members, y, "auc")
    assert isinstance(blend, BlendResult)
    with pytest.raises(PipelinesError, match="needs predictions of"):
        blend.apply({"z": members["a"]})


@pytest.fixture(scope="module")
def churn_runs(prepared_churn):
    data, folds = prepared_churn(1500, 1200, random_state=4)
    runs = [
        cross_validate(
            data,
            model="lgbm",
            metric="accuracy",
            folds=folds,
            params={"n_estimators": 60, "learning_rate": lr, "num_leaves": leaves, "n_jobs": 1},
        )
        for lr, leaves in ((0.1, 7), (0.05, 31))
    ]
    return data, folds, runs


def test_blend_results_blends_real_runs_and_reports_each_member(churn_runs, tmp_path):
    data, folds, runs = churn_runs
    blend, result = blend_results(runs, data.y)
    assert result.model == "blend" and result.metric == "accuracy"
    assert [m.model for m in result.members] == ["lgbm", "lgbm_2"]
    assert set(blend.member_scores) == {"lgbm", "lgbm_2"}
    assert sum(result.blend_weights.values()) == pytest.approx(1.0)
    metric = get_metric("accuracy")
    assert metric.score(data.y, result.oof) >= max(metric.score(data.y, r.oof) for r in runs)
    assert set(np.unique(result.oof)) <= {0, 1} and set(np.unique(result.test_predictions)) <= {
        0,
        1,
    }
    assert np.array_equal(result.folds, folds) and len(result.fold_scores) == 3
    assert result.raw_test.shape == (len(data.X_test),)

    result.save(tmp_path / "blend")
    loaded = type(result).load(tmp_path / "blend")
    assert loaded.blend_weights == result.blend_weights
    assert [m.model for m in loaded.members] == ["lgbm", "lgbm_2"]
    assert np.array_equal(loaded.members[1].raw_oof, runs[1].raw_oof)


def test_blend_results_refuses_runs_made_on_other_folds(churn_runs):
    data, folds, runs = churn_runs
    other = replace(runs[1], folds=np.roll(folds, 1))
    with pytest.raises(PipelinesError, match="different folds"):
        blend_results([runs[0], other], data.y)
    with pytest.raises(PipelinesError, match="without its fold ids"):
        blend_results([runs[0], replace(runs[1], folds=None)], data.y)
    shorter = replace(runs[1], oof=runs[1].oof[:-1])
    with pytest.raises(PipelinesError, match="train rows"):
        blend_results([runs[0], shorter], data.y)
    with pytest.raises(PipelinesError, match="method"):
        blend_results(runs, data.y, method="stack")


def test_rank_blend_of_real_runs(churn_runs):
    data, folds, runs = churn_runs
    auc_runs = [replace(r, metric="auc", oof=r.raw_oof, test_predictions=r.raw_test) for r in runs]
    blend, result = blend_results(auc_runs, data.y, method="rank")
    assert blend.method == "rank" and result.metric == "auc"
    assert result.mean > 0.75
    assert pd.Series(result.test_predictions).between(0, 1).all()
