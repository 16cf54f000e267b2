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
      driver: "from solution import f\\n\\ndef run(inputs):\\n    return {'f': f()}\\n"
      checks:
        - {name: f_is_one, message: "f() should be 1", expect: "got['f'] == 1"}
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


SHORT_MODEL_ANSWER = """\
items:
  - id: short-model
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
        - name: compare with a reference implementation
          paraphrases:
            - Run a trusted reference implementation on the same batch and compare its logits.
      model_answer: >-
        Without shifting, the label at each position is the input token itself. Shift the labels
        left by one so each position predicts the next token. The loss drops to almost zero
        because copying is trivial.
      wrong_answers:
        - The learning rate is too high for this model.
        - The batch is too small, so use a bigger one.
"""


def test_a_model_answer_that_passes_but_misses_an_idea_is_reported(tmp_path, grader):
    # Passing is not enough: the item's own model answer must earn MODEL_ANSWER_MIN, or an
    # expert who answers with it is capped on the item.
    from interview.verify import MODEL_ANSWER_MIN

    (tmp_path / "topics.yaml").write_text("topics:\n  - {id: t, area: failure_modes, title: T}\n")
    (tmp_path / "items.yaml").write_text(SHORT_MODEL_ANSWER)
    bank = load_bank(tmp_path)
    model = grader.grade(bank.item("short-model"), bank.item("short-model").rubric.model_answer)
    assert model.passed and model.score < MODEL_ANSWER_MIN, model.score
    report = verify_bank(bank, grader, kinds=("free_text",))
    (check,) = report.problems
    assert "model answer scores" in check.problems[0]
    assert f"the model-answer minimum {MODEL_ANSWER_MIN:.2f}" in check.problems[0]
    assert "compare with a reference implementation" in check.problems[0]


def _choice_bank(folder, answers: list[int], right_is_long: list[bool]):
    """A bank of choice items: item k's right option is at `answers[k]`, and is the longest
    option when `right_is_long[k]` (else one of the middle lengths)."""
    items = []
    for k, (answer, long) in enumerate(zip(answers, right_is_long, strict=True)):
        options = [f"plausible wrong idea number {n} about item {k}" for n in range(4)]
        options[(answer + 1) % 4] = f"a longer plausible wrong idea about item {k}, said at length"
        options[(answer + 2) % 4] = f"short wrong {k}"
        options[answer] = (
            f"the right idea about item {k}, explained at great length, longer than the rest"
            if long
            else f"the right idea about item {k}, of middle length"
        )
        items.append(
            {"id": f"c{k}", "topic": "t", "kind": "choice", "level": "easy", "prompt": "p",
             "options": options, "answer": answer}
        )  # fmt: skip
    import yaml

    (folder / "topics.yaml").write_text("topics:\n  - {id: t, area: failure_modes, title: T}\n")
    (folder / "items.yaml").write_text(yaml.safe_dump({"items": items}))
    return load_bank(folder)


def test_a_bank_whose_right_option_is_the_longest_or_first_fails(tmp_path, grader):
    # 3 of 5 right options are the longest (60 %) and 3 of 5 sit at option 0
    bank = _choice_bank(tmp_path, [0, 0, 0, 1, 2], [True, True, True, False, False])
    report = verify_bank(bank, grader)
    assert not report.ok
    problems = {check.item_id: " ".join(check.problems) for check in report.problems}
    assert set(problems) == {"c0", "c1", "c2"}
    assert all("is the longest, as in 3/5 choice items" in p for p in problems.values())
    assert all("is option 0, as in 3/5 choice items" in p for p in problems.values())
    assert report.cues is not None and report.cues.positions[0] == ("c0", "c1", "c2")
    rendered = report.render()
    assert "PROBLEM choice    c0:" in rendered and "right option longest in 3" in rendered


def test_a_bank_with_spread_positions_and_lengths_passes(tmp_path, grader):
    # 2 of 5 (40 %) is the most any cue may reach
    bank = _choice_bank(tmp_path, [0, 1, 2, 3, 0], [True, True, False, False, False])
    report = verify_bank(bank, grader)
    assert report.ok, report.render()
    assert len(report.cues.longest) == 2 and report.cues.items == 5


def test_a_few_choice_items_are_too_few_to_judge_cues(tmp_path, grader):
    bank = _choice_bank(tmp_path, [0, 0, 0], [True, True, True])
    report = verify_bank(bank, grader)
    assert report.ok and "too few items to judge" in report.render()


def test_the_real_banks_choice_items_give_nothing_away(grader):
    report = verify_bank(load_bank(), grader, kinds=("choice",))
    assert report.ok, report.render()
    cues = report.cues
    assert cues.items >= 24
    assert len(cues.longest) <= 0.4 * cues.items and len(cues.shortest) <= 0.4 * cues.items
    assert max(len(ids) for ids in cues.positions.values()) <= 0.4 * cues.items
    assert set(cues.positions) == {0, 1, 2, 3}


def test_verify_bank_command_names_the_items_a_cue_gives_away(tmp_path):
    from typer.testing import CliRunner

    from compete.cli import app

    folder = tmp_path / "bank"
    folder.mkdir()
    _choice_bank(folder, [1, 1, 1, 1, 2], [False, False, False, True, True])
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "interview", "verify-bank",
                                      "--bank", str(folder)])  # fmt: skip
    assert result.exit_code == 1
    for item_id in ("c0", "c1", "c2", "c3"):
        assert f"PROBLEM choice    {item_id}: the right option is option 1, as in 4/5" in (
            result.output
        )
    assert "c4: " in result.output and "PROBLEM choice    c4" not in result.output


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
