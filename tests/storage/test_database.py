"""One contract for the database layer both stores use, run against real SQLite files and a
real PostgreSQL server: opening by URL, refusing what must be refused before anything is
written, migrating once under concurrency, retrying conflicts, UTC times, surviving a dropped
connection. Every message must name the store and its setting, never SQLAlchemy."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

from storage import Database, IntegrityViolation, StorageError, StoreSpec

MIGRATIONS = Path(__file__).with_name("migrations")


class ThingsError(StorageError):
    pass


class ThingsConflict(ThingsError, IntegrityViolation):
    pass


SPEC = StoreSpec(
    name="things store",
    setting="THINGS_URL",
    error=ThingsError,
    conflict=ThingsConflict,
    migrations=MIGRATIONS,
    version_table="things_version",
    rebuild="run `things rebuild`",
)
THINGS = text("SELECT name FROM things ORDER BY name")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'things.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(url) -> Iterator[Database]:
    opened = Database.open(url, SPEC)
    yield opened
    opened.close()


def add(connection, name: str) -> None:
    connection.execute(text("INSERT INTO things (name) VALUES (:name)"), {"name": name})


def names(db: Database) -> list[str]:
    with db.transaction() as connection:
        return list(connection.scalars(THINGS))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- opening ---------------------------------------------------------------------------------


def test_opening_by_url_migrates_to_head_and_keeps_rows(url):
    with contextlib.closing(Database.open(url, SPEC)) as db, db.transaction() as connection:
        add(connection, "a")
    with contextlib.closing(Database.open(url, SPEC)) as db:  # at head: opening is a no-op
        assert names(db) == ["a"]
        with db.transaction() as connection:
            version = connection.scalar(text("SELECT version_num FROM things_version"))
        assert version == "0001"


def test_a_missing_sqlite_file_is_created_with_its_folder(tmp_path):
    path = tmp_path / "a" / "b" / "things.sqlite"
    with contextlib.closing(Database.open(f"sqlite:///{path}", SPEC)) as db, db.transaction() as c:
        add(c, "a")
    assert path.is_file()


def test_home_in_a_sqlite_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    Database.open("sqlite:///~/things/things.sqlite", SPEC).close()
    assert (tmp_path / "things" / "things.sqlite").is_file()


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("not a url", r"'not a url' is not a database URL: use sqlite:///PATH .*\(THINGS_URL\)"),
        ("mysql://user@127.0.0.1/db", r"cannot use the things store.*use sqlite:///PATH or post"),
        ("sqlite+nodriver:///x.db", r"cannot use the things store.*THINGS_URL"),
    ],
)
def test_a_bad_url_is_a_clear_error(bad, expected):
    with pytest.raises(ThingsError, match=expected):
        Database.open(bad, SPEC)


def test_an_unreachable_server_names_the_store_and_its_setting():
    with pytest.raises(ThingsError, match=r"cannot open the things store .*reachable \(THINGS_URL"):
        Database.open("postgresql+psycopg://nobody:secret@127.0.0.1:9/none?connect_timeout=2", SPEC)


def test_a_password_never_appears_in_a_message():
    with pytest.raises(ThingsError) as caught:
        Database.open("postgresql+psycopg://nobody:secret@127.0.0.1:9/none?connect_timeout=2", SPEC)
    assert "secret" not in str(caught.value)


@pytest.mark.postgres
def test_a_bare_postgresql_url_uses_psycopg_3(postgres_url):
    bare = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with contextlib.closing(Database.open(bare, SPEC)) as db:
        assert db.engine.dialect.driver == "psycopg"
        assert names(db) == []


def test_a_file_in_the_way_of_the_folder_is_a_clear_error(tmp_path):
    (tmp_path / "taken").write_text("")
    with pytest.raises(ThingsError, match="cannot make the folder .*taken.*THINGS_URL"):
        Database.open(f"sqlite:///{tmp_path / 'taken' / 'things.sqlite'}", SPEC)


def test_a_file_that_is_not_a_database_is_refused_unchanged(tmp_path):
    path = tmp_path / "things.sqlite"
    path.write_bytes(b"not a database" * 400)
    before = sha256(path)
    with pytest.raises(ThingsError, match="not a database; check THINGS_URL"):
        Database.open(f"sqlite:///{path}", SPEC)
    assert sha256(path) == before


def test_a_schema_from_a_newer_release_is_refused(url):
    Database.open(url, SPEC).close()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE things_version SET version_num = '0099'")
    engine.dispose()
    with pytest.raises(ThingsError, match="revision '0099', newer than this compete.*THINGS_URL"):
        Database.open(url, SPEC)


OPEN_WORKER = """
import sys, time
from pathlib import Path
from storage import Database, IntegrityViolation, StorageError, StoreSpec
url, migrations, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
spec = StoreSpec(name="things store", setting="THINGS_URL", error=StorageError,
                 conflict=IntegrityViolation, migrations=migrations, version_table="things_version")
