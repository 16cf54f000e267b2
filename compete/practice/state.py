"""The practice host's state on disk: competitions (folders + competition.json), credentials,
and the SQLite database of teams, uploads and submissions."""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from compete.errors import NotFoundError, SubmissionLimitError, UsageError
from compete.workspace import is_valid_name, validate_name

DEFAULT_USERNAME = "you"
COMPLETE, ERROR = "COMPLETE", "ERROR"


def practice_dir(home: Path) -> Path:
    return Path(home) / "practice"


def competitions_dir(home: Path) -> Path:
    return practice_dir(home) / "competitions"


def uploads_dir(home: Path) -> Path:
    return practice_dir(home) / "uploads"


def database_path(home: Path) -> Path:
    return practice_dir(home) / "host.sqlite"


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A naive datetime is taken as UTC; an aware one is converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    """One sortable text form for every stored time."""
    return as_utc(value).isoformat(timespec="microseconds")


# -- credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """The host's one user: what goes in kaggle.json (`username`, `key`)."""

    username: str
    key: str


def _default_username() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        return DEFAULT_USERNAME
    cleaned = re.sub(r"[^a-z0-9]", "", user.lower())
    return cleaned if cleaned and cleaned != "root" else DEFAULT_USERNAME


def host_credentials(home: Path) -> Credentials:
    """The host's credentials, created once (0600) at home/practice/credentials.json."""
    path = practice_dir(home) / "credentials.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"username": _default_username(), "key": secrets.token_hex(16)}
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
            return Credentials(**data)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(username=str(data["username"]), key=str(data["key"]))
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(
            f"{path} is not a valid credentials file; delete it and a new key will be made"
        ) from None


def kaggle_config_dir(home: Path) -> Path:
    """A folder holding kaggle.json with the host's credentials, for the `kaggle` command's
    KAGGLE_CONFIG_DIR; (re)written from credentials.json, mode 0600."""
    credentials = host_credentials(home)
    folder = practice_dir(home) / "kaggle"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kaggle.json"
    text = json.dumps({"username": credentials.username, "key": credentials.key})
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    return folder


# -- competitions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineScore:
    """A baseline team scored when the competition was created."""

    team: str
    public_score: float | None
    private_score: float | None


@dataclass(frozen=True)
class PracticeCompetition:
    """A practice competition: its metadata (competition.json) and where its files live.

    Binary targets are written as 0/1 (`label_mapping` maps "0"/"1" to the original labels);
    multiclass targets keep their labels (`classes`, sorted); `prediction_columns` are the
    sample submission's columns after the id.
    """

    name: str
    title: str
    task: str
    metric: str
    target: str
    id_column: str
    prediction_columns: tuple[str, ...]
    deadline: datetime
    created: datetime
    daily_limit: int
    folder: Path
    classes: tuple[Any, ...] | None = None
    label_mapping: dict[str, Any] | None = None
    source: str = ""
    test_fraction: float = 0.3
    public_fraction: float = 0.3
    seed: int = 0
    n_train: int = 0
    n_test: int = 0
    n_public: int = 0
    dropped_rows: int = 0
    baselines: tuple[BaselineScore, ...] = field(default_factory=tuple)

    @property
    def files_dir(self) -> Path:
        return self.folder / "files"

    @property
    def sample_path(self) -> Path:
        return self.files_dir / "sample_submission.csv"

    @property
    def solution_path(self) -> Path:
        return self.folder / "solution.csv"

    @property
    def archive_path(self) -> Path:
        """All data files in one zip, as Kaggle serves them."""
        return self.folder / f"{self.name}.zip"

    @property
    def data_files(self) -> list[Path]:
        return sorted(p for p in self.files_dir.iterdir() if p.is_file())

    def ended(self, now: datetime | None = None) -> bool:
        return (now or utc_now()) >= self.deadline

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("folder")
        data["deadline"] = iso(self.deadline)
        data["created"] = iso(self.created)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path) -> PracticeCompetition:
        data = dict(data)
        data["deadline"] = as_utc(datetime.fromisoformat(data["deadline"]))
        data["created"] = as_utc(datetime.fromisoformat(data["created"]))
        data["prediction_columns"] = tuple(data["prediction_columns"])
        if data.get("classes") is not None:
            data["classes"] = tuple(data["classes"])
        data["baselines"] = tuple(BaselineScore(**b) for b in data.get("baselines", ()))
        known = {f for f in cls.__dataclass_fields__ if f != "folder"}
        return cls(folder=folder, **{k: v for k, v in data.items() if k in known})


