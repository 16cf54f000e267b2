"""Reliability of `compete submit` as a user meets it, end to end through the real CLI entry point
against a real practice host: ended competitions are refusals that are kept, and submissions
with values no metric can score are stopped before the upload or reported as the host's ERROR."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compete.cli import main
from compete.workspace import Workspace

NAME = "churn-reliable"


def cli(capsys, home: Path, host: str, *args: str) -> tuple[int, str, str]:
    """Run `compete --home HOME --host HOST ARGS` in-process; (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(["--home", str(home), "--host", host, *args])
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def history(home: Path):
    from leaderboards.store import Store

    with Store.open(f"sqlite:///{home / 'history.sqlite'}") as store:
        return store.history(NAME, host="practice").submissions


@pytest.fixture
def workspace(home, new_competition, host, capsys) -> Workspace:
    new_competition(NAME, daily_limit=50)
    code, _, err = cli(capsys, home, host, "download", NAME)
    assert code == 0, err
    return Workspace.at(home / "competitions", NAME)


def submission_file(workspace: Workspace, tmp_path: Path, *, row: int = 0, value=0.5) -> Path:
    """The sample submission with 0.5 everywhere except `value` on data row `row` + 1."""
    sample = pd.read_csv(workspace.data_dir / "sample_submission.csv")
    column = sample.columns[1]
    sample[column] = 0.5
    sample.loc[row, column] = value
    path = tmp_path / f"submission-{row}.csv"
    sample.to_csv(path, index=False)
    return path


# -- ended competitions ----------------------------------------------------------------------


def test_a_submission_to_an_ended_competition_is_a_kept_refusal(
    workspace, home, host, capsys, tmp_path
):
    from compete.practice.create import close_competition

    close_competition(home, NAME)
    code, out, err = cli(capsys, home, host, "submit", NAME, "-f",
                         str(submission_file(workspace, tmp_path)), "-m", "too late")  # fmt: skip
    assert code == 1
    (line,) = err.strip().splitlines()  # one line, saying why
    assert "has ended" in line and "nothing was submitted" in line and "Traceback" not in err
    (row,) = history(home)
    assert row.status == "refused" and row.remote_ref is None
    assert "has ended" in row.error and row.file_name == "submission-0.csv"

    # sync leaves a refusal alone: it is neither lost nor to be sent again.
    code, out, err = cli(capsys, home, host, "sync", NAME, "--json")
    assert code == 0, err
    assert json.loads(out)["submissions_lost"] == 0
    (row,) = history(home)
    assert row.status == "refused" and "has ended" in row.error


def test_an_ended_competition_is_recognised_whatever_the_host_wording(
    workspace, home, flaky_proxy, capsys, tmp_path
):
    """kaggle.com's message for an ended competition is not in the official client: the adapter
    asks the host (`submissionsDisabled`) when a submit is refused with other words."""
    from compete.practice.create import close_competition

    close_competition(home, NAME)
    flaky_proxy.fail(
        "POST", "StartSubmissionUpload", 400, body=b'{"code": 400, "message": "Bad Request"}'
    )
    code, _, err = cli(capsys, home, flaky_proxy.url, "submit", NAME, "-f",
                       str(submission_file(workspace, tmp_path)), "-m", "late")  # fmt: skip
    assert code == 1 and "has ended" in err and "Bad Request" in err
    (row,) = history(home)
    assert row.status == "refused" and "has ended" in row.error


def test_the_same_refusal_while_open_stays_a_failure_for_sync_to_reconcile(
    workspace, home, flaky_proxy, capsys, tmp_path
):
    flaky_proxy.fail(
        "POST", "StartSubmissionUpload", 400, body=b'{"code": 400, "message": "Bad Request"}'
    )
    code, _, err = cli(capsys, home, flaky_proxy.url, "submit", NAME, "-f",
                       str(submission_file(workspace, tmp_path)), "-m", "open")  # fmt: skip
    assert code == 1 and "has ended" not in err and "submission #1" in err
    (row,) = history(home)
    assert row.status == "upload_failed"


# -- out-of-range submissions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (1.7, "outside [0, 1]"),
        (-0.2, "outside [0, 1]"),
        (np.inf, "infinite value"),
        (-np.inf, "infinite value"),
        (np.nan, "empty or NaN"),
    ],
)
def test_out_of_range_values_are_refused_before_the_upload(
    workspace, home, host, capsys, tmp_path, value, words
):
    file = submission_file(workspace, tmp_path, row=4, value=value)
    code, out, err = cli(capsys, home, host, "submit", NAME, "-f", str(file), "-m", "bad")
    assert code == 2
    (line,) = err.strip().splitlines()
    column = pd.read_csv(file).columns[1]
    assert words in line and f"Column '{column}'" in line and "data rows 5 " in line
    assert "nothing was uploaded" in line
    # Nothing reached the host, so nothing was recorded and nothing is waiting to be reconciled.
    code, out, _ = cli(capsys, home, host, "submissions", NAME, "--json")
    assert code == 0 and json.loads(out) == []
    from leaderboards.store import Store

    with Store.open(f"sqlite:///{home / 'history.sqlite'}") as store:
        assert store.list_competitions() == []


@pytest.mark.parametrize("value", [1.7, -0.2])
def test_a_host_error_exits_non_zero_with_the_host_description(
    workspace, home, host, capsys, tmp_path, value
):
    """Without a known metric (a hand-edited competition.toml, a custom kaggle.com metric) the
    local check cannot know that the column holds probabilities; the host scores the file as
    ERROR, and `compete submit` says so and fails instead of exiting 0."""
    workspace.write_config(replace(workspace.read_config(), metric=None))
    file = submission_file(workspace, tmp_path, row=2, value=value)
    code, out, err = cli(capsys, home, host, "submit", NAME, "-f", str(file), "-m", "no metric")
    assert code == 1
    assert "status error" in out
    (line,) = err.strip().splitlines()
    assert "scored submission #1 as ERROR" in line and "between 0 and 1" in line
    (row,) = history(home)
    assert row.status == "error" and row.remote_ref and "between 0 and 1" in row.error
    assert row.public_score is None

    # With --json the data still comes out, and the exit code still says it failed.
    code, out, err = cli(capsys, home, host, "submit", NAME, "-f", str(file), "-m", "again",
                         "--json")  # fmt: skip
    assert code == 1 and json.loads(out)["submission"]["status"] == "error"
    assert "as ERROR" in err
