"""Free text graded on claims: which rubric concepts the answer states, which it contradicts.

The answer is read as claims (interview.claims: sentences and their clauses that have a
predicate; a list of terms states nothing and earns nothing). A claim's support for a concept
is its best cosine similarity (all-MiniLM-L6-v2) to a paraphrase of the same polarity, or to
one of the concept's contradictions turned around. Each concept takes its best-supporting
claim, each claim serves one concept (the nearest still open) and each sentence at most
`per_sentence`; the concept earns a share of its weight that ramps linearly from
`concept_floor` to `concept_full` (soft credit: a near miss ranks above a miss, so correct >
partial > wrong), and counts as stated in the feedback from `concept_threshold`. A claim whose
nearest reading is the opposite one (a contradiction, or a paraphrase with its polarity
flipped) contradicts the concept: no credit, and a penalty like a misconception's; a claim
and a text that use the same negating words read the same way, and a flipped reading is
overruled by a claim of the same sentence that states the concept. A claim that restates one
of the model answer's own claims is never a misconception (the rubric's author says it), nor
is a claim that states one of the concepts more closely than the misconception.
Keywords never credit anything on their own: a keyword in a claim adds `keyword_boost` to
that claim's similarity, no more.

With the cross-encoder (interview.nli), the whole answer is also read against each concept:
a concept that one of the answer's claims was credited for earns a share of its weight from
its ramp and P(the answer entails it), combined by a logistic model fitted on labelled
answers (`answer_logit`; or linearly, `answer_mix`), and the cross-encoder confirms the
rules' denials of the nearest claims (`verify`).

score = (earned weight / total weight - penalties) x repetition x focus, clipped to [0, 1];
repetition is the share of the answer's text that is not a repeated sentence, focus shrinks
the score when more than `free_chars` of the text is off the rubric (padding: every sentence
with no credited, contradicting or misconceived claim).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from interview.claims import (
    NEGATORS,
    Claim,
    negated,
    opposed,
    read_answer,
    split_sentences,
    words,
)

if TYPE_CHECKING:
    import numpy as np

    from interview.bank import Concept, Rubric
    from interview.grading import TextEncoder
    from interview.nli import Verifier

__all__ = ["FreeTextConfig", "FreeTextScore", "combined_credit", "score_free_text"]


@dataclass(frozen=True)
class FreeTextConfig:
    """The free-text scorer's knobs, tuned on tests/interview/free_text_eval (held-out
    answers written without the rubric) and checked by verify-bank's attacks."""

    concept_threshold: float = 0.52
    # Soft credit: a concept's best claim earns a share of its weight that ramps from 0 at
    # `concept_floor` to all of it at `concept_full`, so an answer that nearly states an idea
    # ranks above one that does not (correct > partial > wrong), not level with it at zero.
    concept_floor: float = 0.2
    # 0.6 with two or three paraphrases per concept; 0.75 since every concept has five or
    # six (the rubric's words, plain words, other jargon): with more ways to say an idea, a
    # text that only resembles it comes closer too (agreement 33 -> 40 of 58 items).
    concept_full: float = 0.75
    # The claim credited for a concept is on topic (padding is measured against the rest)
    # when at least this close to it.
    on_topic: float = 0.4
    # A claim that matches a concept's own paraphrase with the opposite polarity is a denial
    # of it only when nearly the same sentence (a negation keeps the cosine above ~0.85; a
    # symptom, "the mask never reaches the attention", sits near its fix at ~0.7).
    flipped_threshold: float = 0.8
    contradiction_threshold: float = 0.8
    # MiniLM puts a claim and its contradiction close together (shared words); a claim
    # denies a concept only when it is nearer the denial by this much.
    contradiction_margin: float = 0.1
    contradiction_penalty: float = 0.25
    misconception_threshold: float = 0.7
    # Below the threshold a misconception still costs a share of its penalty, ramping from
    # nothing at `misconception_floor`: a wrong answer that half-states one ranks below a
    # partial one that states none (the mirror of the soft concept credit).
    misconception_floor: float = 0.55
    keyword_boost: float = 0.04
    per_sentence: int = 2
    stated_gate: bool = True
    # A claim whose polarity reads flipped against a paraphrase denies the concept only when
    # no claim of its sentence states it about as closely (False: the claim alone decides).
    sentence_reading: bool = True
    # A claim credits at most one concept (the nearest still open).
    one_idea_per_claim: bool = True
    # Off-rubric text allowed before the score shrinks (context, a hedge, an example).
    free_chars: int = 500
    # Two sentences this close count as one said twice.
    repeat_threshold: float = 0.93
    # A claim must be closer to the concept than to the question by this much: restating the
    # symptom ("the entropy collapses") is not explaining it.
    beyond_question: float = 0.0
    min_words: int = 6
    max_chars: int = 2000
    # A claim at least this close to one of the model answer's own claims (same polarity) is
    # never a misconception: the expert's "share the same Parameter object, not merely equal
    # values" sits at 0.71 from "tying only saves memory" (None: no exemption).
    model_claim_exempt: float | None = 0.9
    # A claim that uses a word's opposite where a rubric text uses the word (interview.claims
    # OPPOSITES: "decreases" for "increases"; "after X" for "before X") reads the other way.
    opposites: bool = True
    # The cross-encoder (interview.nli) reads each concept's nearest claims (at most
    # `verify_candidates`, each at least `verify_deny_near` from it) against the paraphrase
    # nearest each; a claim it reads as a contradiction (P >= verify_deny) denies the
    # concept, as the rules above do. Only near claims: an NLI model trained on SNLI reads
    # another idea about the same symptom as a contradiction. Tuned on the first labelled
    # set and the blind set's even half: negated answers passing 4 -> 1 and 15 -> 10. Used
    # to set each claim's credit too (P(entails) instead of the cosine) it lost agreement
    # (40 -> 19-25 of 58): partial answers state part of an idea, which NLI calls neutral.
    # Off without a verifier (score_free_text's argument).
    verify: bool = True
    verify_candidates: int = 2
    verify_deny: float = 0.97
    verify_deny_near: float = 0.75
    # The whole answer read against each concept (the first paraphrase) by the same
    # cross-encoder, trained for it on 1,160 answers labelled per concept (interview/nli_data):
    # a concept's credit is (1 - answer_mix) x the ramp above + answer_mix x P(the answer
    # entails the concept), and it counts as stated from `answer_found`. Chosen on the first
    # labelled set and the blind set's even half: 0.6 (41/58 and 12/29; 0.8: 40 and 12; 1.0:
    # 38 and 12). Denying a concept when P(contradicts) >= 0.7 lost 2-5 items on the first
    # set and was left out. Off without a verifier or with `verify` off.
    answer_mix: float = 0.6
    answer_found: float = 0.5
    # The reading's share is full from P = answer_full (0.85 and 0.7 agreed alike, 1.0 lost 2
    # items of the blind set's even half), and a concept a claim restates (cosine to a
    # paraphrase >= answer_trust) keeps its full ramp credit whatever the reading says: without
    # it three of the bank's model answers fell below verify-bank's 0.9 (no agreement cost).
    answer_full: float = 0.7
    answer_trust: float = 0.9
    # Only a concept that one of the answer's claims was credited for (one idea per claim, at
    # most `per_sentence` per sentence) earns the reading's share: without it the rubric's
    # concept names written as a comma list passed 5 of 58 items (the reading sees the whole
    # text at once). Costs 1 item on the first set's and even half's sum (42 + 11 against
    # 41 + 12).
    answer_needs_claim: bool = True
    # A claim is a misconception only when it is at least this much closer to it than to any
    # concept it states (one idea per claim, as for the concepts): "torch.no_grad() only turns
    # off gradient tracking" sits at 0.79 from "no_grad already disables dropout" and states
    # the right idea. Chosen on the first labelled set and the blind set's even half: 0.0
    # agreed on 43 and 16 items (none: 42 and 14; 0.05 and 0.1: the same as 0.0; -0.05: 42
    # and 15); the blind set's negated answers passing 7 -> 8. None: no such exemption.
    misconception_margin: float | None = 0.0
    # The ramp and the reading combined by a logistic model instead of the mix above:
    # credit = min(1, sigmoid(a x ramp + b x logit P + c) / answer_scale). Fitted by
    # `python -m interview.nli_train --fit-combiner` on interview/nli_data/round3 (the
    # 2,498 (answer, concept) labels of concepts a claim is credited for and does not
    # restate; the verifier never trained on them): per-concept AUC, states against absent
    # or contradicts, 0.828 against 0.790 for the mix on those rows, in sample (0.813
    # against 0.784 over all 2,820, the others at their credit). Items agreeing: first set
    # 42 (mix 42), blind even half 14 (13), odd half 18 (15); negated blind answers passing
    # 7 (7). Scale 0.65: 41, 14, 18 and 8. None: the mix.
    answer_logit: tuple[float, float, float] | None = (2.98, 0.51, -2.53)
    answer_scale: float = 0.75
    # The reading's premise is the whole answer: only the sentences of a concept's 2 or 3
    # nearest claims (shorter, so faster) agreed on 32 and 36 of the first set's 58 items
    # (whole: 42) and 4 and 7 of the blind set's even half (13).


