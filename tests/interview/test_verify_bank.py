"""verify-bank on the real bank, and on a small bank with planted problems."""

from __future__ import annotations

import textwrap

import pytest

from interview.bank import load_bank
from interview.grading import Grader
from interview.verify import verify_bank


@pytest.fixture(scope="module")
def grader():
    return Grader()


def test_every_choice_and_free_text_item_of_the_bank_verifies(grader):
    report = verify_bank(load_bank(), grader, kinds=("choice", "free_text"))
    assert report.ok, report.render()
    assert report.model_margin is not None and report.model_margin >= 0
    assert report.wrong_margin is not None and report.wrong_margin < 0
    counts = report.counts()
    assert counts["choice"] >= 1 and counts["free_text"] >= 1 and counts["problems"] == 0


BROKEN = """\
items:
  - id: broken-choice
    topic: t
    kind: choice
    level: easy
    prompt: p
    options: ["same", "Same", "other"]
    answer: 0
  - id: broken-text
    topic: t
    kind: free_text
    level: medium
    prompt: Why does a model copy its input when labels are not shifted?
    rubric:
      concepts:
        - name: labels equal inputs
          paraphrases: ["Without shifting, the label at each position is the input token itself."]
        - name: shift by one
          paraphrases: ["Shift the labels left by one so each position predicts the next token."]
        - name: loss near zero
          paraphrases: ["The loss drops to almost zero because copying is trivial."]
      model_answer: The learning rate is too high.
      wrong_answers:
        - >-
          Without shifting, the label at each position is the input token itself, so shift
          the labels left by one so each position predicts the next token; the loss drops to
          almost zero because copying is trivial.
        - The batch is too small.
  - id: broken-code
    topic: t
    kind: code
    level: easy
    prompt: p
    code:
      starter: "def f():\\n    return 1\\n"
      reference: "def f():\\n    return 2\\n"
      tests: "from solution import f\\n\\ndef test_f():\\n    assert f() == 1, 'f() should be 1'\\n"
"""


def test_planted_problems_are_each_reported(tmp_path, grader):
    (tmp_path / "topics.yaml").write_text("topics:\n  - {id: t, area: failure_modes, title: T}\n")
    (tmp_path / "items.yaml").write_text(textwrap.dedent(BROKEN))
    report = verify_bank(load_bank(tmp_path), grader)
    assert not report.ok
    problems = {check.item_id: " ".join(check.problems) for check in report.problems}
    assert "same text" in problems["broken-choice"]
    assert "model answer scores" in problems["broken-text"]
    assert "wrong answer 1 scores" in problems["broken-text"]
    assert (
        "reference fails" in problems["broken-code"]
        and "f() should be 1" in problems["broken-code"]
    )
    assert "starter passes" in problems["broken-code"]
    assert "3/3 items ok" not in report.render() and "0/3 items ok" in report.render()


def test_verify_bank_grades_the_negated_and_term_list_answers_itself(grader):
    from interview.verify import check_free_text, negated_answer, term_list_answer

    item = load_bank().item("left-padding-positions")
    negated = negated_answer(item)
    assert negated != " ".join(item.rubric.model_answer.split())
    assert "does not change the positions" not in negated  # that denial is turned around
    terms = term_list_answer(item)
    assert "positions shifted by padding" in terms and "cumulative sum" in terms
    check, _, wrong_margin = check_free_text(item, grader)
    assert check.ok and wrong_margin < 0
    assert any(n.startswith("negated ") for n in check.notes)
    assert any(n.startswith("term list ") for n in check.notes)
