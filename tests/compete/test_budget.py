"""`compete train NAME --budget DURATION`: durations parsed or refused in one line, budgets too
short for a family refused with its minimum, and the promise kept by every family: from the
command's start to submission.csv written, at most budget x 1.05 + 5 s."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compete.errors import UsageError
from compete.training import MIN_BUDGET, parse_duration
from pipelines.models import FAMILIES, family_names


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("2m30s", 150), ("120", 120),
     ("1.5h", 5400), (" 45S ", 45)],
)  # fmt: skip
def test_durations_people_write(text, seconds):
    assert parse_duration(text) == seconds


@given(st.integers(0, 48), st.integers(0, 59), st.integers(0, 59))
def test_any_hours_minutes_seconds_add_up(hours, minutes, seconds):
    total = hours * 3600 + minutes * 60 + seconds
    text = f"{hours}h{minutes}m{seconds}s"
    if total < MIN_BUDGET:
        with pytest.raises(UsageError, match="too short"):
            parse_duration(text)
    else:
        assert parse_duration(text) == total


@given(st.text(max_size=12))
def test_anything_else_is_a_duration_or_one_clear_line(text):
    try:
        seconds = parse_duration(text)
    except UsageError as error:
        message = str(error)
        assert "\n" not in message and "--budget" in message and "e.g. 90s" in message
    else:
        assert seconds >= MIN_BUDGET


@pytest.mark.parametrize("text", ["0", "-5m", "abc", "10x", "0s", "5ms"])
def test_bad_budgets_are_refused_in_one_line(run_compete, cli_workspace, text):
    refused = run_compete(cli_workspace, "train", "churn", f"--budget={text}")
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "--budget" in lines[0] and repr(text) in lines[0]


def test_a_budget_too_short_for_the_family_says_the_minimum(run_compete, cli_workspace):
    least = FAMILIES["nn"].min_budget
    refused = run_compete(cli_workspace, "train", "churn", "--model", "nn", "--budget", "2s")
    assert refused.returncode == 2
    assert f"at least {least:g}s" in refused.stderr and len(refused.stderr.splitlines()) == 1
    both = run_compete(cli_workspace, "train", "churn", "--budget", "30s", "--timeout", "30s")
    assert both.returncode == 2 and "not both" in both.stderr


def _kept(run_compete, workspace: Path, model: str, *extra: str) -> tuple[dict, float]:
    """Train with the family's shortest budget; the seconds from launch to submission.csv."""
    budget = FAMILIES[model].min_budget
    started = time.time()
    done = run_compete(workspace, "train", "churn", "--model", model, *extra, "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["budget"] == budget
    written = Path(run["submission"]).stat().st_mtime - started
    assert written <= budget * 1.05 + 5, f"{model}: submission after {written:.1f}s"
    sample = pd.read_csv(workspace / "competitions" / "churn" / "data" / "sample_submission.csv")
    submission = pd.read_csv(run["submission"])
    assert list(submission.columns) == list(sample.columns) and len(submission) == len(sample)
    assert submission.iloc[:, 1].between(0, 1).all()
    return run, budget


@pytest.mark.parametrize("model", family_names())
def test_each_family_keeps_its_shortest_budget(run_compete, cli_workspace, model):
    budget = FAMILIES[model].min_budget
    run, _ = _kept(run_compete, cli_workspace, model, "--budget", f"{budget:g}s", "--device", "cpu")
    assert run["model"] == model and len(run["fold_scores"]) == 5 and run["trials"] is None


def test_timeout_is_the_budget_with_tuning(run_compete, cli_workspace):
    budget = FAMILIES["lgbm"].min_budget
    run, _ = _kept(run_compete, cli_workspace, "lgbm", "--timeout", f"{budget:g}s")
    assert run["trials"] >= 1 and 0.5 < run["cv_mean"] <= 1
