"""Answers that game a free-text grader must stay below the pass mark on every free-text item
of the bank: lists of the rubric's concept names or keywords, a generic list of domain terms,
the model answer turned around, padded, repeated or over the length cap (INTERVIEW.md,
"Grading integrity")."""

from __future__ import annotations

import pytest

from interview.bank import Item, load_bank
from interview.grading import Grader
from interview.verify import negated_answer, term_list_answer

# Written once, without looking at any rubric: the vocabulary of the whole bank.
GENERIC_TERMS = (
    "attention, softmax, gradient, learning rate, warm-up, layer normalisation, residual "
    "connection, embedding, tokenizer, padding, mask, positional encoding, dropout, optimizer, "
    "Adam, weight decay, batch size, loss, overfitting, fine-tuning, LoRA, checkpoint, mixed "
    "precision, fp16, bf16, validation split, evaluation, logits, cross-entropy, initialisation"
)
# Off-topic prose, every sentence different (so only the padding rule can catch it).
NEUTRAL_FILLER = (
    "I have seen this kind of situation many times in my previous jobs and in side projects. "
    "It is always worth taking a step back before changing anything in a large code base. "
    "Good engineering practice means writing things down and discussing them with the team. "
    "In my experience, careful communication with colleagues saves a lot of time later on. "
    "Many problems look mysterious at first and become obvious once the details are clear. "
    "I usually keep a notebook of experiments so that nothing gets lost between meetings. "
    "Reading the documentation of the libraries involved is also a habit I would recommend. "
    "It helps to have a calm approach, because rushing usually introduces new mistakes. "
    "Teams that review each other's work catch more issues before they reach production. "
    "Finally, I believe that clear naming and small functions make any project easier. "
    "There are of course many other considerations, but these are the ones I find useful. "
    "Overall this is a good question and I enjoyed thinking about the different aspects. "
    "Thank you for asking it, and I am happy to go into more detail on any part of it. "
    "Every project is different, so the right answer always depends on the context a bit. "
    "Still, a structured approach tends to pay off in the long run for everyone involved. "
)
# On-topic-sounding sentences that say nothing about any item's mechanism.
DOMAIN_FILLER = (
    "Transformers are neural networks built from stacked attention and feed-forward layers. "
    "They are trained with gradient descent on large amounts of text or other sequences. "
    "Modern training uses optimisers such as Adam together with a learning-rate schedule. "
    "Fine-tuning adapts a pretrained model to a new task with a smaller labelled data set. "
    "Evaluation on held-out data tells us how well a model generalises beyond its training. "
    "Mixed precision makes training faster and uses less memory on modern accelerators. "
    "Tokenizers turn text into integer ids, and embeddings turn those ids into vectors. "
    "Deep learning frameworks such as PyTorch make it easy to write these models quickly. "
    "Large models need careful engineering, monitoring and a lot of compute to train well. "
    "Many tricks from the research literature improve the stability of training runs. "
    "Practitioners share their experience in blog posts, papers and open-source code. "
    "Debugging neural networks is a skill that improves with practice and with patience. "
    "Benchmarks help compare models, although no single number tells the whole story. "
    "Data quality matters at least as much as the architecture for the final results. "
    "Reproducibility requires fixed seeds, versioned data and recorded configurations. "
)
CAP = 2000


def _pad(answer: str, filler: str, chars: int = 1500) -> str:
    return answer + " " + filler[:chars].rsplit(". ", 1)[0] + "."


def _model(item: Item) -> str:
    return " ".join(item.rubric.model_answer.split())


ATTACKS = {
    "concept names": lambda item: ", ".join(c.name for c in item.rubric.concepts),
    "names and keywords": term_list_answer,
    "generic 30 terms": lambda item: GENERIC_TERMS,
    "negated model answer": negated_answer,
    "model + 1500 neutral filler": lambda item: _pad(_model(item), NEUTRAL_FILLER),
    "model + 1500 domain filler": lambda item: _pad(_model(item), DOMAIN_FILLER),
    "model + one sentence x8": lambda item: (
        _model(item) + (" " + _model(item).split(". ")[0] + ".") * 8
    ),
    "model answer twice": lambda item: _model(item) + " " + _model(item),
    "model answer over the cap": lambda item: " ".join(
        [_model(item)] * (CAP // len(_model(item)) + 1)
    ),
}


@pytest.fixture(scope="module")
def grader():
    grader = Grader()
    grader.warm_up()
    return grader


@pytest.fixture(scope="module")
def items():
    return [item for item in load_bank().items.values() if item.kind == "free_text"]


def test_the_length_cap_has_a_clear_message(grader, items):
    item = items[0]
    grade = grader.grade(item, ATTACKS["model answer over the cap"](item))
    assert not grade.passed and grade.score == 0.0
    assert "too long" in grade.feedback and f"{CAP:,}" in grade.feedback


def test_a_term_list_earns_nothing_and_says_why(grader, items):
    item = items[0]
    grade = grader.grade(item, term_list_answer(item))
    assert grade.score == 0.0 and grade.concepts_found == ()
    assert "lists terms but makes no claim" in grade.feedback


def test_repetition_and_padding_are_named_in_the_feedback(grader, items):
    item = items[0]
    twice = grader.grade(item, ATTACKS["model answer twice"](item))
    assert "repeat" in twice.feedback
    padded = grader.grade(item, ATTACKS["model + 1500 neutral filler"](item))
    assert "padding" in padded.feedback


def test_no_attack_reaches_the_pass_mark_on_any_item(grader, items):
    assert len(items) >= 23
    table = {name: [] for name in ATTACKS}
    for item in items:
        for name, attack in ATTACKS.items():
            grade = grader.grade(item, attack(item))
            table[name].append((item.id, grade.score, grade.passed))
    print(f"\n{'attack':<30} passing  max score")
    for name, rows in table.items():
        passed, top = sum(p for _, _, p in rows), max(s for _, s, _ in rows)
        print(f"{name:<30} {passed:3d}/{len(rows):<4} {top:.2f}")
    passing = {name: [(i, round(s, 2)) for i, s, p in rows if p] for name, rows in table.items()}
    assert not any(passing.values()), passing


def test_the_model_answer_itself_still_passes_every_item(grader, items):
    failing = []
    for item in items:
        grade = grader.grade(item, item.rubric.model_answer)
        if not grade.passed:
            failing.append((item.id, round(grade.score, 2), grade.concepts_missed))
    assert not failing, failing
