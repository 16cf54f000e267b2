"""`compete interview` commands against a real temporary store and a tiny bank: report and
calibrate as JSON after a finished session, the terminal review of the due queue,
verify-bank's exit code, and one-line errors (every command's help is checked in
tests/compete/test_cli.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from compete.cli import app
from interview.bank import load_bank
from interview.grading import Grader
from interview.session import InterviewSession, SessionConfig
from interview.store import InterviewStore

BANK = Path(__file__).with_name("app_bank")
runner = CliRunner()


def invoke(home: Path, *args: str, input: str | None = None):
    return runner.invoke(app, ["--home", str(home), "interview", *args], input=input)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """COMPETE_HOME with alice's finished session on the three choice items of "adapters",
    answered a month ago (so every item is due for review now)."""
    home = tmp_path_factory.mktemp("home")
    bank = load_bank(BANK)
    then = datetime.now(UTC) - timedelta(days=30)
    with InterviewStore.open(f"sqlite:///{home / 'interview.sqlite'}") as store:
        session = InterviewSession.start(
            store,
            bank,
            Grader(),
            user="alice",
            topics=["adapters"],
            config=SessionConfig(max_items=3, min_items=3),
            seed=1,
            now=then,
        )
        while (view := session.current()) is not None:
            item = bank.items[view.id]  # answered by text: options are shown shuffled
            pick = item.answer if view.number != 2 else (item.answer + 1) % 3
            session.answer(item.options[pick], now=then)
    return home


def test_report_json_after_a_finished_session(home):
    result = invoke(home, "report", "--user", "alice", "--bank", str(BANK), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    report = payload["report"]
    assert report["user"] == "alice" and report["answered"] == 3
    assert report["finished_at"] is not None
    (ability,) = report["abilities"]
    assert ability["topic"] == "adapters" and ability["n_items"] == 3
    assert 0 < ability["se"] < 1 and ability["band"]
    assert {r[0] for r in report["next_reviews"]} == {"a-choice-1", "a-choice-2", "a-choice-3"}
    assert set(payload["progress"]) == {"adapters", "overall"}


def test_report_as_a_table(home):
    result = invoke(home, "report", "--user", "alice", "--bank", str(BANK))
    assert result.exit_code == 0, result.output
    assert "Adapter drills" in result.stdout and "next reviews" in result.stdout
    assert "strengths:" in result.stdout and "weak spots:" in result.stdout


def test_report_for_someone_without_sessions_is_one_line(home):
    result = invoke(home, "report", "--user", "nobody", "--bank", str(BANK))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nobody has no answered session" in lines[0]
    assert "compete interview" in lines[0]


def test_calibrate_json_keeps_priors_below_the_threshold(home):
    result = invoke(home, "calibrate", "--min-responses", "30", "--bank", str(BANK), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n_responses"] == 3 and payload["fitted"] == 0 and payload["kept"] == 8
    by_id = {i["item_id"]: i for i in payload["items"]}
    assert by_id["a-choice-1"]["n_responses"] == 1
    assert by_id["a-choice-3"]["b"] == by_id["a-choice-3"]["prior_b"] == 1.2


def test_review_lists_what_is_due_then_runs_the_queue(home):
    listed = invoke(home, "review", "--user", "alice", "--bank", str(BANK), "--json")
    assert listed.exit_code == 0, listed.output
    due = json.loads(listed.stdout)["due"]
    assert {d["item_id"] for d in due} == {"a-choice-1", "a-choice-2", "a-choice-3"}

    progress = json.loads(
        invoke(home, "report", "--user", "alice", "--bank", str(BANK), "--json").stdout
    )["progress"]

    # Three due choice items: answer the first with option 1, skip the second, quit.
    ran = invoke(home, "review", "--user", "alice", "--bank", str(BANK), input="1\nskip\nquit\n")
    assert ran.exit_code == 0, ran.output
    assert "1 of 3" in ran.stdout and "score" in ran.stdout
    assert "skipped" in ran.stdout and "stopped after 2 item(s)" in ran.stdout
    assert "do not change the depth estimate" in " ".join(ran.stdout.split())

    # the re-tests are stored, and the depth estimate is the first answers' alone
    reported = json.loads(
        invoke(home, "report", "--user", "alice", "--bank", str(BANK), "--json").stdout
    )
    assert reported["report"]["answered"] == 2 and reported["report"]["retests"] == 2
    assert reported["progress"] == progress
    table = invoke(home, "report", "--user", "alice", "--bank", str(BANK)).stdout
    assert "2 re-test(s) of items answered before" in " ".join(table.split())

    after = json.loads(
        invoke(home, "review", "--user", "alice", "--bank", str(BANK), "--json").stdout
    )
    assert len(after["due"]) == 1  # two were reviewed, so they are no longer due
    assert after["next_due"] is not None


def test_nothing_due_for_a_new_person(home):
    result = invoke(home, "review", "--user", "zoe", "--bank", str(BANK))
    assert result.exit_code == 0 and "nothing is due for zoe" in result.stdout


def test_bad_auth_and_unknown_topics_are_usage_errors(home):
    result = invoke(home, "--auth", "nocolon", "--bank", str(BANK))
    assert result.exit_code == 2 and "USER:PASS" in result.stderr
    result = invoke(home, "--topics", "masking,nope", "--bank", str(BANK))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown topic(s) nope" in result.stderr


def _bank_of(tmp_path: Path, kinds: set[str]) -> Path:
    folder = tmp_path / "bank"
    folder.mkdir()
    (folder / "topics.yaml").write_text((BANK / "topics.yaml").read_text())
    items = yaml.safe_load((BANK / "items.yaml").read_text())["items"]
    kept = [i for i in items if i["kind"] in kinds]
    (folder / "items.yaml").write_text(yaml.safe_dump({"items": kept}))
    return folder


def test_verify_bank_passes_a_sound_bank(tmp_path):
    bank = _bank_of(tmp_path, {"choice", "code"})
    result = invoke(tmp_path, "verify-bank", "--bank", str(bank))
    assert result.exit_code == 0, result.output
    assert "ok: 0 item(s) with problems" in result.stdout


def test_verify_bank_exits_1_on_a_broken_item(tmp_path):
    bank = _bank_of(tmp_path, {"choice", "code"})
    items = yaml.safe_load((bank / "items.yaml").read_text())
    for item in items["items"]:
        if item["kind"] == "code":  # the reference no longer passes its hidden tests
            item["code"]["reference"] = item["code"]["starter"]
    (bank / "items.yaml").write_text(yaml.safe_dump(items))
    result = invoke(tmp_path, "verify-bank", "--bank", str(bank))
    assert result.exit_code == 1, result.output
    assert "m-code-1" in result.stdout and "FAILED" in result.stdout
    as_json = invoke(tmp_path, "verify-bank", "--bank", str(bank), "--json")
    payload = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and payload["ok"] is False
    assert [c["item_id"] for c in payload["checks"] if c["problems"]] == ["m-code-1"]
