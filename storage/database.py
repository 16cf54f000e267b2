"""A store's database: opened from a URL, checked, migrated to head under a lock; every
transaction turns driver errors into the store's own one-line errors."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Self, TypeVar

from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage import sqlite
from storage.errors import IntegrityViolation
from storage.migrations import migrate
from storage.spec import StoreSpec

T = TypeVar("T")
ATTEMPTS = 5
URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


class Database:
    """Open with `Database.open(url, spec)`; closed with `close()`."""

    def __init__(self, engine: Engine, spec: StoreSpec) -> None:
        self.engine = engine
        self.spec = spec
        self.shown = engine.url.render_as_string(hide_password=True)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, spec: StoreSpec) -> Database:
        """Connect and migrate to the newest schema. A SQLite file gets its folder made, and
        an existing one is checked first: a read-only or damaged file is refused unchanged."""
        engine = _engine(url, spec)
        database = cls(engine, spec)
        try:
            migrate(engine, spec)
        except DBAPIError as error:
            engine.dispose()
            raise spec.error(
                database._explain(error, f"cannot open the {spec.name} at {database.shown}")
            ) from None
        except BaseException:
            engine.dispose()
            raise
        return database

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on a Core connection: committed at the end, rolled back on error."""
        with self._translated(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction in an ORM session (objects stay readable after the commit)."""
        with self._translated(), self._sessions.begin() as session:
            yield session

    def retrying(self, work: Callable[[Session], T], attempts: int = ATTEMPTS) -> T:
        """Run `work` in one transaction; when a concurrent writer won a unique constraint,
        run it again. `work` must be idempotent, so the second pass finds the winner's row."""
        for attempt in range(attempts):
            try:
                with self.session() as session:
                    return work(session)
            except IntegrityViolation:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError as error:
            raise self.spec.conflict(
                f"the {self.spec.name} at {self.shown} refused a write: {_reason(error)}; "
                "another writer stored it first: try again"
            ) from error
        except DBAPIError as error:
            raise self.spec.error(
                self._explain(error, f"the {self.spec.name} at {self.shown} failed")
            ) from error

    def _explain(self, error: DBAPIError, lead: str) -> str:
        """What went wrong and what to do about it, as precisely as the driver's reason allows:
        a read-only or damaged SQLite file says so; anything else may be the network."""
        reason = _reason(error)
        lowered = reason.lower()
        path = self.engine.url.database
        sqlite_file = self.engine.dialect.name == "sqlite" and path not in (None, "", ":memory:")
        if sqlite_file and any(word in lowered for word in sqlite.READ_ONLY):
            return sqlite.read_only_file(path, self.spec)
        if sqlite_file and any(word in lowered for word in sqlite.DAMAGED):
            return sqlite.damaged(path, reason, self.spec)
        if sqlite_file and "not a database" in lowered:
            return f"{lead}: {reason}; check {self.spec.setting}"
        hint = f"check that the database is reachable ({self.spec.setting}) and try again"
        return f"{lead}: {reason}; {hint}"


def _engine(url: str, spec: StoreSpec) -> Engine:
    shown = _safe_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise spec.error(
            f"{shown!r} is not a database URL: use {URL_FORMS} ({spec.setting})"
        ) from None
    if parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg2") is None:
        # A bare postgresql:// (as Optuna's --storage takes it) means psycopg 3 here.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        parsed = _prepare_sqlite_file(parsed, shown, spec)
    try:
        # pre-ping: a long-lived process survives a server restart between two calls
        engine = create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    except (ArgumentError, ImportError) as error:
        hint = (
            "install the postgres extra: pip install 'compete[postgres]'"
            if parsed.get_backend_name() == "postgresql"
            else f"use {URL_FORMS}"
        )
        raise spec.error(
            f"cannot use the {spec.name} at {shown}: {error}; {hint} ({spec.setting})"
        ) from None
    if engine.dialect.name == "sqlite":
        sqlite.serialise(engine)
    return engine


def _prepare_sqlite_file(parsed: URL, shown: str, spec: StoreSpec) -> URL:
    """Expand "~", make the folder (so a first run just works) and check an existing file."""
    if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
        return parsed
    path = Path(parsed.database).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise spec.error(
            f"cannot open the {spec.name} at {shown}: cannot make the folder "
            f"{path.parent}: {error.strerror or error}; check {spec.setting}"
        ) from None
    sqlite.check_file(path, spec)
    return parsed.set(database=str(path))


def _reason(error: DBAPIError) -> str:
    """The driver's own first line ("connection refused", "file is not a database")."""
    text = str(error.orig if error.orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class DatabaseStore:
    """Base of a store: `open(url)` connects and migrates by the class's `spec`; closed with
    `close()` or a `with` block. Subclasses add the store's own methods over `self._db`."""

    spec: ClassVar[StoreSpec]

    def __init__(self, database: Database) -> None:
        self._db = database
        self.engine = database.engine
        self._shown = database.shown

    @classmethod
    def open(cls, url: str) -> Self:
        """Connect and migrate to the newest schema; SQLite files get their folder made, and
        a damaged or read-only file is refused before anything is written."""
        return cls(Database.open(url, cls.spec))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
