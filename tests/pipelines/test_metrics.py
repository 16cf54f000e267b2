"""The metric registry: known values computed by hand, directions, names and aliases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.errors import PipelinesError, UnknownMetricError
from pipelines.metrics import METRICS, default_metric, get_metric


def test_auc_counts_correctly_ordered_pairs():
    # Pairs (pos, neg): (0.35 vs 0.1) ok, (0.35 vs 0.4) wrong, (0.8 vs both) ok -> 3 of 4.
    assert get_metric("auc").score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_logloss_is_the_mean_negative_log_likelihood():
    expected = -(math.log(0.8) + math.log(0.7)) / 2
    assert get_metric("logloss").score([1, 0], [0.8, 0.3]) == pytest.approx(expected)


def test_logloss_clips_certain_wrong_predictions_to_a_finite_loss():
    loss = get_metric("logloss").score([1, 0], [0.0, 0.0])
    assert math.isfinite(loss)
    assert loss == pytest.approx(-math.log(np.finfo(float).eps) / 2, rel=1e-6)


def test_multiclass_logloss_reads_columns_in_sorted_label_order():
    proba = [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]]
    expected = -(math.log(0.7) + math.log(0.6) + math.log(0.6)) / 3
    assert get_metric("multiclass_logloss").score([0, 1, 2], proba) == pytest.approx(expected)
    # String labels sort the same way: "a" < "b" < "c".
    assert get_metric("mlogloss").score(["a", "b", "c"], proba) == pytest.approx(expected)


def test_multiclass_logloss_accepts_a_sample_lacking_some_classes():
    proba = [[0.5, 0.25, 0.25], [0.25, 0.25, 0.5]]
    expected = -(math.log(0.5) + math.log(0.5)) / 2
    assert get_metric("multiclass_logloss").score([0, 2], proba) == pytest.approx(expected)


def test_regression_metrics_match_hand_computed_values():
    y, pred = [1.0, 2.0, 3.0], [1.0, 2.0, 5.0]
    assert get_metric("rmse").score(y, pred) == pytest.approx(math.sqrt(4 / 3))
    assert get_metric("mae").score(y, pred) == pytest.approx(2 / 3)
    # r2 = 1 - SS_res / SS_tot = 1 - 4 / 2
    assert get_metric("r2").score(y, pred) == pytest.approx(-1.0)
    # log1p(e - 1) = 1, so one error of 1 over two rows.
    assert get_metric("rmsle").score([0.0, math.e - 1], [0.0, 0.0]) == pytest.approx(math.sqrt(0.5))


def test_label_metrics_match_hand_computed_values():
    assert get_metric("accuracy").score([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.5)
    # precision 1/2, recall 1/2
    assert get_metric("f1").score([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.5)


def test_qwk_matches_a_hand_computed_kappa():
    # Weighted disagreement observed 1/12, expected 5/12 -> kappa = 1 - 1/5.
    assert get_metric("qwk").score([0, 1, 2], [0, 2, 2]) == pytest.approx(0.8)
    # Regressor outputs are rounded to the nearest grade.
    assert get_metric("qwk").score([0, 1, 2], [0.2, 1.6, 2.4]) == pytest.approx(0.8)


def test_rmsle_rejects_negative_values_with_a_clear_message():
    with pytest.raises(PipelinesError, match="negative"):
        get_metric("rmsle").score([1.0, 2.0], [-0.5, 2.0])
    with pytest.raises(PipelinesError, match="targets"):
        get_metric("rmsle").score([-1.0, 2.0], [0.5, 2.0])


@pytest.mark.parametrize(
    ("name", "better", "worse"),
    [("auc", 0.9, 0.8), ("rmse", 1.0, 2.0), ("logloss", 0.2, 0.3), ("qwk", 0.7, 0.6)],
)
def test_is_better_follows_the_metric_direction(name, better, worse):
    metric = get_metric(name)
    assert metric.is_better(better, worse)
    assert not metric.is_better(worse, better)
    assert not metric.is_better(better, better)


def test_registry_holds_the_kaggle_metrics_with_their_properties():
    assert set(METRICS) == {
        "auc",
        "logloss",
        "multiclass_logloss",
        "accuracy",
        "f1",
        "rmse",
        "rmsle",
        "mae",
        "r2",
        "qwk",
    }
    assert {name for name, m in METRICS.items() if m.needs_proba} == {
        "auc",
        "logloss",
        "multiclass_logloss",
    }
    assert {name for name, m in METRICS.items() if m.greater_is_better} == {
        "auc",
        "accuracy",
        "f1",
        "r2",
        "qwk",
    }


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("ROC_AUC", "auc"),
        ("mlogloss", "multiclass_logloss"),
        ("multi_logloss", "multiclass_logloss"),
        ("Quadratic_Weighted_Kappa", "qwk"),
        ("log_loss", "logloss"),
        ("RMSE", "rmse"),
    ],
)
def test_get_metric_knows_aliases_in_any_case(alias, name):
    assert get_metric(alias).name == name


def test_unknown_metric_lists_the_known_names():
    with pytest.raises(UnknownMetricError) as caught:
        get_metric("gini-ish")
    assert isinstance(caught.value, KeyError)
    assert "rmse" in str(caught.value) and "multiclass_logloss" in str(caught.value)


def test_default_metric_per_task():
    assert default_metric("binary").name == "auc"
    assert default_metric("multiclass").name == "multiclass_logloss"
    assert default_metric("regression").name == "rmse"
    with pytest.raises(PipelinesError):
        default_metric("ranking")


binary_samples = st.integers(min_value=2, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < n),
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),
    )
)


@settings(max_examples=50, deadline=None)
@given(binary_samples)
def test_auc_of_negated_scores_is_one_minus_auc(sample):
    y, p = sample
    auc = get_metric("auc")
    assert auc.score(y, p) + auc.score(y, -np.asarray(p)) == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=1, max_size=50))
def test_rmse_bounds_mae_and_perfect_predictions_score_zero(pairs):
    y, pred = np.array(pairs).T
    rmse, mae = get_metric("rmse").score(y, pred), get_metric("mae").score(y, pred)
    assert rmse >= mae - 1e-9 >= -1e-9
    assert get_metric("rmse").score(y, y) == 0.0


@pytest.mark.parametrize(
    ("display", "name"),
    [
        ("Area Under Receiver Operating Characteristic Curve", "auc"),
        ("RootMeanSquaredError", "rmse"),
        ("Categorization Accuracy", "accuracy"),
        ("Root Mean Squared Logarithmic Error", "rmsle"),
        ("Quadratic Weighted Kappa", "qwk"),
        ("Multiclass Loss", "multiclass_logloss"),
    ],
)
def test_kaggle_display_names_resolve(display, name):
    assert get_metric(display).name == name


# Our metric -> scikit-learn's scorer of the same quantity, whose sign says its direction.
SKLEARN_SCORERS = {
    "auc": "roc_auc",
    "logloss": "neg_log_loss",
    "multiclass_logloss": "neg_log_loss",
    "accuracy": "accuracy",
    "f1": "f1_macro",
    "rmse": "neg_root_mean_squared_error",
    "rmsle": "neg_root_mean_squared_log_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}


def _random_predictions(metric, rng, n):
    """Targets and two competing predictions in the form the metric scores."""
    if "regression" in metric.tasks:
        y = rng.uniform(0, 10, n)
        noisy = [np.abs(y + rng.normal(0, scale, n)) for scale in (1, 3)]  # rmsle needs >= 0
        return y, *noisy
    k = 3 if metric.name == "multiclass_logloss" else 2
    y = np.arange(n) % k
    if metric.name == "multiclass_logloss":
        return y, rng.dirichlet(np.ones(k), n), rng.dirichlet(np.ones(k), n)
    if metric.needs_proba:
        return y, rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    return y, rng.integers(0, k, n), rng.integers(0, k, n)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(SKLEARN_SCORERS)), st.integers(0, 2**31 - 1))
def test_direction_agrees_with_scikit_learn_on_random_predictions(name, seed):
    """Of two random predictions, our registry prefers the one scikit-learn's scorer (which
    negates losses) ranks higher."""
    from sklearn.metrics import get_scorer

    metric, rng = get_metric(name), np.random.default_rng(seed)
    y, first, second = _random_predictions(metric, rng, 40)
    sign = get_scorer(SKLEARN_SCORERS[name])._sign
    assert sign == (1 if metric.greater_is_better else -1)
    ours = metric.score(y, first), metric.score(y, second)
    theirs = [sign * s for s in ours]
    if theirs[0] != theirs[1]:
        assert metric.is_better(*ours) == (theirs[0] > theirs[1])
