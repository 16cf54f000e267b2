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


def compete(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "compete.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


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
    assert refused.returncode == 2 and "expected" in refused.stderr.lower()

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

    (standing,) = json.loads(compete(home, "history", "--json").stdout)
    assert standing["competition"] == "tour" and standing["board"] == "private"
    assert standing["rank"] == evidence["shakeup"]["ours"]["private_rank"]

    ended = compete(home, "submit", "tour", "-f", str(good), "-m", "late", check=False)
    assert ended.returncode == 1 and "ended" in ended.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_commands_use_a_running_practice_serve(tmp_path, churn_csv):
    home = tmp_path / "home"
    compete(home, "practice", "create", "served", "--csv", str(churn_csv), "--target", "churn")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "compete.cli", "--home", str(home), "practice", "serve",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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
    assert "KAGGLE_CONFIG_DIR=" in err
    assert not (home / "practice" / "server.json").exists()
