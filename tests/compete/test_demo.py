"""`compete demo`, the README's main job, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_the_whole_loop_offline(tmp_path):
    home = tmp_path / "demo-home"
    result = subprocess.run(
        [sys.executable, "-m", "compete.cli", "demo", "--dir", str(home)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "COLUMNS": "160", "NO_PROXY": "*"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[8/8]" in result.stdout and "private board: we rank" in result.stdout
    assert "public-score noise on" in result.stdout and "final-pick advice" in result.stdout

    from leaderboards.store import Store

    store = Store.open(f"sqlite:///{home / 'history.sqlite'}")
    try:
        found = store.history("wa-churn", host="practice")
    finally:
        store.close()
    assert len(found.submissions) == 2
    for row in found.submissions:
        assert row.status == "complete"
        assert 0.7 < row.cv_score < 1 and 0.7 < row.public_score < 1 and 0.7 < row.private_score < 1
    assert {s.board for s in found.snapshots} == {"public", "private"}
    assert all(s.our_rank for s in found.snapshots)
    runs = list((home / "competitions" / "wa-churn" / "runs").iterdir())
    assert len(runs) == 2 and all((r / "submission.csv").is_file() for r in runs)