while not go.exists():
    time.sleep(0.01)
Database.open(url, spec).close()
"""


def test_concurrent_opens_of_an_empty_database_migrate_it_once(url, tmp_path):
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WORKER, url, str(MIGRATIONS), str(go)],
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    time.sleep(1.0)  # let them import
    go.touch()
    errors = [w.communicate(timeout=120)[1].decode() for w in workers]
    # A second `create_table` would fail: every worker succeeding means one migration ran.
    assert [w.returncode for w in workers] == [0, 0, 0], errors
    with contextlib.closing(Database.open(url, SPEC)) as db, db.transaction() as connection:
        assert connection.scalar(text("SELECT count(*) FROM things_version")) == 1


# -- writing ---------------------------------------------------------------------------------


def test_a_broken_constraint_is_the_stores_conflict_error(db):
    with db.transaction() as connection:
        add(connection, "a")
    refused = pytest.raises(ThingsConflict, match="the things store at .* refused a write")
    with refused as caught, db.transaction() as connection:
        add(connection, "b")
        add(connection, "a")
    assert isinstance(caught.value, IntegrityViolation)
    assert isinstance(caught.value.__cause__, sqlalchemy.exc.IntegrityError)  # for --debug
    assert names(db) == ["a"]  # the whole transaction was rolled back


def test_a_conflict_is_retried_and_the_second_pass_finds_the_winners_row(db):
    with db.transaction() as connection:
        add(connection, "a")
    passes: list[str] = []

    def ensure(session: Session) -> str:
        # The first pass acts on a stale read (as when a concurrent writer won the race).
        stale = not passes
        seen = not stale and session.scalar(text("SELECT name FROM things WHERE name = 'a'"))
        passes.append("pass")
        if not seen:
            add(session.connection(), "a")
        return "a"

    assert db.retrying(ensure) == "a"
    assert len(passes) == 2 and names(db) == ["a"]


def test_a_conflict_that_persists_gives_up_with_the_stores_error(db):
    with db.transaction() as connection:
        add(connection, "a")
    passes: list[int] = []

    def always(session: Session) -> None:
        passes.append(1)
        add(session.connection(), "a")

    with pytest.raises(ThingsConflict):
        db.retrying(always, attempts=3)
    assert len(passes) == 3


@pytest.mark.postgres
def test_a_real_race_on_postgresql_is_retried(postgres_url):
    """A second connection commits the same name between our read and our insert."""
    import psycopg

    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with contextlib.closing(Database.open(postgres_url, SPEC)) as db:
        passes: list[int] = []

        def ensure(session: Session) -> int:
            passes.append(1)
            found = session.scalar(text("SELECT id FROM things WHERE name = 'x'"))
            if found is not None:
                return found
            if len(passes) == 1:
                with psycopg.connect(dsn, autocommit=True) as rival:
                    rival.execute("INSERT INTO things (name) VALUES ('x')")
            add(session.connection(), "x")
            return session.scalar(text("SELECT id FROM things WHERE name = 'x'"))

        row_id = db.retrying(ensure)
        assert len(passes) == 2 and names(db) == ["x"]
        with db.transaction() as connection:
            assert connection.scalar(text("SELECT id FROM things")) == row_id


def test_times_go_in_aware_and_come_back_aware_in_utc(db):
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

    from storage import UTCDateTime

    things = Table(
        "things",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(200)),
        Column("at", UTCDateTime()),
    )
    paris = timezone(timedelta(hours=2))
    at = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=paris)
    with db.transaction() as connection:
        connection.execute(insert(things).values(name="t", at=at))
    with db.transaction() as connection:
        back = connection.scalar(select(things.c.at))
        raw = connection.scalar(select(Column("at", DateTime())).select_from(things))
    assert back == at and back.tzinfo == UTC and back.hour == 12
    assert raw.replace(tzinfo=None) == datetime(2026, 6, 1, 12, 30, 15, 123456)  # UTC stored
    naive = datetime(2026, 6, 1, 14, 30)
    refused = pytest.raises(sqlalchemy.exc.StatementError, match="naive datetime .*timezone-aware")
    with refused, db.transaction() as connection:
        connection.execute(insert(things).values(name="n", at=naive))
    assert names(db) == ["t"]


@pytest.mark.postgres
def test_a_dropped_connection_is_reopened_by_pre_ping(postgres_url):
    import psycopg

    with contextlib.closing(Database.open(postgres_url, SPEC)) as db:
        with db.transaction() as connection:
            add(connection, "before")  # a pooled connection now exists
            pid = connection.scalar(text("SELECT pg_backend_pid()"))
        dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as admin:  # as a server restart would
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        assert killed and all(row[0] for row in killed)
        with db.transaction() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) != pid
            add(connection, "after")
        assert names(db) == ["after", "before"]


def test_a_database_broken_after_opening_fails_with_the_stores_error(tmp_path):
    path = tmp_path / "things.sqlite"
    db = Database.open(f"sqlite:///{path}", SPEC)
    db.engine.dispose()
    for leftover in tmp_path.glob("things.sqlite*"):
        leftover.unlink()
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(ThingsError, match="things store at .* failed: file is not a database"):
        names(db)
    db.close()


# -- broken SQLite files ---------------------------------------------------------------------


def fill(path: Path) -> None:
    """Many rows, written and committed by the layer, checkpointed into the file."""
    rows = [{"name": f"thing {i:05d} " + "x" * 150} for i in range(3000)]
    with contextlib.closing(Database.open(f"sqlite:///{path}", SPEC)) as db, db.transaction() as c:
        c.execute(text("INSERT INTO things (name) VALUES (:name)"), rows)
    assert not path.with_name(path.name + "-wal").exists()


def damage(path: Path) -> None:
    """Pages in the middle overwritten with garbage, as a failing disk or a torn copy leaves
    them."""
    page = 4096
    pages = path.stat().st_size // page
    assert pages > 40
    with path.open("r+b") as handle:
        for number in range(pages // 2, pages // 2 + 4):
            handle.seek(number * page)
            handle.write(bytes((i * 37 + number) % 251 for i in range(page)))


def corrupt(path: Path) -> None:
    fill(path)
    damage(path)


def test_a_corrupt_file_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "things.sqlite"
    corrupt(path)
    before = sha256(path)
    with pytest.raises(ThingsError) as caught:
        Database.open(f"sqlite:///{path}", SPEC)
    message = str(caught.value)
    assert f"the things store file {path} is damaged" in message
    assert "restore it from a backup, or move it aside and run `things rebuild`" in message
    assert "\n" not in message
    assert sha256(path) == before


def test_a_read_only_file_says_how_to_make_it_writable(tmp_path, read_only):
    path = tmp_path / "things.sqlite"
    Database.open(f"sqlite:///{path}", SPEC).close()
    before = sha256(path)
    read_only(path)
    with pytest.raises(ThingsError) as caught:
        Database.open(f"sqlite:///{path}", SPEC)
    assert str(caught.value) == (
        f"the things store file {path} is read-only: make it writable (chmod u+w {path}) or "
        "point THINGS_URL elsewhere"
    )
    assert sha256(path) == before


def test_a_read_only_folder_says_so(tmp_path, read_only):
    folder = tmp_path / "locked"
    folder.mkdir()
    read_only(folder)
    with pytest.raises(ThingsError, match=f"the folder {folder} of the things store is read-only"):
        Database.open(f"sqlite:///{folder / 'things.sqlite'}", SPEC)
    assert list(folder.iterdir()) == []


def test_a_file_damaged_after_opening_says_so_and_what_to_do(tmp_path):
    path = tmp_path / "things.sqlite"
    fill(path)
    db = Database.open(f"sqlite:///{path}", SPEC)
    db.engine.dispose()
    damage(path)
    with pytest.raises(ThingsError, match=f"the things store file {path} is damaged .*rebuild"):
        names(db)
    db.close()


def test_a_file_made_read_only_after_opening_says_so(tmp_path, read_only):
    path = tmp_path / "things.sqlite"
    db = Database.open(f"sqlite:///{path}", SPEC)
    db.engine.dispose()
    read_only(path)
    refused = pytest.raises(ThingsError, match=f"the things store file {path} is read-only: make")
    with refused, db.transaction() as connection:
        add(connection, "a")
    db.close()


def test_a_spec_whose_conflict_is_not_its_error_is_refused():
    with pytest.raises(TypeError, match="IntegrityViolation must subclass ThingsError"):
        StoreSpec(
            name="x", setting="X", error=ThingsError, conflict=IntegrityViolation,
            migrations=MIGRATIONS,
        )  # fmt: skip


def test_check_does_not_need_write_access_to_see_the_file_is_sound(tmp_path):
    from storage.sqlite import integrity_problem

    path = tmp_path / "things.sqlite"
    Database.open(f"sqlite:///{path}", SPEC).close()
    assert integrity_problem(path) is None
    corrupt(tmp_path / "broken.sqlite")
    problem = integrity_problem(tmp_path / "broken.sqlite")
    assert problem is not None and os.path.exists(tmp_path / "broken.sqlite")
