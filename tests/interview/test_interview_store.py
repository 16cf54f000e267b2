"""The interview store: one contract run against real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from interview.store import (
    CalibrationRecord,
    CardRecord,
    EstimateRecord,
    InterviewStore,
    InterviewStoreError,
    ResponseRecord,
    SessionRecord,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'interview.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _session(sid="s1", user="ana", at=NOW, item="i1"):
    return SessionRecord(
        id=sid,
        user=user,
        topics=("t1", "t2"),
        mode="interview",
        status="open",
        started_at=at,
        seed=7,
        config={"max_items": 15, "priors": {"t1": [0.0, 1.0]}},
        current_item=item,
        served_at=at,
    )


def _response(position, item, score, sid="s1", at=NOW):
    return ResponseRecord(
        session_id=sid,
        item_id=item,
        topic="t1",
        position=position,
        response="because the mask",
        score=score,
        passed=score >= 0.6,
        seconds=12.5,
        feedback={"feedback": "ok", "concepts_found": ["a"]},
        answered_at=at,
    )


def test_sessions_answers_estimates_and_cards_round_trip(url):
    with InterviewStore.open(url) as store:
        stored = store.create_session(_session())
        assert store.get_session("s1") == stored
        assert store.latest_open_session("ana") == stored
        later = NOW + timedelta(minutes=2)
        store.record_answer(
            _response(1, "i1", 0.75, at=later),
            [EstimateRecord("s1", "t1", 0.4, 0.8, 1, later)],
            CardRecord("ana", "i1", '{"due": "x"}', later + timedelta(days=2)),
            next_item="i2",
            finished=False,
        )
        session = store.get_session("s1")
        assert session.current_item == "i2" and session.served_at == later
        [answer] = store.session_responses("s1")
        assert answer == _response(1, "i1", 0.75, at=later)
        assert answer.answered_at.tzinfo is not None
        assert store.session_estimates("s1")[0].theta == 0.4
        assert store.card("ana", "i1").due == later + timedelta(days=2)
        # a second answer at the same position (two tabs) is refused and changes nothing
        with pytest.raises(InterviewStoreError, match="answered already"):
            store.record_answer(
                _response(1, "i2", 0.0),
                [EstimateRecord("s1", "t1", -1.0, 0.8, 1, later)],
                CardRecord("ana", "i2", "{}", later),
                next_item="i3",
                finished=False,
            )
        assert len(store.session_responses("s1")) == 1
        assert len(store.session_estimates("s1")) == 1
        assert store.card("ana", "i2") is None
        assert store.get_session("s1").current_item == "i2"
        # the last answer finishes the session
        store.record_answer(
            _response(2, "i2", 0.0, at=later),
            [],
            CardRecord("ana", "i1", '{"v": 2}', later + timedelta(days=1)),
            next_item=None,
            finished=True,
        )
        done = store.get_session("s1")
        assert done.status == "finished" and done.finished_at == later
        assert store.latest_open_session("ana") is None
        assert [c.card for c in store.cards("ana")] == ['{"v": 2}']


def test_a_persons_answers_accumulate_across_sessions(url):
    with InterviewStore.open(url) as store:
        store.create_session(_session("s1"))
        store.create_session(_session("s2", at=NOW + timedelta(days=1)))
        store.create_session(_session("s3", user="bo"))
        store.add_responses([_response(1, "i1", 1.0, "s1"), _response(2, "i2", 0.0, "s1")])
        store.add_responses([_response(1, "i3", 0.5, "s2", at=NOW + timedelta(days=1))])
        store.add_responses([_response(1, "i1", 0.0, "s3")])
        assert [r.item_id for r in store.user_responses("ana")] == ["i1", "i2", "i3"]
        assert [r.item_id for r in store.user_responses("ana", exclude_session="s1")] == ["i3"]
        assert store.latest_open_session("ana").id == "s2"
        assert [s.id for s in store.list_sessions("ana")] == ["s1", "s2"]
        assert store.count_responses() == 4 == len(store.all_responses())


def test_calibrations_are_replaced(url):
    with InterviewStore.open(url) as store:
        store.save_calibrations([CalibrationRecord("i1", 1.2, 0.3, 40, NOW)])
        store.save_calibrations(
            [CalibrationRecord("i1", 0.9, -0.2, 80, NOW), CalibrationRecord("i2", 1, 1, 50, NOW)]
        )
        found = store.calibrations()
        assert (found["i1"].a, found["i1"].b, found["i1"].n_responses) == (0.9, -0.2, 80)
        assert set(found) == {"i1", "i2"}


def test_reopening_keeps_rows_and_shares_a_database_with_the_history_store(url):
    from leaderboards.store import Store

    with InterviewStore.open(url) as store:
        store.create_session(_session())
    with Store.open(url) as history:  # its own version table: both migrate side by side
        history.ensure_competition("titanic", host="local")
    with InterviewStore.open(url) as store:
        assert store.get_session("s1").user == "ana"
    with Store.open(url) as history:
        assert [c.name for c in history.list_competitions()] == ["titanic"]


def test_errors_say_what_to_do(tmp_path):
    with pytest.raises(InterviewStoreError, match="not a database URL"):
        InterviewStore.open("no way")
    with (
        InterviewStore.open(f"sqlite:///{tmp_path / 'x.sqlite'}") as store,
        pytest.raises(InterviewStoreError, match="start a new one"),
    ):
        store.get_session("missing")
