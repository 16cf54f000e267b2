"""Processes on this machine: whether one still runs, by its id."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine; one owned by another user counts."""
    try:
        os.kill(pid, 0)  # signal 0: checks existence and permission, sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
