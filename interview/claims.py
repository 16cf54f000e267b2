"""Claims in a free-text answer: its sentences and clauses, whether each one states something
(has a predicate) or is a fragment of a list, its polarity, and a deterministic negation.

No tagger ships offline here, so a predicate is found with a small lexicon: an auxiliary or
modal ("is", "does", "must"), a verb in its third-person or irregular past form ("shifts",
"broke"), or a bare verb that opens a sentence (an instruction: "Divide the scores by...",
also after an introductory phrase: "To check, compare ..."), follows an adverb ("it never
triggers") or a plural subject ("the logits grow"). A participle alone ("positions shifted by
padding") is not a claim: that is how a rubric's concept names and a list of terms read.
A claim is negated when a negator comes before its predicate or right after it ("does not",
"has no"), not in a later clause ("... a basin the run never leaves").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Claim",
    "Sentence",
    "is_claim",
    "negate_sentence",
    "negate_text",
    "negated",
    "opposed",
    "read_answer",
    "words",
]


def _set(text: str) -> frozenset[str]:
    """A word list written as prose (easier to read and extend than a list literal)."""
    return frozenset(text.split())


AUXILIARIES = _set(
    """is are was were am has have had does do did can could will would shall should must may
    might cannot isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't can't
    couldn't won't wouldn't shouldn't mustn't it's that's there's they're we're"""
)
PRONOUNS = _set("i we you they he she it that which who this these those there")
# A bare verb counts after these (an instruction, or "we/you/they + verb").
BARE_VERB_AFTER = _set("i we you they then first also just simply always never and")
# Bare verbs of this domain and of plain English; the inflected forms are derived below.
VERBS = """accept accumulate act add adapt affect allow append apply assert assume attend
average avoid
backpropagate become broadcast begin behave blow break bring build cache calibrate call cast
catch cause come change check clamp clip collapse compare compute concatenate confirm
contain continue convert copy count cover create cross cut damage decay decode decrease
define degrade depend destabilise destabilize detect differ disappear distort divide do
drift drop emit enable end ensure equal evaluate exceed exclude expect explode extend
extrapolate fail feed fill find fit fix flow follow forget freeze get give go grow guard
handle happen help hide hit hold ignore improve include increase initialise initialize
inspect interpolate introduce invent keep kill know lack land lead leak learn leave let lie
limit load log look lose lower make map mask match mean measure memorise memorize merge miss
mix monitor move multiply need normalise normalize occur offset overfit overflow overwrite
pack pad pass pick place plot point precompute predict prevent print produce push put raise
ramp rank reach read rebuild receive recompute recover reduce reinitialise reinitialize
reload remain remove rename repeat replace replay report reproduce require rerun reset
restart restore resume retrain return reuse rise rotate run sample saturate save scale see
seem send separate set share shift show shrink shuffle sit skip slow solve split spike split
spread stabilise stabilize start stay stop store strip subtract sum surface swap take tell
test think tie tolerate track train transpose truncate treat trigger trust try turn
underflow undo unfreeze untie update use vanish verify view want warm weight work write zero
allocate clone detach override pile profile record refit snapshot sweep upcast wrap"""
IRREGULAR_PAST = {
    "become": "became", "begin": "began", "blow": "blew", "break": "broke", "bring": "brought",
    "build": "built", "come": "came", "do": "did", "feed": "fed", "find": "found",
    "forget": "forgot",
    "freeze": "froze", "get": "got", "give": "gave", "go": "went", "grow": "grew",
    "hold": "held", "keep": "kept", "know": "knew", "lead": "led", "learn": "learnt",
    "leave": "left", "lie": "lay", "lose": "lost", "make": "made", "mean": "meant",
    "overwrite": "overwrote", "read": "read", "rebuild": "rebuilt", "rise": "rose",
    "run": "ran", "see": "saw", "send": "sent", "shrink": "shrank", "sit": "sat",
    "spread": "spread", "take": "took", "tell": "told", "think": "thought", "write": "wrote",
    "cut": "cut", "hit": "hit", "let": "let", "put": "put", "set": "set", "split": "split",
}  # fmt: skip
# Words that deny a claim: grammatical negation, and verdicts that turn a step around
# ("checking the logits is pointless" denies "check the logits").
NEGATORS = re.compile(
    r"\b(?<![_.])(?:not|never|no|nor|neither|none|nothing|nobody|nowhere|cannot|unnecessary|"
    r"pointless|useless|"
    r"irrelevant|needless)\b|n't\b",
    re.IGNORECASE,
)
# A negation past one of these belongs to a subordinate clause ("positions they never had"),
# not to the claim's own predicate.
SCOPE_END = _set(
    """that which who whom whose where when if unless because since so than until while
    whereas although though they"""
)
CONTRAST_AFTER = _set("only just merely simply")
# "It is not true that ...": the whole sentence is denied, each clause of it too.
DENIAL_FRAME = re.compile(
    r"^\s*(?:it\s+is|it's)\s+(?:not\s+(?:true|the\s+case)|false|a\s+myth|wrong)\s+(?:that\s+)?"
    r"|^\s*(?:no|wrong)\s*[,:]\s*",
    re.IGNORECASE,
)
# Pairs of opposite words: a claim that says one where a text says the other (and neither
# says both) states the opposite without any negator ("the loss decreases" for "increases",
# "a different scale" for "the same scale"). Each line is one pair: the words left of "|"
# oppose those right of it. "Before" and "after" by ORDER_WORDS below: "unscale before
# clipping" and "clip after unscaling" say the same (two model answers fell to 0.55 when they
# were a plain pair here).
OPPOSITES = tuple(
    (_set(left), _set(right))
    for left, right in (
        line.split("|")
        for line in """
        increase increases increased increasing grow grows grew growing raise raises raised
            rise rises rising inflate inflates inflated | decrease decreases decreased
            decreasing shrink shrinks shrank shrinking reduce reduces reduced reducing deflate
            deflates deflated
        larger bigger higher greater | smaller lower
        more | fewer less
        above | below
        same identical equal unchanged | different differs differ changed
        enable enables enabled | disable disables disabled
        include includes included including | exclude excludes excluded excluding
        keep keeps kept retain retains retained preserve preserves preserved | lose loses lost
            discard discards discarded destroy destroys destroyed
        first | last
        early | late
        correct | incorrect wrong
        true | false
        helps help helped | hurts hurt
        stable | unstable
        safe harmless | unsafe harmful
        overflow overflows | underflow underflows
        inside within | outside
        masked | unmasked
        causes cause caused | prevents prevent prevented
        frozen freeze freezes | unfrozen unfreeze unfreezes
        """.replace("\n            ", " ")
        .strip()
        .splitlines()
    )
)


# "A before B" and "A after B" are opposite, "B after A" is not: an order word opposes the
# other only when both govern the same word (the first word after them, compared on its stem).
ORDER_WORDS = {"before": "before", "prior": "before", "after": "after"}
ORDER_SKIP = _set("the a an to of it its each every any all we you")


def _ordered(tokens: tuple[str, ...]) -> tuple[str, str] | None:
    """The one order word of `tokens` and the stem of the word it governs (None if it has
    none, or more than one)."""
    marks = [i for i, t in enumerate(tokens) if t in ORDER_WORDS]
    if len(marks) != 1:
        return None
    rest = [t for t in tokens[marks[0] + 1 :] if t not in ORDER_SKIP]
    return (ORDER_WORDS[tokens[marks[0]]], rest[0][:5]) if rest else None


def opposed(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    """Whether two texts (their words) read opposite ways: an odd number of OPPOSITES pairs
    where one text has a word of one side and the other a word of the other side, and
    neither has both sides, counting "before X" against "after X" as one such pair."""
    a, b = frozenset(first), frozenset(second)
    flips = 0
    for left, right in OPPOSITES:
        a_left, a_right = bool(a & left), bool(a & right)
        b_left, b_right = bool(b & left), bool(b & right)
        if (a_left and a_right) or (b_left and b_right):
            continue
        flips += (a_left and b_right) or (a_right and b_left)
    order_a, order_b = _ordered(first), _ordered(second)
    if order_a and order_b and order_a[0] != order_b[0] and order_a[1] == order_b[1]:
        flips += 1
    return flips % 2 == 1


SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)|\n+")
CLAUSE_BREAK = re.compile(
    r",\s*(?:so|and|but|which|while|whereas)\s+|\s+(?:so that|because|but|whereas|while|"
    r"which means|so)\s+|:\s+|\s+[-–—]+\s+",
    re.IGNORECASE,
)
ENUMERATION = re.compile(
    r"(?:or |and )?(?:such as|like|e\.g\.|for example|for instance|including|namely|say)\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[a-z][a-z0-9_'\-]*", re.IGNORECASE)
# Words between a subject and its verb ("it never triggers", "keys only show").
ADVERBS = _set("never always also only still often usually then just already rarely seldom")
NOT_PLURAL = _set("this these those thus always perhaps whereas hers yours ours theirs")
# An introductory phrase before an instruction: "To check, compare ...", "Alternatively, keep".
INTRO = re.compile(
    r"^\s*(?:(?:to|first|then|also|finally|before|after|if|when|instead|otherwise|"
    r"alternatively|afterwards|next)\b[^,]{0,60},\s*|(?:alternatively|instead|otherwise|"
    r"finally|next|then)\s+)",
    re.IGNORECASE,
)
MIN_CLAIM_WORDS = 4
LIST_TERM_WORDS = 6
ENUMERATED_WORDS = 3
CONSEQUENCE = re.compile(r"(?:so|hence|therefore|thus|because|which)\b", re.IGNORECASE)


def _third_person(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _past(verb: str) -> str:
    if verb in IRREGULAR_PAST:
        return IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    if verb in {"drop", "stop", "step", "pad", "skip", "plan", "ship", "spike"}:
        return verb + verb[-1] + "ed" if verb != "spike" else "spiked"
    return verb + "ed"


BARE = _set(VERBS)
THIRD_PERSON = {_third_person(v): v for v in BARE} | {"has": "have", "does": "do", "is": "be"}
IRREGULAR = {past: verb for verb, past in IRREGULAR_PAST.items() if past != verb}
REGULAR_PAST = {_past(v): v for v in BARE if v not in IRREGULAR_PAST}


def _plural(word: str | None) -> bool:
    """A plural noun as a subject ("logits", "embeddings"), not "is", "its" or "loss"."""
    return (
        bool(word)
        and len(word) > 3
        and word.endswith("s")
        and not word.endswith(("ss", "us", "is", "ous"))
        and word not in NOT_PLURAL
    )


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def is_claim(text: str, *, opens_sentence: bool = True) -> bool:
    """Whether `text` states something: at least MIN_CLAIM_WORDS words and a predicate. A bare
    verb counts as an instruction only where a sentence opens (`opens_sentence`)."""
    tokens = words(text)
    if len(tokens) < MIN_CLAIM_WORDS:
        return False
    intro = INTRO.match(text)
    if intro and is_claim(text[intro.end() :], opens_sentence=True):
        return True  # "To check, compare ...": an instruction after an introductory phrase
    for index, token in enumerate(tokens):
        before = tokens[index - 1] if index else None
        if token in AUXILIARIES or token.endswith("n't"):
            return True
        if token in THIRD_PERSON and index > 0 and before not in {"the", "a", "an", "of"}:
            return True
        if token in IRREGULAR and index > 0:
            return True
        if before in PRONOUNS and index > 0 and token.endswith(("s", "ed")) and len(token) > 3:
            return True  # "which destroys", "it overwrote", "that shifted"
        if token in REGULAR_PAST and before in PRONOUNS:
            return True
        if (
            index > 1
            and before in ADVERBS
            and (
                token in THIRD_PERSON
                or token in IRREGULAR
                or token in REGULAR_PAST
                or token in BARE
            )
        ):
            return True  # "it never triggers", "the model never learned", "keys only show"
        if token in BARE and index > 0 and _plural(before):
            return True  # "the attention logits grow", "the embeddings stay trainable"
        if token in BARE and (
            (index == 0 and opens_sentence)
            or (before in BARE_VERB_AFTER and index < 4)
            or before in {"i", "we", "you", "they"}
        ):
            return True
    return False


def negated(text: str) -> bool:
    """Whether the claim's own predicate is denied: a negator before the first subordinate
    clause ("does not change", "never reaches"; not "positions they never
    had"), or a denial frame ("It is not true that ...")."""
    if DENIAL_FRAME.search(text):
        return True
    count = 0
    # "torch.no_grad()" and "ignore_index" are one token each: no negation inside.
    tokens = re.findall(r"[A-Za-z0-9_'.]*[A-Za-z0-9_']|[,:;]", text)
    verb = _predicate(tokens)
    for index, token in enumerate(tokens):
        low = token.lower()
        if index > 1 and (low in SCOPE_END or low in {":", ";"}):
            break
        if verb is not None and index > verb + PREDICATE_REACH:
            break  # "... leave the weights in a basin the run never leaves": a relative clause
        if not (NEGATORS.fullmatch(low) or low.endswith("n't")):
            continue
        after = tokens[index + 1].lower() if index + 1 < len(tokens) else ""
        # "position past_length, not zero" and "not only ... but" contrast, they do not deny.
        if (index and tokens[index - 1] == ",") or after in CONTRAST_AFTER:
            continue
        count += 1
    # Any denial, not its parity: "X does not help, and Y shows no difference" denies both
    # (two denials in one claim are far more common in answers than a double negative).
    return count > 0


# A negator denies the claim's predicate when it comes before it or at most this many words
# after it ("is not", "has no", "can never", "should also not").
PREDICATE_REACH = 2


def _predicate(tokens: list[str]) -> int | None:
    """The index of the claim's first finite verb (an auxiliary, a third-person or past form
    after a subject); None when the lexicon finds none."""
    lowered = [t.lower() for t in tokens]
    clause = []
    for index, token in enumerate(lowered):
        if index > 1 and (token in SCOPE_END or token in {":", ";", ","}):
            break
        clause.append(token)
    # An auxiliary first: "the attention weights don't add up" has its verb in "don't", not
    # in "weights" (a plural noun that is also a verb).
    for index, token in enumerate(clause):
        if token in AUXILIARIES or token.endswith("n't"):
            return index
    for index, token in enumerate(clause):
        before = clause[index - 1] if index else ""
        if (
            index
            and before not in {"the", "a", "an", "of"}
            and (token in THIRD_PERSON or token in IRREGULAR or token in REGULAR_PAST)
        ):
            return index
    return None


@dataclass(frozen=True)
class Claim:
    """One unit an answer is graded on: a whole sentence or one of its clauses."""

    text: str
    negated: bool
    sentence: int  # index into the answer's sentences


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer: its claims, or none when it is a fragment or a list."""

    text: str
    claims: tuple[Claim, ...]
    kind: str  # "claim", "list" (comma-separated terms) or "fragment" (no predicate)


def split_sentences(text: str) -> list[str]:
    """Sentences; a line break inside a paragraph is a space, a new line that starts a
    bullet or follows a blank line starts a new sentence."""
    text = re.sub(r"[ \t]*\n(?!\s*(?:\n|[-*•]\s|\d+[.)]\s))[ \t]*", " ", text.strip())
    return [s.strip(" -*•") for s in SENTENCE_END.split(text) if s and s.strip(" -*•")]


def _is_list(sentence: str) -> bool:
    """Three or more comma-separated parts, most of those after the first without a predicate
    of their own: terms, not claims. An enumeration that follows a claim ("..., such as log
    of zero, division by zero, or a fully masked row") is part of that claim, and a series
    of instructions ("add clipping, lower the rate, and guard the log") is a claim each."""
    plain = re.sub(r"\([^()]*\)|`[^`]*`|\[[^\[\]]*\]", "", sentence).strip(" .")
    intro = INTRO.match(plain)
    plain = plain[intro.end() :] if intro else plain  # "To check, compare a, b and c"
    lead, colon, rest = plain.partition(": ")
    if colon and is_claim(lead) and "," in rest:
        plain = rest  # "The fix has three parts: mask ..., pool ..., and check ..."
    parts = [p for p in re.split(r"\s*[,;]\s*", plain) if p and p.strip()]
    if len(parts) < 3:
        return False
    first = words(parts[0])
    opening = first[1] if first[:1] and first[0] in BARE_VERB_AFTER and len(first) > 1 else ""
    imperative = bool(first) and (first[0] in BARE or opening in BARE)
    if is_claim(parts[0]) and ENUMERATION.match(parts[1]):
        return False
    # "The order must be zero_grad, backward, clip, then step": a claim that names a series.
    if is_claim(parts[0]) and all(len(words(p)) <= ENUMERATED_WORDS for p in parts[1:]):
        return False
    # "... about 17 million, far beyond the fp16 range, so the growth is exponential": a
    # claim whose asides end in a consequence stated as a clause of its own.
    if is_claim(parts[0]) and CONSEQUENCE.match(parts[-1]) and is_claim(parts[-1]):
        return False
    # A part of more than LIST_TERM_WORDS words is a clause whose verb the lexicon missed
    # ("so their dot products drift upward without any limit"), not a term.
    stated = sum(
        is_claim(p, opens_sentence=imperative) or len(words(p)) > LIST_TERM_WORDS for p in parts[1:]
    )
    return stated * 2 < len(parts) - 1


def read_answer(text: str) -> list[Sentence]:
    """The answer's sentences, each with the claims it makes (itself and its clauses)."""
    sentences = []
    for number, sentence in enumerate(split_sentences(text)):
        if _is_list(sentence):
            sentences.append(Sentence(sentence, (), "list"))
            continue
        if not is_claim(sentence):
            sentences.append(Sentence(sentence, (), "fragment"))
            continue
        denied = bool(DENIAL_FRAME.search(sentence))
        body = DENIAL_FRAME.sub("", sentence) if denied else sentence
        claims = [Claim(sentence, negated(sentence), number)]
        parts = [p.strip(" ,.;") for p in CLAUSE_BREAK.split(body) if p and p.strip(" ,.;")]
        pieces = [q.strip() for p in parts for q in p.split(", ") if q.strip()]
        for piece in [*parts, *pieces] if len(pieces) > 1 else []:
            if is_claim(piece):
                claims.append(Claim(piece, negated(piece) != denied, number))
        sentences.append(Sentence(sentence, tuple(dict.fromkeys(claims)), "claim"))
    return sentences


# -- negation (verify-bank and the attack tests turn model answers around with it) ----------

_AUX_NEGATION = {
    "is": "is not", "are": "are not", "was": "was not", "were": "were not", "has": "has not",
    "have": "have not", "had": "had not", "does": "does not", "do": "do not", "did": "did not",
    "can": "cannot", "could": "could not", "will": "will not", "would": "would not",
    "should": "should not", "must": "must not", "may": "may not", "might": "might not",
}  # fmt: skip
_DENIALS = [
    (re.compile(r"\b(is|are|was|were|does|do|did|has|have|had|could|would|should|must|will)"
                r"\s+not\b", re.IGNORECASE), r"\1"),
    (re.compile(r"\bcannot\b", re.IGNORECASE), "can"),
    (re.compile(r"\b(\w+)n't\b", re.IGNORECASE), r"\1"),
    (re.compile(r"\bnever\b", re.IGNORECASE), "always"),
    (re.compile(r"\bno\b", re.IGNORECASE), "some"),
]  # fmt: skip


def _negate_clause(clause: str) -> str:
    """Turn one clause around: remove its negation, or negate its first predicate."""
    if negated(clause):
        for pattern, replacement in _DENIALS:
            if pattern.search(clause):
                fixed = pattern.sub(replacement, clause, count=1)
                return fixed.replace("won ", "will ").replace("ca ", "can ")
    tokens = clause.split(" ")
    lowered = [t.lower().strip(",.;:()") for t in tokens]
    # "Weight tying means ...": a verb right after the first word makes that word a noun.
    opening_noun = any(t in AUXILIARIES or t in THIRD_PERSON for t in lowered[1:3])
    for index, raw in enumerate(tokens):
        token = raw.lower().strip(",.;:()")
        if not token:
            continue
        before = tokens[index - 1].lower() if index else ""
        if token in _AUX_NEGATION:
            tokens[index] = raw[: len(raw) - len(raw.lstrip())] + _AUX_NEGATION[token]
            if raw[:1].isupper():
                tokens[index] = tokens[index].capitalize()
            return " ".join(tokens)
        if token in THIRD_PERSON and index > 0 and before not in {"the", "a", "an", "of"}:
            tokens[index] = "does not " + THIRD_PERSON[token]
            return " ".join(tokens)
        if (token in IRREGULAR or token in REGULAR_PAST) and index > 0 and before in PRONOUNS:
            tokens[index] = "did not " + IRREGULAR.get(token, REGULAR_PAST.get(token, token))
            return " ".join(tokens)
        if token in BARE and index == 0 and not opening_noun:
            return "Do not " + clause[0].lower() + clause[1:]
        if token in BARE and index > 0 and before in {"i", "we", "you", "they"}:
            tokens[index] = "do not " + token
            return " ".join(tokens)
    return "it is not true that " + clause[0].lower() + clause[1:]


_CLAUSES = re.compile(r"(,\s*(?:so|and|but|which)\s+|;\s+|:\s+|\s+so\s+|\s+because\s+)")


def negate_sentence(sentence: str) -> str:
    """`sentence` with every clause's claim turned around (deterministic; see verify-bank)."""
    pieces = _CLAUSES.split(sentence.strip())
    out = []
    for index, piece in enumerate(pieces):
        if index % 2 == 1 or not piece.strip():
            out.append(piece)
            continue
        # An instruction after an introductory phrase ("To verify, compare ...").
        intro = re.match(r"^((?:to|first|then|also|finally|before|after|if)\b[^,]{0,60},\s*)",
                         piece, re.IGNORECASE)  # fmt: skip
        head, body = (intro.group(1), piece[intro.end() :]) if intro else ("", piece)
        negated_body = _negate_clause(body) if len(body.split()) > 1 else body
        if head or index:
            negated_body = negated_body[:1].lower() + negated_body[1:]
        out.append(head + negated_body)
    text = "".join(out)
    return text[0].upper() + text[1:] if text else text


def negate_text(text: str) -> str:
    """Every sentence of `text` turned around."""
    return " ".join(negate_sentence(s) for s in split_sentences(" ".join(text.split())))
