"""End to end through InterviewSession on the real bank: a scripted cheater ends in the lowest
band and a scripted expert in the top band, in a survey of every topic and in a focus.

The cheater never knows an answer. On choice items it picks the first or the longest option
as shown; on free text it writes the rubric's terms as a list (what earlier feedback showed as
"covered/missing") or the model answer with its claims turned around; on code it patches the
comparisons, forges verdict records, or imports the project to run the reference. The expert
gives the right option, the model answer and the reference solution.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from interview.ability import BANDS, NOT_ENOUGH
from interview.bank import Bank, Item, load_bank
from interview.grading import Grader
from interview.session import InterviewSession, ItemView, Report
from interview.store import InterviewStore
from interview.verify import negated_answer, term_list_answer

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
LOWEST, TOP = BANDS[0][1], BANDS[-1][1]

PATCHED_COMPARISONS = """
import numpy, torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
"""

FORGED_VERDICTS = """
import json, os
records = [{"test": f"test_{i}", "passed": True, "message": "passed"} for i in range(8)]
records += [{"done": True}, {"uid": None, "isolation": []}]
for fd in range(3, 64):
    try:
        os.write(fd, "".join(json.dumps(r) + "\\n" for r in records).encode())
    except OSError:
        pass
os._exit(0)
"""

RUN_THE_REFERENCE = """
import glob, os, sys
for root in ["/work", "/root", "/tmp", "/home", *sys.path]:
    for path in glob.glob(os.path.join(root, "**/interview/bank.py"), recursive=True)[:3]:
        sys.path.insert(0, os.path.dirname(os.path.dirname(path)))
try:
    from interview.bank import load_bank
    exec(load_bank().item({item_id!r}).code.reference)
except Exception:
    pass
"""


Respond = Callable[[ItemView, Item, int], object]


def cheater(view: ItemView, item: Item, turn: int) -> object:
    if item.kind == "choice":
        if turn % 2:
            return max(range(len(view.options)), key=lambda i: len(view.options[i]))
        return 0
    if item.kind == "free_text":
        return term_list_answer(item) if turn % 2 else negated_answer(item)
    cheats = (
        PATCHED_COMPARISONS + item.code.starter,
        item.code.starter + FORGED_VERDICTS,
        RUN_THE_REFERENCE.format(item_id=item.id),
    )
    return cheats[turn % len(cheats)]


def expert(view: ItemView, item: Item, turn: int) -> object:
    if item.kind == "choice":
        return view.options.index(item.options[item.answer])
    if item.kind == "free_text":
        return item.rubric.model_answer
    return item.code.reference


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank()


@pytest.fixture(scope="module")
def grader(bank) -> Grader:
    grader = Grader()
    grader.warm_up(bank.items.values())
    return grader


def sit(tmp_path, bank: Bank, grader: Grader, respond: Respond, topics) -> Report:
    with InterviewStore.open(f"sqlite:///{tmp_path / 'interview.sqlite'}") as store:
        session = InterviewSession.start(
            store, bank, grader, user="sam", topics=topics, seed=7, now=NOW
        )
        turn = 0
        while not session.finished:
            view = session.current()
            session.answer(
                respond(view, bank.item(view.id), turn), now=NOW + timedelta(minutes=turn + 1)
            )
            turn += 1
        return session.report()


SITTINGS = {
    "every topic": None,
    "a focus on two topics": ["attention_masking", "lora_by_hand"],
}


def verdicts(report: Report, topics: list[str] | None) -> list[str]:
    """What a sitting concludes: a survey of every topic its overall band, a focus the band
    of each topic it focused on."""
    if topics is None:
        return [report.overall.band]
    assert {e.topic for e in report.abilities} == set(topics)
    return [e.band for e in report.abilities]


@pytest.mark.parametrize("topics", SITTINGS.values(), ids=SITTINGS.keys())
def test_a_scripted_cheater_ends_in_the_lowest_band(tmp_path, bank, grader, topics):
    report = sit(tmp_path, bank, grader, cheater, topics)
    assert set(verdicts(report, topics)) == {LOWEST}, report
    assert report.strengths == ()
    assert all(e.band in (LOWEST, NOT_ENOUGH) for e in report.abilities), report.abilities


def test_a_scripted_expert_ends_in_the_top_band(tmp_path, bank, grader):
    report = sit(tmp_path, bank, grader, expert, None)
    assert set(verdicts(report, None)) == {TOP}, report
    assert report.weak_spots == ()


def test_a_focused_expert_is_estimated_in_the_top_band(tmp_path, bank, grader):
    """A focus on two topics puts each in the top band: every model answer scores at least
    0.9 (verify-bank holds the bank to it), so an expert's evidence narrows there."""
    topics = SITTINGS["a focus on two topics"]
    report = sit(tmp_path, bank, grader, expert, topics)
    assert set(verdicts(report, topics)) == {TOP}, [
        (e.topic, e.band, e.theta, e.se) for e in report.abilities
    ]
    assert all(e.theta >= BANDS[-2][0] for e in report.abilities), report.abilities
    assert report.weak_spots == ()
