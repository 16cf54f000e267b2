"""SQLite files: checked before anything writes to them, then serialised across processes."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.engine import Engine

from storage.spec import StoreSpec

# The driver's words for a file SQLite cannot trust or cannot change.
DAMAGED = ("malformed", "corrupt")
READ_ONLY = ("readonly", "read-only")


def check_file(path: Path, spec: StoreSpec) -> None:
    """Refuse a file the store must not write into: read-only, or failing SQLite's
    quick_check. A missing file is fine: the first connection creates it."""
    folder = path.parent
    if not path.exists():
        if not os.access(folder, os.W_OK):
            raise spec.error(read_only_folder(folder, spec))
        return
    if not os.access(path, os.W_OK):
        raise spec.error(read_only_file(path, spec))
    if not os.access(folder, os.W_OK):
        raise spec.error(read_only_folder(folder, spec))
    problem = integrity_problem(path)
    if problem is not None:
        raise spec.error(damaged(path, problem, spec))


def integrity_problem(path: Path) -> str | None:
    """SQLite's first complaint about the file, or None when `PRAGMA quick_check` finds it
    sound. Read-only: checking never changes the file, not even its header."""
    uri = f"file:{quote(str(path))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
        try:
            rows = connection.execute("PRAGMA quick_check").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        # Only damage counts here; a file that is not a database at all, or cannot be read,
        # is reported by the store's own open with the URL to check.
        text = str(error)
        return text if any(word in text.lower() for word in DAMAGED) else None
    findings = [str(r[0]) for r in rows]
    return None if findings == ["ok"] else "; ".join(findings[:2])


def damaged(path: Path | str, problem: str, spec: StoreSpec) -> str:
    return (
        f"the {spec.name} file {path} is damaged ({problem}): restore it from a backup, or move "
        f"it aside and {spec.rebuild}; nothing is written into a damaged file"
    )


def read_only_file(path: Path | str, spec: StoreSpec) -> str:
    return (
        f"the {spec.name} file {path} is read-only: make it writable (chmod u+w {path}) or "
        f"point {spec.setting} elsewhere"
    )


def read_only_folder(folder: Path, spec: StoreSpec) -> str:
    return (
        f"the folder {folder} of the {spec.name} is read-only (SQLite keeps its journal beside "
        f"the file): make it writable (chmod u+w {folder}) or point {spec.setting} elsewhere"
    )


def serialise(engine: Engine) -> None:
    """WAL, a busy timeout and BEGIN IMMEDIATE: SQLite writers from several processes queue
    instead of failing with 'database is locked' halfway through a transaction."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
