"""The portfolio's schedule on a scripted clock: real LightGBM fits (a few trees on a churn
sample) registered as families whose every fold costs a fixed number of seconds on a fake
clock, so budgets, skips and the order of steps are exact and repeat; and the ensemble's
choice between hill climbing and the stacker on OOF predictions made to favour each."""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

import pipelines.models as models
from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError
from pipelines.metrics import get_metric
from pipelines.models import Fitted, FoldData
from pipelines.models.lgbm import FAMILY as LGBM
from pipelines.portfolio import ensemble, run_portfolio
from pipelines.result import CVResult


class FakeClock:
    """Seconds that pass only when a fit says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Clocked:
    """LightGBM with `trees` trees (row-subsampled, so seeds differ) registered as `name`; each
    fit costs `cost` seconds on `clock`, cut at a deadline on that clock, as a real fit is."""

    tasks = ("binary", "multiclass", "regression")
    epoch_callbacks = False
    min_budget = 1.0

    def __init__(
        self, name: str, clock: FakeClock, cost: float, trees: int = 20, per_leaf: bool = False
    ) -> None:
        self.name, self.clock, self.cost, self.trees = name, clock, cost, trees
        # Tuned settings cost other than the defaults: fewer leaves, slower (more trees).
        self.per_leaf = per_leaf
        self.description = f"LightGBM with {trees} trees, {cost:g}s a fold"
        self.members = (name,)

    def default_params(self) -> dict[str, Any]:
        return {"n_estimators": self.trees, "subsample": 0.7, "subsample_freq": 1}

    def check_params(self, params: Mapping[str, Any] | None) -> None:
        return None

    def search_space(self, trial: Any) -> dict[str, Any]:
        return {"num_leaves": trial.suggest_int("num_leaves", 4, 31, log=True)}

    def fit_fold(
        self,
        fold: FoldData,
        params: Mapping[str, Any] | None,
        *,
        seed: int,
        device: str,
        deadline: Deadline,
        callbacks: Sequence[Any] = (),
    ) -> Fitted:
        settings = {**self.default_params(), **(params or {})}
        fitted = LGBM.fit_fold(fold, settings, seed=seed, device=device, deadline=Deadline.never())
        spend = self.fold_cost(params)
        if deadline.bounded and deadline.clock is self.clock:
            spend = min(spend, max(deadline.remaining(), 0.0))
        self.clock.advance(spend)
        return Fitted(fitted, {self.name: fitted.members["lgbm"]})

    def fold_cost(self, params: Mapping[str, Any] | None) -> float:
        leaves = (params or {}).get("num_leaves", 16) if self.per_leaf else 16
        return self.cost * 16 / leaves

    def predict(self, fitted: Fitted, X: Any) -> dict[str, np.ndarray]:
        return {self.name: LGBM.predict(fitted.state, X)["lgbm"]}

    def result_params(self, members: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        return members[self.name]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def register(monkeypatch):
    """Register families for this test, as a family module registers itself."""

    def add(family: Any, module: str | None = None) -> None:
        if module is None:
            module = f"portfolio_test_family_{family.name}"
            holder = types.ModuleType(module)
            holder.FAMILY = family  # type: ignore[attr-defined]
            monkeypatch.setitem(sys.modules, module, holder)
        name = family if isinstance(family, str) else family.name
        monkeypatch.setitem(models._MODULES, name, module)
        monkeypatch.setitem(models.FAMILIES._modules, name, module)  # type: ignore[attr-defined]

    return add


@pytest.fixture(scope="module")
def churn_data(prepared_churn):
    return prepared_churn(900, 600, 3)


def _families(register, clock: FakeClock) -> list[str]:
    register(Clocked("fast", clock, cost=1.0))
    register(Clocked("medium", clock, cost=3.0, trees=40))
    register(Clocked("slow", clock, cost=200.0))
    # A family whose library is not installed: its module cannot be imported.
    register("missing", module="pipelines.models.no_such_library_family")
    return ["fast", "medium", "slow", "missing"]


def _run(data, folds, clock, names, budget: float, **kwargs):
    return run_portfolio(
        data, metric="auc", folds=folds, deadline=Deadline.after(budget, clock),
        families=names, seed=0, device="cpu", **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("budget", [12.0, 40.0, 150.0])
def test_the_schedule_never_exceeds_its_budget(churn_data, clock, register, budget):
    data, folds = churn_data
    names = _families(register, clock)
    started = clock.now
    steps = []
    result = _run(data, folds, clock, names, budget, on_step=steps.append)
    assert clock.now - started <= budget
    log = "\n".join(result.log)
    assert "missing: skipped, it cannot be loaded (ModuleNotFoundError" in log
    # The slow family's probe is cut at its share; a full CV of it can never fit.
    assert "slow: defaults skipped" in log
    assert {m.family for m in result.members} <= {"fast", "medium"}
    assert result.members and result.members[0].family == "fast"
    assert sum(m.weight for m in result.members) == pytest.approx(1.0)
    assert 0.5 < result.result.mean <= 1 and len(result.result.test_predictions) == len(data.X_test)
    # Progress: every step says what runs and how long is left, and time only runs down.
    remaining = [s.remaining for s in steps]
    assert remaining == sorted(remaining, reverse=True) and steps[-1].member == "portfolio"


def test_a_longer_budget_tunes_the_leaders_and_bags_seeds(churn_data, clock, register):
    data, folds = churn_data
    names = _families(register, clock)
    result = _run(data, folds, clock, names, 150.0)
    kinds = {(m.family, m.kind) for m in result.members}
    assert ("fast", "tuned") in kinds and ("fast", "defaults") in kinds
    assert any(len(m.seeds) > 1 for m in result.members), result.log
    bagged = next(m for m in result.members if len(m.seeds) > 1)
    assert bagged.seeds == tuple(range(len(bagged.seeds)))
    # A short budget buys no study: the log says why.
    short = _run(data, folds, clock, ["fast"], 12.0)
    assert any("not tuned" in line for line in short.log)


def test_seeds_of_a_tuned_member_are_planned_on_its_own_cost(churn_data, clock, register):
    """Tuned settings may cost more than the defaults: a seed planned on the defaults' time
    would be cut before its trees converged and pull the average down."""
    data, folds = churn_data
    pricey = Clocked("pricey", clock, cost=1.0, per_leaf=True)
    register(pricey)
    started = clock.now
    result = _run(data, folds, clock, ["pricey"], 300.0)
    # Optuna's timeout runs on the budget's clock too: trials dearer than planned stop in time.
    assert clock.now - started <= 300.0
    tuned = next(m for m in result.members if m.kind == "tuned")
    assert len(tuned.seeds) > 1 and pricey.fold_cost(tuned.params) > 1.5, result.log
    full = pricey.fold_cost(tuned.params) * 3
    seeds = [line for line in result.log if line.split("] ")[1].startswith("pricey_tuned: seed")]
    assert seeds and all(f" in {full:.1f}s, " in line for line in seeds), (full, seeds)


def test_level_two_learns_from_the_members_out_of_fold_predictions(churn_data, clock, register):
    """LightGBM on the features and the members' OOF predictions runs in time kept back for
    it, on the same folds, and joins the ensemble's candidates; within the budget."""
    data, folds = churn_data
    register(Clocked("lgbm", clock, cost=1.0, trees=40))
    register(Clocked("medium", clock, cost=2.0, trees=40))
    started = clock.now
    result = _run(data, folds, clock, ["lgbm", "medium"], 60.0, tuning=False)
    assert clock.now - started <= 60.0
    level2 = next(m for m in result.members if m.kind == "level2")
    assert level2.name == "lgbm_l2" and level2.seeds == (0,)
    np.testing.assert_array_equal(level2.result.folds, folds)
    assert level2.result.raw_oof.shape == (len(data.y),)
    assert len(level2.result.raw_test) == len(data.X_test)
    log = "\n".join(result.log)
    assert "level 2: 3.0s kept for lgbm" in log  # LightGBM's CV: 3 folds x 1 s
    assert "level 2: lgbm_l2 on lgbm, medium: CV" in log
    # It runs before the seeds, which get the time it kept and did not use.
    lines = [line.split("] ", 1)[1] for line in result.log]
    stacked = next(i for i, line in enumerate(lines) if line.startswith("level 2: lgbm_l2"))
    seeded = [i for i, line in enumerate(lines) if ": seed " in line]
    assert seeded and min(seeded) > stacked, result.log
    # Its inputs: the features and one column per member (binary), named after the member.
    from pipelines.portfolio import _level2_data

    inputs = [m for m in result.members if m.kind == "defaults"]
    extended = _level2_data(data, inputs)
    assert list(extended.X.columns[-2:]) == ["level1__lgbm__0", "level1__medium__0"]
    assert list(extended.X_test.columns) == list(extended.X.columns)
    # Off: no level 2.
    off = _run(data, folds, clock, ["lgbm", "medium"], 60.0, tuning=False, level2=False)
    assert all(m.kind != "level2" for m in off.members)
    # Dear: at most 30 % of the time left after LightGBM is kept, and level 2 is cut there.
    register(Clocked("lgbm", clock, cost=8.0, trees=40))
    started = clock.now
    dear = _run(data, folds, clock, ["lgbm", "medium"], 80.0, tuning=False)
    assert clock.now - started <= 80.0
    # 80 s less the ensemble's 4 % is 76.8 s; LightGBM took 24 s: 0.3 x 52.8 s is kept.
    assert any("level 2: 15.8s kept for lgbm" in line for line in dear.log), dear.log
    assert any("lgbm_l2 on lgbm" in line and "cut at its deadline" in line for line in dear.log)


