"""EAP ability, information, adaptive choice and the stop rule against direct checks."""

from __future__ import annotations

import numpy as np
import pytest

from interview.ability import (
    GRID,
    AbilityEstimate,
    Candidate,
    Prior,
    band,
    choose_next,
    choose_topic,
    estimate,
    estimate_ability,
    information,
    probability,
    should_stop,
)


def brute_force(responses, prior=Prior(), n=20001):
    """The same posterior by plain quadrature on a fine grid (no log tricks)."""
    theta = np.linspace(-4, 4, n)
    density = np.exp(-0.5 * ((theta - prior.mean) / prior.sd) ** 2)
    for a, b, s in responses:
        p = 1 / (1 + np.exp(-a * (theta - b)))
        density = density * p**s * (1 - p) ** (1 - s)
    density /= density.sum()
    mean = density @ theta
    return mean, np.sqrt(density @ (theta - mean) ** 2)


def test_no_responses_give_the_prior():
    theta, se = estimate([])
    assert theta == pytest.approx(0.0, abs=1e-9)
    assert se == pytest.approx(1.0, abs=0.01)  # N(0, 1) truncated to [-4, 4] on 81 points
    theta, se = estimate([], Prior(mean=1.0, sd=0.5))
    assert (theta, se) == pytest.approx((1.0, 0.5), abs=0.01)


@pytest.mark.parametrize(
    "responses",
    [
        [(1.0, 0.0, 1.0)],
        [(1.2, -1.0, 1.0), (0.8, 1.2, 0.0), (1.5, 0.0, 0.5)],
        [(2.0, 0.5, 0.25), (1.0, -0.5, 1.0), (0.7, 1.0, 0.0), (1.3, 0.0, 1.0)],
    ],
)
def test_eap_matches_brute_force_quadrature(responses):
    theta, se = estimate(responses)
    expected_theta, expected_se = brute_force(responses)
    assert theta == pytest.approx(expected_theta, abs=0.01)
    assert se == pytest.approx(expected_se, abs=0.01)


def test_more_correct_answers_raise_theta_and_more_answers_shrink_se():
    items = [(1.0, b, 1.0) for b in (-1.0, 0.0, 1.2, 0.5, -0.5)]
    thetas = [estimate(items[:k])[0] for k in range(6)]
    assert all(x < y for x, y in zip(thetas, thetas[1:], strict=False))
    mixed = [(1.2, 0.0, float(k % 2)) for k in range(12)]
    ses = [estimate(mixed[:k])[1] for k in range(13)]
    assert all(x > y for x, y in zip(ses, ses[1:], strict=False))
    assert estimate(mixed)[0] == pytest.approx(0.0, abs=0.1)  # half right at b = 0


def test_partial_credit_lies_between_a_miss_and_a_pass():
    miss, half, hit = (estimate([(1.0, 0.0, s)])[0] for s in (0.0, 0.5, 1.0))
    assert miss < half < hit
    assert half == pytest.approx(0.0, abs=1e-9)  # half credit at b = 0 is symmetric


def test_extreme_items_stay_finite():
    theta, se = estimate([(4.0, -4.0, 0.0)] * 30 + [(4.0, 4.0, 1.0)] * 30)
    assert np.isfinite(theta) and np.isfinite(se)


def test_information_is_largest_at_the_difficulty():
    a, b = 1.7, 0.6
    values = information(a, b, GRID)
    assert GRID[int(np.argmax(values))] == pytest.approx(b, abs=0.05)
    assert information(a, b, b) == pytest.approx(a * a / 4)
    assert probability(a, b, b) == pytest.approx(0.5)


def test_bands_in_words():
    assert [band(t) for t in (-2, -0.5, 0.5, 1.5, 2.5)] == [
        "not yet",
        "developing",
        "solid",
        "strong",
        "expert",
    ]
    e = estimate_ability("x", [(1.0, 0.0, float(k % 2)) for k in range(30)])
    assert e.se < 0.5 and e.band == band(e.theta) and e.n_items == 30 and "±" in e.describe()


def _estimates(**se):
    return {t: AbilityEstimate(t, 0.0, s, 0, band(0.0)) for t, s in se.items()}


def test_choice_takes_the_most_informative_item():
    rng = np.random.default_rng(0)
    pool = [
        Candidate("far", "t", 1.0, 3.0),
        Candidate("near", "t", 1.0, 0.1),
        Candidate("sharp", "t", 2.5, 0.0),
    ]
    picked = {choose_next(pool, _estimates(t=1.0), {}, rng, top_k=1).item_id for _ in range(20)}
    assert picked == {"sharp"}
    # among the top 2, both come up; the far item never does
    picked = {choose_next(pool, _estimates(t=1.0), {}, rng, top_k=2).item_id for _ in range(200)}
    assert picked == {"sharp", "near"}


def test_choice_balances_topics():
    rng = np.random.default_rng(1)
    pool = [Candidate("x1", "x", 2.0, 0.0), Candidate("y1", "y", 0.5, 2.0)]
    # x already has two items: y comes next although its item is far less informative
    chosen = choose_next(pool, _estimates(x=0.5, y=0.9), {"x": 2}, rng)
    assert chosen.item_id == "y1"
    # equal counts: the topic with the larger SE
    assert choose_topic(["x", "y"], _estimates(x=0.5, y=0.9), {}) == "y"
    assert choose_topic(["x", "y"], _estimates(x=0.95, y=0.9), {}) == "x"
    assert choose_next([], _estimates(x=1.0), {}, rng) is None


def test_stop_rule():
    sharp = _estimates(a=0.3, b=0.44)
    wide = _estimates(a=0.3, b=0.6)
    assert not should_stop(sharp, 4)  # never before 5
    assert should_stop(sharp, 5)
    assert not should_stop(wide, 19)  # one topic still uncertain
    assert should_stop(wide, 20)  # but never more than 20
    assert should_stop(wide, 3, min_items=1, max_items=3)
