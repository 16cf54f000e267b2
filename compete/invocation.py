"""The options of one `compete` invocation (--debug, --home, --host) and the settings they pick.

Each invocation starts from the defaults in its own scope (a context variable, not a module
global), so two invocations in one process (an in-process test runner, a notebook) never see
each other's flags."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compete.settings import Settings


@dataclass(frozen=True)
class Invocation:
    """The root options, chosen by the `compete` callback before any command runs."""

    debug: bool = False
    home: Path | None = None
    host: str | None = None


_CURRENT: ContextVar[Invocation | None] = ContextVar("compete_invocation", default=None)


@contextmanager
def scope() -> Iterator[None]:
    """One invocation: it starts from the defaults and leaves nothing behind."""
    token = _CURRENT.set(None)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def choose(options: Invocation) -> None:
    """Record the root options of the invocation in progress."""
    _CURRENT.set(options)


def current() -> Invocation:
    """The root options of the invocation in progress; the defaults outside one."""
    return _CURRENT.get() or Invocation()


def settings() -> Settings:
    """The settings for this invocation: --home and --host win over COMPETE_* and the file."""
    from compete.settings import load_settings

    options = current()
    return load_settings(home=options.home, host=options.host)
