"""Reading what the Kaggle client saved about a competition — a leaderboard download, a list of
one's submissions — into the store's value objects, so that competitions that ended before the
tool was used can be analysed too."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from leaderboards.errors import ImportFormatError
from leaderboards.records import LeaderboardEntry, RemoteSubmission

# Column names are compared lower-cased with spaces, underscores and dashes removed.
LEADERBOARD_COLUMNS = {
    "rank": ("rank",),
    "team_id": ("teamid",),
    "team_name": ("teamname", "team"),
    "date": ("lastsubmissiondate", "submissiondate", "date"),
    "score": ("score", "publicscore", "privatescore"),
}
SUBMISSION_COLUMNS = {
    "ref": ("ref", "submissionid", "id"),
    "file_name": ("filename", "file"),
    "date": ("date", "submissiondate"),
    "description": ("description", "message"),
    "status": ("status",),
    "public": ("publicscore",),
    "private": ("privatescore",),
    "error": ("errordescription", "error"),
}
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
)
# What the client prints for a score it does not have yet.
NO_SCORE = {"", "none", "null", "nan", "-", "n/a"}
STATUSES = {"complete": "COMPLETE", "error": "ERROR", "pending": "PENDING"}


# -- leaderboard downloads -----------------------------------------------------------------------


def read_leaderboard_download(path: Path) -> list[LeaderboardEntry]:
    """The teams of a board as `kaggle competitions leaderboard NAME -d` saved them (a zip
    holding one CSV, or that CSV), best first: by the Rank column when there is one, else in
    the file's order; ties keep the file's order."""
    path = Path(path)
    name, text = _read_csv_text(path)
    where = f"{path}" if name == path.name else f"{path} ({name})"
    table = _parse_csv(text, where, LEADERBOARD_COLUMNS)
    if "score" not in table.columns:
        raise _missing(where, "Score", table)
    if not {"team_id", "team_name"} & table.columns:
        raise _missing(where, "TeamId or TeamName", table)
    ranked: list[tuple[float, int, LeaderboardEntry]] = []
    for line, row in table.rows:
        team_id = row.get("team_id") or row.get("team_name") or ""
        team_name = row.get("team_name") or team_id
        if not team_id:
            raise ImportFormatError(f"{where}, line {line}: a team with neither id nor name")
        rank = _rank(row.get("rank", ""), where, line)
        entry = LeaderboardEntry(
            team_id=team_id,
            team_name=team_name,
            score_raw=_score(row.get("score", "")),
            submission_date=_date(row.get("date", ""), where, line),
        )
        ranked.append((rank, line, entry))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in ranked]


def board_of_download(path: Path) -> str | None:
    """ "public" or "private" when the file's name says which board it holds (for a zip, the
    name of the CSV inside counts too); None when it does not say."""
    path = Path(path)
    names = [path.name]
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".csv")] + names
        except zipfile.BadZipFile:
            pass
    for pattern in (r"(public|private)[ _-]?leaderboard", r"(?<![a-z])(public|private)(?![a-z])"):
        for name in names:
            found = re.search(pattern, name.lower())
            if found:
                return found.group(1)
    return None


def _rank(raw: str, where: str, line: int) -> float:
    if not raw:
        return float("inf")  # unranked lines go last, in the file's order
    try:
        return float(raw)
    except ValueError:
        raise ImportFormatError(f"{where}, line {line}: rank {raw!r} is not a number") from None


# -- submissions ---------------------------------------------------------------------------------


def read_submissions_csv(path: Path) -> list[RemoteSubmission]:
    """One's submissions as `kaggle competitions submissions NAME -v` prints them (columns
    fileName, date, description, status, publicScore, privateScore; ref when present), in the
    file's order. A submission without a ref gets a stable one made from its file name and
    date, so importing the same file twice changes nothing."""
    path = Path(path)
    name, text = _read_csv_text(path)
    where = f"{path}" if name == path.name else f"{path} ({name})"
    table = _parse_csv(text, where, SUBMISSION_COLUMNS)
    for column, shown in (("file_name", "fileName"), ("date", "date"), ("public", "publicScore")):
        if column not in table.columns:
            raise _missing(where, shown, table)
    submissions = []
    seen: dict[str, int] = {}
    for line, row in table.rows:
        date = _date(row.get("date", ""), where, line)
        public, private = _score(row.get("public", "")), _score(row.get("private", ""))
        ref = row.get("ref") or _stable_ref(row["file_name"], date, row.get("date", ""))
        seen[ref] = seen.get(ref, 0) + 1
        if seen[ref] > 1:  # the same file sent twice in one second
            ref = f"{ref}-{seen[ref]}"
        submissions.append(
            RemoteSubmission(
                ref=ref,
                file_name=row["file_name"],
                description=row.get("description", ""),
                date=date,
                status=_status(row.get("status", ""), public),
                error=row.get("error") or None,
                public_score_raw=public,
                private_score_raw=private,
            )
        )
    return submissions


def _stable_ref(file_name: str, date: datetime | None, raw_date: str) -> str:
    when = date.isoformat() if date is not None else raw_date
    return "import-" + hashlib.sha256(f"{file_name}|{when}".encode()).hexdigest()[:16]


def _status(raw: str, public: str) -> str:
    # kaggle >= 1.7 prints the enum: "SubmissionStatus.COMPLETE".
    word = raw.rsplit(".", 1)[-1].strip().lower()
    if not word:
        return "COMPLETE" if public else "PENDING"
    return STATUSES.get(word, word.upper())


# -- shared reading ------------------------------------------------------------------------------


def _read_csv_text(path: Path) -> tuple[str, str]:
    """(name of the CSV, its text) from a CSV file or a zip holding one."""
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [
                    m
                    for m in archive.infolist()
                    if not m.is_dir()
                    and m.filename.lower().endswith(".csv")
                    and not m.filename.startswith("__MACOSX/")
                ]
                if not members:
                    held = ", ".join(archive.namelist()) or "nothing"
                    raise ImportFormatError(f"{path}: the zip holds no CSV file (it holds {held})")
                if len(members) > 1:
                    held = ", ".join(m.filename for m in members)
                    raise ImportFormatError(
                        f"{path}: the zip holds several CSV files ({held}); unzip it and "
                        "import the one you mean"
                    )
                member = members[0]
                raw = archive.read(member)
                name = Path(member.filename).name
        except zipfile.BadZipFile as error:
            raise ImportFormatError(f"{path}: a damaged zip file ({error})") from None
    else:
        raw, name = path.read_bytes(), path.name
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return name, raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFormatError(f"{path}: not a text file")  # pragma: no cover - cp1252 rarely fails


def _normalise(column: str) -> str:
    return re.sub(r"[\s_\-]", "", column.strip().lower())


@dataclass(frozen=True)
class _Table:
    header: list[str]  # as the file spells it
    columns: set[str]  # the known columns found in it
    rows: list[tuple[int, dict[str, str]]]  # (line number, {column: stripped value})


def _parse_csv(text: str, where: str, columns: dict[str, Sequence[str]]) -> _Table:
    """The header line (the first with two known column names: a client's warnings printed
    before it are skipped) and the data lines after it, blank ones left out."""
    if "\x00" in text[:4096]:
        raise ImportFormatError(f"{where}: not a CSV file (binary content)")
    lines = list(csv.reader(io.StringIO(text)))
    aliases = {alias: key for key, names in columns.items() for alias in names}
    start = None
    for index, cells in enumerate(lines):
        found = {aliases[_normalise(c)] for c in cells if _normalise(c) in aliases}
        if len(found) >= 2:
            start = index
            break
    if start is None:
        first = next((",".join(c) for c in lines if any(x.strip() for x in c)), "")
        wanted = ", ".join(names[0] for names in columns.values())
        shown = f"; its first line is {first[:120]!r}" if first else " (the file is empty)"
        raise ImportFormatError(f"{where}: no header line with the columns {wanted}{shown}")
    positions: dict[str, int] = {}
    for position, cell in enumerate(lines[start]):
        key = aliases.get(_normalise(cell))
        if key is not None and key not in positions:
            positions[key] = position
    rows = []
    width = len(lines[start])
    for index in range(start + 1, len(lines)):
        cells = lines[index]
        if not any(c.strip() for c in cells):
            continue
        if len(cells) == 1 and width > 2:
            continue  # a trailing note such as "Next Page Token = ..."
        row = {key: cells[i].strip() if i < len(cells) else "" for key, i in positions.items()}
        rows.append((index + 1, row))
    return _Table(header=lines[start], columns=set(positions), rows=rows)


def _missing(where: str, column: str, table: _Table) -> ImportFormatError:
    return ImportFormatError(
        f"{where}: no {column} column (the header is {','.join(table.header)!r}); is this "
        "the file the kaggle client wrote?"
    )


def _score(raw: str) -> str:
    return "" if raw.strip().lower() in NO_SCORE else raw.strip()


def _date(raw: str, where: str, line: int) -> datetime | None:
    """A date in one of the formats the client and spreadsheets write; naive means UTC."""
    text = raw.strip()
    if not text or text.lower() in NO_SCORE:
        return None
    parsers: list[Callable[[str], datetime]] = [datetime.fromisoformat]
    parsers += [lambda t, f=f: datetime.strptime(t, f) for f in DATE_FORMATS]
    for parse in parsers:
        try:
            value = parse(text)
        except ValueError:
            continue
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise ImportFormatError(
        f"{where}, line {line}: cannot read the date {text!r} (use e.g. 2024-01-31 23:59:59 "
        "or ISO 8601)"
    )
