"""Download, submit and sync into a real store, against a real practice host: nothing is lost
when the network fails, and sync completes what a failed submit left behind."""

from __future__ import annotations

import pandas as pd
import pytest

from compete import lifecycle
from compete.errors import HostError, SubmissionLimitError, UsageError
from compete.workspace import Workspace

NAME = "churn-life"


@pytest.fixture
def store(home):
    from leaderboards.store import Store

    opened = Store.open(f"sqlite:///{home / 'history.sqlite'}")
    yield opened
    opened.close()


@pytest.fixture
def workspace(home, new_competition, host, adapter_for):
    new_competition(NAME, daily_limit=50)
    workspace = Workspace.at(home / "competitions", NAME)
    lifecycle.download(adapter_for(host), workspace)
    return workspace


def write_submission(workspace: Workspace, tmp_path, *, drop: int = 0, value=0.5):
    sample = pd.read_csv(workspace.data_dir / "sample_submission.csv")
    sample[sample.columns[1]] = value
    path = tmp_path / "submission.csv"
    sample.iloc[drop:].to_csv(path, index=False)
    return path


def test_download_infers_the_competition_config(workspace):
    config = workspace.read_config()
    assert (config.target, config.metric, config.task) == ("churn", "auc", "binary")
    assert config.id_column == pd.read_csv(workspace.data_dir / "sample_submission.csv").columns[0]


def test_download_twice_keeps_files_and_reports_them_same(workspace, host, adapter_for):
    result = lifecycle.download(adapter_for(host), workspace)
    assert set(result.files.values()) == {"same"}


def test_a_bad_file_is_refused_before_upload_and_nothing_is_recorded(
    workspace, store, host, adapter_for, tmp_path
):
    adapter = adapter_for(host)
    bad = write_submission(workspace, tmp_path, drop=3)
    with pytest.raises(UsageError, match="does not match sample_submission.csv.*row"):
        lifecycle.submit(adapter, store, workspace, bad, "short by three")
    assert adapter.submissions(NAME) == []
    assert store.list_competitions() == []  # no row: nothing was attempted


def test_submit_records_then_sync_fills_scores(workspace, store, host, adapter_for, tmp_path):
    adapter = adapter_for(host)
    outcome = lifecycle.submit(
        adapter, store, workspace, write_submission(workspace, tmp_path), "m"
    )
    assert outcome.record.remote_ref and outcome.record.status == "pending"
    assert outcome.kept_file.parent == workspace.submissions_dir
    first = lifecycle.sync(adapter, store, NAME)
    assert first.board == "public" and first.our_rank is not None
    second = lifecycle.sync(adapter, store, NAME)
    assert (second.submissions_added, second.submissions_updated) == (0, 0)
    found = store.history(NAME, host="practice")
    (row,) = found.submissions
    assert row.status == "complete" and row.public_score == pytest.approx(0.5)
    assert row.private_score is None
    assert len(found.snapshots) == 1  # the same board twice is one snapshot


def test_host_down_during_submit_keeps_the_row_and_sync_marks_it_lost(
    workspace, store, host, adapter_for, tmp_path
):
    dead = adapter_for("http://127.0.0.1:9", retries=1)  # nothing listens on the discard port
    with pytest.raises(HostError, match="submission #"):
        lifecycle.submit(dead, store, workspace, write_submission(workspace, tmp_path), "offline")
    (row,) = store.history(NAME, host="practice").submissions
    assert row.status == "upload_failed" and row.error
    result = lifecycle.sync(adapter_for(host), store, NAME)
    assert result.submissions_lost == 1
    (row,) = store.history(NAME, host="practice").submissions
    assert row.status == "lost" and "compete submit" in row.error


def test_a_reply_lost_after_the_host_scored_it_is_completed_by_sync(
    workspace, store, host, adapter_for, flaky_proxy, tmp_path
):
    flaky_proxy.fail("POST", "CreateSubmission", 502, forward=True)
    with pytest.raises(HostError):
        lifecycle.submit(
            adapter_for(flaky_proxy.url), store, workspace, write_submission(workspace, tmp_path),
            "reply lost",
        )  # fmt: skip
    (row,) = store.history(NAME, host="practice").submissions
    assert row.status == "upload_failed" and row.remote_ref is None
    lifecycle.sync(adapter_for(host), store, NAME)
    (row,) = store.history(NAME, host="practice").submissions
    assert row.status == "complete" and row.remote_ref and row.public_score == pytest.approx(0.5)


def test_private_scores_arrive_after_close(workspace, store, host, adapter_for, home, tmp_path):
    from compete.practice.create import close_competition

    adapter = adapter_for(host)
    lifecycle.submit(adapter, store, workspace, write_submission(workspace, tmp_path), "m")
    lifecycle.sync(adapter, store, NAME)
    close_competition(home, NAME)
    result = lifecycle.sync(adapter, store, NAME)
    assert result.board == "private"
    found = store.history(NAME, host="practice")
    assert found.submissions[0].private_score == pytest.approx(0.5)
    assert [s.board for s in found.snapshots] == ["public", "private"]


def test_a_refusal_at_the_daily_limit_is_recorded_as_refused(
    home, new_competition, host, adapter_for, store, tmp_path
):
    new_competition("tight", daily_limit=1)
    workspace = Workspace.at(home / "competitions", "tight")
    adapter = adapter_for(host)
    lifecycle.download(adapter, workspace)
    file = write_submission(workspace, tmp_path)
    lifecycle.submit(adapter, store, workspace, file, "first")
    with pytest.raises(SubmissionLimitError, match="limit"):
        lifecycle.submit(adapter, store, workspace, file, "second")
    rows = store.history("tight", host="practice").submissions
    assert [r.status for r in rows] == ["pending", "refused"] and "limit" in rows[1].error
    assert lifecycle.sync(adapter, store, "tight").submissions_lost == 0


def test_config_is_inferred_from_latin1_files(home):
    """kaggle.com data exported from Excel may be Latin-1: its headers are read, not refused."""
    workspace = Workspace.at(home / "competitions", "latin")
    workspace.ensure()
    files = {
        "train.csv": "id,Ville,Catégorie\n1,Zürich,1\n2,Café,0\n",
        "test.csv": "id,Ville\n3,Montréal\n",
        "sample_submission.csv": "id,Catégorie\n3,0\n",
    }
    for name, text in files.items():
        (workspace.data_dir / name).write_bytes(text.encode("latin-1"))
    config = lifecycle.infer_config(workspace, metric="auc")
    assert (config.target, config.id_column, config.task) == ("Catégorie", "id", "binary")
