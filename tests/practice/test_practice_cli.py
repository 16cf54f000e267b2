"""The unmodified official `kaggle` command against a running practice host, through HTTP_PROXY."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from compete.practice.create import host_credentials

KAGGLE = Path(sys.executable).with_name("kaggle")


def kaggle(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(KAGGLE), *args], env=env, capture_output=True, text=True, timeout=120
    )
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.strip())))


def test_competitions_list_shows_the_practice_competitions(kaggle_env: dict[str, str]) -> None:
    out = kaggle(kaggle_env, "competitions", "list", "-v").stdout
    refs = {row["ref"].rsplit("/", 1)[-1]: row for row in csv_rows(out)}
    assert {"churn", "limited", "closing", "race"} <= set(refs)
    assert refs["churn"]["category"] == "Playground"
    assert int(refs["churn"]["teamCount"]) >= 4  # the baseline teams

    searched = csv_rows(kaggle(kaggle_env, "competitions", "list", "-s", "limit", "-v").stdout)
    assert [row["ref"].rsplit("/", 1)[-1] for row in searched] == ["limited"]


def test_files_and_downloads_match_the_host(
    kaggle_env: dict[str, str], competition_files: Any, tmp_path: Path
) -> None:
    files = competition_files("churn")
    listed = csv_rows(kaggle(kaggle_env, "competitions", "files", "churn", "-v").stdout)
    assert {row["name"]: int(row["size"]) for row in listed} == {
        p.name: p.stat().st_size for p in files.iterdir()
    }

    kaggle(kaggle_env, "competitions", "download", "churn", "-p", str(tmp_path / "all"))
    with zipfile.ZipFile(tmp_path / "all" / "churn.zip") as bundle:
        contents = {name: bundle.read(name) for name in bundle.namelist()}
    assert contents == {p.name: p.read_bytes() for p in files.iterdir()}

    one = tmp_path / "one"
    kaggle(kaggle_env, "competitions", "download", "churn", "-f", "test.csv", "-p", str(one))
    assert (one / "test.csv").read_bytes() == (files / "test.csv").read_bytes()


def test_submit_then_submissions_and_leaderboard(
    kaggle_env: dict[str, str], good_submission: Any, practice_home: Path, tmp_path: Path
) -> None:
    path = good_submission("churn", seed=11)
    out = kaggle(kaggle_env, "competitions", "submit", "churn", "-f", str(path), "-m", "cli try")
    assert "Successfully submitted to Churn" in out.stdout

    rows = csv_rows(kaggle(kaggle_env, "competitions", "submissions", "churn", "-v").stdout)
    mine = [r for r in rows if r["description"] == "cli try"]
    assert len(mine) == 1
    assert mine[0]["status"].endswith("COMPLETE")
    assert 0.0 <= float(mine[0]["publicScore"]) <= 1.0
    assert mine[0]["privateScore"] == ""  # hidden until the deadline
    assert mine[0]["fileName"] == path.name

    board = csv_rows(
        kaggle(kaggle_env, "competitions", "leaderboard", "churn", "--show", "-v").stdout
    )
    names = [row["teamName"] for row in board]
    username = host_credentials(practice_home).username
    assert {"Constant baseline", "Default LightGBM", username} <= set(names)
    scores = [float(row["score"]) for row in board]
    assert scores == sorted(scores, reverse=True)  # AUC: greater is better

    target = tmp_path / "board"
    kaggle(kaggle_env, "competitions", "leaderboard", "churn", "--download", "-p", str(target))
    with zipfile.ZipFile(target / "churn.zip") as bundle:
        (member,) = bundle.namelist()
        assert "publicleaderboard" in member
        table = csv_rows(bundle.read(member).decode())
    assert [row["TeamName"] for row in table] == names
    assert [row["Rank"] for row in table] == [str(i) for i in range(1, len(names) + 1)]


def test_unknown_competition_and_bad_key_fail_plainly(
    kaggle_env: dict[str, str], tmp_path: Path
) -> None:
    result = kaggle(kaggle_env, "competitions", "files", "no-such-thing", ok=False)
    assert result.returncode != 0
    assert "no-such-thing" in result.stdout + result.stderr

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "kaggle.json").write_text('{"username": "you", "key": "wrong"}')
    (bad / "kaggle.json").chmod(0o600)
    result = kaggle({**kaggle_env, "KAGGLE_CONFIG_DIR": str(bad)}, "competitions", "list", ok=False)
    assert result.returncode != 0
    # The client answers a 401 with its own help text on how to authenticate.
    assert "Authentication required" in result.stdout + result.stderr


@pytest.mark.parametrize("source", ["env", "file"])
def test_access_token_is_checked_with_introspect(
    kaggle_env: dict[str, str], practice_home: Path, tmp_path: Path, source: str
) -> None:
    key = host_credentials(practice_home).key
    empty = tmp_path / "empty-config"
    empty.mkdir()
    env = {**kaggle_env, "KAGGLE_CONFIG_DIR": str(empty)}
    if source == "env":
        env["KAGGLE_API_TOKEN"] = key
    else:
        (empty / "access_token").write_text(key)
        env["KAGGLE_API_TOKEN"] = str(empty / "access_token")
    out = kaggle(env, "competitions", "files", "churn", "-v").stdout
    assert {row["name"] for row in csv_rows(out)} == {
        "sample_submission.csv",
        "test.csv",
        "train.csv",
    }
