"""Grading: choice by index or text, free text against its rubric, code through the sandbox."""

from __future__ import annotations

import threading
import time

import pytest

from interview.bank import Check, CodeTask, Item, load_bank
from interview.claims import read_answer
from interview.errors import GradingError
from interview.grading import Grader, TextEncoder, choice_index
from interview.sandbox import SandboxLimits


@pytest.fixture(scope="module")
def bank():
    return load_bank()


@pytest.fixture(scope="module")
def grader():
    grader = Grader(limits=SandboxLimits(wall_s=30, cpu_s=10))
    grader.warm_up()
    return grader


def test_the_constructor_loads_nothing():
    grader = Grader()
    assert grader.encoder._model is None


def test_choice_accepts_an_index_digits_or_the_option_text(bank, grader):
    item = bank.item("mask-after-softmax-symptom")
    right = item.answer
    assert grader.grade(item, right).passed and grader.grade(item, str(right)).passed
    assert grader.grade(item, "  " + item.options[right].upper() + " ").score == 1.0
    wrong = grader.grade(item, (right + 1) % 4)
    assert wrong.score == 0.0 and not wrong.passed and wrong.kind == "choice"
    assert choice_index(item, 9) is None and choice_index(item, "nonsense") is None
    assert "No option matched" in grader.grade(item, "nonsense").feedback


def test_an_answer_is_read_as_claims_and_a_list_of_terms_as_none():
    answer = read_answer(
        "The mask hides pads. It does not move positions, so the position ids are shifted.\n\n"
        "position ids, left padding, attention mask, cumulative sum"
    )
    assert [s.kind for s in answer] == ["claim", "claim", "list"]
    claims = {c.text: c.negated for s in answer for c in s.claims}
    assert claims["It does not move positions"] is True
    assert claims["the position ids are shifted"] is False
    assert answer[2].claims == ()


def test_model_answer_passes_and_names_the_concepts_found(bank, grader):
    item = bank.item("left-padding-positions")
    grade = grader.grade(item, item.rubric.model_answer)
    assert grade.passed and grade.score >= item.pass_mark
    assert set(grade.concepts_found) == {c.name for c in item.rubric.concepts}
    assert "Covered:" in grade.feedback


def test_wrong_answers_fail_and_feedback_lists_what_is_missing(bank, grader):
    item = bank.item("left-padding-positions")
    for answer in item.rubric.wrong_answers:
        grade = grader.grade(item, answer)
        assert not grade.passed and grade.score < item.pass_mark
        assert grade.concepts_missed and "Missing:" in grade.feedback


def test_a_partial_answer_gets_partial_credit(bank, grader):
    item = bank.item("left-padding-positions")
    answer = (
        "With left padding the real tokens of short prompts start at later position ids, so "
        "they receive the wrong position embeddings."
    )
    grade = grader.grade(item, answer)
    assert 0 < grade.score < 1
    assert "positions shifted by padding" in grade.concepts_found


def test_feedback_describes_missed_ideas_in_words_and_gives_the_model_answer(bank, grader):
    item = bank.item("left-padding-positions")
    grade = grader.grade(item, item.rubric.wrong_answers[0])
    first = {c.name: c.paraphrases[0] for c in item.rubric.concepts}
    assert grade.missed_ideas == tuple(first[name] for name in grade.concepts_missed)
    assert grade.model_answer == " ".join(item.rubric.model_answer.split())
    # only the first paraphrase of a missed idea, never the others
    for concept in item.rubric.concepts:
        for paraphrase in concept.paraphrases[1:]:
            assert paraphrase not in grade.feedback


def test_a_contradicted_concept_costs_points_and_is_named(bank, grader):
    item = bank.item("left-padding-positions")
    base = grader.grade(item, item.rubric.model_answer)
    denied = grader.grade(
        item,
        item.rubric.model_answer
        + " Left padding has no effect at all on which position embedding a real token gets.",
    )
    assert denied.score < base.score
    assert "positions shifted by padding" not in denied.concepts_found
    assert denied.contradictions and "Contradicts" in denied.feedback


def test_keywords_alone_never_credit_a_concept(bank, grader):
    item = bank.item("left-padding-positions")
    # Every keyword of the rubric inside claims about something else entirely.
    answer = (
        "I think the cumsum of the loss is what people call the cumulative sum in reports. "
        "The position id of my desk is next to the window, which is unpadded and bright. "
        "We got the same logits twice yesterday when the cluster was without padding jobs."
    )
    grade = grader.grade(item, answer)
    assert grade.concepts_found == () and grade.score == 0.0