@dataclass(frozen=True)
class FreeTextScore:
    """One answer's score, what it stated and contradicted, and why it lost points."""

    score: float
    found: tuple[str, ...]
    missed: tuple[str, ...]
    contradicted: tuple[tuple[str, str], ...]  # (concept name, the claim that denies it)
    misconceptions: tuple[str, ...]
    notes: tuple[str, ...]  # why the score was cut: no claims, repetition, padding
    similarity: dict[str, float]
    # (ramp, P(the answer entails it)) of each concept the whole answer was read against
    evidence: dict[str, tuple[float, float]] = field(default_factory=dict)


def keyword_hit(patterns: list[str], text: str) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, text, re.IGNORECASE):
                return True
        except re.error:
            if pattern.lower() in text.lower():
                return True
    return False


@dataclass(frozen=True)
class _Idea:
    """A rubric text group embedded once: vectors (k, 384), each text's polarity and the
    negating words it uses."""

    vectors: np.ndarray
    negated: np.ndarray  # (k,) bool
    negators: tuple[frozenset[str], ...]
    words: tuple[tuple[str, ...], ...]


def _idea(encoder: TextEncoder, texts: list[str]) -> _Idea:
    key = tuple(texts)
    flags, said, vocab = _polarity(key)
    return _Idea(encoder.encode_cached(key), flags, said, vocab)


