"""The interview store: people, sessions, responses, running estimates, review cards and item
calibrations in SQLite or PostgreSQL, migrated by Alembic with its own version table (so it
can share one database with the history store); every method returns value objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from interview.errors import InterviewError
from storage import DatabaseStore, IntegrityViolation, StorageError, StoreSpec, UTCDateTime

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "interview_alembic_version"


class InterviewStoreError(InterviewError, StorageError):
    """The interview store cannot be opened or a row is missing."""


class InterviewConflictError(InterviewStoreError, IntegrityViolation):
    """A write broke a constraint: another tab or process stored the same row first."""


SPEC = StoreSpec(
    name="interview store",
    setting="COMPETE_INTERVIEW_DATABASE_URL",
    error=InterviewStoreError,
    conflict=InterviewConflictError,
    migrations=MIGRATIONS,
    version_table=VERSION_TABLE,
    rebuild="start afresh (its sessions, answers and review cards are then gone)",
)


# The schema is owned by the migrations in interview/migrations; these mirror it for queries.
metadata = MetaData()
users = Table(
    "interview_users",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
)
sessions = Table(
    "interview_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user", String(200), ForeignKey("interview_users.name"), nullable=False, index=True),
    Column("topics", JSON, nullable=False),
    Column("mode", String(20), nullable=False),
    Column("status", String(20), nullable=False),  # open | finished
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("seed", Integer, nullable=False),
    Column("config", JSON, nullable=False),
    Column("current_item", String(200)),  # the item on screen, so a resume shows it again
    Column("served_at", UTCDateTime()),
)
responses = Table(
    "interview_responses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", String(36), ForeignKey("interview_sessions.id"), nullable=False),
    Column("item_id", String(200), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("seconds", Float),
    Column("feedback", JSON, nullable=False),
    Column("answered_at", UTCDateTime(), nullable=False),
    # one answer per position: a double submit from two browser tabs cannot count twice
    UniqueConstraint("session_id", "position", name="uq_interview_responses_position"),
)
estimates = Table(
    "interview_estimates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "session_id", String(36), ForeignKey("interview_sessions.id"), nullable=False, index=True
    ),
    Column("topic", String(200), nullable=False),
    Column("theta", Float, nullable=False),
    Column("se", Float, nullable=False),
    Column("n_items", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
cards = Table(
    "interview_review_cards",
    metadata,
    Column("user", String(200), ForeignKey("interview_users.name"), nullable=False),
    Column("item_id", String(200), nullable=False),
    Column("card", Text, nullable=False),
    Column("due", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("user", "item_id", name="pk_interview_review_cards"),
)
calibrations = Table(
    "interview_calibrations",
    metadata,
    Column("item_id", String(200), primary_key=True),
    Column("a", Float, nullable=False),
    Column("b", Float, nullable=False),
    Column("n_responses", Integer, nullable=False),
    Column("fitted_at", UTCDateTime(), nullable=False),
)


@dataclass(frozen=True)
class SessionRecord:
    id: str
    user: str
    topics: tuple[str, ...]
    mode: str
    status: str
    started_at: datetime
    seed: int
    config: dict[str, Any] = field(default_factory=dict)
    finished_at: datetime | None = None
    current_item: str | None = None
    served_at: datetime | None = None


@dataclass(frozen=True)
class ResponseRecord:
    session_id: str
    item_id: str
    topic: str
    position: int
    response: str
    score: float
    passed: bool
    seconds: float | None
    feedback: dict[str, Any]
    answered_at: datetime


def first_answers(
    history: Sequence[ResponseRecord], person: dict[str, str] | None = None
) -> list[ResponseRecord]:
    """The answers of `history` (oldest first) that are their person's first to their item:
    the ones given before any feedback on the item was shown, so the only evidence of
    ability. `person` maps session ids to people (`InterviewStore.session_users`); without
    it, `history` is one person's."""
    seen: set[tuple[str, str]] = set()
    first = []
    for r in history:
        key = (person.get(r.session_id, r.session_id) if person else "", r.item_id)
        if key not in seen:
            seen.add(key)
            first.append(r)
    return first


@dataclass(frozen=True)
class EstimateRecord:
    session_id: str
    topic: str
    theta: float
    se: float
    n_items: int
    at: datetime


@dataclass(frozen=True)
class CardRecord:
    user: str
    item_id: str
    card: str  # fsrs Card.to_dict() as JSON
    due: datetime


@dataclass(frozen=True)
class CalibrationRecord:
    item_id: str
    a: float
    b: float
    n_responses: int
    fitted_at: datetime


