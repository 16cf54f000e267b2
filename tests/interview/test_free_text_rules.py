"""The free-text grader's general rules, each on one answer (tests/interview/
test_free_text_eval.py measures them together on the labelled answers)."""

from __future__ import annotations

import dataclasses

import pytest

from interview.bank import load_bank
from interview.claims import opposed, read_answer, words
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


@pytest.mark.parametrize(
    "sentence",
    [
        # An instruction after an introductory phrase.
        "To check, compare the logits of the prompt alone and inside the batch.",
        "Alternatively keep post-LN with a long warm-up.",
        # A verb after an adverb, and a plural subject with a bare verb.
        "Clipping acts on the gradient norm, which was small, so it never triggers.",
        "The norms of the queries and keys keep growing during training.",
        # A claim that names a series is one claim, not a list of terms.
        "The order must be zero_grad, backward, clip, then step.",
        "Compare logits[:, :-1] with input_ids[:, 1:], so position t predicts token t+1.",
        "Over 24 blocks that is a factor of 2 to the 24, about 17 million, far beyond the fp16 "
        "range, so the growth is exponential in depth.",
    ],
)
def test_claims_the_lexicon_used_to_miss_are_claims(sentence):
    assert [s.kind for s in read_answer(sentence)] == ["claim"], read_answer(sentence)


def test_concept_names_that_are_claims_pasted_as_a_list_earn_nothing(bank, grader):
    # The first concept name is a claim ("strict=False silently skips mismatched keys"); the
    # names and keywords after it are terms, so the whole is a list, not one claim.
    from interview.verify import term_list_answer

    item = bank.item("ft-rms-strict-false")
    answer = term_list_answer(item)
    assert "list" in [s.kind for s in read_answer(answer)]
    assert grader.grade(item, answer).score == 0.0


def test_a_list_of_terms_is_still_a_list():
    for terms in (
        "left padding, right padding, position ids, absolute position embeddings, cumsum",
        "softmax, causal mask, denominator, -inf, masked_fill, row sums, future tokens",
        "The key ideas: padding mask, mean pooling, masked mean, minus infinity, batch size.",
    ):
        assert [s.kind for s in read_answer(terms)] == ["list"], terms


@pytest.mark.parametrize(
    ("text", "denied"),
    [
        ("The mask never reaches the attention.", True),
        ("Padding has no effect on the positions.", True),
        ("Nobody put the model in eval mode, so dropout stays on.", True),
        # The auxiliary is the predicate, not "weights" (a plural noun that is also a verb).
        ("The attention weights of a query don't add to one.", True),
        # A negation in a relative clause or after a colon does not deny the claim.
        ("Big updates can leave the weights in a basin the run never fully leaves.", False),
        ("Log the ratio in both runs: with warm-up no spike appears.", False),
        # An identifier is one token: "no_grad" holds no "no".
        ("torch.no_grad() switches dropout off.", False),
    ],
)
def test_a_negation_denies_the_claims_own_predicate(text, denied):
    from interview.claims import negated

    assert negated(text) is denied


def test_the_model_answers_own_claims_are_no_misconception(bank, grader):
    # The model answer's "share the same Parameter object, not merely equal values" sits at
    # 0.71 from "tying only saves memory": the threshold (0.7) charged the expert for it.
    item = bank.item("fm-weight-tying-broken")
    answer = item.rubric.model_answer
    fixed = dataclasses.replace(grader.config, model_claim_exempt=None, misconception_margin=None)
    before = score_free_text(item.rubric, answer, grader.encoder, fixed, item.prompt)
    after = score_free_text(item.rubric, answer, grader.encoder, grader.config, item.prompt)
    assert before.misconceptions and before.score < 0.9
    assert not after.misconceptions and after.score >= 0.9
    # Either rule alone clears it: the claim restates the model answer's, and it states the
    # concept "tying means one shared Parameter" more closely than the misconception.
    for rule in ({"model_claim_exempt": None}, {"misconception_margin": None}):
        alone = dataclasses.replace(grader.config, **rule)
        one = score_free_text(item.rubric, answer, grader.encoder, alone, item.prompt)
        assert not one.misconceptions, rule
    # A candidate who states the misconception outright is still charged.
    wrong = (
        "Weight tying only saves memory, so whether the weights are tied cannot change what "
        "the model outputs. The learning rate was too high."
    )
    stated = score_free_text(item.rubric, wrong, grader.encoder, grader.config, item.prompt)
    assert stated.misconceptions