def write_competition(competition: PracticeCompetition) -> None:
    """Write competition.json atomically (a reader never sees half a file)."""
    path = competition.folder / "competition.json"
    tmp = path.with_name(f".competition.json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(competition.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def get_competition(home: Path, name: str) -> PracticeCompetition:
    """The practice competition `name`; NotFoundError when there is none."""
    validate_name(name)
    folder = competitions_dir(home) / name
    path = folder / "competition.json"
    if not path.is_file():
        raise NotFoundError(
            f"no practice competition named {name!r} in {home}; "
            "see `compete practice list` or create it with `compete practice create`"
        )
    return PracticeCompetition.from_json(json.loads(path.read_text(encoding="utf-8")), folder)


def list_competitions(home: Path) -> list[PracticeCompetition]:
    """Every practice competition under `home`, newest first."""
    root = competitions_dir(home)
    if not root.is_dir():
        return []
    found = [
        get_competition(home, p.name)
        for p in root.iterdir()
        if is_valid_name(p.name) and (p / "competition.json").is_file()
    ]
    return sorted(found, key=lambda c: c.created, reverse=True)


def set_deadline(home: Path, name: str, when: datetime) -> PracticeCompetition:
    competition = replace(get_competition(home, name), deadline=as_utc(when))
    write_competition(competition)
    return competition


# -- the database ------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    competition TEXT NOT NULL,
    name TEXT NOT NULL,
    username TEXT,
    baseline INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    UNIQUE (competition, name)
);
CREATE TABLE IF NOT EXISTS uploads (
    token TEXT PRIMARY KEY,
    competition TEXT NOT NULL,
    file_name TEXT NOT NULL,
    created TEXT NOT NULL,
    path TEXT,
    total_bytes INTEGER,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    competition TEXT NOT NULL,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    submitted_by TEXT,
    file_name TEXT,
    description TEXT,
    date TEXT NOT NULL,
    status TEXT NOT NULL,
    error_description TEXT,
    public_score REAL,
    private_score REAL,
    total_bytes INTEGER,
    path TEXT
);
CREATE INDEX IF NOT EXISTS submissions_by_team ON submissions (competition, team_id, date);
"""


@dataclass(frozen=True)
class SubmissionRecord:
    """One stored submission; scores are None for an ERROR."""

    id: int
    competition: str
    team_id: int
    team_name: str
    submitted_by: str | None
    file_name: str
    description: str
    date: datetime
    status: str
    error_description: str | None
    public_score: float | None
    private_score: float | None
    total_bytes: int | None


@dataclass(frozen=True)
class Upload:
    token: str
    competition: str
    file_name: str
    path: Path | None
    total_bytes: int | None
    used: bool


@dataclass(frozen=True)
class NewSubmission:
    """What CreateSubmission stores once the file is scored."""

    file_name: str
    description: str
    status: str
    error_description: str | None
    public_score: float | None
    private_score: float | None
    total_bytes: int | None
    path: str | None


def next_utc_midnight(now: datetime) -> datetime:
    midnight = as_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(days=1)


class HostStore:
    """Teams, uploads and submissions in SQLite (WAL, busy timeout). Every call opens its own
    connection, so threads and processes can share one file; writes that check a limit run in
    one IMMEDIATE transaction, so two racing submissions cannot both pass the check."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def open(cls, home: Path) -> HostStore:
        store = cls(database_path(home))
        store.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(store.path, timeout=30)) as db:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        return store

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=30000")
            yield db

    # -- teams ---------------------------------------------------------------------------------

    @staticmethod
    def _team_id(
        db: sqlite3.Connection, competition: str, name: str, *, username: str | None, baseline: bool
    ) -> int:
        row = db.execute(
            "SELECT id FROM teams WHERE competition = ? AND name = ?", (competition, name)
        ).fetchone()
        if row:
            return int(row["id"])
        cursor = db.execute(
            "INSERT INTO teams (competition, name, username, baseline, created) VALUES (?,?,?,?,?)",
            (competition, name, username, int(baseline), iso(utc_now())),
        )
        return int(cursor.lastrowid)

    def user_team_id(self, competition: str, username: str) -> int | None:
        with self._reading() as db:
            row = db.execute(
                "SELECT id FROM teams WHERE competition = ? AND username = ? AND baseline = 0",
                (competition, username),
            ).fetchone()
        return None if row is None else int(row["id"])

    def team_count(self, competition: str) -> int:
        with self._reading() as db:
            row = db.execute(
                "SELECT COUNT(DISTINCT team_id) AS n FROM submissions WHERE competition = ?",
                (competition,),
            ).fetchone()
        return int(row["n"])

    # -- uploads -------------------------------------------------------------------------------

    def start_upload(self, competition: str, file_name: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO uploads (token, competition, file_name, created) VALUES (?,?,?,?)",
                (token, competition, file_name, iso(utc_now())),
            )
        return token

    def get_upload(self, token: str) -> Upload | None:
        with self._reading() as db:
            row = db.execute("SELECT * FROM uploads WHERE token = ?", (token,)).fetchone()
        if row is None:
            return None
        return Upload(
            token=row["token"],
            competition=row["competition"],
            file_name=row["file_name"],
            path=Path(row["path"]) if row["path"] else None,
            total_bytes=row["total_bytes"],
            used=bool(row["used"]),
        )

    def finish_upload(self, token: str, path: Path, total_bytes: int) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE uploads SET path = ?, total_bytes = ? WHERE token = ?",
                (str(path), total_bytes, token),
            )

    # -- submissions ---------------------------------------------------------------------------

    def count_today(self, competition: str, team_id: int | None, now: datetime) -> int:
        if team_id is None:
            return 0
        with self._reading() as db:
            return self._count_today(db, competition, team_id, now)

    @staticmethod
    def _count_today(db: sqlite3.Connection, competition: str, team_id: int, now: datetime) -> int:
        since = iso(next_utc_midnight(now) - timedelta(days=1))
        row = db.execute(
            "SELECT COUNT(*) AS n FROM submissions WHERE competition = ? AND team_id = ? "
            "AND status != ? AND date >= ?",
            (competition, team_id, ERROR, since),
        ).fetchone()
        return int(row["n"])

    def count_total(self, competition: str, team_id: int | None) -> int:
        if team_id is None:
            return 0
        with self._reading() as db:
            row = db.execute(
                "SELECT COUNT(*) AS n FROM submissions WHERE competition = ? AND team_id = ? "
                "AND status != ?",
                (competition, team_id, ERROR),
            ).fetchone()
        return int(row["n"])

    def add_submission(
        self,
        competition: PracticeCompetition,
        *,
        team: str,
        username: str | None,
        submission: NewSubmission,
        now: datetime,
        upload_token: str | None = None,
        enforce_limit: bool = True,
    ) -> int:
        """Store a scored submission and return its id. Raises SubmissionLimitError when the
        team already made `daily_limit` non-error submissions today (checked in the same
        transaction as the insert), and UsageError when the upload token was used already."""
        with self._transaction() as db:
            team_id = self._team_id(
                db, competition.name, team, username=username, baseline=username is None
            )
            if enforce_limit:
                used = self._count_today(db, competition.name, team_id, now)
                if used >= competition.daily_limit:
                    raise SubmissionLimitError(limit_message(competition, used, now))
            if upload_token is not None:
                cursor = db.execute(
                    "UPDATE uploads SET used = 1 WHERE token = ? AND used = 0", (upload_token,)
                )
                if cursor.rowcount != 1:
                    raise UsageError(
                        "this upload was submitted already; upload the file again to resubmit"
                    )
            cursor = db.execute(
                "INSERT INTO submissions (competition, team_id, submitted_by, file_name, "
                "description, date, status, error_description, public_score, private_score, "
                "total_bytes, path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    competition.name,
                    team_id,
                    username,
                    submission.file_name,
                    submission.description,
                    iso(now),
                    submission.status,
                    submission.error_description,
                    submission.public_score,
                    submission.private_score,
                    submission.total_bytes,
                    submission.path,
                ),
            )
            return int(cursor.lastrowid)

    _SELECT = "SELECT s.*, t.name AS team_name FROM submissions s JOIN teams t ON t.id = s.team_id "

    @staticmethod
    def _record(row: sqlite3.Row) -> SubmissionRecord:
        return SubmissionRecord(
            id=int(row["id"]),
            competition=row["competition"],
            team_id=int(row["team_id"]),
            team_name=row["team_name"],
            submitted_by=row["submitted_by"],
            file_name=row["file_name"] or "",
            description=row["description"] or "",
            date=as_utc(datetime.fromisoformat(row["date"])),
            status=row["status"],
            error_description=row["error_description"],
            public_score=row["public_score"],
            private_score=row["private_score"],
            total_bytes=row["total_bytes"],
        )

    def get_submission(self, submission_id: int) -> SubmissionRecord | None:
        with self._reading() as db:
            row = db.execute(self._SELECT + "WHERE s.id = ?", (submission_id,)).fetchone()
        return None if row is None else self._record(row)

    def team_submissions(self, competition: str, team_id: int) -> list[SubmissionRecord]:
        """A team's submissions, newest first."""
        with self._reading() as db:
            rows = db.execute(
                self._SELECT + "WHERE s.competition = ? AND s.team_id = ? ORDER BY s.id DESC",
                (competition, team_id),
            ).fetchall()
        return [self._record(r) for r in rows]

    def scored_submissions(self, competition: str, before: datetime) -> list[SubmissionRecord]:
        """Every COMPLETE submission made before `before`, oldest first."""
        with self._reading() as db:
            rows = db.execute(
                self._SELECT + "WHERE s.competition = ? AND s.status = ? AND s.date < ? "
                "ORDER BY s.date, s.id",
                (competition, COMPLETE, iso(before)),
            ).fetchall()
        return [self._record(r) for r in rows]


def limit_message(competition: PracticeCompetition, used: int, now: datetime) -> str:
    reset = next_utc_midnight(now)
    minutes = max(1, int((reset - as_utc(now)).total_seconds() // 60))
    return (
        f"Daily submission limit reached for {competition.name}: {used} of "
        f"{competition.daily_limit} submissions made today (UTC); the limit resets at "
        f"{reset:%Y-%m-%d %H:%M} UTC, in {minutes // 60}h {minutes % 60:02d}m."
    )
