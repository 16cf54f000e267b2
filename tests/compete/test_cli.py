"""The command line: help everywhere, a light start-up, documented commands, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from compete.cli import app

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "lightgbm", "gradio", "optuna", "pandas", "sklearn", "kaggle", "sqlalchemy"]


def _command_paths(command=None, prefix=()) -> list[tuple[str, ...]]:
    command = command or typer.main.get_command(app)
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*prefix, name))
    return paths


COMMANDS = _command_paths()


def run_cli(*args: str, home: Path | None = None, **kw) -> subprocess.CompletedProcess:
    prefix = ["--home", str(home)] if home else []
    return subprocess.run(
        [sys.executable, "-m", "compete.cli", *prefix, *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def test_the_commands_of_the_design_exist():
    names = {" ".join(p) for p in COMMANDS}
    for expected in [
        "init", "practice create", "practice serve", "practice close", "practice list",
        "download", "submit", "submissions", "sync", "leaderboard", "demo",
    ]:  # fmt: skip
        assert expected in names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "compete")
def test_every_command_has_help(path):
    result = run_cli(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: compete" in result.stdout
    # A real description, not just the usage line.
    assert len(result.stdout.strip().splitlines()) > 3


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for path in COMMANDS:
        if path:
            assert f"compete {' '.join(path)}" in readme, f"README never shows `compete {path}`"


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from compete.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_usage_errors_are_one_line_with_exit_2(tmp_path):
    result = run_cli("init", "../x", home=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad competition name" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli("--debug", "init", "../x", home=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_unknown_flag_is_a_usage_error():
    result = run_cli("sync", "--no-such-flag", "abc")
    assert result.returncode == 2
    assert "No such option" in result.stderr


def test_failures_exit_1_with_a_hint(tmp_path):
    result = run_cli("submit", "never-made", "-m", "x", "-f", "nope.csv", home=tmp_path)
    assert result.returncode == 1
    assert "compete download never-made" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_init_writes_competition_toml_and_json(tmp_path):
    result = run_cli(
        "init", "my-comp", "--target", "y", "--id", "id", "--metric", "roc_auc", "--json",
        home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["config"] == {
        "name": "my-comp", "target": "y", "id_column": "id", "metric": "auc", "task": "binary",
        "public_rows": None, "group_column": None, "columns": None,
    }  # fmt: skip
    root = tmp_path / "competitions" / "my-comp"
    assert {p.name for p in root.iterdir()} >= {"data", "runs", "submissions", "competition.toml"}
    assert 'metric = "auc"' in (root / "competition.toml").read_text()


def test_init_refuses_an_unknown_metric(tmp_path):
    result = run_cli("init", "my-comp", "--metric", "bogus", home=tmp_path)
    assert result.returncode == 2
    assert "unknown metric 'bogus'" in result.stderr