@functools.lru_cache(maxsize=4096)
def _polarity(
    texts: tuple[str, ...],
) -> tuple[np.ndarray, tuple[frozenset[str], ...], tuple[tuple[str, ...], ...]]:
    """Each rubric text's polarity, negating words and words, read once (rubric text
    repeats)."""
    import numpy as np

    flags = np.array([negated(t) for t in texts], dtype=bool)
    flags.setflags(write=False)
    return flags, tuple(negators(t) for t in texts), tuple(tuple(words(t)) for t in texts)


@functools.lru_cache(maxsize=1024)
def model_claims(model_answer: str) -> tuple[Claim, ...]:
    """The claims of a rubric's model answer, read once."""
    return tuple(claim for s in read_answer(model_answer) for claim in s.claims)


def negators(text: str) -> frozenset[str]:
    """The negating words of `text` ("not", "nothing", "n't" ...)."""
    return frozenset(m.group(0).lower() for m in NEGATORS.finditer(text))


def _same_polarity(
    claims: list[Claim],
    idea: _Idea,
    polarity: np.ndarray,
    vocab: list[tuple[str, ...]] | None,
) -> np.ndarray:
    """(claims, texts): whether each claim and text read the same way. Equal polarity, or
    the same negating words (a clause "it has learned nothing" against "the model has
    learned nothing, so ..." whose negation sits in a subordinate clause is no denial); then
    turned around where the two use opposite words, given the claims' words (`vocab`;
    None: no opposite-words rule)."""
    import numpy as np

    same = polarity[:, None] == idea.negated[None, :]
    if not same.all() and any(idea.negators):
        said = [negators(c.text) for c in claims]
        shared = np.array([[bool(w) and w == n for n in idea.negators] for w in said], dtype=bool)
        same = same | shared
    if vocab is not None:
        flips = np.array([[opposed(v, t) for t in idea.words] for v in vocab], dtype=bool)
        same = same ^ flips.reshape(same.shape)
    return same