def test_same_seed_and_clock_script_give_the_same_schedule(churn_data, register):
    data, folds = churn_data
    runs = []
    for _ in range(2):
        clock = FakeClock()
        names = _families(register, clock)
        runs.append(_run(data, folds, clock, names, 100.0))
    first, second = runs
    # Every step of the schedule is in the replay: probes, defaults, a study, seeds.
    assert {m.kind for m in first.members} == {"defaults", "tuned"}
    assert any(len(m.seeds) > 1 for m in first.members)
    assert first.log == second.log
    assert [m.summary() for m in first.members] == [m.summary() for m in second.members]
    np.testing.assert_array_equal(first.result.raw_test, second.result.raw_test)


def test_a_gated_family_runs_only_when_its_probe_beats_its_rival(churn_data, clock, register):
    data, folds = churn_data
    register(Clocked("fast", clock, cost=1.0, trees=60))
    register(Clocked("stub", clock, cost=1.0, trees=1))  # one tree: a worse probe
    names = ["fast", "stub"]
    held = _run(data, folds, clock, names, 40.0, gates={"stub": ("stub", "fast")})
    assert "stub" not in {m.family for m in held.members}
    assert any("stub: not scheduled, its stub probe" in line for line in held.log)
    # The other way round, the gated family beats its rival and is scheduled.
    let = _run(data, folds, clock, names, 40.0, gates={"fast": ("fast", "stub")})
    assert "fast" in {m.family for m in let.members}
    assert any("fast: scheduled, its fast probe" in line for line in let.log)


