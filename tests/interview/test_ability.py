"""EAP ability, the GPCM, the hierarchical prior across topics, information, adaptive choice
and the stop rule against direct checks (brute-force quadrature, finite differences)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from interview.ability import (
    GRID,
    NOT_ENOUGH,
    OVERALL,
    USEFUL_SE,
    AbilityEstimate,
    Candidate,
    Evidence,
    Prior,
    band,
    category,
    category_probabilities,
    choose_next,
    choose_topic,
    estimate,
    estimate_ability,
    information,
    joint_estimates,
    log_likelihood,
    probability,
    should_stop,
    thresholds,
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


# -- the generalised partial credit model -------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, steps", [(1.0, 0.0, 3), (2.2, -1.0, 3), (0.6, 1.2, 4), (1.3, 0.4, 1)]
)
def test_gpcm_probabilities_sum_to_one_and_information_is_positive(a, b, steps):
    theta = np.linspace(-6, 6, 121)
    probs = category_probabilities(a, b, theta, steps)
    assert probs.shape == (steps + 1, theta.size)
    assert np.allclose(probs.sum(axis=0), 1.0) and (probs > 0).all()
    # the expected category rises with theta: higher ability, more credit
    expected = (np.arange(steps + 1)[:, None] * probs).sum(axis=0)
    assert (np.diff(expected) > 0).all()
    info = information(a, b, theta, steps)
    assert (info > 0).all()
    # Fisher information is E[(d log P_k / d theta)^2]: check by finite differences
    h = 1e-5
    slope = (
        np.log(category_probabilities(a, b, theta + h, steps))
        - np.log(category_probabilities(a, b, theta - h, steps))
    ) / (2 * h)
    assert info == pytest.approx((probs * slope**2).sum(axis=0), rel=1e-4)


def test_one_step_is_the_2pl_and_more_steps_carry_more_information():
    theta = np.linspace(-3, 3, 13)
    assert category_probabilities(1.4, 0.3, theta, 1)[1] == pytest.approx(
        probability(1.4, 0.3, theta)
    )
    assert information(1.4, 0.3, theta, 1) == pytest.approx(information(1.4, 0.3, theta))
    # a graded answer says more than right-or-wrong near the item's difficulty
    assert information(1.0, 0.0, 0.0, 3) > 3 * information(1.0, 0.0, 0.0)
    assert list(thresholds(0.5, 3)) == pytest.approx([-0.3, 0.5, 1.3])
    # half credit is the expected score at theta = b, as for the 2PL
    probs = category_probabilities(1.0, 0.5, 0.5, 3)[:, 0]
    assert probs @ np.arange(4) / 3 == pytest.approx(0.5)


def test_scores_map_to_ordered_categories():
    assert [category(s, 3) for s in (0.0, 0.1, 0.2, 0.5, 0.6, 0.9, 1.0, 1.7, -1)] == [
        0, 0, 1, 2, 2, 3, 3, 3, 0,
    ]  # fmt: skip


def test_gpcm_eap_matches_brute_force_and_partial_credit_orders():
    responses = [(1.0, 0.0, 2 / 3, 3), (1.5, 1.2, 1 / 3, 3), (0.8, -1.0, 1.0, 1)]
    theta = np.linspace(-4, 4, 20001)
    density = np.exp(-0.5 * theta**2)
    for a, b, s, steps in responses:
        density *= category_probabilities(a, b, theta, steps)[category(s, steps)]
    density /= density.sum()
    mean = density @ theta
    found = estimate(responses)
    assert found == pytest.approx((mean, np.sqrt(density @ (theta - mean) ** 2)), abs=0.01)
    by_score = [estimate([(1.0, 0.0, s, 3)])[0] for s in (0, 1 / 3, 2 / 3, 1)]
    assert by_score == sorted(by_score) and len(set(by_score)) == 4
    assert log_likelihood((1.0, 0.0, 0.5)).shape == GRID.shape


# -- topics together ---------------------------------------------------------------------------


def brute_force_joint(responses, tau, n=161):
    """The hierarchical posterior by explicit integration over (overall, theta_1, theta_2)."""
    g = np.linspace(-4, 4, n)
    mu, t1, t2 = np.meshgrid(g, g, g, indexing="ij")
    log_p = -0.5 * mu**2
    for t in (t1, t2):
        # the topic prior normalised on the grid, as the grid model does
        log_p = log_p - 0.5 * ((t - mu) / tau) ** 2
        log_p = (
            log_p
            - np.log(np.exp(-0.5 * ((g[None, :] - g[:, None]) / tau) ** 2).sum(1))[:, None, None]
        )
    for t, rs in zip((t1, t2), responses, strict=True):
        for a, b, s, steps in rs:
            log_p = log_p + np.log(
                category_probabilities(a, b, t.ravel(), steps)[category(s, steps)]
            ).reshape(t.shape)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    return [(p * x).sum() for x in (mu, t1, t2)]


def test_joint_estimates_match_explicit_integration():
    responses = [[(1.0, 0.0, 1.0, 3), (1.2, 1.2, 2 / 3, 3)], [(1.0, -1.0, 0.0, 1)]]
    found, overall = joint_estimates({"x": responses[0], "y": responses[1]}, tau=0.6)
    expected = brute_force_joint(responses, 0.6)
    assert [overall.theta, found["x"].theta, found["y"].theta] == pytest.approx(expected, abs=0.03)


def test_a_sparse_topic_is_shrunk_toward_the_overall():
    strong = [(1.0, b, 1.0 if b < 1.5 else 2 / 3, 3) for b in (-1.0, 0.0, 0.5, 1.2, 1.2, 2.0)]
    sparse = [(1.0, 0.0, 2 / 3, 3)]
    alone = estimate_ability("sparse", sparse, Prior(0.0, np.sqrt(1 + 0.36)))
    found, overall = joint_estimates(
        {"a": strong, "b": strong, "sparse": sparse}, topics=["empty"], tau=0.6
    )
    assert overall.theta > 1.0 and overall.n_items == 13 and overall.topic == OVERALL
    # pulled up toward the overall, and surer than from its one answer alone
    assert alone.theta < found["sparse"].theta < overall.theta + 0.5
    assert found["sparse"].se < alone.se
    # a topic with no answer is the overall, wider by tau
    assert found["empty"].n_items == 0
    assert found["empty"].theta == pytest.approx(overall.theta, abs=0.05)
    assert found["empty"].se > overall.se
    # with nothing known the overall and every topic sit at 0
    none, centre = joint_estimates({}, topics=["x"])
    assert (none["x"].theta, centre.theta) == pytest.approx((0.0, 0.0), abs=1e-9)
    # a small tau ties topics tightly; a large one leaves the sparse topic nearly alone
    tight, _ = joint_estimates({"a": strong, "sparse": sparse}, tau=0.2)
    loose, _ = joint_estimates({"a": strong, "sparse": sparse}, tau=3.0)
    assert tight["sparse"].theta > found["sparse"].theta > loose["sparse"].theta


def test_earlier_evidence_without_drift_is_the_same_as_answering_now():
    before = [(1.0, 0.0, 1.0, 3), (1.0, 1.2, 1 / 3, 3)]
    now = [(1.0, -1.0, 1.0, 1), (1.0, 0.5, 2 / 3, 3)]
    pooled, pooled_overall = joint_estimates({"x": before + now, "y": now})
    carried, overall = joint_estimates(
        {"x": now, "y": now}, {"x": Evidence(tuple(before), drift=0.0)}
    )
    assert carried["x"].theta == pytest.approx(pooled["x"].theta, abs=1e-9)
    assert overall.theta == pytest.approx(pooled_overall.theta, abs=1e-9)
    # with drift the old answers count for less: the estimate is less sure
    drifted, _ = joint_estimates({"x": now, "y": now}, {"x": Evidence(tuple(before), 0.5)})
    assert drifted["x"].se > carried["x"].se
    # all right before and all right now: the estimate does not fall
    right = [(1.0, b, 1.0, 3) for b in (0.0, 1.2)]
    first, _ = joint_estimates({"x": right})
    second, _ = joint_estimates({"x": right}, {"x": Evidence(tuple(right))})
    assert second["x"].theta > first["x"].theta


def test_a_joint_update_is_fast():
    topics = [f"t{k}" for k in range(12)]
    answers = {t: [(1.0, 0.0, 2 / 3, 3), (1.0, 1.2, 1.0, 1)] for t in topics}
    evidence = {t: Evidence(((1.0, -1.0, 1.0, 3),) * 4) for t in topics}
    started = time.perf_counter()
    for _ in range(20):
        joint_estimates(answers, evidence)
    assert (time.perf_counter() - started) / 20 < 0.05


def test_not_enough_evidence_yet_instead_of_a_band():
    e = estimate_ability("x", [(1.0, 0.0, 1.0)])
    assert e.se >= USEFUL_SE and not e.precise
    assert e.band == NOT_ENOUGH == band(e.theta, e.se)
    assert e.describe().startswith("not enough evidence yet (θ = ")
    assert band(1.5, 0.3) == "strong" and band(1.5) == "strong"


def test_choice_goes_to_topics_still_above_the_se_target():
    rng = np.random.default_rng(2)
    pool = [Candidate("x1", "x", 1.0, 0.0, 3), Candidate("y1", "y", 1.0, 0.0, 3)]
    # x has fewer items asked but is already precise: y, still above target, comes first
    chosen = choose_next(pool, _estimates(x=0.3, y=0.6), {"y": 3}, rng, se_target=0.45)
    assert chosen.item_id == "y1"
    # the graded item wins over a right-or-wrong one of the same difficulty
    pair = [Candidate("choice", "x", 1.0, 0.0, 1), Candidate("graded", "x", 1.0, 0.0, 3)]
    assert choose_next(pair, _estimates(x=0.9), {}, rng, top_k=1).item_id == "graded"


def test_the_open_ended_bands_need_only_one_side_of_the_interval():
    # every hard item right: the posterior is wide but lies above the top threshold
    assert band(2.96, 0.55) == "expert"
    assert band(-2.9, 0.55) == "not yet"
    # a wide estimate in the middle, or one that straddles the top threshold, says so
    assert band(0.5, 0.55) == NOT_ENOUGH
    assert band(2.4, 0.56) == NOT_ENOUGH
    assert band(2.4, 0.3) == "expert"
