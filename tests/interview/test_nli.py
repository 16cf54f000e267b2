"""The free-text verifier (interview.nli): the shipped cross-encoder loads offline, refuses
weights that do not fit, and reads claims it never saw in training as stating, denying or
saying something else than a rubric idea."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from interview.errors import GradingError
from interview.nli import CONTRADICT, ENTAIL, NEUTRAL, WEIGHTS, Verifier
from interview.nli_train import bank_pairs


@pytest.fixture(scope="module")
def verifier():
    found = Verifier()
    found.load()
    return found


def test_the_weights_ship_inside_the_package():
    assert WEIGHTS.is_file()
    # Everything but the frozen word embeddings, in float16: about 22 MB, not 90.
    assert 15e6 < WEIGHTS.stat().st_size < 30e6


def test_probabilities_are_one_row_per_pair(verifier):
    read = verifier.probabilities(["The loss went down.", "x"], ["The loss decreased.", "y"])
    assert read.shape == (2, 3)
    assert np.allclose(read.sum(axis=1), 1.0, atol=1e-4)
    again = verifier.probabilities(["The loss went down."], ["The loss decreased."])
    assert np.allclose(again[0], read[0])


# Written for this test, in none of the bank's rubrics: (claim, rubric idea, expected reading).
UNSEEN = [
    (
        "Dividing the scores by the square root of the head size keeps the softmax from "
        "saturating when the dimension is large.",
        "Scaling the dot products by one over root d stops the softmax from becoming one-hot.",
        ENTAIL,
    ),
    (
        "Scaling the dot products makes no difference to how peaked the softmax gets.",
        "Scaling the dot products by one over root d stops the softmax from becoming one-hot.",
        CONTRADICT,
    ),
    (
        "The optimizer's learning rate is too high, so the updates overshoot.",
        "Scaling the dot products by one over root d stops the softmax from becoming one-hot.",
        NEUTRAL,
    ),
    (
        "Dropout is still active because the model was never put into eval mode.",
        "The model is left in training mode at inference, so dropout keeps zeroing units.",
        ENTAIL,
    ),
    pytest.param(
        "Evaluation mode was set correctly, so dropout was switched off at inference.",
        "The model is left in training mode at inference, so dropout keeps zeroing units.",
        CONTRADICT,
        marks=pytest.mark.xfail(
            strict=True,
            reason="a denial in other words that needs knowing eval mode turns dropout off: "
            "the model misses it, which is why the verifier only confirms denials of near claims",
        ),
    ),
]


@pytest.mark.parametrize(("claim", "idea", "expected"), UNSEEN)
def test_an_unseen_claim_is_read_the_right_way(verifier, claim, idea, expected):
    read = verifier.probabilities([claim], [idea])[0]
    assert int(np.argmax(read)) == expected, read


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(GradingError, match="interview.nli_train"):
        Verifier(weights=tmp_path / "absent.safetensors").load()


def test_weights_trained_on_other_word_embeddings_are_refused(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(WEIGHTS), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    copy = tmp_path / "other.safetensors"
    save_file(tensors, str(copy), metadata={"word_embeddings_sha256": "0" * 64})
    with pytest.raises(GradingError, match="word embeddings"):
        Verifier(weights=copy).load()
    shutil.copy(WEIGHTS, tmp_path / "same.safetensors")
    Verifier(weights=tmp_path / "same.safetensors").load()


def test_the_bank_gives_pairs_of_all_three_readings():
    pairs = bank_pairs()
    labels = {label for _, _, label in pairs}
    assert labels == {ENTAIL, NEUTRAL, CONTRADICT}
    assert all(premise != hypothesis for premise, hypothesis, _ in pairs)
    counts = [sum(1 for *_, label in pairs if label == wanted) for wanted in sorted(labels)]
    assert min(counts) > 0.1 * len(pairs)
