"""Broken history databases through the real CLI: a corrupt file is refused by every command
with one line saying what to do and is never written into; a read-only one says how to make
it writable; a missing one is created. The practice host answers the official client."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from compete.cli import main

COMMANDS = {
    "history": lambda sub: ["history"],
    "sync": lambda sub: ["sync", "churn"],
    "submit": lambda sub: ["submit", "churn", "-f", str(sub), "-m", "again"],
}


@pytest.fixture
def compete(home, host, capsys):
    """Run `compete ARGS` in this process as a user would: exit code, stdout, stderr."""

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as done:
            main(["--home", str(home), "--host", host, *args])
        captured = capsys.readouterr()
        return done.value.code or 0, captured.out, captured.err

    return run


@pytest.fixture
def synced(home, compete, new_competition, tmp_path) -> Path:
    """A practice competition with one submission synced into history.sqlite; the file to
    submit again."""
    new_competition("churn")
    assert compete("download", "churn")[0] == 0
    sample = pd.read_csv(home / "competitions" / "churn" / "data" / "sample_submission.csv")
    good = tmp_path / "good.csv"
    sample.assign(**{sample.columns[1]: 0.5}).to_csv(good, index=False)
    code, out, err = compete("submit", "churn", "-f", str(good), "-m", "half")
    assert code == 0, out + err
    assert compete("sync", "churn")[0] == 0
    return good


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def host_refs(compete) -> list[str]:
    code, out, err = compete("submissions", "churn", "--json")
    assert code == 0, err
    return [s["ref"] for s in json.loads(out)]


def damage_runs_index(path: Path) -> None:
    """Overwrite the page of the runs' index with garbage, as a failing disk would: `history`
    reads it and fails, while sync and submit never touch it and used to carry on writing."""
    with sqlite3.connect(path) as connection:
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'ix_runs_competition_id'"
        )
        page = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    with path.open("r+b") as handle:
        handle.seek((root[0] - 1) * page)
        handle.write(bytes((i * 37) % 251 for i in range(page)))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_corrupt_history_is_refused_and_never_written_into(command, home, compete, synced):
    path = home / "history.sqlite"
    damage_runs_index(path)
    before, sent_before = sha256(path), host_refs(compete)
    code, out, err = compete(*COMMANDS[command](synced))
    assert code == 1, out + err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: the history store file {path} is damaged (")
    assert "restore it from a backup, or move it aside and run `compete sync NAME`" in line
    assert sha256(path) == before
    assert host_refs(compete) == sent_before  # submit refused before uploading anything


def test_moving_a_corrupt_history_aside_and_syncing_rebuilds_it(home, compete, synced):
    path = home / "history.sqlite"
    damage_runs_index(path)
    for leftover in home.glob("history.sqlite*"):
        leftover.rename(leftover.with_name(leftover.name.replace("history", "damaged")))
    assert compete("sync", "churn")[0] == 0
    code, out, err = compete("history", "--json")
    assert code == 0, err
    assert [row["competition"] for row in json.loads(out)] == ["churn"]
    code, out, err = compete("leaderboard", "churn", "--json")
    assert [s["message"] for s in json.loads(out)["history"]["submissions"]] == ["half"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_history_says_how_to_make_it_writable(
    command, home, compete, synced, read_only
):
    path = home / "history.sqlite"
    before = sha256(path)
    read_only(path)
    code, out, err = compete(*COMMANDS[command](synced))
    assert code == 1, out + err
    assert err.strip() == (
        f"error: the history store file {path} is read-only: make it writable (chmod u+w "
        f"{path}) or point COMPETE_DATABASE_URL elsewhere"
    )
    assert sha256(path) == before


def test_a_missing_history_is_created_and_works(home, compete, synced):
    for leftover in home.glob("history.sqlite*"):
        leftover.unlink()
    code, out, err = compete("history")
    assert code == 0 and "nothing yet" in out, err
    assert (home / "history.sqlite").is_file()
    assert compete("submit", "churn", "-f", str(synced), "-m", "again")[0] == 0
    code, out, err = compete("leaderboard", "churn", "--json")
    messages = [s["message"] for s in json.loads(out)["history"]["submissions"]]
    assert sorted(messages) == ["again", "half"]  # the first from the host, the second sent now
