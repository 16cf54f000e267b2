"""SQLAlchemy models of the history store; the schema is owned by the Alembic migrations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage import UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Competition(Base):
    __tablename__ = "competitions"
    __table_args__ = (UniqueConstraint("host", "name", name="uq_competitions_host_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    host: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(300))
    metric: Mapped[str | None] = mapped_column(String(100))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"), index=True)
    model: Mapped[str] = mapped_column(String(100))
    metric: Mapped[str] = mapped_column(String(100))
    cv_mean: Mapped[float | None] = mapped_column(Float)
    cv_std: Mapped[float | None] = mapped_column(Float)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    seed: Mapped[int | None] = mapped_column(Integer)
    device: Mapped[str | None] = mapped_column(String(50))
    path: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("competition_id", "remote_ref", name="uq_submissions_competition_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    file_path: Mapped[str | None] = mapped_column(Text)
    file_hash: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text, default="")
    cv_score: Mapped[float | None] = mapped_column(Float)
    remote_ref: Mapped[str | None] = mapped_column(String(100))
    # uploading -> pending | complete | error (from the host); refused (the host said no,
    # e.g. the daily limit); upload_failed (no answer) -> linked by sync, or lost
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    public_score: Mapped[float | None] = mapped_column(Float)
    private_score: Mapped[float | None] = mapped_column(Float)
    public_score_raw: Mapped[str | None] = mapped_column(String(50))
    private_score_raw: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Snapshot(Base):
    __tablename__ = "leaderboard_snapshots"
    __table_args__ = (
        # `sequence` numbers a board's snapshots; two syncs racing for the same next number
        # cannot both win, so concurrent syncs never duplicate a snapshot.
        UniqueConstraint("competition_id", "board", "sequence", name="uq_snapshots_sequence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"), index=True)
    board: Mapped[str] = mapped_column(String(10))
    sequence: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    team_count: Mapped[int] = mapped_column(Integer)
    our_team: Mapped[str | None] = mapped_column(String(300))
    our_rank: Mapped[int | None] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))


class Entry(Base):
    __tablename__ = "leaderboard_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("leaderboard_snapshots.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[str] = mapped_column(String(100))
    team_name: Mapped[str] = mapped_column(String(300))
    score: Mapped[float | None] = mapped_column(Float)
    score_raw: Mapped[str] = mapped_column(String(50))
    submission_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
