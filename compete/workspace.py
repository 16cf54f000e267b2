"""The competition workspace on disk: COMPETE_HOME/competitions/NAME/{data,runs,submissions}."""

from __future__ import annotations

import hashlib
import re
import shutil
import tomllib
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from compete.errors import NotFoundError, UsageError

CONFIG_FILE = "competition.toml"
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,48})[a-z0-9]$")


def is_valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name or "")) and "--" not in name


def validate_name(name: str) -> str:
    """A competition name is a Kaggle slug; anything that could escape a folder is refused."""
    if not is_valid_name(name):
        raise UsageError(
            f"bad competition name {name!r}: use 3-50 lowercase letters, digits and '-' "
            "(a Kaggle slug such as 'titanic' or 'playground-series-s4e1')"
        )
    return name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def timestamp(now: datetime | None = None) -> str:
    """A sortable UTC time for file and folder names: 20261123T074501Z."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class CompetitionConfig:
    """What `competition.toml` says about a competition; every field may be edited by hand."""

    name: str
    target: str | None = None
    id_column: str | None = None
    metric: str | None = None
    task: str | None = None  # binary | multiclass | regression
    # Rows behind the public leaderboard (Kaggle says "approximately N% of the test data"):
    # what the noise of a public score is estimated from. Practice competitions know it.
    public_rows: int | None = None
    # Rows sharing a group (a customer, a patient) stay in one fold: GroupKFold on this column.
    group_column: str | None = None
    # Column kinds that override the inferred schema, e.g. {"zip": "categorical"}; the kinds
    # are those of pipelines.schema (numeric, categorical, boolean, datetime, text, id, constant).
    columns: dict[str, str] | None = None

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps({k: v for k, v in asdict(self).items() if v is not None})

    @classmethod
    def from_toml(cls, path: Path) -> CompetitionConfig:
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise UsageError(f"{path} is not valid TOML ({error}); fix it by hand") from None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class Workspace:
    """One competition's folder. Nothing in it is overwritten: new things get new names."""

    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def submissions_dir(self) -> Path:
        return self.root / "submissions"

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @classmethod
    def at(cls, competitions_dir: Path, name: str) -> Workspace:
        return cls(competitions_dir / validate_name(name))

    @classmethod
    def open(cls, competitions_dir: Path, name: str) -> Workspace:
        workspace = cls.at(competitions_dir, name)
        if not workspace.root.is_dir():
            raise NotFoundError(
                f"no workspace for {name!r} in {competitions_dir}: run `compete download {name}` "
                f"or `compete init {name}` first"
            )
        return workspace

    def ensure(self) -> Workspace:
        for folder in (self.data_dir, self.runs_dir, self.submissions_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def read_config(self) -> CompetitionConfig:
        if not self.config_path.is_file():
            return CompetitionConfig(name=self.name)
        return CompetitionConfig.from_toml(self.config_path)

    def write_config(self, config: CompetitionConfig) -> Path:
        """competition.toml is the user's file too: the old one is kept beside it, never lost."""
        self.root.mkdir(parents=True, exist_ok=True)
        text = config.to_toml()
        if self.config_path.is_file():
            old = self.config_path.read_text(encoding="utf-8")
            if old == text:
                return self.config_path
            backup = self.root / f"{CONFIG_FILE}.{timestamp()}.bak"
            backup.write_text(old, encoding="utf-8")
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.config_path)
        return self.config_path

    def new_run_dir(self, model: str, content: str = "") -> Path:
        """A fresh folder per run, named by time, model and a hash of what defines the run."""
        digest = hashlib.sha256(f"{model}\n{content}".encode()).hexdigest()[:8]
        return _fresh(self.runs_dir / f"{timestamp()}-{model}-{digest}", make_dir=True)

    def keep_submission(self, source: Path) -> Path:
        """Copy a file about to be submitted into submissions/, named by time and content hash."""
        digest = file_sha256(source)[:12]
        target = _fresh(self.submissions_dir / f"{timestamp()}-{digest}{source.suffix or '.csv'}")
        self.submissions_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return target

    def keep_data_file(self, source: Path) -> tuple[Path, str]:
        """Move a downloaded file into data/. Same content: nothing to do. Different content:
        the old file moves to data/previous/TIME/ first. Returns (path, "new"|"same"|"updated")."""
        target = self.data_dir / source.name
        if target.is_file():
            if file_sha256(target) == file_sha256(source):
                source.unlink()
                return target, "same"
            previous = self.data_dir / "previous" / timestamp()
            previous.mkdir(parents=True, exist_ok=True)
            target.replace(previous / target.name)
            shutil.move(str(source), target)
            return target, "updated"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), target)
        return target, "new"


def _fresh(path: Path, *, make_dir: bool = False) -> Path:
    """`path`, or path-2, path-3... when it exists: two runs in one second never collide."""
    candidate, n = path, 1
    while True:
        try:
            if make_dir:
                candidate.mkdir(parents=True)
            elif candidate.exists():
                raise FileExistsError(candidate)
            return candidate
        except FileExistsError:
            n += 1
            candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
