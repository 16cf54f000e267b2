"""One contract for the history store, run against real SQLite and real PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, inspect

from leaderboards.errors import StoreError, UnknownCompetitionError
from leaderboards.records import LeaderboardEntry, RemoteSubmission
from leaderboards.store import Store, rank_entries

HOST = "practice"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'history.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    opened = Store.open(store_url)
    opened.ensure_competition("churn", host=HOST, metric="auc")
    yield opened
    opened.close()


def remote(ref: str, description: str = "m", *, status="COMPLETE", public="0.8", private=""):
    return RemoteSubmission(
        ref=ref, file_name=f"{ref}.csv", description=description, date=T0, status=status,
        error=None if status != "ERROR" else "bad rows", public_score_raw=public,
        private_score_raw=private,
    )  # fmt: skip


def board(*scores: str) -> list[LeaderboardEntry]:
    return [LeaderboardEntry(str(i), f"team {i}", s, T0) for i, s in enumerate(scores, start=1)]


def begin(store: Store, message="m", file_name="sub.csv"):
    return store.begin_submission(
        "churn", host=HOST, file_path=f"/ws/submissions/{file_name}", file_hash="ab" * 32,
        file_name=file_name, message=message,
    )  # fmt: skip


def test_migration_from_empty_to_head_matches_the_models(store_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from leaderboards.models import Base

    Store.open(store_url).close()
    engine = create_engine(store_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert tables >= {
            "competitions", "runs", "submissions", "leaderboard_snapshots",
            "leaderboard_entries", "alembic_version",
        }  # fmt: skip
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
    Store.open(store_url).close()  # opening again at head is a no-op


def test_ensure_competition_is_idempotent_and_keeps_metadata(store):
    deadline = T0 + timedelta(days=3)
    first = store.ensure_competition("churn", host=HOST, title="Churn", deadline=deadline)
    again = store.ensure_competition("churn", host=HOST)
    assert first.id == again.id and again.title == "Churn" and again.deadline == deadline
    assert again.metric == "auc"
    assert [c.name for c in store.list_competitions()] == ["churn"]
    other = store.ensure_competition("churn", host="kaggle")
    assert other.id != first.id  # the same name on another host is another competition


def test_unknown_competition_says_what_to_run(store):
    with pytest.raises(UnknownCompetitionError, match="compete sync nope"):
        store.history("nope", host=HOST)


def test_runs_are_recorded(store):
    run = store.record_run(
        "churn", host=HOST, model="lgbm", metric="auc", cv_mean=0.84, cv_std=0.01,
        params={"num_leaves": 31}, seed=0, device="cpu", path="/ws/runs/1",
        started_at=T0, finished_at=T0 + timedelta(seconds=5),
    )  # fmt: skip
    (kept,) = store.history("churn", host=HOST).runs
    assert kept == run and kept.params == {"num_leaves": 31} and kept.started_at == T0


def test_begin_is_committed_before_the_upload_and_completed_after(store, store_url):
    row = begin(store)
    # Another connection (another process after a crash) already sees the attempt.
    with Store.open(store_url) as other:
        (seen,) = other.history("churn", host=HOST).submissions
    assert seen.status == "uploading" and seen.id == row.id
    done = store.complete_submission(row.id, remote_ref="7", status="pending")
    assert (done.remote_ref, done.status) == ("7", "pending")


def test_sync_fills_scores_and_a_second_sync_changes_nothing(store):
    row = begin(store)
    store.complete_submission(row.id, remote_ref="7")
    first = store.reconcile_submissions("churn", host=HOST, remote=[remote("7", public="0.81")])
    assert (first.updated, first.added) == (1, 0)
    second = store.reconcile_submissions("churn", host=HOST, remote=[remote("7", public="0.81")])
    assert (second.updated, second.added, second.linked, second.lost) == (0, 0, 0, 0)
    (kept,) = store.history("churn", host=HOST).submissions
    assert kept.status == "complete" and kept.public_score == pytest.approx(0.81)
    assert kept.private_score is None
    store.reconcile_submissions("churn", host=HOST, remote=[remote("7", private="0.79")])
    (kept,) = store.history("churn", host=HOST).submissions
    assert kept.private_score == pytest.approx(0.79)


def test_a_failed_upload_is_linked_when_the_host_has_it(store):
    row = begin(store, message="reply lost", file_name="7.csv")
    store.fail_submission(row.id, error="connection reset")
    result = store.reconcile_submissions("churn", host=HOST, remote=[remote("7", "reply lost")])
    assert (result.linked, result.added, result.lost) == (1, 0, 0)
    (kept,) = store.history("churn", host=HOST).submissions
    assert kept.remote_ref == "7" and kept.status == "complete"


def test_a_failed_upload_the_host_never_got_is_marked_lost(store):
    row = begin(store, message="never arrived")
    store.fail_submission(row.id, error="connection refused")
    result = store.reconcile_submissions("churn", host=HOST, remote=[])
    assert result.lost == 1
    (kept,) = store.history("churn", host=HOST).submissions
    assert kept.status == "lost" and "connection refused" in kept.error
    # The advice is a command the user can paste: the kept file and the same message.
    assert "`compete submit churn -f /ws/submissions/sub.csv -m 'never arrived'`" in kept.error


def test_an_upload_in_flight_is_left_alone(store):
    begin(store, message="still uploading")
    result = store.reconcile_submissions("churn", host=HOST, remote=[])
    assert result.lost == 0
    assert store.history("churn", host=HOST).submissions[0].status == "uploading"


def test_submissions_made_elsewhere_are_added_once(store):
    subs = [remote("1"), remote("2", status="ERROR", public="")]
    assert store.reconcile_submissions("churn", host=HOST, remote=subs).added == 2
    assert store.reconcile_submissions("churn", host=HOST, remote=subs).added == 0
    kept = store.history("churn", host=HOST).submissions
    assert [s.status for s in kept] == ["complete", "error"]
    assert kept[1].error == "bad rows" and kept[1].public_score is None


def test_ranks_share_ties():
    ranked = rank_entries(board("0.9", "0.8", "0.8", "0.7", ""))
    assert [e.rank for e in ranked] == [1, 2, 2, 4, 5]
    assert ranked[-1].score is None


def test_snapshots_are_idempotent_and_boards_told_apart(store):
    first = store.add_snapshot(
        "churn", host=HOST, board="public", taken_at=T0, entries=board("0.9", "0.8"),
        our_team="team 2",
    )  # fmt: skip
    same = store.add_snapshot(
        "churn", host=HOST, board="public", taken_at=T0 + timedelta(hours=1),
        entries=board("0.9", "0.8"), our_team="team 2",
    )  # fmt: skip
    assert same.id == first.id and first.our_rank == 2 and first.team_count == 2
    private = store.add_snapshot(
        "churn", host=HOST, board="private", taken_at=T0 + timedelta(days=1),
        entries=board("0.85", "0.86"), our_team="TEAM 2",
    )  # fmt: skip
    assert private.id != first.id and private.board == "private"
    history = store.history("churn", host=HOST)
    assert [(s.board, s.our_rank) for s in history.snapshots] == [("public", 2), ("private", 2)]
    assert [e.team_name for e in store.snapshot_entries(private.id)] == ["team 1", "team 2"]
    with pytest.raises(StoreError, match="board must be"):
        store.add_snapshot(
            "churn", host=HOST, board="other", taken_at=T0, entries=[], our_team=None
        )


def test_history_is_in_time_order(store):
    for message in ["first", "second", "third"]:
        begin(store, message=message)
    assert [s.message for s in store.history("churn", host=HOST).submissions] == [
        "first", "second", "third",
    ]  # fmt: skip


SYNC_WORKER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from leaderboards.records import LeaderboardEntry, RemoteSubmission
from leaderboards.store import Store

url, rounds, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
subs = [RemoteSubmission(str(i), f"{i}.csv", "m", None, "COMPLETE", None, "0.8", "")
        for i in range(20)]
entries = [LeaderboardEntry(str(i), f"team {i}", f"0.{10 - i}") for i in range(1, 10)]
with Store.open(url) as store:
    while not go.exists():  # both processes start writing at the same moment
        time.sleep(0.005)
    store.ensure_competition("rival", host="practice", title="Rival")
    for _ in range(rounds):
        store.reconcile_submissions("churn", host="practice", remote=subs)
        store.add_snapshot("churn", host="practice", board="public",
                           taken_at=datetime.now(UTC), entries=entries, our_team="team 3")
"""