def test_a_misconception_glued_to_a_stated_concept_is_still_charged(bank, grader):
    # The margin exempts a claim nearer a concept than the misconception: a sentence that
    # states a concept and then the misconception must not hide the second behind the first.
    # On 16 items (all 58 take a minute), such a sentence is charged with the margin exactly
    # when it is without.
    without = dataclasses.replace(grader.config, misconception_margin=None)
    charged = 0
    items = [i for i in bank.items.values() if i.kind == "free_text" and i.rubric.misconceptions]
    for item in sorted(items, key=lambda i: i.id)[:16]:
        concept = item.rubric.concepts[0].paraphrases[0].rstrip(".")
        wrong = item.rubric.misconceptions[0].paraphrases[0]
        answer = f"{concept}, and {wrong[0].lower()}{wrong[1:]}"
        scores = [
            score_free_text(item.rubric, answer, grader.encoder, config, item.prompt)
            for config in (without, grader.config)
        ]
        assert scores[1].misconceptions == scores[0].misconceptions, item.id
        charged += bool(scores[1].misconceptions)
    assert charged >= 8  # the sentence does state a misconception on most of them


def test_a_clause_read_against_its_sentence_is_no_denial(bank, grader):
    # "Replacing the NaN output ... is not enough, because the backward pass still produces
    # NaN gradients": the regex reads the sentence as negated, a paraphrase without the
    # negation sits close, yet its own clause states the concept.
    item = bank.item("fm-fully-masked-row-explain")
    answer = item.rubric.model_answer
    alone = dataclasses.replace(grader.config, sentence_reading=False)
    before = score_free_text(item.rubric, answer, grader.encoder, alone, item.prompt)
    after = score_free_text(item.rubric, answer, grader.encoder, grader.config, item.prompt)
    assert [name for name, _ in before.contradicted] == [
        "zeroing the attention output afterwards is not enough"
    ]
    assert not after.contradicted and after.score >= 0.9


@pytest.mark.parametrize(
    "first, second, flipped",
    [
        ("the loss increases during warm-up", "the loss decreases during warm-up", True),
        ("both runs use the same scale", "both runs use a different scale", True),
        ("measure the norm before clipping", "measure the norm after clipping", True),
        # Same order said the other way round: no flip.
        ("unscale the gradients before clipping", "clip after unscaling the gradients", False),
        # A text with both sides of a pair says nothing by it.
        ("the loss increases then decreases", "the loss decreases", False),
        # Two flips cancel.
        ("larger batches increase the noise", "smaller batches decrease the noise", False),
    ],
)
def test_opposite_words_turn_a_claim_around(first, second, flipped):
    assert opposed(tuple(words(first)), tuple(words(second))) is flipped


def test_a_claim_with_an_opposite_word_contradicts_the_concept(bank, grader):
    # The concept's own paraphrase with "higher" and "overestimated" turned into their
    # opposites, and no negator: without the opposite-words rule it earned the concept.
    item = bank.item("fm-dropout-eval-explain")
    answer = (
        "A thinned sub-network sampled by dropout has a lower expected cross-entropy than the "
        "full network, so the validation loss is underestimated."
    )
    plain = dataclasses.replace(grader.config, opposites=False)
    before = score_free_text(item.rubric, answer, grader.encoder, plain, item.prompt)
    after = score_free_text(item.rubric, answer, grader.encoder, grader.config, item.prompt)
    name = "the loss is biased upward"
    assert name in before.found and not before.contradicted
    assert name not in after.found
    assert name in [concept for concept, _ in after.contradicted]
