"""Each benchmark's smallest configuration runs end to end and writes its report (ours only:
the peers' environment is not built in CI)."""

from __future__ import annotations

import json
import sys

import pytest

from benchmarks import _harness, hybrid_probe, quality, scale, speed


def test_run_measured_sees_a_child_allocate_memory(tmp_path):
    code = "import numpy as np, time; a = np.ones(300 * 2**20 // 8); time.sleep(0.3)"
    measured = _harness.run_measured([sys.executable, "-c", code], timeout=60, cwd=tmp_path)
    assert measured.returncode == 0
    # 300 MB of ones, seen both by sampling the tree and by the kernel's own peak
    assert 300 <= measured.max_rss_mb < 1000
    assert 250 <= measured.peak_tree_mb < 1000
    assert not list(tmp_path.iterdir())  # no log left behind


def test_run_measured_kills_a_child_past_its_timeout(tmp_path):
    measured = _harness.run_measured(
        [sys.executable, "-c", "import time; time.sleep(60)"], timeout=1, cwd=tmp_path
    )
    assert measured.timed_out
    assert measured.returncode != 0
    assert measured.wall_seconds < 10


def test_outer_split_is_seeded_and_stratified():
    spec = _harness.SUITE["wa_churn"]
    frame = _harness.load_frame(spec)
    train_a, test_a = _harness.outer_split(frame, spec, seed=1)
    train_b, test_b = _harness.outer_split(frame, spec, seed=1)
    _, test_c = _harness.outer_split(frame, spec, seed=2)
    assert test_a.equals(test_b) and train_a.equals(train_b)
    assert not test_a.equals(test_c)
    assert len(test_a) == pytest.approx(0.2 * len(frame), abs=1)
    share = lambda part: (part[spec.target] == "Yes").mean()  # noqa: E731
    assert share(test_a) == pytest.approx(share(frame), abs=0.005)


def test_extra_tables_load_offline_and_cover_the_asked_mix():
    tasks = set()
    for spec in _harness.EXTRA.values():
        frame = _harness.load_frame(spec)
        assert 1000 <= len(frame) <= 50_000, spec.name
        assert spec.target in frame.columns and frame[spec.target].notna().all()
        tasks.add(spec.task)
    assert tasks == {"binary", "multiclass", "regression"}
    assert len(_harness.EXTRA) >= 4 and not set(_harness.EXTRA) & set(_harness.SUITE)
    # free text: long strings with many distinct values; high cardinality: 500+ levels
    reviews = _harness.load_frame(_harness.EXTRA["fine_foods"])["review"]
    assert reviews.str.split().str.len().median() > 20 and reviews.nunique() > 3000
    tate = _harness.load_frame(_harness.EXTRA["tate_year"])
    assert tate["artist"].nunique() > 500


def test_grid_is_the_issues_and_every_family_is_a_method():
    cells = quality.grid_cells(["m"])
    public = [c for c in cells if c.dataset in _harness.SUITE and c.budget in (60, 300)]
    assert len(public) == len(_harness.SUITE) * 2 * 3
    extra = [c for c in cells if c.dataset in _harness.EXTRA]
    assert {c.budget for c in extra} == {300} and len(extra) == len(_harness.EXTRA)
    assert [c.seed for c in cells if c.budget == 900] == [0, 1, 2]  # one set, 3 seeds
    assert [c.budget for c in cells] == sorted(c.budget for c in cells)  # cheap cells first
    from pipelines.models import family_names

    assert {*family_names()} - {"lgbm"} <= set(quality.METHODS)
    assert {"portfolio", "autogluon", "flaml", "lgbm_default"} <= set(quality.METHODS)


def test_budget_kept_is_the_issues_rule():
    assert quality.budget_kept(300 * 1.05 + 5, 300)
    assert not quality.budget_kept(300 * 1.05 + 5.1, 300)
    assert quality.budget_kept(67.9, 60) and not quality.budget_kept(68.1, 60)


def test_portfolio_runs_only_once_its_module_exists():
    import importlib.util

    present = importlib.util.find_spec("pipelines.portfolio") is not None
    reason = quality.missing_requirement("portfolio")
    assert (reason is None) == present
    if not present:
        assert "pipelines.portfolio" in reason


