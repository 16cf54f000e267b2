"""The workspace never overwrites what the user made, and refuses names that escape it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compete.errors import NotFoundError, UsageError
from compete.workspace import CompetitionConfig, Workspace, validate_name


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".hidden", "x", "UPPER", "a b", "a\\b", ""])
def test_bad_names_are_refused(name):
    with pytest.raises(UsageError, match="bad competition name"):
        validate_name(name)


@given(st.text(min_size=1, max_size=60))
def test_an_accepted_name_is_a_plain_folder_name(name):
    try:
        validate_name(name)
    except UsageError:
        return
    assert "/" not in name and "\\" not in name and "." not in name and name == name.strip()


def test_open_a_missing_workspace_says_what_to_run(tmp_path):
    with pytest.raises(NotFoundError, match="compete download titanic"):
        Workspace.open(tmp_path, "titanic")


def test_config_round_trip_keeps_the_old_file(tmp_path):
    workspace = Workspace.at(tmp_path, "titanic").ensure()
    workspace.write_config(CompetitionConfig(name="titanic", target="Survived", metric="accuracy"))
    assert workspace.read_config().target == "Survived"
    workspace.write_config(CompetitionConfig(name="titanic", target="Other"))
    assert workspace.read_config().target == "Other"
    backups = list(workspace.root.glob("competition.toml.*.bak"))
    assert len(backups) == 1 and "Survived" in backups[0].read_text()


def test_submissions_and_runs_get_new_names(tmp_path):
    workspace = Workspace.at(tmp_path, "titanic").ensure()
    source = tmp_path / "sub.csv"
    source.write_text("id,y\n1,0\n")
    first, second = workspace.keep_submission(source), workspace.keep_submission(source)
    assert first != second and first.read_text() == second.read_text() == "id,y\n1,0\n"
    runs = {workspace.new_run_dir("lgbm") for _ in range(3)}
    assert len(runs) == 3 and all(r.is_dir() for r in runs)


def test_a_changed_download_keeps_the_previous_file(tmp_path):
    workspace = Workspace.at(tmp_path, "titanic").ensure()
    incoming = tmp_path / "in"
    incoming.mkdir()
    (incoming / "train.csv").write_text("a\n1\n")
    assert workspace.keep_data_file(incoming / "train.csv")[1] == "new"
    (incoming / "train.csv").write_text("a\n1\n")
    assert workspace.keep_data_file(incoming / "train.csv")[1] == "same"
    (incoming / "train.csv").write_text("a\n2\n")
    path, state = workspace.keep_data_file(incoming / "train.csv")
    assert state == "updated" and path.read_text() == "a\n2\n"
    (old,) = (workspace.data_dir / "previous").glob("*/train.csv")
    assert old.read_text() == "a\n1\n"
