"""Whether a process still runs: this one does, a child that has ended and been reaped does not."""

from __future__ import annotations

import os
import subprocess
import sys

from pipelines.processes import process_alive


def test_a_running_process_is_alive_and_an_ended_one_is_not():
    assert process_alive(os.getpid())
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert not process_alive(int(child.stdout))