def test_empty_or_short_answers_score_zero_with_a_reason(bank, grader):
    item = bank.item("left-padding-positions")
    for answer in ("", "   ", "position ids"):
        grade = grader.grade(item, answer)
        assert grade.score == 0.0 and not grade.passed
        assert "too short" in grade.feedback


def test_a_misconception_costs_points_unless_it_is_rejected(bank, grader):
    item = bank.item("left-padding-positions")
    base = item.rubric.model_answer
    asserted = grader.grade(item, base + " Just pad on the right instead, then generation works.")
    rejected = grader.grade(
        item, base + " Just padding on the right instead would not be a real fix here."
    )
    assert "switch to right padding for generation" in asserted.misconceptions
    assert asserted.score < grader.grade(item, base).score
    assert rejected.misconceptions == ()


def test_code_items_report_each_check(bank, grader):
    item = bank.item("fix-mask-after-softmax")
    good = grader.grade(item, item.code.reference)
    assert good.passed and good.score == 1.0 and len(good.tests) == 3
    bad = grader.grade(item, item.code.starter)
    assert not bad.passed and "[FAIL] future_does_not_change_the_past" in bad.feedback
    assert "got[" not in bad.feedback  # no check expression
    assert "masked_fill" not in bad.feedback  # no reference
    assert bad.seconds > 0


def test_code_verdicts_reach_the_grade():
    item = Item(
        id="spin",
        topic="attention_masking",
        kind="code",
        level="easy",
        prompt="spin",
        code=CodeTask(
            starter="",
            reference="def f():\n    return 1\n",
            driver="from solution import *\n\ndef run(inputs):\n    return {'y': f()}\n",
            checks=[Check(name="y", message="f() should be 1", same=["y"])],
        ),
    )
    spin = "def f():\n    while True:\n        pass\n"
    grade = Grader(limits=SandboxLimits(wall_s=20, cpu_s=1, memory_mb=1024)).grade(item, spin)
    assert grade.error == "cpu time limit" and grade.score == 0.0 and not grade.passed
    assert "Stopped: cpu time limit" in grade.feedback


def test_a_free_text_item_without_rubric_is_a_clear_error(bank):
    item = bank.item("left-padding-positions").model_copy(update={"rubric": None})
    with pytest.raises(GradingError, match="no rubric"):
        Grader().grade(item, "some words that are long enough to be graded here")


def test_the_encoder_is_safe_to_share_between_threads(bank, grader):
    item = bank.item("left-padding-positions")
    expected = grader.grade(item, item.rubric.model_answer).score
    scores = []

    def work() -> None:
        scores.append(grader.grade(item, item.rubric.model_answer).score)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert scores == [expected] * 4


def test_each_grader_has_its_own_encoder():
    assert Grader().encoder is not Grader().encoder
    assert isinstance(Grader().encoder, TextEncoder)


def test_a_code_items_reference_runs_while_it_is_shown_not_when_it_is_graded():
    from interview.checking import ReferenceCache

    class CountingCache(ReferenceCache):
        runs = 0

        def _reference_outputs(self, task, cases):
            self.runs += 1
            return super()._reference_outputs(task, cases)

    grader = Grader()
    grader.references = CountingCache(grader.limits)
    item = load_bank().item("fix-mask-after-softmax")
    grader.prepare(item)
    grader.prepare(item)  # a batch is on its way: no second one
    deadline = time.monotonic() + 60
    while grader.references.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert grader.references.runs == 1  # ran while the item was on screen, before any answer
    assert grader.grade(item, item.code.reference).passed
    assert grader.grade(item, item.code.starter).score == 0.0
    # both gradings took their reference outputs from the one prefetched batch
    assert grader.references.runs == 1


def test_a_grading_with_no_reference_ready_runs_the_reference_on_its_case_alone():
    """No batch for a grading that finds the pool empty: the candidate would wait for the
    reference's other cases too."""
    from interview.checking import ReferenceCache

    class CountingCache(ReferenceCache):
        cases: list[int] = []

        def _reference_outputs(self, task, cases):
            self.cases.append(len(cases))
            return super()._reference_outputs(task, cases)

    grader = Grader()
    grader.references = CountingCache(grader.limits)
    item = load_bank().item("fix-mask-after-softmax")
    assert grader.grade(item, item.code.reference).passed
    assert grader.grade(item, item.code.starter).score == 0.0
    assert grader.references.cases == [1, 1]
