"""The code sandbox: correct and wrong solutions, and each attack stopped with a clear verdict."""

from __future__ import annotations

import os
import re
import socket
import threading
import uuid
from pathlib import Path

import pytest

from interview import sandbox
from interview.bank import CodeTask, load_bank
from interview.sandbox import SandboxLimits, run_code

FAST = SandboxLimits(wall_s=15, cpu_s=3, memory_mb=512, max_processes=16, file_size_mb=4)
ROOT = os.geteuid() == 0
ISOLATED = pytest.mark.skipif(not ROOT, reason="namespaces and uid drop are set up as root")


def task(tests: str) -> CodeTask:
    return CodeTask(starter="", reference="", tests=tests)


ADD = task(
    "from solution import add\n\n"
    "def test_small():\n"
    "    assert add(2, 3) == 5, f'add(2, 3) returned {add(2, 3)}, expected 5'\n\n"
    "def test_negative():\n"
    "    assert add(-1, 1) == 0, 'add(-1, 1) should be 0'\n"
)


def sandbox_uid(result: sandbox.SandboxResult) -> int | None:
    for line in result.isolation:
        match = re.match(r"unprivileged uid (\d+)", line)
        if match:
            return int(match.group(1))
    return None


def processes_of(uid: int) -> list[str]:
    """Live (not zombie) processes of `uid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            zombie = re.search(r"^State:\s+[ZX]", status, re.M)
            if re.search(rf"^Uid:\s+{uid}\s", status, re.M) and not zombie:
                found.append(entry)
    return found


def test_correct_solution_passes_with_a_message_per_test():
    result = run_code(ADD, "def add(a, b):\n    return a + b\n", FAST)
    assert result.error is None
    assert [(t.name, t.passed) for t in result.tests] == [
        ("test_small", True),
        ("test_negative", True),
    ]
    assert result.score == 1.0


def test_wrong_solution_fails_with_the_tests_message():
    code = "def add(a, b):\n    print('debug line')\n    return 0 if a < 0 else a * b\n"
    result = run_code(ADD, code, FAST)
    assert [t.passed for t in result.tests] == [False, True]
    assert result.tests[0].message == "add(2, 3) returned 6, expected 5"
    assert "debug line" in result.stdout  # prints come back apart from the verdicts
    assert result.score == 0.5


def test_an_exception_names_the_solution_line_not_the_hidden_source():
    result = run_code(ADD, "def add(a, b):\n    return a + b + None\n", FAST)
    assert not any(t.passed for t in result.tests)
    message = result.tests[0].message
    assert message.startswith("TypeError") and "solution.py, line 2, in add" in message
    assert "assert add" not in message


def test_a_syntax_error_is_an_import_error_on_every_test():
    result = run_code(ADD, "def add(a, b)\n    return a + b\n", FAST)
    assert result.error == sandbox.IMPORT_ERROR
    assert all("SyntaxError" in t.message and not t.passed for t in result.tests)


def test_hidden_tests_cannot_be_printed():
    secret = task(
        "from solution import leak\nSECRET = 'do-not-show-42'\ndef test_a():\n    leak()\n"
    )
    code = (
        "import os\n"
        "def leak():\n"
        "    print(sorted(os.listdir('.')))\n"
        "    print(open('hidden_tests.py').read())\n"
    )
    result = run_code(secret, code, FAST)
    assert "do-not-show-42" not in result.stdout + result.stderr + result.tests[0].message
    assert "FileNotFoundError" in result.tests[0].message
    assert "solution.py" in result.stdout and "hidden_tests.py" not in result.stdout


def test_an_infinite_loop_hits_the_cpu_limit():
    limits = SandboxLimits(wall_s=20, cpu_s=1, memory_mb=512, max_processes=16)
    result = run_code(task("def test_spin():\n    while True:\n        pass\n"), "", limits)
    assert result.error == sandbox.CPU_LIMIT
    assert not result.tests[0].passed and "not run" in result.tests[0].message
    assert result.seconds < 15


def test_sleeping_forever_hits_the_wall_clock_limit():
    limits = SandboxLimits(wall_s=2, cpu_s=5, memory_mb=512, max_processes=16)
    code = "import time\ndef test_sleep():\n    time.sleep(3600)\n"
    result = run_code(task(code), "", limits)
    assert result.error == sandbox.TIME_LIMIT
    assert 2 <= result.seconds < 10


def test_a_memory_bomb_hits_the_memory_limit():
    bomb = (
        "def test_bomb():\n    blocks = []\n"
        "    while True:\n        blocks.append(bytearray(64 * 2**20))\n"
    )
    result = run_code(task(bomb), "", FAST)
    assert result.error == sandbox.MEMORY_LIMIT
    assert result.tests[0].message.startswith("MemoryError")


@ISOLATED
def test_a_fork_bomb_stops_at_the_process_cap_and_leaves_nothing_behind():
    bomb = "import os\ndef test_fork():\n    while True:\n        os.fork()\n"
    result = run_code(task(bomb), "", FAST)
    assert result.error in (sandbox.PROCESS_LIMIT, sandbox.CPU_LIMIT, sandbox.TIME_LIMIT)
    assert not result.tests[0].passed
    uid = sandbox_uid(result)
    assert uid is not None and processes_of(uid) == []


@ISOLATED
def test_writing_outside_the_sandbox_is_blocked(tmp_path_factory):
    outside = Path("/tmp") / f"sandbox-target-{uuid.uuid4().hex}"
    outside.mkdir(mode=0o777)
    outside.chmod(0o777)  # even a world-writable folder stays untouched
    try:
        code = (
            f"def test_write():\n    open({str(outside / 'x')!r}, 'w').write('owned')\n\n"
            "def test_write_home():\n    open('/root/owned', 'w').write('owned')\n"
        )
        result = run_code(task(code), "", FAST)
        assert not (outside / "x").exists()
        assert not Path("/root/owned").exists()
        assert result.error == sandbox.WRITE_BLOCKED
        assert "Read-only file system" in result.tests[0].message
    finally:
        outside.rmdir()


@ISOLATED
def test_a_network_connection_is_refused_and_never_arrives():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    arrived = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                arrived.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = (
        "import socket\ndef test_connect():\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'hi')\n"
    )
    try:
        result = run_code(task(code), "", FAST)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert arrived == []
    assert result.error == sandbox.NETWORK_BLOCKED
    assert not result.tests[0].passed


def test_a_huge_file_hits_the_file_size_limit():
    code = "def test_fill():\n    open('big.bin', 'wb').write(b'0' * (64 * 2**20))\n"
    result = run_code(task(code), "", FAST)
    assert result.error == sandbox.FILE_SIZE_LIMIT
    assert "File too large" in result.tests[0].message


def test_printing_megabytes_is_cut_and_only_a_tail_comes_back():
    code = "def test_print():\n    for _ in range(200_000):\n        print('x' * 99)\n"
    result = run_code(task(code), "", FAST)
    assert result.error == sandbox.OUTPUT_LIMIT
    assert len(result.stdout) <= FAST.output_bytes


@ISOLATED
def test_the_project_and_root_home_are_hidden():
    code = (
        "import os\ndef test_look():\n"
        f"    assert not os.path.exists({str(sandbox.PROJECT_ROOT / 'interview' / 'bank')!r}), "
        "'bank visible'\n"
        "    assert os.listdir('/root') == ['.pyenv'] or not os.path.exists('/root/.bashrc'), "
        "'home visible'\n"
    )
    result = run_code(task(code), "", FAST)
    assert result.tests[0].passed, result.tests[0].message


def test_a_bank_task_with_torch_passes_its_reference_and_fails_its_starter():
    item = load_bank().item("fix-mask-after-softmax")
    good = run_code(item.code, item.code.reference)
    assert good.error is None and all(t.passed for t in good.tests), good.tests
    bad = run_code(item.code, item.code.starter)
    assert not any(t.passed for t in bad.tests)
    assert "the future leaks" in bad.tests[1].message