class InterviewStore(DatabaseStore):
    """Open with `InterviewStore.open(url)`; closed with `close()` (or a `with` block)."""

    spec = SPEC

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, record: SessionRecord) -> SessionRecord:
        """Insert the session (and its person, the first time)."""

        def work(session: Session) -> None:
            connection = session.connection()
            _ensure_user(connection, record.user, record.started_at)
            connection.execute(
                insert(sessions).values(
                    id=record.id,
                    user=record.user,
                    topics=list(record.topics),
                    mode=record.mode,
                    status=record.status,
                    started_at=record.started_at,
                    finished_at=record.finished_at,
                    seed=record.seed,
                    config=record.config,
                    current_item=record.current_item,
                    served_at=record.served_at,
                )
            )

        self._db.retrying(work)
        return record

    def get_session(self, session_id: str) -> SessionRecord:
        with self._db.transaction() as connection:
            row = connection.execute(select(sessions).where(sessions.c.id == session_id)).first()
        if row is None:
            raise InterviewStoreError(
                f"no interview session {session_id!r} in {self._shown}: start a new one"
            )
        return _session(row)

    def latest_open_session(self, user: str) -> SessionRecord | None:
        """The person's newest session that has not finished, or None."""
        with self._db.transaction() as connection:
            row = connection.execute(
                select(sessions)
                .where(sessions.c.user == user, sessions.c.status == "open")
                .order_by(sessions.c.started_at.desc(), sessions.c.id)
                .limit(1)
            ).first()
        return None if row is None else _session(row)

    def session_users(self) -> dict[str, str]:
        """Every session's person, by session id (calibration counts a person once)."""
        with self._db.transaction() as connection:
            rows = connection.execute(select(sessions.c.id, sessions.c.user))
            return {row.id: row.user for row in rows}

    def list_sessions(self, user: str) -> list[SessionRecord]:
        with self._db.transaction() as connection:
            rows = connection.execute(
                select(sessions).where(sessions.c.user == user).order_by(sessions.c.started_at)
            )
            return [_session(r) for r in rows]

    def serve(self, session_id: str, item_id: str | None, served_at: datetime) -> None:
        """Mark `item_id` as the item on screen (None: nothing left to ask)."""
        with self._db.transaction() as connection:
            connection.execute(
                update(sessions)
                .where(sessions.c.id == session_id)
                .values(current_item=item_id, served_at=served_at)
            )

    def finish_session(self, session_id: str, at: datetime) -> None:
        with self._db.transaction() as connection:
            connection.execute(
                update(sessions)
                .where(sessions.c.id == session_id, sessions.c.status == "open")
                .values(status="finished", finished_at=at, current_item=None)
            )

    def record_answer(
        self,
        response: ResponseRecord,
        running: Sequence[EstimateRecord],
        card: CardRecord | None,
        *,
        next_item: str | None,
        finished: bool,
    ) -> None:
        """The response, the running estimates it changed, the item's review card and the
        next item, in one transaction: a crash leaves all of them or none.

        Raises InterviewConflictError when the position was answered already (a second tab)."""
        at = response.answered_at

        def work(session: Session) -> None:
            connection = session.connection()
            connection.execute(
                insert(responses).values(
                    session_id=response.session_id,
                    item_id=response.item_id,
                    topic=response.topic,
                    position=response.position,
                    response=response.response,
                    score=response.score,
                    passed=response.passed,
                    seconds=response.seconds,
                    feedback=response.feedback,
                    answered_at=at,
                )
            )
            if running:
                connection.execute(
                    insert(estimates),
                    [
                        {
                            "session_id": e.session_id,
                            "topic": e.topic,
                            "theta": e.theta,
                            "se": e.se,
                            "n_items": e.n_items,
                            "at": e.at,
                        }
                        for e in running
                    ],
                )
            if card is not None:
                _upsert_card(connection, card, at)
            values: dict[str, Any] = {"current_item": next_item, "served_at": at}
            if finished:
                values.update(status="finished", finished_at=at, current_item=None)
            connection.execute(
                update(sessions).where(sessions.c.id == response.session_id).values(**values)
            )

        try:
            self._db.retrying(work)
        except InterviewConflictError:
            raise InterviewConflictError(
                f"item {response.position} of session {response.session_id} was answered "
                "already (another tab?): reload the session"
            ) from None

    # -- responses and estimates -------------------------------------------------------------

    def add_responses(self, rows: Sequence[ResponseRecord]) -> None:
        """Insert answers of existing sessions in one transaction (imports, simulations);
        a live session writes through `record_answer` instead."""
        if not rows:
            return
        with self._db.transaction() as connection:
            connection.execute(
                insert(responses),
                [
                    {
                        "session_id": r.session_id,
                        "item_id": r.item_id,
                        "topic": r.topic,
                        "position": r.position,
                        "response": r.response,
                        "score": r.score,
                        "passed": r.passed,
                        "seconds": r.seconds,
                        "feedback": r.feedback,
                        "answered_at": r.answered_at,
                    }
                    for r in rows
                ],
            )

    def session_responses(self, session_id: str) -> list[ResponseRecord]:
        with self._db.transaction() as connection:
            rows = connection.execute(
                select(responses)
                .where(responses.c.session_id == session_id)
                .order_by(responses.c.position)
            )
            return [_response(r) for r in rows]

    def user_responses(
        self, user: str, *, exclude_session: str | None = None, item_id: str | None = None
    ) -> list[ResponseRecord]:
        """Every answer the person gave, oldest first (without one session's, if named; to
        one item only, if named)."""
        query = (
            select(responses)
            .join(sessions, sessions.c.id == responses.c.session_id)
            .where(sessions.c.user == user)
            .order_by(responses.c.answered_at, responses.c.id)
        )
        if exclude_session is not None:
            query = query.where(responses.c.session_id != exclude_session)
        if item_id is not None:
            query = query.where(responses.c.item_id == item_id)
        with self._db.transaction() as connection:
            return [_response(r) for r in connection.execute(query)]

    def all_responses(self) -> list[ResponseRecord]:
        """Every stored answer of everyone (for calibration)."""
        with self._db.transaction() as connection:
            rows = connection.execute(select(responses).order_by(responses.c.id))
            return [_response(r) for r in rows]

    def session_estimates(self, session_id: str) -> list[EstimateRecord]:
        """The running estimates of a session in the order they were made."""
        with self._db.transaction() as connection:
            rows = connection.execute(
                select(estimates)
                .where(estimates.c.session_id == session_id)
                .order_by(estimates.c.id)
            )
            return [
                EstimateRecord(
                    session_id=r.session_id,
                    topic=r.topic,
                    theta=r.theta,
                    se=r.se,
                    n_items=r.n_items,
                    at=r.at,
                )
                for r in rows
            ]

    # -- review cards ------------------------------------------------------------------------

    def save_card(self, card: CardRecord, at: datetime) -> None:
        def work(session: Session) -> None:
            _ensure_user(session.connection(), card.user, at)
            _upsert_card(session.connection(), card, at)

        self._db.retrying(work)

    def card(self, user: str, item_id: str) -> CardRecord | None:
        with self._db.transaction() as connection:
            row = connection.execute(
                select(cards).where(cards.c.user == user, cards.c.item_id == item_id)
            ).first()
        return None if row is None else _card(row)

    def cards(self, user: str) -> list[CardRecord]:
        """The person's review cards, soonest due first."""
        with self._db.transaction() as connection:
            rows = connection.execute(
                select(cards).where(cards.c.user == user).order_by(cards.c.due, cards.c.item_id)
            )
            return [_card(r) for r in rows]

    # -- calibrations ------------------------------------------------------------------------

    def save_calibrations(self, fitted: Sequence[CalibrationRecord]) -> None:
        """Replace the stored parameters of these items."""
        with self._db.transaction() as connection:
            ids = [c.item_id for c in fitted]
            if ids:
                connection.execute(calibrations.delete().where(calibrations.c.item_id.in_(ids)))
                connection.execute(
                    insert(calibrations),
                    [
                        {
                            "item_id": c.item_id,
                            "a": c.a,
                            "b": c.b,
                            "n_responses": c.n_responses,
                            "fitted_at": c.fitted_at,
                        }
                        for c in fitted
                    ],
                )

    def calibrations(self) -> dict[str, CalibrationRecord]:
        with self._db.transaction() as connection:
            rows = connection.execute(select(calibrations))
            return {
                r.item_id: CalibrationRecord(
                    item_id=r.item_id,
                    a=r.a,
                    b=r.b,
                    n_responses=r.n_responses,
                    fitted_at=r.fitted_at,
                )
                for r in rows
            }

    def count_responses(self) -> int:
        with self._db.transaction() as connection:
            return connection.execute(select(func.count()).select_from(responses)).scalar_one()


