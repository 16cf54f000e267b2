"""Shared fixtures: a real PostgreSQL server from Debian's packages, started by the tests."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ENV_URL = "COMPETE_TEST_POSTGRES_URL"

# pytest-xdist runs two workers on two cores; OpenMP's default spin-waiting (LightGBM) in two
# processes at once made a 2 s fixture take 120 s. Set before any test imports lightgbm.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Two workers on two cores: torch's default of one thread per core in each worker
# oversubscribes the machine (a tiny network fit took 25x longer). LightGBM sets n_jobs itself.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _postgres_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root, and CI runs as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _start(bin_dir: Path, data: Path, root: Path, attempts: int = 3) -> int:
    """Start the cluster on a free port; another xdist worker may take the port first."""
    log = root / "server.log"
    for _ in range(attempts):
        port = _free_port()
        # The unix socket lives in our temporary folder, not /var/run/postgresql.
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        started = subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                          "-l", str(log), "start"]),
            capture_output=True, text=True,
        )  # fmt: skip
        if started.returncode == 0:
            return port
    pytest.fail(
        f"PostgreSQL did not start: {started.stderr}\n{log.read_text() if log.exists() else ''}"
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server: COMPETE_TEST_POSTGRES_URL, or a throwaway cluster
    made with initdb in a temporary folder and stopped at the end of the session."""
    if os.environ.get(ENV_URL):
        yield os.environ[ENV_URL]
        return
    bin_dir = _postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL server binaries not found: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs the 'postgres' user: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="compete-pg-"))
    root.chmod(0o755)  # the postgres user must reach the data folder
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    try:
        made = subprocess.run(
            _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                          "-U", "postgres", "-E", "UTF8", "--no-instructions"]),
            capture_output=True, text=True,
        )  # fmt: skip
        if made.returncode != 0:
            pytest.fail(f"initdb failed: {made.stderr}")
        port = _start(bin_dir, data, root)
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                capture_output=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(postgres_server)
    name = f"test_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make a file or folder read-only for this process, even as root (where mode bits do not
    bind: `chattr +i`); undone afterwards so the temporary folder can be removed."""
    made: list[Path] = []

    def make(path: Path) -> None:
        path.chmod(0o555 if path.is_dir() else 0o444)
        made.append(path)
        if os.geteuid() == 0:
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"root cannot make {path} read-only here: {done.stderr.strip()}")
        if os.access(path, os.W_OK):
            pytest.skip(f"{path} stays writable for this user on this file system")

    yield make
    for path in reversed(made):
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        path.chmod(0o755 if path.is_dir() else 0o644)