def test_concurrent_syncs_never_duplicate_rows(store, store_url, tmp_path):
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", SYNC_WORKER, store_url, "5", str(go)], stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # let both import and open the store
    go.touch()
    errors = [w.communicate(timeout=120)[1].decode() for w in workers]
    assert [w.returncode for w in workers] == [0, 0], errors
    assert store.count("competitions") == 2
    assert store.count("submissions") == 20
    assert store.count("leaderboard_snapshots") == 1
    assert store.count("leaderboard_entries") == 9


def test_a_bad_url_is_a_clear_error():
    with pytest.raises(StoreError, match="not a database URL"):
        Store.open("not a url")


def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(StoreError, match="cannot open the history store.*COMPETE_DATABASE_URL"):
        Store.open("postgresql+psycopg://nobody:secret@127.0.0.1:9/none?connect_timeout=2")


def test_a_bare_postgresql_url_uses_psycopg_3(postgres_url):
    bare = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with Store.open(bare) as opened:
        assert opened.ensure_competition("churn", host=HOST).name == "churn"


def test_a_dropped_connection_is_reopened(postgres_url):
    import psycopg

    with Store.open(postgres_url) as opened:
        opened.ensure_competition("churn", host=HOST)  # a pooled connection now exists
        dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as admin:  # as a server restart would
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert [c.name for c in opened.list_competitions()] == ["churn"]


def test_home_in_a_sqlite_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with Store.open("sqlite:///~/compete/history.sqlite") as opened:
        opened.ensure_competition("churn", host=HOST)
    assert (tmp_path / "compete" / "history.sqlite").is_file()


def test_a_file_in_the_way_of_the_folder_is_a_clear_error(tmp_path):
    (tmp_path / "taken").write_text("")
    with pytest.raises(StoreError, match="cannot make the folder.*COMPETE_DATABASE_URL"):
        Store.open(f"sqlite:///{tmp_path / 'taken' / 'history.sqlite'}")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="not a database; check COMPETE_DATABASE_URL"):
        Store.open(f"sqlite:///{path}")


def test_a_store_broken_after_opening_fails_with_a_store_error(tmp_path):
    path = tmp_path / "history.sqlite"
    opened = Store.open(f"sqlite:///{path}")
    opened.engine.dispose()
    for leftover in tmp_path.glob("history.sqlite*"):
        leftover.unlink()
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="failed: file is not a database"):
        opened.list_competitions()
    opened.close()


def test_a_schema_from_a_newer_compete_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    Store.open(url).close()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    engine.dispose()
    with pytest.raises(StoreError, match="revision '0099', newer.*upgrade compete"):
        Store.open(url)


def test_an_unknown_driver_says_which_urls_work():
    with pytest.raises(StoreError, match="use sqlite:///PATH or postgresql"):
        Store.open("mysql://user@127.0.0.1/db")