def _ensure_user(connection: Connection, user: str, at: datetime) -> None:
    exists = connection.execute(select(users.c.name).where(users.c.name == user)).first()
    if exists is None:
        connection.execute(insert(users).values(name=user, created_at=at))


def _upsert_card(connection: Connection, card: CardRecord, at: datetime) -> None:
    # Writers of one person's card are serialised by the surrounding transaction (SQLite:
    # BEGIN IMMEDIATE; PostgreSQL: the key makes a racing insert fail, and the caller retries).
    done = connection.execute(
        update(cards)
        .where(cards.c.user == card.user, cards.c.item_id == card.item_id)
        .values(card=card.card, due=card.due, updated_at=at)
    )
    if done.rowcount == 0:
        connection.execute(
            insert(cards).values(
                user=card.user, item_id=card.item_id, card=card.card, due=card.due, updated_at=at
            )
        )


def _session(row: Any) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user=row.user,
        topics=tuple(row.topics),
        mode=row.mode,
        status=row.status,
        started_at=row.started_at,
        seed=row.seed,
        config=dict(row.config or {}),
        finished_at=row.finished_at,
        current_item=row.current_item,
        served_at=row.served_at,
    )


def _response(row: Any) -> ResponseRecord:
    return ResponseRecord(
        session_id=row.session_id,
        item_id=row.item_id,
        topic=row.topic,
        position=row.position,
        response=row.response,
        score=row.score,
        passed=bool(row.passed),
        seconds=row.seconds,
        feedback=dict(row.feedback or {}),
        answered_at=row.answered_at,
    )


def _card(row: Any) -> CardRecord:
    return CardRecord(user=row.user, item_id=row.item_id, card=row.card, due=row.due)
