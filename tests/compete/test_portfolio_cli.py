"""`compete train NAME --budget DURATION` without `--model`: the portfolio, run as a user runs
it on a small practice competition, kept within budget x 1.05 + 5 s from the command's start
to submission.csv, and its submission accepted by the practice host; what it cannot take is
refused in one line with exit code 2."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from compete.cli import app
from pipelines.portfolio import MIN_BUDGET

runner = CliRunner()


def test_a_portfolio_within_its_budget_ends_in_a_submission_the_host_accepts(
    run_compete, cli_workspace, capsys
):
    budget = MIN_BUDGET
    started = time.time()
    done = run_compete(
        cli_workspace, "train", "churn", "--budget", f"{budget:g}s", "--families", "lgbm,nn",
        "--device", "cpu", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    written = Path(run["submission"]).stat().st_mtime - started
    assert written <= budget * 1.05 + 5, f"submission after {written:.1f}s"
    assert run["model"] == "portfolio" and run["budget"] == budget and run["run_id"] is not None
    members = run["members"]
    assert members and {m["family"] for m in members} <= {"lgbm", "nn"}
    for member in members:
        assert {"name", "family", "kind", "seeds", "cv", "seconds", "weight"} <= set(member)
        assert 0.5 < member["cv"] <= 1 and member["seconds"] > 0
    assert sum(m["weight"] for m in members) == pytest.approx(1.0)
    assert run["method"] in {"hill", "stack"} and 0.5 < run["cv_mean"] <= 1
    assert any(line.split("] ")[1].startswith("lgbm: defaults CV") for line in run["log"])

    folder = Path(run["folder"])
    assert (folder / "portfolio.json").is_file()
    assert {p.name for p in (folder / "members").iterdir()} == {m["name"] for m in members}
    sample = pd.read_csv(
        cli_workspace / "competitions" / "churn" / "data" / "sample_submission.csv"
    )
    submission = pd.read_csv(run["submission"])
    assert list(submission.columns) == list(sample.columns) and len(submission) == len(sample)
    assert submission.iloc[:, 1].between(0, 1).all()

    sent = run_compete(
        cli_workspace, "submit", "churn", "-f", run["submission"], "-m", "portfolio", "--json"
    )
    assert sent.returncode == 0, sent.stderr
    scored = json.loads(sent.stdout)["submission"]
    assert scored["status"] == "complete" and 0.5 < scored["public_score"] <= 1

    # The table a person reads: every member with its CV, seconds and weight, then the ensemble.
    from compete.render import render_portfolio
    from pipelines.portfolio import Member, PortfolioResult
    from pipelines.result import CVResult

    cv = CVResult.load(folder)
    kept = tuple(
        Member(m["name"], m["family"], m["kind"], m["params"], tuple(m["seeds"]), m["cv"],
               m["seconds"], CVResult.load(folder / "members" / m["name"]), m["weight"])
        for m in members
    )  # fmt: skip
    render_portfolio(
        PortfolioResult(cv, kept, run["method"], run["hill_score"], run["stack_score"],
                        tuple(run["log"]), run["seconds"]),
        title="churn: portfolio",
    )  # fmt: skip
    table = capsys.readouterr().out
    for member in members:
        row = next(line for line in table.splitlines() if f" {member['name']} " in line)
        assert f"{member['cv']:.5f}" in row and f"{member['weight']:.3f}" in row
    assert f"{cv.mean:.5f}" in next(line for line in table.splitlines() if "ensemble" in line)


def _refused(home: Path, *args: str) -> str:
    result = runner.invoke(app, ["--home", str(home), "train", "churn", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("text", ["0", "-5m", "abc"])
def test_bad_portfolio_budgets_are_refused_in_one_line(cli_workspace, text):
    line = _refused(cli_workspace, f"--budget={text}", "--families", "lgbm")
    assert "--budget" in line and repr(text) in line


def test_what_the_portfolio_cannot_take_is_refused_in_one_line(cli_workspace):
    line = _refused(cli_workspace, "--budget", "10s")
    assert f"at least {MIN_BUDGET:g}s" in line and "portfolio" in line and "--model" in line
    line = _refused(cli_workspace, "--budget", "1m", "--families", "lgbm,xgb")
    assert "unknown xgb" in line and "use some of lgbm, " in line
    line = _refused(cli_workspace, "--budget", "1m", "--families", ",")
    assert "names no family" in line
    line = _refused(cli_workspace, "--model", "nn", "--families", "lgbm")
    assert "drop --model" in line
    line = _refused(cli_workspace, "--families", "lgbm")
    assert "give --budget too" in line
    line = _refused(cli_workspace, "--budget", "1m", "--param", "num_leaves=7")
    assert "--param" in line and "--model" in line
