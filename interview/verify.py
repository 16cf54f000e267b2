"""verify-bank: every item of the bank is gradable and its own answers grade as intended."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from interview.bank import Bank, Item
from interview.claims import negate_text
from interview.grading import Grader


@dataclass(frozen=True)
class ItemCheck:
    """One item's verdict: `problems` empty means it is fine; `notes` are measurements."""

    item_id: str
    kind: str
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems


# A cue that finds the right option of more than this share of the choice items gives answers
# away to a candidate who knows nothing (always the longest, always the first in the file).
MAX_CUE_SHARE = 0.4
# Below this many choice items a share says nothing (two items are 50 % each).
MIN_ITEMS_FOR_CUES = 5
# An item's own model answer must earn at least this: an expert who answers with it has
# stated every idea, so anything less is a rubric (or grader) defect that caps every
# candidate's credit on the item and keeps strong sessions out of the top band.
MODEL_ANSWER_MIN = 0.9


@dataclass(frozen=True)
class ChoiceCues:
    """How often a blind rule finds the right option over the bank's choice items: it is the
    longest option, the shortest, or at a given position of the file (`positions[k]` items
    have `answer: k`). Ties count for the rule."""

    items: int
    longest: tuple[str, ...]
    shortest: tuple[str, ...]
    positions: dict[int, tuple[str, ...]]

    def problems(self) -> dict[str, list[str]]:
        """Item id -> what gives its answer away, for each cue above MAX_CUE_SHARE."""
        found: dict[str, list[str]] = {}
        if self.items < MIN_ITEMS_FOR_CUES:
            return found
        cues = [
            ("the right option is the longest", self.longest),
            ("the right option is the shortest", self.shortest),
            *((f"the right option is option {k}", ids) for k, ids in self.positions.items()),
        ]
        for cue, ids in cues:
            if len(ids) > MAX_CUE_SHARE * self.items:
                note = (
                    f"{cue}, as in {len(ids)}/{self.items} choice items (more than "
                    f"{MAX_CUE_SHARE:.0%} gives answers away: vary lengths and positions)"
                )
                for item_id in ids:
                    found.setdefault(item_id, []).append(note)
        return found

    def describe(self) -> str:
        position, at = max(self.positions.items(), key=lambda p: len(p[1]), default=(0, ()))
        return (
            f"choice cues over {self.items} items: right option longest in {len(self.longest)}, "
            f"shortest in {len(self.shortest)}, most often option {position} ({len(at)}); "
            f"each must stay at or below {MAX_CUE_SHARE:.0%}"
            + ("" if self.items >= MIN_ITEMS_FOR_CUES else " (too few items to judge)")
        )


def choice_cues(items: list[Item]) -> ChoiceCues:
    """Measure the blind rules of ChoiceCues over the choice items among `items`."""
    longest, shortest = [], []
    by_position: dict[int, list[str]] = {}
    choice = [item for item in items if item.kind == "choice"]
    for item in choice:
        lengths = [len(" ".join(o.split())) for o in item.options]
        right = lengths[item.answer]
        others = lengths[: item.answer] + lengths[item.answer + 1 :]
        if right >= max(others):
            longest.append(item.id)
        if right <= min(others):
            shortest.append(item.id)
        by_position.setdefault(item.answer, []).append(item.id)
    return ChoiceCues(
        items=len(choice),
        longest=tuple(longest),
        shortest=tuple(shortest),
        positions={k: tuple(by_position[k]) for k in sorted(by_position)},
    )


