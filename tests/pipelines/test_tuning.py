"""Optuna tuning on a journal file: trials, resume, seeded sampling, pruning, timeouts, failures."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pytest

from pipelines.errors import PipelinesError
from pipelines.gbdt import lgbm_space
from pipelines.tuning import SPACES, describe_storage, nn_space, open_storage, tune

# Few trees keep a trial near a second on a shared two-core machine.
QUICK = {"n_estimators": 40, "n_jobs": 1, "early_stopping_rounds": 10}


@pytest.fixture(scope="module")
def tiny(prepared_churn):
    return prepared_churn(800, 600, random_state=5)


def _tune(tiny, **kwargs):
    data, folds = tiny
    kwargs.setdefault("params", QUICK)
    return tune(data, model="lgbm", metric="auc", folds=folds, **kwargs)


def test_trials_run_and_a_resume_adds_to_the_same_study(tiny, tmp_path):
    journal = tmp_path / "studies" / "churn.log"
    first = _tune(tiny, study_name="churn-lgbm", n_trials=3, storage=journal)
    assert first.n_trials == 3 and first.n_run == 3 and first.n_complete == 3
    assert first.storage == f"journal:{journal}" and journal.is_file()
    assert first.best.mean == pytest.approx(first.best_value)
    assert first.best_params["n_estimators"] == 40  # the fixed params are kept with the sampled
    assert set(lgbm_space(optuna.trial.FixedTrial(first.trials[0].params))) <= set(
        first.best_params
    )

    again = _tune(tiny, study_name="churn-lgbm", n_trials=5, storage=str(journal))
    assert again.n_trials == 5 and again.n_run == 2
    assert [t.number for t in again.trials] == [0, 1, 2, 3, 4]
    assert again.best_value >= first.best_value
    # A spent budget runs nothing more.
    done = _tune(tiny, study_name="churn-lgbm", n_trials=5, storage=str(journal))
    assert done.n_run == 0 and done.n_trials == 5

    study = optuna.load_study(study_name="churn-lgbm", storage=open_storage(str(journal)))
    for trial in study.trials:
        assert trial.user_attrs["cv"]["fold_scores"]
        assert trial.user_attrs["params"]["n_estimators"] == 40
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert all(len(t.user_attrs["cv"]["fold_scores"]) == 3 for t in complete)
    assert all(
        t.value == pytest.approx(np.mean(t.user_attrs["cv"]["fold_scores"])) for t in complete
    )


def test_seeded_sampling_repeats_its_first_params(tiny):
    runs = [_tune(tiny, study_name="s", n_trials=2, seed=seed) for seed in (7, 7, 8)]
    params = [[t.params for t in run.trials] for run in runs]
    assert params[0] == params[1]
    assert params[0] != params[2]
    assert runs[0].best_value == runs[1].best_value


def test_the_pruner_stops_poor_trials_after_a_fold(tiny):
    seen = []
    result = _tune(
        tiny,
        study_name="pruned",
        n_trials=10,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        on_trial=seen.append,
    )
    assert result.n_pruned >= 1 and result.n_complete + result.n_pruned == 10
    assert [s.number for s in seen] == list(range(10))
    pruned = [s for s in seen if s.state == "PRUNED"]
    assert pruned and all(s.value is None for s in pruned)
    print(f"pruned {result.n_pruned} of 10 trials")


def test_a_timeout_stops_starting_trials(tiny):
    started = time.monotonic()
    result = _tune(tiny, study_name="timed", timeout=2.0)
    elapsed = time.monotonic() - started
    longest = max(t.seconds for t in result.trials)
    assert result.n_run >= 1
    # The last trial may start just before the deadline; nothing starts after it.
    assert elapsed < 2.0 + longest + 5.0
    assert all(t.state in ("COMPLETE", "PRUNED") for t in result.trials)


def test_past_the_timeout_a_running_trial_stops_at_its_next_fold(tiny, tmp_path):
    """The first trial runs to the end even past the timeout (the study needs a result); a
    later trial that the timeout overtakes is pruned after one fold instead of running on."""

    def slow_second_trial(trial):
        if trial.number == 1:
            time.sleep(3.0)  # the timeout passes while this trial is being set up
        return lgbm_space(trial)

    def slow_first_trial(trial):
        time.sleep(3.0)
        return lgbm_space(trial)

    journal = str(tmp_path / "timed.log")
    result = _tune(
        tiny, study_name="overtaken", timeout=2.0, space=slow_second_trial, storage=journal
    )
    assert [t.state for t in result.trials] == ["COMPLETE", "PRUNED"]
    assert result.n_complete == 1 and result.best_value == result.trials[0].value
    study = optuna.load_study(study_name="overtaken", storage=open_storage(journal))
    stopped = study.trials[1]
    assert stopped.user_attrs["stopped"] == "timeout"
    assert len(stopped.user_attrs["cv"]["fold_scores"]) == 1

    alone = _tune(tiny, study_name="first", timeout=1.0, space=slow_first_trial)
    assert [t.state for t in alone.trials] == ["COMPLETE"]
    assert alone.best.fold_scores and len(alone.best.fold_scores) == 3


def test_a_failing_trial_is_recorded_and_raised(tiny, tmp_path):
    journal = tmp_path / "fail.log"
    with pytest.raises(Exception, match="num_leaves"):
        _tune(
            tiny,
            study_name="broken",
            n_trials=2,
            storage=journal,
            space=lambda trial: {"num_leaves": trial.suggest_int("num_leaves", -5, -2)},
        )
    study = optuna.load_study(study_name="broken", storage=open_storage(str(journal)))
    assert [t.state.name for t in study.trials] == ["FAIL"]


def test_a_study_of_another_direction_is_refused(tiny, tmp_path):
    journal = tmp_path / "dir.log"
    data, folds = tiny
    _tune(tiny, study_name="d", n_trials=1, storage=journal)
    with pytest.raises(PipelinesError, match="another study name"):
        tune(
            data,
            model="lgbm",
            metric="logloss",
            folds=folds,
            study_name="d",
            n_trials=2,
            storage=journal,
            params=QUICK,
        )


def test_storages_and_arguments(tmp_path):
    assert isinstance(open_storage(None, tmp_path / "a.log"), optuna.storages.JournalStorage)
    sqlite = open_storage(f"sqlite:///{tmp_path / 'b.db'}")
    assert isinstance(sqlite, optuna.storages.RDBStorage)
    assert describe_storage("postgresql+psycopg://me:secret@host/db") == (
        "postgresql+psycopg://me:***@host/db"
    )
    with pytest.raises(PipelinesError, match="not supported"):
        open_storage("redis://localhost")
    with pytest.raises(PipelinesError, match="storage URL or a journal"):
        open_storage(None, None)
    assert {"lgbm", "catboost", "nn", "hybrid", "realmlp", "lgbm_td", "xgb_td"} <= set(SPACES)
    params = nn_space(optuna.trial.FixedTrial({
        "backbone": "mlp", "num_embeddings": "none", "d_embedding": 8, "n_blocks": 1,
        "d_block": 64, "dropout": 0.1, "lr": 1e-3, "weight_decay": 1e-5,
    }))  # fmt: skip
    assert params["backbone"] == "mlp" and params["lr"] == 1e-3


def test_tune_needs_a_stopping_rule(tiny):
    with pytest.raises(PipelinesError, match="n_trials or timeout"):
        _tune(tiny, study_name="x")


def test_network_trials_report_each_epoch(tiny, tmp_path):
    data, folds = tiny
    journal = tmp_path / "net.log"
    fixed = {"max_epochs": 2, "patience": 2, "k": 2}
    result = tune(
        data,
        model="nn",
        metric="auc",
        folds=folds,
        study_name="net",
        n_trials=2,
        storage=journal,
        params=fixed,
        device="cpu",
        space=lambda trial: {
            "backbone": "mlp",
            "n_blocks": 1,
            "d_block": trial.suggest_int("d_block", 16, 32, step=16),
            "lr": trial.suggest_float("lr", 1e-3, 1e-2, log=True),
        },
    )
    assert result.n_complete == 2 and result.best.model == "nn"
    assert result.best.params["max_epochs"] == 2
    study = optuna.load_study(study_name="net", storage=open_storage(str(journal)))
    for trial in study.trials:
        steps = sorted(trial.intermediate_values)
        # Epochs 0 and 1 of each of the three folds, at distinct steps per fold.
        assert steps[:2] == [0, 1] and len(steps) >= 3 and max(steps) >= 2 * 10_000
        # AUC is maximized, so the reported loss is negated.
        assert all(value <= 0 for value in trial.intermediate_values.values())