class Unsampled(Clocked):
    """Clocked without row subsampling: another seed fits the same model, so no seeds are
    averaged into its member."""

    def default_params(self) -> dict[str, Any]:
        return {"n_estimators": self.trees}


def test_a_gate_probe_trains_in_the_metrics_target_space(diamonds, clock, register):
    """RMSLE trains on log1p(price): the gated family's probe on the first fold must be the
    very model its full CV fits on that fold, so the gate compares like with like."""
    from pipelines.features import prepare_frames
    from pipelines.folds import make_folds

    sample = diamonds.iloc[:700]
    data = prepare_frames(
        sample.iloc[:500], sample.iloc[500:].drop(columns="price"), target="price",
        id_column="rownames",
    )  # fmt: skip
    folds = make_folds(data.y, task=data.task, n_splits=3, seed=0)
    register(Clocked("stub", clock, cost=1.0, trees=1))
    register(Unsampled("fast", clock, cost=1.0, trees=60))
    result = run_portfolio(
        data, metric="rmsle", folds=folds, deadline=Deadline.after(40.0, clock),
        families=["stub", "fast"], seed=0, device="cpu", tuning=False,
        gates={"fast": ("fast", "stub")},
    )  # fmt: skip
    line = next(line for line in result.log if "fast: scheduled, its fast probe" in line)
    probe = float(line.split("probe ")[1].split()[0])
    gated = next(m for m in result.members if m.name == "fast")
    assert probe == pytest.approx(gated.result.fold_scores[0], abs=1e-5)


class LibraryMissing(Clocked):
    """A family that loads but whose library is missing when it fits, as a lazy import is."""

    def fit_fold(self, fold: FoldData, params: Any, **kwargs: Any) -> Fitted:
        import no_such_boosting_library  # noqa: F401

        raise AssertionError("unreachable")