@dataclass(frozen=True)
class VerifyReport:
    checks: tuple[ItemCheck, ...]
    # Free text: the smallest (model score - pass mark) and the largest (wrong score - pass mark).
    model_margin: float | None
    wrong_margin: float | None
    cues: ChoiceCues | None = None
    # The lowest score an item's own model answer earns (MODEL_ANSWER_MIN at least).
    model_min: float | None = None

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def problems(self) -> list[ItemCheck]:
        return [check for check in self.checks if not check.ok]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {"items": len(self.checks), "ok": 0, "problems": 0}
        for check in self.checks:
            counts["ok" if check.ok else "problems"] += 1
            counts[check.kind] = counts.get(check.kind, 0) + 1
        return counts

    def render(self) -> str:
        lines = []
        for check in self.checks:
            mark = "ok     " if check.ok else "PROBLEM"
            details = "; ".join(check.problems + check.notes)
            lines.append(f"{mark} {check.kind:<9} {check.item_id}: {details}")
        counts = self.counts()
        lines.append(
            f"{counts['ok']}/{counts['items']} items ok, {counts['problems']} with problems "
            f"({', '.join(f'{k} {counts.get(k, 0)}' for k in ('choice', 'free_text', 'code'))})"
        )
        if self.cues is not None and self.cues.items:
            lines.append(self.cues.describe())
        if self.model_margin is not None:
            lines.append(
                f"free-text margins: weakest model answer {self.model_margin:+.2f} above its "
                f"pass mark, strongest wrong answer {self.wrong_margin:+.2f} (must be < 0)"
            )
        if self.model_min is not None:
            lines.append(
                f"lowest model-answer score {self.model_min:.2f} (at least {MODEL_ANSWER_MIN:.2f})"
            )
        return "\n".join(lines)


def check_choice(item: Item, grader: Grader) -> ItemCheck:
    problems, notes = [], []
    if len({" ".join(o.split()).casefold() for o in item.options}) != len(item.options):
        problems.append("two options have the same text")
    right = grader.grade(item, item.answer)
    if not right.passed:
        problems.append(f"the answer index {item.answer} does not grade as correct")
    for index in range(len(item.options)):
        if index != item.answer and grader.grade(item, index).passed:
            problems.append(f"option {index} also grades as correct")
    if not grader.grade(item, item.options[item.answer]).passed:
        problems.append("the answer's option text does not grade as correct")
    notes.append(f"{len(item.options)} options")
    return ItemCheck(item.id, item.kind, tuple(problems), tuple(notes), right.seconds)


def keyword_text(pattern: str) -> str:
    """A keyword pattern as the words it matches first ("positions? (are )?shifted" ->
    "positions are shifted"): what a candidate would type."""
    text = re.sub(r"\\[bBsSdDwW]", " ", pattern)
    text = re.sub(r"\[([^\]]*)\]", lambda m: " " if " " in m.group(1) else m.group(1)[:1], text)
    text = re.sub(r"\(\?:", "(", text)
    while re.search(r"\(([^()]*)\)", text):
        text = re.sub(r"\(([^()|]*)(?:\|[^()]*)?\)", r"\1", text)
    text = re.sub(r"\|.*", "", text)
    text = re.sub(r"[.*+?^$\\]", "", text)
    return " ".join(text.split())


def term_list_answer(item: Item) -> str:
    """The rubric's concept names and keywords as one comma-separated list: what the
    feedback's concept names invite a candidate to paste back."""
    terms = [c.name for c in item.rubric.concepts]
    terms += [keyword_text(k) for c in item.rubric.concepts for k in c.keywords]
    return ", ".join(dict.fromkeys(t for t in terms if t))


def negated_answer(item: Item) -> str:
    """The model answer with every claim turned around (deterministic)."""
    return negate_text(item.rubric.model_answer)


def check_free_text(item: Item, grader: Grader) -> tuple[ItemCheck, float, float]:
    rubric = item.rubric
    problems, notes = [], []
    model = grader.grade(item, rubric.model_answer)
    model_margin = model.score - item.pass_mark
    floor = max(item.pass_mark, MODEL_ANSWER_MIN)
    if model.score < floor:
        why = "pass mark" if floor == item.pass_mark else "the model-answer minimum"
        denied = "; ".join(f"{c!r} denies {i!r}" for c, i in model.contradictions)
        problems.append(
            f"model answer scores {model.score:.2f} < {why} {floor:.2f} "
            f"(missed: {', '.join(model.concepts_missed) or '-'}; "
            f"misconceptions: {', '.join(model.misconceptions) or '-'}"
            + (f"; contradictions: {denied}" if denied else "")
            + "): reword the concept's paraphrases or contradictions"
        )
    notes.append(f"model {model.score:.2f}")
    wrong_margin = -1.0
    for number, answer in enumerate(rubric.wrong_answers, 1):
        wrong = grader.grade(item, answer)
        wrong_margin = max(wrong_margin, wrong.score - item.pass_mark)
        if wrong.passed:
            problems.append(
                f"wrong answer {number} scores {wrong.score:.2f} >= pass mark "
                f"(found: {', '.join(wrong.concepts_found)})"
            )
    notes.append(f"wrong max {wrong_margin + item.pass_mark:.2f}")
    # The answers a candidate can write without knowing anything: both must fail.
    for name, answer in (("negated", negated_answer(item)), ("term list", term_list_answer(item))):
        attack = grader.grade(item, answer)
        wrong_margin = max(wrong_margin, attack.score - item.pass_mark)
        notes.append(f"{name} {attack.score:.2f}")
        if attack.passed:
            problems.append(
                f"the {name} answer scores {attack.score:.2f} >= pass mark "
                f"(found: {', '.join(attack.concepts_found)})"
            )
    check = ItemCheck(item.id, item.kind, tuple(problems), tuple(notes), model.seconds)
    return check, model_margin, wrong_margin


