"""The history store: competitions, runs, submissions and leaderboard snapshots in SQLite or
PostgreSQL, migrated by Alembic; every method returns value objects from `records`."""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leaderboards.errors import StoreConflictError, StoreError, UnknownCompetitionError
from leaderboards.models import Competition, Entry, Run, Snapshot, Submission, utcnow
from leaderboards.records import (
    CompetitionRecord,
    History,
    LeaderboardEntry,
    RankedEntry,
    ReconcileResult,
    RemoteSubmission,
    RunRecord,
    SnapshotRecord,
    SubmissionRecord,
    parse_score,
)
from storage import DatabaseStore, StoreSpec

R = TypeVar("R")
MIGRATIONS = Path(__file__).with_name("migrations")
BOARDS = ("public", "private")
HOST_STATUS = {"COMPLETE": "complete", "ERROR": "error", "PENDING": "pending"}
UNSENT = ("uploading", "upload_failed")
# An "uploading" row younger than this may be a submit still in flight in another process.
IN_FLIGHT = timedelta(minutes=10)
SPEC = StoreSpec(
    name="history store",
    setting="COMPETE_DATABASE_URL",
    error=StoreError,
    conflict=StoreConflictError,
    migrations=MIGRATIONS,
    rebuild="run `compete sync NAME` for each competition to rebuild its submissions and "
    "leaderboards from the host",
)