def test_no_family_that_can_be_probed_is_a_clear_error(churn_data, clock, register):
    data, folds = churn_data
    register("missing", module="pipelines.models.no_such_library_family")
    register(LibraryMissing("lazy", clock, cost=1.0))
    with pytest.raises(PipelinesError, match="No model family could be probed"):
        _run(data, folds, clock, ["missing", "lazy"], 30.0)
    register(Clocked("fast", clock, cost=1.0))
    result = _run(data, folds, clock, ["lazy", "fast"], 30.0)
    assert [m.family for m in result.members] == ["fast"]
    assert any(
        "lazy: skipped, its probe failed (ModuleNotFoundError: No module named" in line
        for line in result.log
    )
    with pytest.raises(PipelinesError, match="Unknown model 'nope'"):
        _run(data, folds, clock, ["nope"], 30.0)
    with pytest.raises(PipelinesError, match="bounded deadline"):
        run_portfolio(data, metric="auc", folds=folds, deadline=Deadline.never())


def _member(
    name: str, raw: np.ndarray, folds: np.ndarray, metric: str = "rmse", task: str = "regression"
) -> Any:
    from pipelines.portfolio import Member

    result = CVResult(
        model=name, metric=metric, task=task, oof=raw, test_predictions=raw[:10],
        test_ids=np.arange(10), classes=None, fold_scores=[0.0], params={}, fit_seconds=1.0,
        device="cpu", seed=0, n_folds=int(folds.max()) + 1, folds=folds, raw_oof=raw,
        raw_test=raw[:10],
    )  # fmt: skip
    return Member(name, name, "defaults", {}, (0,), 0.0, 1.0, result)


def test_the_stacker_is_used_only_when_its_oof_beats_hill_climbing():
    rng = np.random.default_rng(0)
    n = 600
    folds = np.arange(n) % 5
    rmse = get_metric("rmse")
    a, b = rng.normal(size=n), rng.normal(size=n)
    # The target is a difference: no blend with non-negative weights gets near it, a linear
    # stacker does.
    y = a - b + rng.normal(scale=0.05, size=n)
    chosen = ensemble([_member("a", a, folds), _member("b", b, folds)], y, rmse, seed=0)
    assert chosen.method == "stack" and chosen.stack_score < chosen.hill_score
    assert chosen.result.mean == pytest.approx(chosen.stack_score)
    assert sum(chosen.weights.values()) == pytest.approx(1.0)
    # One member is the target itself: hill climbing is perfect and the stacker cannot win.
    chosen = ensemble([_member("exact", y, folds), _member("noise", a, folds)], y, rmse, seed=0)
    assert chosen.method == "hill" and chosen.stack_score is not None
    assert not rmse.is_better(chosen.stack_score, chosen.hill_score)
    assert chosen.result.mean == pytest.approx(chosen.hill_score)
    assert chosen.weights == {"exact": 1.0, "noise": 0.0}


