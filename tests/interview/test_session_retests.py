"""Re-tests do not move the depth estimate: a scripted candidate misses items, is shown the
right answers as feedback, then answers them perfectly when they come back (review mode, a
second interview, a parallel session); θ per topic stays where the first answers put it,
while the review cards move. Real SQLite store, real grader (choice items)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from interview.bank import IRT, Bank
from interview.grading import Grader
from interview.session import (
    OVERALL,
    InterviewSession,
    ItemView,
    SessionConfig,
    progress,
)
from interview.store import InterviewStore

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEVELS = (("easy", -1.0), ("medium", 0.0), ("hard", 1.2), ("hard", 1.25))
ALL_EIGHT = SessionConfig(max_items=8, min_items=8)


def _bank(choice_bank, topics: tuple[str, ...] = ("masks", "numerics"), per_topic: int = 4) -> Bank:
    return choice_bank(
        topics,
        [level for level, _ in LEVELS[:per_topic]],
        lambda k, _level: IRT(a=1.0, b=LEVELS[k][1]),
        explanation="The first option is right.",
    )


class Memoriser:
    """Knows only the easy items; remembers the right option of every item whose feedback it
    was shown, and gives it when the item comes back."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank
        self.shown: set[str] = set()

    def respond(self, view: ItemView) -> int:
        right = view.options.index("right")
        knows = view.id in self.shown or self.bank.item(view.id).parameters.b < -0.5
        return right if knows else (right + 1) % 3

    def sit(self, session: InterviewSession, start: datetime) -> datetime:
        now = start
        while not session.finished:
            now += timedelta(minutes=1)
            view = session.current()
            grade = session.answer(self.respond(view), now=now)
            assert "first option is right" in grade.feedback  # the answer is shown
            self.shown.add(view.id)
        return now


def _due(store: InterviewStore, user: str) -> dict[str, datetime]:
    return {c.item_id: c.due for c in store.cards(user)}


def test_memorised_feedback_does_not_raise_the_estimate(store, choice_bank):
    bank = _bank(choice_bank)
    ana = Memoriser(bank)
    first = InterviewSession.start(
        store, bank, Grader(), user="ana", seed=7, config=ALL_EIGHT, now=NOW
    )
    skipped = first.current().id
    first.skip(now=NOW + timedelta(seconds=30))  # a skip is a miss: no answer to remember
    end = ana.sit(first, NOW + timedelta(seconds=30))
    answers = store.session_responses(first.id)
    assert len(answers) == 8 and {r.item_id for r in answers} == set(bank.items)
    missed = {r.item_id for r in answers if r.score < 0.4}
    assert skipped in missed and len(missed) >= 6  # only the easy ones were right
    before = progress(store, bank, "ana")
    assert before["masks"].n_items == 4 and before[OVERALL].n_items == 8
    assert before[OVERALL].theta < 0  # the first answers, mostly misses, are the evidence
    assert first.report().retests == 0

    # review mode the next day: every missed item comes back and is answered perfectly
    tomorrow = end + timedelta(days=1, hours=1)
    due_before = _due(store, "ana")
    review = InterviewSession.start(store, bank, Grader(), user="ana", mode="review", now=tomorrow)
    at_start = review.estimates(), review.overall()
    ana.shown.add(skipped)  # say the candidate looked the skipped one up meanwhile
    ana.sit(review, tomorrow)
    served = {r.item_id for r in store.session_responses(review.id)}
    assert served == missed
    assert all(r.score == 1.0 for r in store.session_responses(review.id))
    assert (review.estimates(), review.overall()) == at_start  # θ did not move
    assert progress(store, bank, "ana") == before
    report = review.report()
    assert report.retests == len(served) and report.answered == len(served)
    # spaced re-testing still works: each passed re-test pushed its card further out
    due_after = _due(store, "ana")
    assert all(due_after[i] > due_before[i] + timedelta(days=1) for i in served)
    assert InterviewSession.start(
        store, bank, Grader(), user="ana", mode="review", now=tomorrow + timedelta(hours=1)
    ).finished

    # months later everything is due; an interview serves only items she has seen
    later = tomorrow + timedelta(days=120)
    second = InterviewSession.start(
        store, bank, Grader(), user="ana", seed=8, config=ALL_EIGHT, now=later
    )
    at_start = second.estimates(), second.overall()
    now = later
    for _ in range(3):
        now += timedelta(minutes=1)
        second.answer(ana.respond(second.current()), now=now)
    # a reload resumes the same presentation with the same numbers
    resumed = InterviewSession.resume(store, bank, Grader(), second.id)
    assert resumed.current() == second.current()
    assert (resumed.estimates(), resumed.overall()) == at_start
    ana.sit(resumed, now)
    again = store.session_responses(second.id)
    assert len(again) == 8 and all(r.score == 1.0 for r in again)
    assert (resumed.estimates(), resumed.overall()) == at_start
    assert resumed.report().retests == 8
    assert all(e.n_items == 0 for e in resumed.report().abilities)
    assert progress(store, bank, "ana") == before
    due_last = _due(store, "ana")
    assert all(due_last[i] > due_after[i] for i in bank.items)


def test_an_item_answered_in_a_parallel_session_is_a_re_test(store, choice_bank):
    bank = _bank(choice_bank, ("masks",), per_topic=1)  # one item: both sessions must serve it
    one = SessionConfig(max_items=1, min_items=1)
    a = InterviewSession.start(store, bank, Grader(), user="cy", seed=1, config=one, now=NOW)
    b = InterviewSession.start(store, bank, Grader(), user="cy", seed=2, config=one, now=NOW)
    assert a.current().id == b.current().id == "masks-0"
    a_start = a.estimates()
    wrong = (b.current().options.index("right") + 1) % 3
    b.answer(wrong, now=NOW + timedelta(minutes=1))  # missed, and the answer is shown
    a.answer(a.current().options.index("right"), now=NOW + timedelta(minutes=2))
    assert a.estimates() == a_start and a.report().retests == 1
    assert b.estimates()["masks"].theta < a_start["masks"].theta
    # the person's progress holds b's miss alone, as for someone who answered only that
    dee = InterviewSession.start(store, bank, Grader(), user="dee", seed=2, config=one, now=NOW)
    dee.answer(wrong, now=NOW + timedelta(minutes=1))
    assert progress(store, bank, "cy") == progress(store, bank, "dee")
    assert progress(store, bank, "cy")["masks"].n_items == 1
