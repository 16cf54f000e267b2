"""The README's tour, command by command, as a user types it: a practice competition, the
host started for each command's duration (or the running `practice serve`), the store."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from compete.cli import app

runner = CliRunner()


def compete(home: Path, *args: str, check: bool = True):
    """The command in-process: a subprocess would prove nothing more here."""
    result = runner.invoke(app, ["--home", str(home), *args])
    if check:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch):
    for key in ["COMPETE_HOME", "COMPETE_HOST", "COMPETE_DATABASE_URL", "COMPETE_TEAM"]:
        monkeypatch.delenv(key, raising=False)


def test_the_tour_with_a_host_started_per_command(tmp_path, churn_csv):
    home = tmp_path / "home"
    created = json.loads(
        compete(home, "practice", "create", "tour", "--csv", str(churn_csv), "--target", "churn",
                "--metric", "auc", "--deadline", "2030-01-01T00:00", "--daily-limit", "3",
                "--json").stdout
    )  # fmt: skip
    assert created["name"] == "tour" and created["metric"] == "auc"
    listed = json.loads(compete(home, "practice", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["tour"]

    downloaded = json.loads(compete(home, "download", "tour", "--json").stdout)
    assert set(downloaded["files"]) == {"train.csv", "test.csv", "sample_submission.csv"}
    assert downloaded["config"]["target"] == "churn"

    data = home / "competitions" / "tour" / "data"
    sample = pd.read_csv(data / "sample_submission.csv")
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    sample.assign(**{sample.columns[1]: 0.5}).to_csv(good, index=False)
    sample.iloc[:-1].to_csv(bad, index=False)

    refused = compete(home, "submit", "tour", "-f", str(bad), "-m", "short", check=False)
    assert refused.exit_code == 2 and "expected" in refused.stderr.lower()

    sent = json.loads(
        compete(home, "submit", "tour", "-f", str(good), "-m", "half", "--json").stdout
    )
    assert sent["submission"]["status"] == "complete"
    assert sent["submission"]["public_score"] == pytest.approx(0.5)

    remote = json.loads(compete(home, "submissions", "tour", "--json").stdout)
    assert [r["description"] for r in remote] == ["half"]

    synced = json.loads(compete(home, "sync", "tour", "--json").stdout)
    assert synced["board"] == "public" and synced["team_count"] >= 4

    compete(home, "practice", "close", "tour")
    synced = json.loads(compete(home, "sync", "tour", "--json").stdout)
    assert synced["board"] == "private"

    evidence = json.loads(compete(home, "leaderboard", "tour", "--json").stdout)
    history = evidence["history"]
    (row,) = history["submissions"]
    assert [p["submission_id"] for p in evidence["picks"]["picks"]] == [row["id"]]
    assert evidence["shakeup"]["matched"] >= 4
    assert evidence["shakeup"]["ours"]["private_rank"] >= 1
    assert row["private_score"] == pytest.approx(0.5) and row["message"] == "half"
    assert [s["board"] for s in history["snapshots"]] == ["public", "private"]
    table = compete(home, "leaderboard", "tour").stdout
    assert "half" in table and "private" in table and "final-pick advice" in table

    drawn = json.loads(compete(home, "leaderboard", "tour", "--plot", "--json").stdout)
    (png,) = [Path(p) for p in drawn["charts"]]
    assert png.parent == home / "competitions" / "tour" / "charts"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    html = tmp_path / "board.html"
    compete(home, "leaderboard", "tour", "--out", str(html))
    assert "Public vs private rank" in html.read_text()
    again = compete(home, "leaderboard", "tour", "--out", str(html), check=False)
    assert again.exit_code == 2 and "nothing is overwritten" in again.stderr

    (standing,) = json.loads(compete(home, "history", "--json").stdout)
    assert standing["competition"] == "tour" and standing["board"] == "private"
    assert standing["rank"] == evidence["shakeup"]["ours"]["private_rank"]

    ended = compete(home, "submit", "tour", "-f", str(good), "-m", "late", check=False)
    assert ended.exit_code == 1 and "ended" in ended.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_commands_use_a_running_practice_serve(tmp_path, churn_csv):
    # A real process: it is stopped by a signal, and COMPETE_HOME comes from the environment.
    home = tmp_path / "home"
    compete(home, "practice", "create", "served", "--csv", str(churn_csv), "--target", "churn")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "compete.cli", "practice", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COMPETE_HOME": str(home)},
    )  # fmt: skip
    try:
        info = home / "practice" / "server.json"
        for _ in range(100):
            if info.is_file():
                break
            time.sleep(0.1)
        assert json.loads(info.read_text())["url"].endswith(f":{port}")
        assert (home / "practice" / "kaggle" / "kaggle.json").is_file()
        compete(home, "download", "served")
        assert compete(home, "submissions", "served", "--json").stdout.strip() == "[]"
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    assert f"practice host on http://127.0.0.1:{port}" in err
    # The exports name the real folder under COMPETE_HOME, ready to paste.
    assert f"HTTP_PROXY=http://127.0.0.1:{port} " in err
    assert f"KAGGLE_CONFIG_DIR={home / 'practice' / 'kaggle'}" in err
    assert not (home / "practice" / "server.json").exists()


def test_import_a_competition_that_ended_before(tmp_path, past_competition):
    home = tmp_path / "home"
    archive, submissions = past_competition
    result = json.loads(
        compete(home, "import", "past", "--leaderboard", str(archive), "--submissions",
                str(submissions), "--team", "team 6", "--metric", "auc", "--json").stdout
    )  # fmt: skip
    assert result == {
        "competition": "past", "board": "private", "entries": 30, "our_rank": 6,
        "submissions_added": 2,
    }  # fmt: skip
    again = json.loads(
        compete(home, "import", "past", "--leaderboard", str(archive), "--submissions",
                str(submissions), "--team", "team 6", "--json").stdout
    )  # fmt: skip
    assert again["submissions_added"] == 0
    evidence = json.loads(compete(home, "leaderboard", "past", "--json").stdout)
    assert len(evidence["history"]["snapshots"]) == 1  # the same board twice is one snapshot
    assert [s["message"] for s in evidence["history"]["submissions"]] == [
        "first try with a longer message",
        "second",
    ]
    (standing,) = json.loads(compete(home, "history", "--json").stdout)
    assert (standing["rank"], standing["medal"]) == (6, "silver")  # 6 of 30: the top 20%
