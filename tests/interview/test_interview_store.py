"""The interview store: one contract run against real SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from interview.store import (
    CalibrationRecord,
    CardRecord,
    EstimateRecord,
    InterviewConflictError,
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
        # a second answer at the same position (two tabs) is refused and changes nothing;
        # the app tells it from other failures by the store's conflict error
        with pytest.raises(InterviewConflictError, match="answered already"):
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


@pytest.mark.postgres
def test_a_new_persons_first_session_survives_a_racing_writer(postgres_url):
    """Another process inserts the same new person between our look-up and our insert: the
    store retries, and the second pass finds the person instead of failing."""
    import psycopg

    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with (
        InterviewStore.open(postgres_url) as store,
        psycopg.connect(dsn) as rival,
        psycopg.connect(dsn, autocommit=True) as watcher,
    ):
        rival.execute(
            "INSERT INTO interview_users (name, created_at) VALUES ('zoe', now())"
        )  # not committed yet: our insert of zoe will wait on it
        failures: list[BaseException] = []

        def create() -> None:
            try:
                store.create_session(_session("z1", user="zoe"))
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        worker = threading.Thread(target=create)
        worker.start()
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock(watcher) and time.monotonic() < deadline:
            time.sleep(0.05)
        rival.commit()  # the rival wins; our waiting insert now breaks the unique key
        worker.join(timeout=30)
        assert failures == []
        assert store.get_session("z1").user == "zoe"


def _waiting_on_a_lock(watcher) -> bool:
    waiting = watcher.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()"
    ).fetchone()[0]
    return waiting > 0


def test_a_damaged_or_read_only_file_names_the_interview_store(tmp_path, read_only):
    damaged = tmp_path / "damaged.sqlite"
    InterviewStore.open(f"sqlite:///{damaged}").close()
    with sqlite3.connect(damaged) as connection:
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'interview_sessions'"
        ).fetchone()
    connection.close()
    with damaged.open("r+b") as handle:
        handle.seek((root - 1) * 4096)
        handle.write(b"\xff" * 4096)
    with pytest.raises(InterviewStoreError, match="interview store file .* is damaged.*afresh"):
        InterviewStore.open(f"sqlite:///{damaged}")
    locked = tmp_path / "locked.sqlite"
    InterviewStore.open(f"sqlite:///{locked}").close()
    read_only(locked)
    with pytest.raises(
        InterviewStoreError, match="read-only: .*COMPETE_INTERVIEW_DATABASE_URL elsewhere"
    ):
        InterviewStore.open(f"sqlite:///{locked}")
