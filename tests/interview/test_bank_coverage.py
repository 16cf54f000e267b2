"""Bank coverage (issue 12, item 4): depth is asked in words as well as in code.

Every failure mode that a choice or code item exercises has a free-text item asking for its
mechanism, the bank has at least 40 free-text items, and every free-text item has labelled
answers in tests/interview/free_text_eval/ for the free-text grader's evaluation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from interview.bank import BANK_DIR, load_bank
from interview.free_text import keyword_hit

MIN_FREE_TEXT = 40
EVAL_DIR = Path(__file__).resolve().parent / "free_text_eval"
ANSWER_FIELDS = ("correct", "partial", "wrong", "negated", "term_list")
COVERS = "covers:"

# Choice/code items whose failure mode an older free-text item already asks about in words; the
# newer "explain" items name theirs with a `covers:<item-id>` tag instead.
EXISTING_COVERAGE = {
    "fm-head-split-no-transpose": "fm-head-merge-no-transpose",
    "fm-kv-cache-concat-axis": "fm-kv-cache-drift",
    "fm-cache-positions-not-advanced": "fm-kv-cache-drift",
    "ft-rms-concat-pool-head": "ft-rms-find-head",
    "ft-rms-dead-head": "ft-rms-find-head",
    "ft-rms-swap-head": "ft-rms-find-head",
    "ft-ed-too-good": "ft-ed-group-leakage",
    "ft-ed-dedup-split": "ft-ed-group-leakage",
    "ft-ed-never-stops": "fm-eos-missing",
}


@pytest.fixture(scope="module")
def bank():
    return load_bank()


@pytest.fixture(scope="module")
def labelled() -> dict[str, list[tuple[str, dict]]]:
    """item id -> [(file name, entry)] over every file of the labelled-answer folder."""
    found: dict[str, list[tuple[str, dict]]] = {}
    for path in sorted(EVAL_DIR.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        assert isinstance(raw.get("answers"), list), f"{path.name}: expected an 'answers:' list"
        for entry in raw["answers"]:
            found.setdefault(entry.get("item"), []).append((path.name, entry))
    return found


def _covered_by(bank) -> dict[str, set[str]]:
    """choice/code item id -> the free-text items that ask for its mechanism."""
    covered: dict[str, set[str]] = {}
    for item in bank.items.values():
        if item.kind != "free_text":
            continue
        for tag in item.tags:
            if tag.startswith(COVERS):
                covered.setdefault(tag[len(COVERS) :], set()).add(item.id)
    for target, free_text in EXISTING_COVERAGE.items():
        covered.setdefault(target, set()).add(free_text)
    return covered


def _explain_items(bank):
    return [i for i in bank.items.values() if any(t.startswith(COVERS) for t in i.tags)]


def test_the_bank_has_enough_free_text_items(bank):
    free_text = [i for i in bank.items.values() if i.kind == "free_text"]
    assert len(free_text) >= MIN_FREE_TEXT, f"{len(free_text)} free-text items"
    # Spread: every topic asks in words for more than one mechanism.
    per_topic = {t: sum(i.topic == t for i in free_text) for t in bank.topics}
    assert min(per_topic.values()) >= 3, per_topic


def test_every_choice_and_code_failure_mode_is_asked_in_words(bank):
    covered = _covered_by(bank)
    uncovered = sorted(
        item.id
        for item in bank.items.values()
        if item.kind in ("choice", "code") and not covered.get(item.id)
    )
    assert not uncovered, (
        f"choice/code items with no free-text item for their mechanism: {uncovered}"
    )


def test_coverage_points_at_real_items(bank):
    """A mistyped `covers:` tag or mapping would hide a gap; each must name a choice or code
    item, and each mapping must name a free-text item."""
    dangling = sorted(
        f"{source} -> {target}"
        for target, sources in _covered_by(bank).items()
        for source in sources
        if target not in bank.items or bank.items[target].kind not in ("choice", "code")
    )
    assert not dangling, f"coverage naming no choice/code item: {dangling}"
    not_free_text = sorted(
        source
        for source in EXISTING_COVERAGE.values()
        if source not in bank.items or bank.items[source].kind != "free_text"
    )
    assert not not_free_text, f"EXISTING_COVERAGE names no free-text item: {not_free_text}"


def test_explain_items_are_complete(bank):
    """The new items carry what the free-text grader uses: contradictions, a misconception,
    paraphrases in more than one wording, and they live in the `<topic>_explain.yaml` files."""
    items = _explain_items(bank)
    assert len(items) >= 17, f"{len(items)} explain items"
    problems = []
    for item in items:
        rubric = item.rubric
        if item.kind != "free_text" or rubric is None:
            problems.append(f"{item.id}: not a free-text item")
            continue
        if sum(len(c.contradictions) for c in rubric.concepts) < 2:
            problems.append(f"{item.id}: fewer than 2 contradictions")
        if not rubric.misconceptions:
            problems.append(f"{item.id}: no misconception")
        for concept in rubric.concepts:
            if len(set(concept.paraphrases)) < 2:
                problems.append(f"{item.id}/{concept.name}: fewer than 2 paraphrases")
        if len(rubric.model_answer.split(". ")) < 3:
            problems.append(f"{item.id}: model answer under 3 sentences")
    assert not problems, problems
    files = {p.stem for p in BANK_DIR.rglob("*_explain.yaml")}
    assert files == {f"{i.topic}_explain" for i in items}, files


def test_every_free_text_item_has_labelled_answers(bank, labelled):
    """Passes once the labelled answers of the older items (written on another branch, in the
    files named after the bank files) are merged; it names the items that still lack them."""
    free_text = sorted(i.id for i in bank.items.values() if i.kind == "free_text")
    missing = [item_id for item_id in free_text if item_id not in labelled]
    assert not missing, f"{len(missing)} free-text item(s) without labelled answers: {missing}"


def test_labelled_answers_are_well_formed(bank, labelled):
    problems = []
    for item_id, entries in labelled.items():
        where = ", ".join(name for name, _ in entries)
        if item_id not in bank.items or bank.items[item_id].kind != "free_text":
            problems.append(f"{where}: {item_id!r} is not a free-text item of the bank")
        if len(entries) > 1:
            problems.append(f"{item_id}: labelled twice ({where})")
        for _, entry in entries:
            empty = [f for f in ANSWER_FIELDS if not str(entry.get(f) or "").strip()]
            if empty:
                problems.append(f"{item_id}: empty or missing {empty}")
    assert not problems, problems


def test_explain_correct_answers_avoid_the_rubric_keywords(bank, labelled):
    """A correct answer must show the grader recognises the idea, not the rubric's words."""
    hits = []
    for item in _explain_items(bank):
        for _, entry in labelled.get(item.id, []):
            for concept in item.rubric.concepts:
                if keyword_hit(concept.keywords, entry["correct"]):
                    hits.append(f"{item.id}/{concept.name}")
    assert not hits, f"correct answers that use a rubric keyword: {hits}"
