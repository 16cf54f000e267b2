"""The interview bank: at least 40 failure-mode items, 25 fine-tuning items and 15 code exercises,
every topic covered, complete items, and the whole bank verified through
`compete interview verify-bank` (every code item run in the sandbox)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from interview.bank import BANK_DIR, load_bank

# The bank's floor per area: what an adaptive interview needs to draw from without repeats.
MINIMUM = {"failure_modes": 40, "fine_tuning": 25}
MIN_CODE = 15
MIN_PER_TOPIC = 4


@pytest.fixture(scope="module")
def bank():
    return load_bank()


@pytest.mark.parametrize("area", sorted(MINIMUM))
def test_each_area_has_its_items_over_every_topic(bank, area):
    topics = [t.id for t in bank.topics.values() if t.area == area]
    items = [i for i in bank.items.values() if bank.topics[i.topic].area == area]
    assert len(items) >= MINIMUM[area], f"{len(items)} items in {area}"
    per_topic = Counter(i.topic for i in items)
    thin = {t: per_topic[t] for t in topics if per_topic[t] < MIN_PER_TOPIC}
    assert not thin, f"topics with fewer than {MIN_PER_TOPIC} items: {thin}"
    kinds = Counter(i.kind for i in items)
    assert all(kinds[k] >= len(items) // 5 for k in ("choice", "free_text", "code")), kinds
    levels = Counter(i.level for i in items)
    assert all(levels[lv] >= 5 for lv in ("easy", "medium", "hard")), levels
    # A topic's items live in <topic>.yaml, and its "explain the mechanism" items in
    # <topic>_explain.yaml.
    stems = {p.stem.removesuffix("_explain") for p in (BANK_DIR / area).glob("*.yaml")}
    assert stems <= set(topics), stems


def test_code_exercises_and_item_completeness(bank):
    assert sum(i.kind == "code" for i in bank.items.values()) >= MIN_CODE
    for item in bank.items.values():
        assert item.irt is None or item.irt.calibrated is False or item.irt.a > 0
        if item.kind == "choice":
            assert len(set(item.options)) == len(item.options) >= 4, item.id
            assert item.explanation.strip(), f"{item.id}: no explanation"
        if item.kind == "free_text":
            rubric = item.rubric
            for concept in rubric.concepts:
                assert len(concept.paraphrases) >= 2, f"{item.id}/{concept.name}: paraphrases"
                assert all(k == k.lower() for k in concept.keywords), f"{item.id}: keyword case"
            assert rubric.misconceptions, f"{item.id}: no misconception"
        if item.kind == "code":
            assert item.code.checks and "def run(" in item.code.driver, f"{item.id}: no checks"


@pytest.mark.slow
def test_the_whole_bank_verifies_through_the_cli():
    """What CI means by "verify-bank": starters fail, references pass, model answers pass their
    rubric and earn the model-answer minimum, wrong, negated and term-list answers do not,
    and the choice items give no cue, for every item of the shipped bank (this one run covers
    the in-process checks that used to run the same gradings again)."""
    from interview.verify import MODEL_ANSWER_MIN

    result = subprocess.run(
        [sys.executable, "-m", "compete.cli", "interview", "verify-bank", "--json"],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["ok"] is True
    counts = report["counts"]
    assert counts["code"] >= MIN_CODE and counts["problems"] == 0, counts
    assert counts["choice"] >= 1 and counts["free_text"] >= 1, counts
    assert report["model_margin"] >= 0 and report["wrong_margin"] < 0, (
        report["model_margin"],
        report["wrong_margin"],
    )
    assert report["model_min"] >= MODEL_ANSWER_MIN, report["model_min"]