def _masked_max(similarity: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise maximum over the columns where `mask` holds; -1 where none does."""
    import numpy as np

    if similarity.shape[1] == 0:
        return np.full(similarity.shape[0], -1.0)
    return np.where(mask, similarity, -1.0).max(axis=1)


def _no_claims(rubric: Rubric, note: str) -> FreeTextScore:
    names = tuple(c.name for c in rubric.concepts)
    return FreeTextScore(0.0, (), names, (), (), (note,), {})


def score_free_text(
    rubric: Rubric,
    answer: str,
    encoder: TextEncoder,
    config: FreeTextConfig,
    question: str = "",
    verifier: Verifier | None = None,
) -> FreeTextScore:
    """Score `answer` against `rubric` (see the module docstring); `verifier` (with
    `config.verify`) checks the nearest claims with the cross-encoder."""
    import numpy as np

    sentences = read_answer(answer)
    claims: list[Claim] = [claim for s in sentences for claim in s.claims]
    if not claims:
        listed = any(s.kind == "list" for s in sentences)
        return _no_claims(
            rubric,
            "It lists terms but makes no claim: say in full sentences what causes what, "
            "why it produces the symptom and how you would fix and check it."
            if listed
            else "No sentence states anything (each needs a verb): say what causes what, "
            "why, and how you would fix and check it.",
        )
    vectors = encoder.encode([c.text for c in claims])
    polarity = np.array([c.negated for c in claims], dtype=bool)
    vocab = [tuple(words(c.text)) for c in claims] if config.opposites else None
    echo = np.full(len(claims), -1.0)  # each claim's closeness to the question itself
    asked = tuple(split_sentences(question))
    if asked:
        echo = (vectors @ encoder.encode_cached(asked).T).max(axis=1)
    total = sum(c.weight for c in rubric.concepts)
    found, missed, contradicted, wrong = [], [], [], []
    similarity: dict[str, float] = {}
    touched = np.zeros(len(claims), dtype=bool)  # claims that state or deny something
    gained, penalty = 0.0, 0.0
    offers: list[tuple[float, str, int]] = []  # (support, concept, claim) of each claim
    verifying = verifier is not None and config.verify
    # (concept, support, states, by_paraphrase) of each concept the verifier reads
    pending: list[tuple[Concept, np.ndarray, np.ndarray, np.ndarray]] = []
    own_statement = np.zeros(len(claims), dtype=bool)
    if config.model_claim_exempt is not None and (rubric.misconceptions or verifying):
        model = model_claims(rubric.model_answer)
        if model:
            model_vectors = encoder.encode_cached(tuple(c.text for c in model))
            model_polarity = np.array([c.negated for c in model], dtype=bool)
            near = (vectors @ model_vectors.T) >= config.model_claim_exempt
            own_statement = (near & (polarity[:, None] == model_polarity[None, :])).any(axis=1)
    nearest_concept = np.full(len(claims), -1.0)
    for concept in rubric.concepts:
        own = _idea(encoder, concept.paraphrases)
        same = _same_polarity(claims, own, polarity, vocab)
        by_paraphrase = vectors @ own.vectors.T
        support = _masked_max(by_paraphrase, same)
        flipped = _masked_max(by_paraphrase, ~same)
        flipped = np.where(flipped >= config.flipped_threshold, flipped, -1.0)
        against = np.full(len(claims), -1.0)
        if concept.contradictions:
            turned = _idea(encoder, concept.contradictions)
            by_contradiction = vectors @ turned.vectors.T
            agree = _same_polarity(claims, turned, polarity, vocab)
            against = np.maximum(against, _masked_max(by_contradiction, agree))
            # "X does not hold" where the contradiction says "X holds" supports the concept.
            denial = _masked_max(by_contradiction, ~agree)
            support = np.maximum(support, np.where(denial >= config.flipped_threshold, denial, -1))
        if concept.keywords:
            boost = np.array([keyword_hit(concept.keywords, c.text) for c in claims])
            support = support + config.keyword_boost * boost
        # A paraphrase read with its polarity flipped denies only when no claim of the same
        # sentence states the concept about as closely: "X is not enough, because Y" is
        # negated by the regex yet states the concept, and its clause "Y" says so.
        in_sentence = support
        if config.sentence_reading:
            best: dict[int, float] = {}
            for index, claim in enumerate(claims):
                best[claim.sentence] = max(best.get(claim.sentence, -1.0), float(support[index]))
            in_sentence = np.array([best[c.sentence] for c in claims])
        by_flip = (flipped >= config.contradiction_threshold) & (
            flipped >= in_sentence + config.contradiction_margin
        )
        by_contra = (against >= config.contradiction_threshold) & (
            against >= support + config.contradiction_margin
        )
        denies = by_flip | by_contra
        against = np.maximum(against, flipped)
        states = (
            (support >= min(config.concept_floor, config.concept_threshold))
            & ~denies
            & (support >= echo + config.beyond_question)
        )
        nearest_concept = np.maximum(nearest_concept, np.where(states, support, -1.0))
        # On topic: a claim credited for an idea (below), not every claim that resembles one
        # (a paragraph of domain talk resembles every idea of a rubric).
        touched |= denies
        similarity[concept.name] = float(support.max())
        if denies.any():
            claim = claims[int(np.argmax(np.where(denies, against, -2.0)))]
            contradicted.append((concept.name, claim.text))
            penalty += config.contradiction_penalty
        elif verifying:
            pending.append((concept, support, states, by_paraphrase))
        else:
            for index in np.flatnonzero(states):
                offers.append((float(support[index]), concept.name, int(index)))
    if pending:
        penalty += _verified(
            claims, pending, verifier, config, offers, contradicted, touched, own_statement
        )
    # A sentence states one or two ideas: each credits at most `per_sentence` concepts, so
    # a sentence that strings the rubric's ideas together is not every claim at once.
    # A claim states one idea: the concept it is nearest to among those still open (a short
    # "split by product" is near both "split by group" and "deduplicate", and says one).
    credited: dict[str, float] = {}
    per_sentence: dict[int, int] = {}
    used: set[int] = set()
    for value, name, index in sorted(offers, reverse=True):
        number = claims[index].sentence
        if name in credited or per_sentence.get(number, 0) >= config.per_sentence:
            continue
        if config.one_idea_per_claim and index in used:
            continue
        credited[name] = value
        used.add(index)
        if value >= config.on_topic:
            touched[index] = True
        per_sentence[number] = per_sentence.get(number, 0) + 1
    for concept in rubric.concepts:
        if credited.get(concept.name, -1.0) >= config.concept_threshold:
            found.append(concept.name)
        else:
            missed.append(concept.name)
    # Near misses count only beside an idea stated outright: text that merely sounds like the
    # topic ("the position id of my desk") earns nothing.
    evidence: dict[str, tuple[float, float]] = {}
    if verifying and config.answer_mix > 0:
        gained, found, missed = _read_whole(
            rubric, answer, verifier, config, credited, bool(found), contradicted, evidence
        )
    elif found or not config.stated_gate:
        gained = sum(c.weight * _ramp(credited.get(c.name, -1.0), config) for c in rubric.concepts)
    for misconception in rubric.misconceptions:
        idea = _idea(encoder, misconception.paraphrases)
        by_paraphrase = vectors @ idea.vectors.T
        match = _masked_max(by_paraphrase, polarity[:, None] == idea.negated[None, :])
        if misconception.keywords:
            boost = np.array([keyword_hit(misconception.keywords, c.text) for c in claims])
            match = match + config.keyword_boost * boost
        if config.model_claim_exempt is not None:
            # A claim that restates one of the model answer's own (same polarity) is no
            # misconception, however near one it sits.
            match = np.where(own_statement, -1.0, match)
        if config.misconception_margin is not None:
            match = np.where(match >= nearest_concept + config.misconception_margin, match, -1.0)
        similarity[misconception.name] = float(match.max())
        hits = match >= config.misconception_threshold
        touched |= hits
        if hits.any():
            wrong.append(misconception.name)
            penalty += misconception.penalty
        elif config.misconception_floor < config.misconception_threshold:
            near = (float(match.max()) - config.misconception_floor) / (
                config.misconception_threshold - config.misconception_floor
            )
            penalty += misconception.penalty * min(1.0, max(0.0, near))
    raw = gained / total - penalty
    factor, notes = _form(sentences, claims, vectors, touched, config)
    score = min(1.0, max(0.0, raw * factor))
    return FreeTextScore(
        score,
        tuple(found),
        tuple(missed),
        tuple(contradicted),
        tuple(wrong),
        notes,
        similarity,
        evidence,
    )


def _verified(
    claims: list[Claim],
    pending: list[tuple[Concept, np.ndarray, np.ndarray, np.ndarray]],
    verifier: Verifier,
    config: FreeTextConfig,
    offers: list[tuple[float, str, int]],
    contradicted: list[tuple[str, str]],
    touched: np.ndarray,
    own_statement: np.ndarray,
) -> float:
    """Read each pending concept's nearest claims (at most `verify_candidates`, each at least
    `verify_deny_near` from it, none restating one of the model answer's own claims) against
    the paraphrase nearest each, with the cross-encoder: a concept a claim denies is recorded
    as contradicted, the others make their offers as without the verifier. Return the
    penalty for the denials."""
    import numpy as np

    from interview.nli import CONTRADICT, ENTAIL

    pairs: list[tuple[int, int, str]] = []  # (pending row, claim, paraphrase)
    for row, (concept, support, states, by_paraphrase) in enumerate(pending):
        eligible = np.flatnonzero(states & (support >= config.verify_deny_near) & ~own_statement)
        for index in eligible[np.argsort(-support[eligible])][: config.verify_candidates]:
            paraphrase = concept.paraphrases[int(np.argmax(by_paraphrase[index]))]
            pairs.append((row, int(index), paraphrase))
    read = verifier.probabilities([claims[i].text for _, i, _ in pairs], [p for _, _, p in pairs])
    penalty = 0.0
    for row, (concept, support, states, _by) in enumerate(pending):
        mine = [(k, index) for k, (r, index, _) in enumerate(pairs) if r == row]
        # A concept another of its near claims states outright is not denied.
        stated = any(read[k, ENTAIL] >= config.verify_deny for k, _ in mine)
        denial = [
            (float(read[k, CONTRADICT]), i)
            for k, i in mine
            if read[k, CONTRADICT] >= config.verify_deny
        ]
        if denial and not stated:
            _, index = max(denial)
            contradicted.append((concept.name, claims[index].text))
            touched[index] = True
            penalty += config.contradiction_penalty
        else:
            offers += [(float(support[i]), concept.name, int(i)) for i in np.flatnonzero(states)]
    return penalty


def _read_whole(
    rubric: Rubric,
    answer: str,
    verifier: Verifier,
    config: FreeTextConfig,
    credited: dict[str, float],
    stated: bool,
    contradicted: list[tuple[str, str]],
    evidence: dict[str, tuple[float, float]],
) -> tuple[float, list[str], list[str]]:
    """The earned weight, and the concepts found and missed, with the whole answer read
    against each concept (`answer_mix`, `answer_logit`); `stated`: a claim states a concept
    outright. A concept a claim contradicts earns nothing. Records each concept read as
    (ramp, P(entails)) in `evidence`."""
    from interview.nli import ANSWER_TOKENS, ENTAIL

    concepts = rubric.concepts
    text = " ".join(answer.split())
    ramps = [_ramp(credited.get(c.name, -1.0), config) for c in concepts]
    # A concept a claim restates (cosine >= answer_trust) keeps its ramp credit whatever the
    # reading says.
    trusted = [credited.get(c.name, -1.0) >= config.answer_trust for c in concepts]
    # Only the concepts a claim was credited for are read (the others earn nothing from it),
    # and not those a trusted claim already gives full credit.
    rows = [
        row
        for row, concept in enumerate(concepts)
        if (concept.name in credited or not config.answer_needs_claim)
        and not (trusted[row] and ramps[row] >= 1.0)
    ]
    hypotheses = [concepts[row].paraphrases[0] for row in rows]
    read = verifier.probabilities([text] * len(rows), hypotheses, max_tokens=ANSWER_TOKENS)
    entails = [0.0] * len(concepts)
    for k, row in enumerate(rows):
        entails[row] = float(read[k, ENTAIL])
        evidence[concepts[row].name] = (ramps[row], entails[row])
    # Near misses count only beside an idea stated outright, by a claim or by the reading
    # (P >= answer_found x answer_full: where the mix's reading, min(1, P / answer_full),
    # reaches answer_found).
    near = stated or max(entails) >= config.answer_found * config.answer_full
    near = near or not config.stated_gate
    found: list[str] = []
    missed: list[str] = []
    denied = {name for name, _ in contradicted}
    gained = 0.0
    for row, concept in enumerate(concepts):
        credit = 0.0
        if concept.name not in denied and near:
            credit = combined_credit(ramps[row], entails[row], config)
            if trusted[row]:
                credit = max(credit, ramps[row])
        (found if credit >= config.answer_found else missed).append(concept.name)
        gained += concept.weight * credit
    return gained, found, missed


def combined_credit(ramp: float, entails: float, config: FreeTextConfig) -> float:
    """A concept's credit from its best claim's ramp and the reading's P(entails)."""
    if config.answer_logit is None:
        reading = min(1.0, entails / config.answer_full)
        return (1 - config.answer_mix) * ramp + config.answer_mix * reading
    a, b, c = config.answer_logit
    p = min(max(entails, 1e-4), 1 - 1e-4)
    z = a * ramp + b * math.log(p / (1 - p)) + c
    return min(1.0, 1 / (1 + math.exp(-z)) / config.answer_scale)


def _ramp(support: float, config: FreeTextConfig) -> float:
    """The share of a concept's weight its best claim earns (see `concept_floor`)."""
    low, high = config.concept_floor, config.concept_full
    if high <= low:
        return float(support >= high)
    return min(1.0, max(0.0, (support - low) / (high - low)))


def _form(
    sentences: list,
    claims: list[Claim],
    vectors: np.ndarray,
    touched: np.ndarray,
    config: FreeTextConfig,
) -> tuple[float, tuple[str, ...]]:
    """The factor for repetition and padding, and the notes that explain it."""
    # The whole-sentence claim of each sentence stands for it.
    heads = {}
    for index, claim in enumerate(claims):
        heads.setdefault(claim.sentence, index)
    on_topic = {claim.sentence for index, claim in enumerate(claims) if touched[index]}
    total = sum(len(s.text) for s in sentences) or 1
    repeated_chars, relevant_chars, seen_keys, kept = 0, 0, set(), []
    for number, sentence in enumerate(sentences):
        key = " ".join(sentence.text.lower().split()).strip(" .")
        head = heads.get(number)
        again = key in seen_keys or (
            head is not None
            and any(float(vectors[head] @ vectors[k]) >= config.repeat_threshold for k in kept)
        )
        seen_keys.add(key)
        if again:
            repeated_chars += len(sentence.text)
            continue
        if head is not None:
            kept.append(head)
        if number in on_topic:
            relevant_chars += len(sentence.text)
    unique = total - repeated_chars
    notes = []
    repetition = unique / total
    if repeated_chars:
        notes.append(
            f"{repeated_chars} of {total} characters repeat earlier sentences; saying a point "
            "twice does not count twice, and repetition costs points."
        )
    # Squared: an answer half padding keeps about a third of its score, not half.
    focus = min(1.0, (relevant_chars + config.free_chars) / max(unique, 1)) ** 2
    if focus < 1.0:
        notes.append(
            f"Only {relevant_chars} of {unique} characters address the question; padding "
            "costs points."
        )
    return repetition * focus, tuple(notes)