def check_code(item: Item, grader: Grader) -> ItemCheck:
    """The reference passes every check against its own outputs on fresh inputs (so the
    checks hold for a correct solution, not only for one draw) and the starter fails."""
    from interview.errors import GradingError

    problems, notes = [], []
    try:
        reference = grader.grade(item, item.code.reference)
        starter = grader.grade(item, item.code.starter)
    except GradingError as error:
        return ItemCheck(item.id, item.kind, (f"reference fails: {error}",), (), 0.0)
    failing = [t for t in reference.tests if not t.passed]
    if failing or reference.error:
        why = "; ".join(f"{t.name}: {t.message}" for t in failing[:3])
        problems.append(f"reference fails ({reference.error or 'checks'}): {why}")
    if starter.passed or (starter.tests and all(t.passed for t in starter.tests)):
        problems.append("the starter passes its checks (it should fail them)")
    notes.append(
        f"reference {sum(t.passed for t in reference.tests)}/{len(reference.tests)} in "
        f"{reference.seconds:.1f} s, starter {sum(t.passed for t in starter.tests)}/"
        f"{len(starter.tests)} in {starter.seconds:.1f} s"
    )
    seconds = max(reference.seconds, starter.seconds)
    return ItemCheck(item.id, item.kind, tuple(problems), tuple(notes), seconds)


def verify_bank(
    bank: Bank,
    grader: Grader,
    *,
    workers: int = 2,
    kinds: tuple[str, ...] = ("choice", "free_text", "code"),
    item_ids: set[str] | None = None,
) -> VerifyReport:
    """Check every item of `kinds` (or only `item_ids`); code items run `workers` gradings at
    a time (each one or two sandboxes of about 1-8 s, mostly `import torch`); never stops at
    the first problem."""
    items = [
        item
        for item in bank.items.values()
        if item.kind in kinds and (item_ids is None or item.id in item_ids)
    ]
    results: dict[str, ItemCheck] = {}
    model_margins, wrong_margins, model_scores = [], [], []
    for item in items:
        if item.kind == "choice":
            results[item.id] = check_choice(item, grader)
        elif item.kind == "free_text":
            check, model_margin, wrong_margin = check_free_text(item, grader)
            results[item.id] = check
            model_margins.append(model_margin)
            model_scores.append(model_margin + item.pass_mark)
            wrong_margins.append(wrong_margin)
    # Cues are a property of the whole bank, so they are measured on every choice item even
    # when only some are checked; each item that a cue gives away carries the problem.
    cues = choice_cues(list(bank.items.values()))
    for item_id, notes in cues.problems().items():
        if item_id in results:
            check = results[item_id]
            results[item_id] = replace(check, problems=check.problems + tuple(notes))
    code_items = [item for item in items if item.kind == "code"]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for check in pool.map(lambda item: check_code(item, grader), code_items):
            results[check.item_id] = check
    return VerifyReport(
        checks=tuple(results[item.id] for item in items),
        model_margin=min(model_margins) if model_margins else None,
        model_min=min(model_scores) if model_scores else None,
        wrong_margin=max(wrong_margins) if wrong_margins else None,
        cues=cues,
    )