@pytest.mark.slow
def test_quality_quick_writes_reports_and_resumes(tmp_path):
    # lgbm_budget runs `compete train --model lgbm --budget 30s --json` in a fresh workspace
    methods = ["lgbm_default", "lgbm_early_stopping", "lgbm_cv", "lgbm_budget"]
    argv = ["--quick", "--datasets", "wa_churn", "diamonds_cut", "--methods", *methods]
    report = quality.main([*argv, "--results", str(tmp_path)])

    log = tmp_path / "quality_quick.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 8
    for record in records:
        assert record["status"] == "ok", record.get("error")
        assert record["wall_seconds"] > 0 and record["peak_mb"] > 50
        assert record["budget_kept"] == quality.budget_kept(
            record["wall_seconds"], quality.QUICK_BUDGET
        )
    churn = [r["score"] for r in records if r["dataset"] == "wa_churn"]
    assert all(0.6 < auc <= 1 for auc in churn)  # better than chance on the churn table
    cli = [r for r in records if r["method"] == "lgbm_budget"]
    # the command line's own cross-validation, read from its --json summary
    assert all(r["info"]["model"] == "lgbm" and r["info"]["cv_mean"] > 0 for r in cli)
    assert all(r["budget_kept"] for r in cli)  # 1200 rows: far inside 30 s

    rows = report["summary"]
    assert {(r["dataset"], r["method"]) for r in rows} == {
        (d, m) for d in ("wa_churn", "diamonds_cut") for m in methods
    }
    for row in rows:
        assert set(row) >= {"mean", "std", "rank", "wall_seconds", "peak_mb", "seeds"}
        assert row["rank"] in (1, 2, 3, 4) and row["budget_kept"] <= row["cells"] == 1
    saved = json.loads((tmp_path / "quality_quick.json").read_text())
    assert saved["summary"] == json.loads(json.dumps(rows))
    text = (tmp_path / "quality_quick.md").read_text()
    assert "| wa_churn |" in text and "| kept |" in text

    # The comparison a headline method gets against the rivals present (lgbm_default here).
    table = quality.comparison_table(rows, ours="lgbm_budget")
    budget = f"{quality.QUICK_BUDGET:g}"
    assert table.count(f"| {budget} |") == 2 and "lgbm_default" in table
    verdict = quality.targets(rows, ours="lgbm_budget")
    assert verdict[f"{budget}s"]["budget_kept"] == "2/2"
    assert verdict[f"{budget}s"]["public_beats_lgbm_default"].endswith("/2")

    # A second run finds every cell done and runs none again.
    quality.main([*argv, "--results", str(tmp_path)])
    assert len(log.read_text().splitlines()) == 8


@pytest.mark.slow
def test_hybrid_probe_scores_every_variant_on_the_same_folds(tmp_path):
    argv = ["--datasets", "hpc_class", "--folds", "2", "--max-rows", "600", "--max-epochs", "1"]
    (result,) = hybrid_probe.main([*argv, "--results", str(tmp_path)])
    assert set(result["variants"]) == set(hybrid_probe.VARIANTS)
    for row in result["variants"].values():
        assert len(row["fold_scores"]) == 2 and row["seconds"] > 0
        assert 0 < row["oof_score"] < 1.4  # four classes: chance is log(4) = 1.386
    # LightGBM alone beats chance clearly on the HPC jobs
    assert result["variants"]["lgbm"]["oof_score"] < 1.0
    hybrid = result["blends"]["hybrid (nn + lgbm_emb)"]
    members = (result["variants"]["nn"]["oof_score"], result["variants"]["lgbm_emb"]["oof_score"])
    assert hybrid["oof_score"] <= min(members) + 1e-9  # hill climbing keeps the best member
    assert sum(hybrid["weights"].values()) == pytest.approx(1)
    saved = json.loads((tmp_path / "hybrid_probe.json").read_text())
    assert saved["results"][0]["dataset"] == "hpc_class"
    assert "| hpc_class |" in (tmp_path / "hybrid_probe.md").read_text()


@pytest.mark.slow
def test_speed_quick_reports_both_pairs(tmp_path):
    report = speed.main(["--quick", "--results", str(tmp_path)])
    saved = json.loads((tmp_path / "speed_quick.json").read_text())
    assert saved["lgbm"]["ratio"] == pytest.approx(report["lgbm"]["ratio"])
    assert set(saved["lgbm"]["median_s"]) == {"ours_cv", "plain_lgbm_train"}
    assert saved["lgbm"]["ratio"] > 0
    cpu = saved["epoch"]["cpu"]
    assert set(cpu["rows_per_s"]) == {"ours_epoch", "minimal_epoch"}
    assert all(rate > 0 for rate in cpu["rows_per_s"].values())


@pytest.mark.slow
def test_scale_quick_measures_peak_memory(tmp_path):
    report = scale.main(["--quick", "--models", "lgbm", "--results", str(tmp_path)])
    lgbm = json.loads((tmp_path / "scale_quick.json").read_text())["models"]["lgbm"]
    assert lgbm["status"] == "ok", lgbm.get("error")
    assert lgbm["rows"] == 5000
    assert 50 < lgbm["peak_mb"] < scale.PEAK_TARGET_MB and lgbm["within_target"]
    assert report["models"]["lgbm"]["cv_rmse"] > 0