class Store(DatabaseStore):
    """Open with `Store.open(url)`; one instance per process, closed with `close()`."""

    spec = SPEC

    # -- competitions ------------------------------------------------------------------------

    def ensure_competition(
        self,
        name: str,
        *,
        host: str,
        title: str | None = None,
        metric: str | None = None,
        deadline: datetime | None = None,
    ) -> CompetitionRecord:
        """Insert the competition, or update what is known about it; idempotent."""

        def work(session: Session) -> CompetitionRecord:
            row = session.scalars(
                select(Competition).where(Competition.host == host, Competition.name == name)
            ).one_or_none()
            if row is None:
                row = Competition(name=name, host=host, created_at=utcnow())
                session.add(row)
            row.title = title or row.title
            row.metric = metric or row.metric
            row.deadline = deadline or row.deadline
            session.flush()
            return _competition(row)

        return self._db.retrying(work)

    def get_competition(self, name: str, *, host: str) -> CompetitionRecord:
        with self._db.session() as session:
            return _competition(_find(session, name, host))

    def list_competitions(self) -> list[CompetitionRecord]:
        with self._db.session() as session:
            rows = session.scalars(select(Competition).order_by(Competition.created_at))
            return [_competition(r) for r in rows]

    # -- runs --------------------------------------------------------------------------------

    def record_run(
        self,
        competition: str,
        *,
        host: str,
        model: str,
        metric: str,
        cv_mean: float | None,
        cv_std: float | None,
        params: dict[str, Any],
        seed: int | None,
        device: str | None,
        path: str,
        started_at: datetime,
        finished_at: datetime | None,
    ) -> RunRecord:
        with self._db.session() as session:
            parent = _find(session, competition, host)
            row = Run(
                competition_id=parent.id,
                model=model,
                metric=metric,
                cv_mean=cv_mean,
                cv_std=cv_std,
                params=json.loads(json.dumps(params, default=str)),
                seed=seed,
                device=device,
                path=path,
                started_at=started_at,
                finished_at=finished_at,
            )
            session.add(row)
            session.flush()
            return _run(row, competition)

    # -- submissions -------------------------------------------------------------------------

    def begin_submission(
        self,
        competition: str,
        *,
        host: str,
        file_path: str,
        file_hash: str,
        file_name: str,
        message: str,
        run_id: int | None = None,
        cv_score: float | None = None,
    ) -> SubmissionRecord:
        """The row is committed here, before the upload: a crash cannot lose the attempt."""
        with self._db.session() as session:
            parent = _find(session, competition, host)
            now = utcnow()
            row = Submission(
                competition_id=parent.id,
                run_id=run_id,
                file_path=file_path,
                file_hash=file_hash,
                file_name=file_name,
                message=message,
                cv_score=cv_score,
                status="uploading",
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return _submission(row, competition)

    def complete_submission(
        self,
        submission_id: int,
        *,
        remote_ref: str | None,
        status: str = "pending",
        error: str | None = None,
    ) -> SubmissionRecord:
        return self._update_submission(
            submission_id, remote_ref=remote_ref, status=status, error=error
        )

    def fail_submission(self, submission_id: int, *, error: str) -> SubmissionRecord:
        return self._update_submission(submission_id, status="upload_failed", error=error)

    def get_submission(self, submission_id: int) -> SubmissionRecord:
        with self._db.session() as session:
            row = session.get(Submission, submission_id)
            if row is None:
                raise StoreError(f"no submission #{submission_id} in the history store")
            return _submission(row, session.get(Competition, row.competition_id).name)

    def _update_submission(self, submission_id: int, **values: Any) -> SubmissionRecord:
        with self._db.session() as session:
            row = session.get(Submission, submission_id)
            if row is None:
                raise StoreError(f"no submission #{submission_id} in the history store")
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            session.flush()
            return _submission(row, session.get(Competition, row.competition_id).name)

    def reconcile_submissions(
        self, competition: str, *, host: str, remote: Sequence[RemoteSubmission]
    ) -> ReconcileResult:
        """Bring the store in line with the host's list; running it twice changes nothing."""

        def work(session: Session) -> ReconcileResult:
            parent = _find(session, competition, host, lock=True)
            rows = list(
                session.scalars(
                    select(Submission)
                    .where(Submission.competition_id == parent.id)
                    .order_by(Submission.id)
                )
            )
            by_ref = {r.remote_ref: r for r in rows if r.remote_ref}
            unlinked = [s for s in remote if s.ref not in by_ref]
            updated = added = linked = lost = 0
            now = utcnow()
            for sub in remote:
                if sub.ref in by_ref and _apply_remote(by_ref[sub.ref], sub, now):
                    updated += 1
            for row in rows:
                if row.remote_ref or row.status not in UNSENT:
                    continue
                match = _match(row, unlinked)
                if match is not None:
                    unlinked.remove(match)
                    row.remote_ref = match.ref
                    _apply_remote(row, match, now)
                    linked += 1
                elif row.status == "upload_failed" or now - row.created_at > IN_FLIGHT:
                    row.status = "lost"
                    row.error = _lost_error(row, competition)
                    row.updated_at = now
                    lost += 1
            for sub in unlinked:
                row = Submission(
                    competition_id=parent.id,
                    file_name=sub.file_name,
                    message=sub.description,
                    remote_ref=sub.ref,
                    status="pending",
                    created_at=sub.date or now,
                    updated_at=now,
                )
                _apply_remote(row, sub, now)
                session.add(row)
                added += 1
            session.flush()
            return ReconcileResult(updated=updated, added=added, linked=linked, lost=lost)

        return self._db.retrying(work)

    # -- leaderboard snapshots ---------------------------------------------------------------

    def add_snapshot(
        self,
        competition: str,
        *,
        host: str,
        board: str,
        taken_at: datetime,
        entries: Sequence[LeaderboardEntry],
        our_team: str | None,
    ) -> SnapshotRecord:
        """Keep one snapshot of a board; the same board unchanged since the newest snapshot
        is not stored again (sync is idempotent)."""
        if board not in BOARDS:
            raise StoreError(f"board must be one of {BOARDS}, not {board!r}")
        ranked = rank_entries(entries)
        digest = _content_hash(ranked)
        our_rank = _our_rank(ranked, our_team)

        def work(session: Session) -> SnapshotRecord:
            parent = _find(session, competition, host, lock=True)
            newest = session.scalars(
                select(Snapshot)
                .where(Snapshot.competition_id == parent.id, Snapshot.board == board)
                .order_by(Snapshot.sequence.desc())
                .limit(1)
            ).one_or_none()
            if newest is not None and newest.content_hash == digest:
                return _snapshot(newest, competition, tuple(ranked))
            row = Snapshot(
                competition_id=parent.id,
                board=board,
                sequence=(newest.sequence + 1) if newest else 1,
                taken_at=taken_at,
                team_count=len(ranked),
                our_team=our_team,
                our_rank=our_rank,
                content_hash=digest,
            )
            session.add(row)
            session.flush()
            session.add_all(
                Entry(
                    snapshot_id=row.id,
                    rank=e.rank,
                    team_id=e.team_id,
                    team_name=e.team_name,
                    score=e.score,
                    score_raw=e.score_raw,
                    submission_date=e.submission_date,
                )
                for e in ranked
            )
            session.flush()
            return _snapshot(row, competition, tuple(ranked))

        return self._db.retrying(work)

    def snapshot_entries(self, snapshot_id: int) -> list[RankedEntry]:
        with self._db.session() as session:
            rows = session.scalars(
                select(Entry).where(Entry.snapshot_id == snapshot_id).order_by(Entry.rank, Entry.id)
            )
            return [_entry(r) for r in rows]

    # -- history -----------------------------------------------------------------------------

    def history(self, competition: str, *, host: str) -> History:
        """Everything kept about one competition, oldest first."""
        with self._db.session() as session:
            parent = _find(session, competition, host)
            subs = session.scalars(
                select(Submission)
                .where(Submission.competition_id == parent.id)
                .order_by(Submission.created_at, Submission.id)
            )
            snaps = session.scalars(
                select(Snapshot)
                .where(Snapshot.competition_id == parent.id)
                .order_by(Snapshot.taken_at, Snapshot.id)
            )
            runs = session.scalars(
                select(Run).where(Run.competition_id == parent.id).order_by(Run.started_at, Run.id)
            )
            return History(
                competition=_competition(parent),
                submissions=[_submission(s, competition) for s in subs],
                snapshots=[_snapshot(s, competition) for s in snaps],
                runs=[_run(r, competition) for r in runs],
            )

    def count(self, table: str) -> int:
        """Rows in one of the store's tables (for checks and reports)."""
        model = {
            "competitions": Competition,
            "runs": Run,
            "submissions": Submission,
            "leaderboard_snapshots": Snapshot,
            "leaderboard_entries": Entry,
        }[table]
        with self._db.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


# -- pure helpers ------------------------------------------------------------------------------


def rank_entries(entries: Sequence[LeaderboardEntry]) -> list[RankedEntry]:
    """Ranks by position in the host's order; equal scores share a rank (1, 2, 2, 4)."""
    ranked: list[RankedEntry] = []
    for position, entry in enumerate(entries, start=1):
        score = entry.score
        rank = position
        if ranked and score is not None and ranked[-1].score == score:
            rank = ranked[-1].rank
        ranked.append(
            RankedEntry(
                rank=rank,
                team_id=str(entry.team_id),
                team_name=entry.team_name,
                score=score,
                score_raw=entry.score_raw,
                submission_date=entry.submission_date,
            )
        )
    return ranked


def _content_hash(ranked: Sequence[RankedEntry]) -> str:
    payload = [(e.team_id, e.team_name, e.score_raw) for e in ranked]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _our_rank(ranked: Sequence[RankedEntry], our_team: str | None) -> int | None:
    if not our_team:
        return None
    wanted = our_team.casefold()
    for entry in ranked:
        if entry.team_name.casefold() == wanted or entry.team_id == our_team:
            return entry.rank
    return None


def _lost_error(row: Submission, competition: str) -> str:
    command = shlex.join(
        ["compete", "submit", competition, "-f", row.file_path or "FILE", "-m", row.message]
    )
    return (
        f"the host never received {row.file_name or 'this file'}; send it again with "
        f"`{command}`" + (f" (upload error: {row.error})" if row.error else "")
    )


def _match(row: Submission, candidates: Sequence[RemoteSubmission]) -> RemoteSubmission | None:
    """The host's record of an upload whose reply we never saw: same message, and the file
    name we uploaded (the kept copy) or the user's file name."""
    names = {n for n in (row.file_name, Path(row.file_path or "").name) if n}
    for sub in candidates:
        if sub.description == row.message and (not sub.file_name or sub.file_name in names):
            return sub
    return None


def _apply_remote(row: Submission, sub: RemoteSubmission, now: datetime) -> bool:
    values = {
        "status": HOST_STATUS.get(sub.status.upper(), sub.status.lower()),
        "error": sub.error or (None if sub.status.upper() != "ERROR" else row.error),
        "public_score_raw": sub.public_score_raw or None,
        "private_score_raw": sub.private_score_raw or None,
        "public_score": parse_score(sub.public_score_raw),
        "private_score": parse_score(sub.private_score_raw),
        "submitted_at": sub.date or row.submitted_at,
    }
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    for key, value in changed.items():
        setattr(row, key, value)
    if changed:
        row.updated_at = now
    return bool(changed)


def _find(session: Session, name: str, host: str, *, lock: bool = False) -> Competition:
    query = select(Competition).where(Competition.host == host, Competition.name == name)
    if lock:
        query = query.with_for_update()  # PostgreSQL: one sync of a competition at a time
    row = session.scalars(query).one_or_none()
    if row is None:
        raise UnknownCompetitionError(
            f"the history store has no competition {name!r} on {host}: "
            f"run `compete sync {name}` (or submit to it) first"
        )
    return row


def _record(kind: type[R], row: Any, **extra: Any) -> R:
    """A value object from an ORM row: every field of `kind` read off the row, or from `extra`."""
    values = {f.name: getattr(row, f.name) for f in fields(kind) if f.name not in extra}
    return kind(**values, **extra)


def _competition(row: Competition) -> CompetitionRecord:
    return _record(CompetitionRecord, row)


def _run(row: Run, competition: str) -> RunRecord:
    return _record(RunRecord, row, competition=competition, params=dict(row.params or {}))


def _submission(row: Submission, competition: str) -> SubmissionRecord:
    return _record(SubmissionRecord, row, competition=competition)


def _entry(row: Entry) -> RankedEntry:
    return _record(RankedEntry, row)


def _snapshot(
    row: Snapshot, competition: str, entries: tuple[RankedEntry, ...] = ()
) -> SnapshotRecord:
    return _record(SnapshotRecord, row, competition=competition, entries=entries)
