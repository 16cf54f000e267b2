"""The interview session end to end on a real SQLite store with the real grader (choice items:
no embedding model loads): a scripted candidate, a crash and resume, progress across
sessions, review mode."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from interview.ability import NOT_ENOUGH, STEPS, USEFUL_SE, category_probabilities
from interview.bank import IRT, Bank, Item, Topic, load_bank
from interview.grading import Grade, Grader
from interview.session import (
    OVERALL,
    InterviewSession,
    ItemView,
    SessionConfig,
    SessionError,
    progress,
    propose_focus,
)
from interview.store import SessionRecord

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEVELS = {"easy": -1.0, "medium": 0.0, "hard": 1.2}


@pytest.fixture
def bank(choice_bank) -> Bank:
    levels = ["easy", "easy", "medium", "medium", "hard", "hard"] * 2
    return choice_bank(
        ("masks", "numerics"),
        levels,
        lambda k, level: IRT(a=0.8 + 0.1 * k, b=LEVELS[level] + 0.05 * k),
    )


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
    assert (first.number, first.max_items) == (1, 20)
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


class ModelCandidate:
    """A simulated person in the grader's place: each answer's score is drawn from the item's
    own model (2PL for choice, GPCM for free text and code) at the person's ability on its
    topic, so these tests measure the estimates and the stop rule, not the graders (which
    tests/interview/test_grading.py covers)."""

    def __init__(self, abilities: dict[str, float], seed: int) -> None:
        self.abilities = abilities
        self.rng = np.random.default_rng(seed)

    def grade(self, item: Item, response: str | int) -> Grade:
        steps, p = STEPS[item.kind], item.parameters
        probs = category_probabilities(p.a, p.b, self.abilities[item.topic], steps)[:, 0]
        score = float(self.rng.choice(steps + 1, p=probs / probs.sum()) / steps)
        return Grade(item.id, item.kind, score, score >= item.pass_mark, "simulated")


def sit(session: InterviewSession, start=NOW) -> datetime:
    now = start
    while not session.finished:
        now += timedelta(minutes=1)
        session.answer("simulated", now=now)
    return now


def test_a_focused_session_on_the_real_bank_ends_with_a_band_on_its_topics(store):
    """A strong person's all-topics survey, then the proposed focus: it asks only the two
    proposed topics, stops within 20 items at the SE target or when their items run out,
    and ends with a band on both (SE < USEFUL_SE), surer than the survey left them."""
    bank = load_bank()
    person = ModelCandidate({t: 1.0 for t in bank.topics}, seed=0)
    survey = InterviewSession.start(store, bank, person, user="ana", seed=0, now=NOW)
    assert len(survey.topics) == len(bank.topics) and survey.config.max_items == 20
    later = sit(survey) + timedelta(days=1)
    assert survey.answered == 20
    after_survey = progress(store, bank, "ana", list(bank.topics))
    assert all(after_survey[t].se > 0.5 for t in bank.topics)  # a survey sets no band
    proposed = propose_focus(store, bank, "ana")
    focus = InterviewSession.start(store, bank, person, user="ana", topics="auto", now=later)
    assert focus.topics == tuple(proposed) and len(proposed) == 2
    sit(focus, later)
    answers = store.session_responses(focus.id)
    assert {r.topic for r in answers} <= set(proposed) and focus.answered <= 20
    estimates = focus.estimates()
    reached = all(e.se < focus.config.se_target for e in estimates.values())
    items_left = {i.id for t in proposed for i in bank.by_topic(t)} - {r.item_id for r in answers}
    assert reached or not items_left  # it stops at the target, or when the items run out
    for topic, e in estimates.items():
        assert e.se < USEFUL_SE and e.band != NOT_ENOUGH
        assert e.se < after_survey[topic].se - 0.05
    assert focus.overall().se < 0.35  # the survey and the focus together pin the overall


def test_with_enough_items_a_focused_session_stops_at_the_se_target(store):
    """The real bank's items of two topics, each asked twice over (copies with new ids):
    a fresh strong person's focused session stops as soon as both topics' SE is below the
    target, before 20 items and before the items run out."""
    real = load_bank()
    focus = ["attention_masking", "lora_by_hand"]
    copies = {
        f"{item.id}-twin": item.model_copy(update={"id": f"{item.id}-twin"})
        for topic in focus
        for item in real.by_topic(topic)
    }
    bank = Bank(topics=real.topics, items={**real.items, **copies})
    for seed in range(3):
        person = ModelCandidate({t: 1.2 for t in bank.topics}, seed=seed)
        user = f"strong-{seed}"
        session = InterviewSession.start(store, bank, person, user=user, topics=focus, seed=seed)
        sit(session)
        available = sum(len(bank.by_topic(t)) for t in focus)
        assert session.config.min_items <= session.answered < min(20, available)
        assert all(e.se < session.config.se_target for e in session.estimates().values())


def test_propose_focus_picks_the_weakest_and_the_least_measured(store):
    topics = {
        t: Topic(id=t, area="failure_modes", title=t.title(), description="")
        for t in ("masks", "numerics", "caches", "norms")
    }
    items = {
        f"{t}-{k}": Item(
            id=f"{t}-{k}",
            topic=t,
            kind="choice",
            level=level,
            prompt=f"{t} {k}",
            options=["right", "wrong"],
            answer=0,
        )
        for t in topics
        for k, level in enumerate(["easy", "medium", "hard"] * 2)
    }
    bank = Bank(topics=topics, items=items)
    # a fresh person: the first two topics, in bank order
    assert propose_focus(store, bank, "ana") == ["masks", "numerics"]
    # right on masks and norms, wrong on numerics, never asked about caches
    config = SessionConfig(max_items=18, min_items=18)
    answers = {"masks": "right", "norms": "right", "numerics": "wrong"}
    for topic, choice in answers.items():
        session = InterviewSession.start(
            store, bank, Grader(), user="ana", topics=[topic], config=config, now=NOW
        )
        run(session, lambda _view, c=choice: c)
    assert set(propose_focus(store, bank, "ana")) == {"numerics", "caches"}
    assert propose_focus(store, bank, "ana", among=["masks", "norms"], count=1) in (
        ["masks"],
        ["norms"],
    )
    session = InterviewSession.start(store, bank, Grader(), user="ana", topics="auto", now=NOW)
    assert set(session.topics) == {"numerics", "caches"}
    with pytest.raises(SessionError, match="auto"):
        InterviewSession.start(store, bank, Grader(), user="ana", topics="weakest", now=NOW)


def test_not_enough_evidence_yet_until_the_se_is_small(store, bank):
    session = InterviewSession.start(store, bank, Grader(), user="ana", seed=1, now=NOW)
    assert all(e.band == NOT_ENOUGH for e in session.estimates().values())
    for k in range(3):  # three right answers: a high theta, but still a wide SE
        session.answer("right", now=NOW + timedelta(minutes=k + 1))
    report = session.report()
    assert all(e.band == NOT_ENOUGH and e.se >= USEFUL_SE for e in report.abilities)
    assert report.overall.describe().startswith("not enough evidence yet")
    assert max(e.theta for e in report.abilities) >= 0.5
    assert report.strengths == ()  # a guess is no strength


def test_a_session_stored_before_the_hierarchical_model_still_resumes(store, bank):
    """Rows written by the earlier code: a 15-item config and per-topic "priors" (an earlier
    estimate widened by drift); they resume with their own stop rule, and the stored prior
    still counts as evidence."""
    record = SessionRecord(
        id="old-session",
        user="ana",
        topics=("masks", "numerics"),
        mode="interview",
        status="open",
        started_at=NOW,
        seed=7,
        config={
            "max_items": 15,
            "min_items": 5,
            "se_target": 0.4,
            "top_k": 3,
            "drift": 0.5,
            "priors": {"masks": [1.5, 0.6], "numerics": [0.0, 1.0], OVERALL: [0.8, 0.7]},
        },
        current_item="masks-2",
        served_at=NOW,
    )
    store.create_session(record)
    session = InterviewSession.resume(store, bank, Grader(), "old-session")
    assert session.current().id == "masks-2" and session.current().max_items == 15
    estimates = session.estimates()
    # numerics knows nothing itself but borrows from masks through the overall
    assert estimates["masks"].theta > estimates["numerics"].theta > 0.5
    assert estimates["masks"].n_items == 0
    run(session, knows_up_to(bank, 0.5))
    assert session.answered == 15 and session.finished
    rows = store.session_estimates("old-session")
    assert {r.topic for r in rows} == {"masks", "numerics", OVERALL}
