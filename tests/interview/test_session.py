"""The interview session end to end on a real SQLite store with the real grader (choice items:
no embedding model loads): a scripted candidate, a crash and resume, progress across
sessions, review mode."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from interview.bank import IRT, Bank, Item, Topic
from interview.grading import Grader
from interview.session import InterviewSession, ItemView, SessionConfig, SessionError, progress
from interview.store import InterviewStore

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEVELS = {"easy": -1.0, "medium": 0.0, "hard": 1.2}


def _bank() -> Bank:
    topics = {
        t: Topic(id=t, area="failure_modes", title=t.title(), description="")
        for t in ("masks", "numerics")
    }
    items = {}
    for topic in topics:
        for k, level in enumerate(["easy", "easy", "medium", "medium", "hard", "hard"] * 2):
            item = Item(
                id=f"{topic}-{k}",
                topic=topic,
                kind="choice",
                level=level,
                prompt=f"{topic} question {k}",
                options=["right", "wrong", "also wrong"],
                answer=0,
                irt=IRT(a=0.8 + 0.1 * k, b=LEVELS[level] + 0.05 * k),
            )
            items[item.id] = item
    return Bank(topics=topics, items=items)


@pytest.fixture
def bank() -> Bank:
    return _bank()


@pytest.fixture
def store(tmp_path):
    with InterviewStore.open(f"sqlite:///{tmp_path / 'interview.sqlite'}") as opened:
        yield opened


def knows_up_to(bank: Bank, b_max: float):
    """A scripted candidate: right on every item easier than b_max, wrong otherwise."""

    def respond(view: ItemView) -> int:
        # options are shown shuffled: answer with the position of the right one as shown
        right = view.options.index("right")
        return right if bank.item(view.id).parameters.b < b_max else (right + 1) % 3

    return respond


def run(session: InterviewSession, respond, start=NOW, step=timedelta(seconds=40)):
    now = start
    while not session.finished:
        now += step
        session.answer(respond(session.current()), now=now)
    return now


def test_a_short_interview_from_start_to_report(store, bank):
    config = SessionConfig(max_items=8, min_items=5)
    session = InterviewSession.start(store, bank, Grader(), user="ana", seed=1, now=NOW)
    assert session.topics == ("masks", "numerics")
    first = session.current()
    assert (first.number, first.max_items) == (1, 15)
    # the view never carries the answer
    assert {f.name for f in dataclasses.fields(ItemView)}.isdisjoint({"answer", "explanation"})
    session = InterviewSession.start(
        store, bank, Grader(), user="bo", seed=1, config=config, now=NOW
    )
    grade = session.answer(0, now=NOW + timedelta(seconds=30))
    assert grade.score in (0.0, 1.0)
    run(session, knows_up_to(bank, 0.5), start=NOW + timedelta(seconds=30))
    assert session.finished and session.current() is None
    assert session.answered == 8  # SE never reaches 0.4 on both topics within 8 items
    answers = store.session_responses(session.id)
    assert [r.topic for r in answers].count("masks") == 4  # topics balanced
    assert answers[0].seconds == pytest.approx(30.0)
    assert len({r.item_id for r in answers}) == 8
    report = session.report()
    assert {e.topic for e in report.abilities} == {"masks", "numerics"}
    assert all(e.se < 1.0 and e.n_items == 4 for e in report.abilities)
    assert report.overall.n_items == 8 and report.overall.se < min(e.se for e in report.abilities)
    assert report.answered == 8 and report.finished_at is not None
    missed = {r.item_id for r in answers if r.score < 0.4}
    assert {item for item, _, _ in report.next_reviews} == {r.item_id for r in answers}
    assert [d for _, _, d in report.next_reviews] == sorted(d for _, _, d in report.next_reviews)
    soonest = {
        item for item, _, due in report.next_reviews if due <= NOW + timedelta(days=1, hours=1)
    }
    assert missed and missed <= soonest
    with pytest.raises(SessionError, match="finished"):
        session.answer(0)


def test_a_stronger_candidate_gets_a_higher_estimate(store, bank):
    config = SessionConfig(max_items=10)
    thetas = []
    for user, b_max in (("weak", -0.5), ("mid", 0.5), ("strong", 9.0)):
        session = InterviewSession.start(
            store, bank, Grader(), user=user, seed=3, config=config, now=NOW
        )
        run(session, knows_up_to(bank, b_max))
        thetas.append(session.overall().theta)
    assert thetas[0] < thetas[1] < thetas[2]


def test_resume_after_a_crash_continues_at_the_same_item(store, bank):
    respond = knows_up_to(bank, 0.5)
    session = InterviewSession.start(store, bank, Grader(), user="ana", seed=5, now=NOW)
    for k in range(3):
        session.answer(respond(session.current()), now=NOW + timedelta(minutes=k + 1))
    on_screen, estimates = session.current(), session.estimates()
    del session  # the process dies here
    again = InterviewSession.resume(store, bank, Grader(), store.latest_open_session("ana").id)
    assert again.current() == on_screen
    assert again.estimates() == estimates
    assert InterviewSession.latest_open(store, bank, Grader(), "ana").id == again.id
    # and it goes on exactly as an uninterrupted session with the same seed does
    run(again, respond, start=NOW + timedelta(minutes=3))
    twin = InterviewSession.start(store, bank, Grader(), user="twin", seed=5, now=NOW)
    run(twin, respond)
    assert [r.item_id for r in store.session_responses(again.id)] == [
        r.item_id for r in store.session_responses(twin.id)
    ]
    assert InterviewSession.latest_open(store, bank, Grader(), "ana") is None


def test_progress_accumulates_across_sessions(store, bank):
    config = SessionConfig(max_items=6)
    first = InterviewSession.start(
        store, bank, Grader(), user="ana", topics=["masks"], seed=2, config=config, now=NOW
    )
    end = run(first, knows_up_to(bank, 9.0))  # everything right
    later = end + timedelta(hours=1)
    second = InterviewSession.start(
        store, bank, Grader(), user="ana", topics=["masks"], config=config, now=later
    )
    before = second.estimates()["masks"]
    assert before.theta > 0.5 and before.se < 1.0 and before.n_items == 0
    assert second.report().abilities[0].topic == "masks"  # known from the earlier session
    asked_first = {r.item_id for r in store.session_responses(first.id)}
    assert second.current().id not in asked_first  # unseen items first
    run(second, knows_up_to(bank, 9.0), start=later)
    assert not asked_first & {r.item_id for r in store.session_responses(second.id)}
    assert second.estimates()["masks"].theta > first.estimates()["masks"].theta
    overall = progress(store, bank, "ana")
    assert overall["masks"].n_items == 12 and overall["masks"].theta > 1.0
    fresh = InterviewSession.start(store, bank, Grader(), user="bo", now=later)
    assert fresh.estimates()["masks"].theta == pytest.approx(0.0, abs=1e-9)


def test_review_mode_serves_only_due_items(store, bank):
    config = SessionConfig(max_items=8)
    first = InterviewSession.start(
        store, bank, Grader(), user="ana", seed=4, config=config, now=NOW
    )
    first.skip(now=NOW + timedelta(seconds=5))
    end = run(first, knows_up_to(bank, 0.5), start=NOW + timedelta(seconds=5))
    answers = store.session_responses(first.id)
    assert answers[0].score == 0.0 and answers[0].feedback["feedback"] == "skipped"
    missed = {r.item_id for r in answers if r.score < 0.4}
    nothing = InterviewSession.start(store, bank, Grader(), user="ana", mode="review", now=end)
    assert nothing.finished and nothing.current() is None
    tomorrow = end + timedelta(days=1, hours=1)
    review = InterviewSession.start(store, bank, Grader(), user="ana", mode="review", now=tomorrow)
    assert review.current().max_items == len(missed)
    served = []
    while not review.finished:
        served.append(review.current().id)
        review.answer("right", now=tomorrow + timedelta(minutes=len(served)))
    assert set(served) == missed and len(served) == len(missed)
    # answered right now, they are pushed out past tomorrow's queue
    again = InterviewSession.start(
        store, bank, Grader(), user="ana", mode="review", now=tomorrow + timedelta(hours=1)
    )
    assert again.finished


def test_bad_requests_say_what_to_do(store, bank):
    with pytest.raises(SessionError, match="unknown topic"):
        InterviewSession.start(store, bank, Grader(), user="ana", topics=["nope"])
    with pytest.raises(SessionError, match="mode"):
        InterviewSession.start(store, bank, Grader(), user="ana", mode="exam")
    with pytest.raises(SessionError, match="timezone"):
        InterviewSession.start(store, bank, Grader(), user="ana", now=datetime(2026, 1, 1))
