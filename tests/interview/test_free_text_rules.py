"""The free-text grader's general rules, each on one answer (tests/interview/
test_free_text_eval.py measures them together on the labelled answers)."""

from __future__ import annotations

import dataclasses

import pytest

from interview.bank import load_bank
from interview.claims import read_answer
from interview.free_text import FreeTextConfig, _ramp, score_free_text
from interview.grading import Grader


@pytest.fixture(scope="module")
def bank():
    return load_bank()


@pytest.fixture(scope="module")
def grader():
    grader = Grader()
    grader.warm_up()
    return grader


def test_a_long_clause_after_a_comma_is_part_of_a_claim_not_a_term():
    sentence = (
        "In those heads the query and key vectors keep getting longer as training goes on, so "
        "their dot products drift upward without any limit, from 20 to thousands."
    )
    assert [s.kind for s in read_answer(sentence)] == ["claim"]
    assert [s.kind for s in read_answer("left padding, position ids, attention mask")] == ["list"]


def test_soft_credit_ramps_between_the_floor_and_full():
    config = FreeTextConfig(concept_floor=0.2, concept_full=0.6)
    assert _ramp(0.1, config) == 0.0
    assert _ramp(0.4, config) == pytest.approx(0.5)
    assert _ramp(0.7, config) == 1.0
    assert _ramp(0.55, dataclasses.replace(config, concept_floor=0.6)) == 0.0


def test_a_claim_credits_one_idea(bank, grader):
    # "split by product" sits near both "split by group" (0.73) and "deduplicate" (0.59).
    item = bank.item("ft-ed-group-leakage")
    answer = "I would split the reviews by product instead of by single review."
    result = score_free_text(item.rubric, answer, grader.encoder, grader.config, item.prompt)
    assert result.found == ("split by group",)


def test_near_misses_earn_nothing_without_an_idea_stated_outright(bank, grader):
    item = bank.item("left-padding-positions")
    answer = (
        "The position id of my desk is next to the window, which is unpadded and bright. "
        "We got the same logits twice yesterday when the cluster was without padding jobs."
    )
    result = score_free_text(item.rubric, answer, grader.encoder, grader.config, item.prompt)
    assert result.found == () and result.score == 0.0
    ungated = dataclasses.replace(grader.config, stated_gate=False)
    assert score_free_text(item.rubric, answer, grader.encoder, ungated, item.prompt).score > 0


def test_a_half_stated_misconception_costs_part_of_its_penalty(bank, grader):
    # The bank's wrong answer leans on a misconception without stating it outright.
    item = bank.item("fm-causal-off-by-one-explain")
    answer = item.rubric.wrong_answers[1]
    config = grader.config
    hard = dataclasses.replace(config, misconception_floor=config.misconception_threshold)
    soft = score_free_text(item.rubric, answer, grader.encoder, config, item.prompt)
    before = score_free_text(item.rubric, answer, grader.encoder, hard, item.prompt)
    assert soft.misconceptions == before.misconceptions  # none reaches the threshold
    near = [
        name
        for name, value in soft.similarity.items()
        if name in {m.name for m in item.rubric.misconceptions}
        and config.misconception_floor < value < config.misconception_threshold
    ]
    assert near, soft.similarity
    assert soft.score < before.score
