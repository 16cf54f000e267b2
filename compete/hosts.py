"""Which host a competition lives on, and a connected adapter for it (starting a practice host
in-process for the duration of a command when none is running)."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from compete.adapter import HostTarget, KaggleAdapter
from compete.errors import UsageError
from compete.practice.state import competitions_dir, practice_dir
from compete.settings import Settings
from pipelines.processes import process_alive

PRACTICE = "practice"


def is_practice_competition(home: Path, name: str) -> bool:
    return (competitions_dir(home) / name / "competition.json").is_file()


def running_practice_url(home: Path) -> str | None:
    """The URL in practice/server.json when that server still answers, else None."""
    path = practice_dir(home) / "server.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = str(info.get("url", ""))
    parsed = urlparse(url)
    if not parsed.hostname or not parsed.port:
        return None
    if info.get("pid") and not process_alive(int(info["pid"])):
        return None
    with contextlib.suppress(OSError), socket.create_connection((parsed.hostname, parsed.port), 1):
        return url
    return None


def practice_target(home: Path, url: str) -> HostTarget:
    from compete.practice.create import host_credentials

    credentials = host_credentials(home)
    return HostTarget(
        url=url.rstrip("/"), username=credentials.username, key=credentials.key, label=PRACTICE
    )


def uses_practice(settings: Settings, name: str) -> bool:
    if settings.host == "kaggle":
        return False
    if settings.host == "auto":
        return is_practice_competition(settings.home, name)
    return True


def host_label(settings: Settings, name: str) -> str:
    """The store's name for the host of `name`, without connecting to it."""
    return PRACTICE if uses_practice(settings, name) else "kaggle"


@contextlib.contextmanager
def connect(settings: Settings, name: str) -> Iterator[KaggleAdapter]:
    """An adapter for the host of `name`: kaggle.com, a practice host at a configured URL, or
    this home's practice host (the running one, else one started for this command)."""
    if not uses_practice(settings, name):
        yield KaggleAdapter(HostTarget())
        return
    if settings.host.startswith(("http://", "https://")):
        yield KaggleAdapter(practice_target(settings.home, settings.host))
        return
    if settings.host == PRACTICE and not is_practice_competition(settings.home, name):
        raise UsageError(
            f"no practice competition named {name!r} in {settings.home}: "
            "see `compete practice list`, or create it with `compete practice create`"
        )
    url = running_practice_url(settings.home)
    if url:
        yield KaggleAdapter(practice_target(settings.home, url))
        return
    from compete.practice.server import running_host

    with running_host(settings.home) as url:
        yield KaggleAdapter(practice_target(settings.home, url))