def test_a_log_loss_blend_is_temperature_scaled_when_that_helps():
    """Two calibrated members whose errors differ: their average is flatter than the truth,
    and one temperature below 1 on the blend's OOF (cross-fitted) lowers the log loss."""
    from pipelines.blend import blend_results

    rng = np.random.default_rng(0)
    n = 3000
    folds = np.arange(n) % 5
    logit = rng.normal(scale=3.0, size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    # Each member sees the logit through its own noise: calibrated alone, flat on average.
    a, b = (1 / (1 + np.exp(-(logit + rng.normal(scale=2.0, size=n)) / 1.6)) for _ in "ab")
    members = [_member(m, p, folds, "logloss", "binary") for m, p in (("a", a), ("b", b))]
    logloss = get_metric("logloss")
    runs = [m.result for m in members]
    _, plain = blend_results(runs, y, metric=logloss, model="portfolio", temperature=False)
    chosen = ensemble(members, y, logloss, seed=0, stack_ok=False)
    assert plain.temperature == 1.0 and chosen.result.temperature < 1
    # The scaling belongs to the blend itself, so `compete blend` gets it too.
    _, blended = blend_results(runs, y, metric=logloss, model="portfolio")
    assert blended.temperature == pytest.approx(chosen.result.temperature)
    assert blended.mean == pytest.approx(chosen.result.mean)
    assert chosen.hill_score < plain.mean - 0.001
    assert chosen.result.mean == pytest.approx(chosen.hill_score)
    scaled = chosen.result.test_predictions
    assert scaled.shape == (10,) and np.all((scaled > 0) & (scaled < 1))
    # Sharper on the test rows too: further from 1/2 than the plain blend's.
    assert np.all(np.abs(scaled - 0.5) >= np.abs(plain.test_predictions - 0.5) - 1e-12)
    # A regression blend has no temperature.
    assert ensemble(members[:1], logit, get_metric("rmse"), seed=0).result.temperature == 1.0


class Ticking(FakeClock):
    """A clock that moves `step` seconds each time it is read: every fit takes time."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_the_stacker_is_left_out_when_its_fits_would_not_end_in_time():
    """The stacker is not under any member's deadline: its first fold's fit times the rest,
    and when they would run past the portfolio's deadline hill climbing is kept."""
    rng = np.random.default_rng(0)
    n = 600
    folds = np.arange(n) % 5
    rmse = get_metric("rmse")
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = a - b + rng.normal(scale=0.05, size=n)  # the stacker would win (test above)
    members = [_member("a", a, folds), _member("b", b, folds)]
    # Each clock read moves 1 s: the first fit "takes" 1 s, so 5 more need 5 s of the 4 left.
    clock = Ticking(1.0)
    late = ensemble(members, y, rmse, seed=0, deadline=Deadline.after(6.0, clock))
    assert late.method == "hill" and late.stack_score is None
    roomy = ensemble(members, y, rmse, seed=0, deadline=Deadline.after(60.0, Ticking(1.0)))
    assert roomy.method == "stack"


@pytest.mark.parametrize(
    ("target", "metric"), [("price", "rmse"), ("cut", "accuracy"), ("cut", "multiclass_logloss")]
)
def test_every_task_gets_an_ensemble_of_its_own_kind(diamonds, clock, register, target, metric):
    from pipelines.features import prepare_frames
    from pipelines.folds import make_folds

    sample = diamonds.iloc[:700]
    data = prepare_frames(
        sample.iloc[:500], sample.iloc[500:].drop(columns=target), target=target,
        id_column="rownames",
    )  # fmt: skip
    folds = make_folds(data.y, task=data.task, n_splits=3, seed=0)
    register(Clocked("fast", clock, cost=1.0))
    register(Clocked("medium", clock, cost=2.0, trees=40))
    started = clock.now
    result = run_portfolio(
        data, metric=metric, folds=folds, deadline=Deadline.after(40.0, clock),
        families=["fast", "medium"], seed=0, device="cpu",
    )  # fmt: skip
    assert clock.now - started <= 40.0
    final = result.result
    assert final.task == data.task and len(final.test_predictions) == len(data.X_test)
    if data.task == "multiclass":
        assert final.raw_test.shape == (len(data.X_test), len(data.classes))
    chosen = result.stack_score if result.method == "stack" else result.hill_score
    assert final.mean == pytest.approx(chosen)
    assert sum(m.weight for m in result.members) == pytest.approx(1.0)


def test_time_no_full_step_fits_goes_to_the_cheapest_skipped_family(churn_data, clock, register):
    """A large table's slow family cannot run whole, and seeds leave time over: the slow
    family runs in it, cut at the deadline, rather than the budget going unused."""
    data, folds = churn_data
    register(Clocked("fast", clock, cost=1.0))
    register(Clocked("slow", clock, cost=30.0))
    started = clock.now
    result = _run(data, folds, clock, ["fast", "slow"], 60.0, tuning=False)
    assert clock.now - started <= 60.0
    log = "\n".join(result.log)
    assert "slow: defaults skipped after its first fold" in log
    assert "slow: defaults CV" in log and "left, cut at its deadline" in log, log
    assert {m.family for m in result.members} == {"fast", "slow"}
    # Nothing more to run: what is left is the ensemble's reserve and less than a fill.
    assert clock.now - started > 60.0 * (1 - 0.15)


class Filling(Clocked):
    """A family that plans its fit to end near the deadline it is given, as RealMLP sizes its
    epochs: every fold takes most of its share, whatever the share."""

    fills_deadline = True

    def fold_cost(self, params: Mapping[str, Any] | None) -> float:
        return 1e9

    def fit_fold(
        self,
        fold: FoldData,
        params: Mapping[str, Any] | None,
        *,
        seed: int,
        device: str,
        deadline: Deadline,
        callbacks: Sequence[Any] = (),
    ) -> Fitted:
        planned = Deadline.after(0.85 * deadline.remaining(), self.clock)
        return super().fit_fold(fold, params, seed=seed, device=device, deadline=planned)


@pytest.mark.parametrize("budget, most", [(1000.0, 0.35 * 1000.0), (200.0, 0.9 * 200.0)])
def test_a_family_that_fills_its_deadline_gets_a_capped_step(
    churn_data, clock, register, budget, most
):
    """On a long budget such a family would take 90 % of what is left for little gain: its
    defaults take at most 35 % of the budget (at least 180 s, so short budgets keep their
    schedule), and the rest goes to tuning and seeds."""
    data, folds = churn_data
    # The filling family is the stronger one, so its first fold earns weight in the blend.
    register(Clocked("fast", clock, cost=1.0, trees=2))
    register(Filling("filling", clock, cost=0.0, trees=60))
    started = clock.now
    result = _run(data, folds, clock, ["fast", "filling"], budget, tuning=False)
    assert clock.now - started <= budget
    step = next(line for line in result.log if "filling: defaults CV" in line)
    seconds = float(step.rsplit(" in ", 1)[1].rstrip("s"))
    assert 0.6 * most < seconds <= most, result.log


class Noise(Clocked):
    """A family whose predictions are noise: it adds nothing to any ensemble."""

    def predict(self, fitted: Fitted, X: Any) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(len(X))
        return {self.name: rng.uniform(0.0, 1.0, len(X))}


def test_a_dear_family_that_adds_nothing_on_its_first_fold_stops_there(churn_data, clock, register):
    """Its first fold's predictions earn no weight in a hill climb with the members' on that
    fold: a whole CV of it (more than NO_GAIN_SHARE of the time left) would buy nothing, and
    the time goes to the members that count."""
    data, folds = churn_data
    register(Clocked("fast", clock, cost=1.0, trees=40))
    register(Noise("noise", clock, cost=10.0))
    started = clock.now
    result = _run(data, folds, clock, ["fast", "noise"], 100.0, tuning=False, level2=False)
    assert clock.now - started <= 100.0
    lines = [line.split("] ", 1)[1] for line in result.log]
    stopped = next(i for i, line in enumerate(lines) if line.startswith("noise: defaults stopped"))
    assert "after its first fold (10.0s" in lines[stopped]
    assert "earns no weight in a blend with the members on that fold" in lines[stopped]
    # The time saved went to the member that counts, before the fill tried the skipped one.
    fast_seeds = [i for i, line in enumerate(lines) if line.startswith("fast: seed")]
    assert len(fast_seeds) == 4 and min(fast_seeds) > stopped, result.log
    assert all(m.weight == 0 for m in result.members if m.family == "noise")
    # Cheap (a whole CV within NO_GAIN_SHARE of the time left), the same family runs whole:
    # a first fold of a small table is too noisy to judge by when judging saves little.
    register(Noise("noise", clock, cost=1.0))
    cheap = _run(data, folds, clock, ["fast", "noise"], 100.0, tuning=False, level2=False)
    assert not any("noise: defaults stopped" in line for line in cheap.log)
    assert any("noise: defaults CV" in line for line in cheap.log)


def test_seeds_go_first_to_the_members_the_ensemble_weighs(churn_data, clock, register):
    """A seed takes w^2 / (n (n + 1)) of variance out of the ensemble: a member without
    weight gets seeds only once those with weight are done."""
    data, folds = churn_data
    # The first family always runs whole: noise becomes a member without weight.
    register(Noise("noise", clock, cost=1.0))
    register(Clocked("fast", clock, cost=1.0, trees=40))
    result = _run(data, folds, clock, ["noise", "fast"], 100.0, tuning=False, level2=False)
    lines = [line.split("] ", 1)[1] for line in result.log]
    fast = [i for i, line in enumerate(lines) if line.startswith("fast: seed")]
    noise = [i for i, line in enumerate(lines) if line.startswith("noise: seed")]
    assert len(fast) == 4 and noise and max(fast) < min(noise), result.log
    weights = {m.name: m.weight for m in result.members}
    assert weights["fast"] == 1.0 and weights["noise"] == 0.0
