"""The analysis functions on hand-computed cases and properties."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from leaderboards.analysis import (
    NoiseEstimate,
    cv_predicts_private,
    cv_vs_public,
    final_picks,
    gain_is_noise,
    medal,
    percentile,
    public_noise,
    shakeup,
    standings,
)
from leaderboards.records import RankedEntry, SubmissionRecord

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def sub(i: int, cv=None, public=None, private=None, status="complete") -> SubmissionRecord:
    return SubmissionRecord(
        id=i, competition="c", run_id=None, file_path=None, file_hash=None, file_name=None,
        message=f"s{i}", cv_score=cv, remote_ref=str(i), status=status, error=None,
        public_score=public, private_score=private, created_at=T0, submitted_at=T0, updated_at=T0,
    )  # fmt: skip


def board(ranks: dict[str, int]) -> list[RankedEntry]:
    return [
        RankedEntry(r, t, t, None, "", None) for t, r in sorted(ranks.items(), key=lambda x: x[1])
    ]


def test_a_linear_relation_is_fitted_exactly():
    subs = [sub(i, cv=0.80 + 0.01 * i, public=0.5 * (0.80 + 0.01 * i) + 0.4) for i in range(5)]
    fit = cv_vs_public(subs, greater_is_better=True)
    assert fit.n == 5 and fit.pearson == pytest.approx(1) and fit.spearman == pytest.approx(1)
    assert fit.slope == pytest.approx(0.5) and fit.intercept == pytest.approx(0.4)
    assert fit.predict(0.9) == pytest.approx(0.85)


def test_the_biggest_disagreement_comes_first_with_its_direction():
    subs = [sub(i, cv=0.80 + 0.01 * i, public=0.80 + 0.01 * i) for i in range(6)]
    subs.append(sub(9, cv=0.83, public=0.90))  # public far better than CV says
    fit = cv_vs_public(subs, greater_is_better=True)
    first = fit.disagreements[0]
    assert first.submission_id == 9 and first.residual > 0 and first.public_better_than_predicted
    lower = cv_vs_public(subs, greater_is_better=False).disagreements[0]
    assert not lower.public_better_than_predicted  # for rmse a higher public is worse


def test_too_little_data_gives_none_not_a_crash():
    assert cv_vs_public([], greater_is_better=True).pearson is None
    one = cv_vs_public([sub(1, 0.8, 0.81)], greater_is_better=True)
    assert (one.n, one.slope, one.disagreements) == (1, None, [])
    assert cv_vs_public([sub(1, 0.8, None), sub(2, None, 0.8)], greater_is_better=True).n == 0


def _auc_data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.clip(0.3 * y + rng.normal(0.35, 0.25, n), 0, 1)


def test_public_noise_matches_the_binomial_intuition():
    y, oof = _auc_data()
    small = public_noise(y, oof, n_public=200, score=roc_auc_score, n_boot=300)
    large = public_noise(y, oof, n_public=3200, score=roc_auc_score, n_boot=300)
    assert small.std > 2 * large.std  # 16x the rows: about 4x less noise
    assert small.p05 < roc_auc_score(y, oof) < small.p95
    assert small.n_public == 200 and small.n_boot == 300


@settings(max_examples=20, deadline=None)
@given(st.floats(0, 0.2))
def test_a_bigger_gain_is_less_likely_noise(gain):
    noise = NoiseEstimate(0.8, 0.01, 0.78, 0.82, 1000, 500)
    assert gain_is_noise(gain, noise) >= gain_is_noise(gain + 0.01, noise)
    assert gain_is_noise(0, noise) == pytest.approx(1)


def test_gain_of_one_spread_is_noise_a_third_of_the_time():
    noise = NoiseEstimate(0.8, 0.01, 0.78, 0.82, 1000, 500)
    assert gain_is_noise(0.01 * np.sqrt(2), noise) == pytest.approx(0.3173, abs=1e-3)


def test_shakeup_counts_moves_and_finds_us():
    public = board({"a": 1, "b": 2, "c": 3, "us": 4})
    private = board({"us": 1, "a": 2, "c": 3, "b": 4})
    result = shakeup(public, private, our_team="US")
    assert result.matched == 4 and result.mean_abs_change == pytest.approx((1 + 2 + 0 + 3) / 4)
    assert result.ours.change == 3 and result.risers[0].team == "us"
    assert [m.team for m in result.fallers] == ["b", "a"]


@given(st.permutations(list(range(1, 9))))
def test_identical_boards_do_not_shake(ranks):
    entries = board({f"t{r}": r for r in ranks})
    result = shakeup(entries, entries, our_team=None)
    assert result.spearman == pytest.approx(1) and result.mean_abs_change == 0
    assert result.risers == result.fallers == []


def test_which_predicted_private_better():
    subs = [
        sub(1, cv=0.80, public=0.85, private=0.80),
        sub(2, cv=0.81, public=0.83, private=0.81),
        sub(3, cv=0.82, public=0.84, private=0.82),
        sub(4, cv=0.83, public=0.82, private=0.83),
    ]
    result = cv_predicts_private(subs, greater_is_better=True)
    assert result.verdict == "cv" and result.cv_spearman == pytest.approx(1)
    assert result.public_spearman < 0
    assert cv_predicts_private(subs[:2], greater_is_better=True).verdict == "not enough data"


def test_final_picks_trust_cv_over_a_lucky_public_score():
    subs = [sub(i, cv=0.80 + 0.005 * i, public=0.80 + 0.005 * i) for i in range(6)]
    subs.append(sub(7, cv=0.79, public=0.84))  # a lucky public score on a small public set
    fit = cv_vs_public(subs, greater_is_better=True)
    result = final_picks(subs, greater_is_better=True, noise_std=0.03, fit=fit)
    assert [p.submission_id for p in result.picks] == [5, 7]
    assert [p.role for p in result.picks] == ["trusts CV", "hedge"]
    assert "#7 has the best public score" in result.reasoning[-1]
    assert "probability" in result.reasoning[-1]
    assert "#5 has the best expected private score" in result.reasoning[1]
    assert "the best CV (0.82500)" in result.reasoning[1]
    # The lucky one is shrunk towards what its CV predicts: far below its public 0.84.
    hedge = result.picks[1]
    assert hedge.expected_private < result.picks[0].expected_private < hedge.public


def test_final_picks_for_a_lower_is_better_metric():
    subs = [sub(1, cv=0.30, public=0.31), sub(2, cv=0.20, public=0.21), sub(3, cv=0.25, public=0.2)]
    result = final_picks(subs, greater_is_better=False, noise_std=None, fit=None)
    assert result.picks[0].submission_id in (2, 3) and len(result.picks) == 2


def test_final_picks_with_nothing_scored():
    result = final_picks([sub(1, cv=0.8, status="error")], greater_is_better=True, noise_std=None)
    assert result.picks == [] and "compete sync" in result.reasoning[0]
    single = final_picks([sub(1, cv=0.8, public=0.8)], greater_is_better=True, noise_std=None)
    assert len(single.picks) == 1 and "both picks" in single.reasoning[-1]


@pytest.mark.parametrize(
    ("rank", "teams", "expected"),
    [
        (1, 99, "gold"), (9, 99, "gold"), (10, 99, "silver"),
        (19, 99, "silver"), (39, 99, "bronze"), (40, 99, None),
        (10, 100, "gold"), (11, 100, "silver"), (20, 100, "silver"), (40, 100, "bronze"),
        (41, 100, None),
        (10, 250, "gold"), (11, 250, "silver"), (50, 250, "silver"), (100, 250, "bronze"),
        (101, 250, None),
        (12, 1000, "gold"), (13, 1000, "silver"), (50, 1000, "silver"), (100, 1000, "bronze"),
        (101, 1000, None), (1, 1, None), (2, 1, None),
    ],
)  # fmt: skip
def test_medals_by_team_count(rank, teams, expected):
    # 10% of 99 teams is 9.9: rank 10 is outside the gold cut.
    assert medal(rank, teams) == expected


@given(st.integers(1, 5000), st.data())
def test_medals_only_get_worse_down_the_board(teams, data):
    rank = data.draw(st.integers(1, teams))
    order = {"gold": 0, "silver": 1, "bronze": 2, None: 3}
    worse = min(teams, rank + 1)
    assert order[medal(rank, teams)] <= order[medal(worse, teams)]


def test_percentile():
    assert percentile(1, 200) == 0.5 and percentile(200, 200) == 100
    with pytest.raises(ValueError):
        percentile(0, 10)


def _history(metric, snapshots, submissions):
    from leaderboards.records import CompetitionRecord, History, SnapshotRecord

    competition = CompetitionRecord(1, "c", "kaggle", None, metric, None, T0)
    snaps = [
        SnapshotRecord(i, "c", board, T0, teams, "us", rank, "h")
        for i, (board, rank, teams) in enumerate(snapshots)
    ]
    return History(competition, submissions, snaps, [])


def test_standings_use_the_final_private_rank_and_the_metric_direction():
    subs = [sub(1, public=0.30, private=0.28), sub(2, public=0.25, private=0.31)]
    final = _history("rmse", [("public", 40, 1000), ("private", 12, 1000)], subs)
    ongoing = _history("auc", [("public", 3, 50)], [sub(3, public=0.8), sub(4, public=0.9)])
    rows = standings([final, ongoing], greater_is_better=lambda m: m != "rmse")
    assert (rows[0].board, rows[0].rank, rows[0].medal) == ("private", 12, "gold")
    assert rows[0].best_score == pytest.approx(0.28)  # lower is better for rmse
    assert rows[0].percentile == pytest.approx(1.2)
    assert (rows[1].board, rows[1].medal, rows[1].best_score) == ("public", None, 0.9)
    empty = standings([_history("auc", [], [])], greater_is_better=lambda m: True)
    assert (empty[0].rank, empty[0].percentile, empty[0].best_score) == (None, None, None)


# -- more hand-computed cases and edges --------------------------------------------------------


def test_residuals_are_kept_per_submission_and_constant_series_have_no_correlation():
    subs = [sub(1, 0.80, 0.70), sub(2, 0.90, 0.80), sub(3, 1.00, 0.95)]
    fit = cv_vs_public(subs, greater_is_better=True)
    # Theil-Sen: pairwise slopes 1.0, 1.5, 1.25 -> median 1.25; intercept
    # median(public) - 1.25 * median(cv) = 0.80 - 1.125.
    assert fit.slope == pytest.approx(1.25) and fit.intercept == pytest.approx(-0.325)
    assert fit.residuals == pytest.approx({1: 0.025, 2: 0.0, 3: 0.025})
    flat = cv_vs_public([sub(i, 0.8, 0.7 + 0.01 * i) for i in range(4)], greater_is_better=True)
    assert (flat.pearson, flat.spearman, flat.slope) == (None, None, None)
    two = cv_vs_public([sub(1, 0.8, 0.7), sub(2, 0.9, 0.9)], greater_is_better=True)
    assert two.pearson is None and two.slope == pytest.approx(2) and two.residual_std is None


def test_at_most_five_disagreements_largest_first():
    subs = [sub(i, cv=0.01 * i, public=0.01 * i + (0.001 * i if i % 2 else 0)) for i in range(20)]
    found = cv_vs_public(subs, greater_is_better=True).disagreements
    sizes = [abs(d.residual) for d in found]
    assert len(found) == 5 and sizes == sorted(sizes, reverse=True)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_public_noise_takes_class_probabilities_and_refuses_mismatched_rows():
    y = np.array([0, 1, 2, 1] * 50)
    proba = np.eye(3)[y] * 0.7 + 0.1  # right 70% of the mass on the true class

    def accuracy(t, p):
        return float(np.mean(np.argmax(p, axis=1) == t))

    noise = public_noise(y, proba, n_public=50, score=accuracy, n_boot=50)
    assert noise.mean == 1 and noise.std == 0 and noise.p05 == noise.p95 == 1
    assert gain_is_noise(0.0, noise) == 1 and gain_is_noise(0.01, noise) == 0
    with pytest.raises(ValueError, match="one prediction per row"):
        public_noise(y, proba[:-1], n_public=50, score=accuracy)
    with pytest.raises(ValueError, match="could score only"):
        public_noise(np.zeros(10), np.zeros(10), n_public=5, score=roc_auc_score, n_boot=20)


@settings(max_examples=15, deadline=None)
@given(st.integers(20, 200), st.integers(0, 1000))
def test_public_noise_shrinks_as_the_public_set_grows(n_public, seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=2000)
    oof = y + rng.normal(size=2000)

    def mse(t, p):
        return float(np.mean((t - p) ** 2))

    small = public_noise(y, oof, n_public=n_public, score=mse, n_boot=200, seed=seed)
    large = public_noise(y, oof, n_public=16 * n_public, score=mse, n_boot=200, seed=seed)
    assert large.std < small.std / 2  # sqrt(16) = 4x less noise in expectation


def test_shakeup_falls_back_to_names_and_says_when_we_are_missing():
    public = [RankedEntry(1, "", "a", None, "", None), RankedEntry(2, "", "b", None, "", None)]
    private = [RankedEntry(1, "x", "b", None, "", None), RankedEntry(2, "y", "a", None, "", None)]
    result = shakeup(public, private, our_team="nobody")
    assert result.matched == 2 and result.ours is None and result.spearman is None
    assert [(m.team, m.change) for m in result.risers + result.fallers] == [("b", 1), ("a", -1)]
    assert shakeup(public, private, our_team="a").ours.private_rank == 2
    empty = shakeup([], private, our_team="a")
    assert (empty.matched, empty.spearman, empty.mean_abs_change, empty.ours) == (
        0,
        None,
        None,
        None,
    )


def test_shakeup_finds_us_by_team_id_and_keeps_five_of_each():
    public = board({f"t{i}": i for i in range(1, 13)})
    private = board({f"t{i}": 13 - i for i in range(1, 13)})  # the board turned upside down
    result = shakeup(public, private, our_team="T3")
    assert result.spearman == pytest.approx(-1) and len(result.risers) == len(result.fallers) == 5
    assert result.risers[0].team == "t12" and result.risers[0].change == 11
    assert result.fallers[0].team == "t1" and result.fallers[0].change == -11
    assert (result.ours.public_rank, result.ours.private_rank, result.ours.change) == (3, 10, -7)


def test_private_prediction_public_wins_and_missing_scores_do_not_count():
    subs = [
        sub(1, cv=0.83, public=0.80, private=0.80),
        sub(2, cv=0.82, public=0.81, private=0.81),
        sub(3, cv=0.81, public=0.82, private=0.82),
        sub(4, cv=0.84, public=None, private=0.70),
        sub(5),
    ]
    result = cv_predicts_private(subs, greater_is_better=True)
    assert (result.n, result.verdict) == (3, "public")
    assert result.cv_spearman == pytest.approx(-1) and result.public_spearman == pytest.approx(1)
    same = [sub(i, cv=0.8 + i, public=0.8 + i, private=0.8 + i) for i in range(3)]
    assert cv_predicts_private(same, greater_is_better=False).verdict == "tie"
    assert cv_predicts_private([sub(1), sub(2), sub(3)], greater_is_better=True).n == 0


def test_final_picks_weigh_cv_and_public_by_their_variances():
    # CV predicts public exactly for four submissions and misses #5 by 0.02 -> robust residual
    # std 1.4826 * MAD. With public noise std 0.01: v_cv = max(r^2 - 0.0001, 0.00001).
    subs = [sub(i, cv=0.80 + 0.01 * i, public=0.80 + 0.01 * i) for i in range(1, 5)]
    subs.append(sub(5, cv=0.85, public=0.83))
    subs.append(sub(6, cv=0.81, public=0.80, status="pending"))  # not a candidate
    fit = cv_vs_public(subs, greater_is_better=True)
    result = final_picks(subs, greater_is_better=True, noise_std=0.01, fit=fit)
    r = fit.residual_std
    cv_var = max(r**2 - 0.01**2, 0.01**2 / 10)
    w = 0.01**2 / (0.01**2 + cv_var)
    assert result.cv_weight == pytest.approx(w) and result.noise_source == "bootstrap"
    five = next(p for p in result.picks if p.submission_id == 5)
    assert five.expected_private == pytest.approx(w * fit.predict(0.85) + (1 - w) * 0.83)
    assert result.picks[0].submission_id == 5  # its CV 0.85 outweighs a public 0.02 short
    assert (
        result.picks[1].submission_id == 4
        and "best public score (0.84000)" in (result.reasoning[-1])
    )
    assert "2.0 noise stds (0.01000) worse than CV predicts" in result.reasoning[1]


def test_final_picks_without_a_noise_estimate_use_the_residuals():
    subs = [
        sub(i, cv=0.80 + 0.01 * i, public=0.80 + 0.01 * i + 0.002 * (-1) ** i) for i in range(6)
    ]
    result = final_picks(subs, greater_is_better=True, noise_std=None)  # fits the line itself
    fit = cv_vs_public(subs, greater_is_better=True)
    assert result.noise_source == "residuals" and result.cv_weight == 0.5
    assert result.noise_std == pytest.approx(fit.residual_std / np.sqrt(2))
    assert "No bootstrap noise estimate" in result.reasoning[0]


def test_when_the_best_expected_is_also_best_public_the_hedge_is_the_next_best_cv():
    subs = [
        sub(1, cv=0.90, public=0.90),
        sub(2, cv=0.85, public=0.70),
        sub(3, cv=0.80, public=0.85),
    ]
    result = final_picks(subs, greater_is_better=True, noise_std=None, fit=None)
    assert [p.submission_id for p in result.picks] == [1, 2]
    assert "best remaining CV (0.85000)" in result.reasoning[-1]
    no_cv = [sub(1, public=0.3), sub(2, public=0.2), sub(3, public=0.25)]
    lower = final_picks(no_cv, greater_is_better=False, noise_std=0.01)
    assert [p.submission_id for p in lower.picks] == [2, 3]
    assert [p.expected_private for p in lower.picks] == [0.2, 0.25]
    assert "no CV" in lower.reasoning[1] and lower.noise_source == "bootstrap"


def test_final_picks_with_none_everywhere():
    nothing = [sub(1), sub(2, cv=0.8), sub(3, public=None, private=0.9)]
    assert final_picks(nothing, greater_is_better=True, noise_std=None).picks == []
    assert final_picks([], greater_is_better=False, noise_std=0.1).picks == []


@pytest.mark.parametrize(
    ("teams", "gold", "silver", "bronze"),
    [
        (10, 1, 2, 4), (99, 9, 19, 39), (100, 10, 20, 40), (249, 10, 49, 99),
        (250, 10, 50, 100), (500, 11, 50, 100), (999, 11, 50, 100), (1000, 12, 50, 100),
        (5000, 20, 250, 500),
    ],
)  # fmt: skip
def test_the_last_rank_of_each_medal(teams, gold, silver, bronze):
    # Kaggle rounds percentage cut-offs down (kaggle.com/progression).
    assert medal(gold, teams) == "gold" and medal(gold + 1, teams) == "silver"
    assert medal(silver, teams) == "silver" and medal(silver + 1, teams) == "bronze"
    assert medal(bronze, teams) == "bronze" and medal(bronze + 1, teams) is None


def test_percentile_ends_and_bad_input():
    assert percentile(1, 1) == 100 and percentile(1, 1000) == 0.1
    assert medal(0, 10) is None and medal(11, 10) is None and medal(1, 0) is None
    with pytest.raises(ValueError):
        percentile(1, 0)


def test_public_gains_are_measured_against_the_best_so_far():
    from leaderboards.analysis import public_gains

    subs = [sub(1, public=0.80), sub(2, public=0.79), sub(3, public=0.85), sub(4, public=0.851)]
    noise = NoiseEstimate(0.8, 0.01, 0.78, 0.82, 1000, 500)
    gains = public_gains(subs, greater_is_better=True, noise=noise)
    assert [g.submission_id for g in gains] == [2, 3, 4]
    assert [round(g.gain, 3) for g in gains] == [-0.01, 0.05, 0.001]
    assert gains[1].p_noise < 0.001 < 0.9 < gains[2].p_noise  # 0.05 is real, 0.001 is noise
    lower = public_gains(subs[:2], greater_is_better=False, noise=None)
    assert lower[0].gain == pytest.approx(0.01) and lower[0].p_noise is None
