"""The code sandbox: outputs come back as data, and each attack is stopped with a clear verdict."""

from __future__ import annotations

import os
import re
import socket
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from interview import sandbox
from interview.bank import Check, CodeTask, load_bank
from interview.checking import pack, unpack
from interview.sandbox import SandboxLimits, run_driver

FAST = SandboxLimits(wall_s=15, cpu_s=3, memory_mb=512, max_processes=16, file_size_mb=4)
ROOT = os.geteuid() == 0
ISOLATED = pytest.mark.skipif(not ROOT, reason="namespaces and uid drop are set up as root")


DRIVER = "from solution import *\n\ndef run(inputs):\n    return {'y': f(int(inputs['seed']))}\n"
TASK = CodeTask(
    starter="", reference="", driver=DRIVER, checks=[Check(name="c", message="m", expect="True")]
)


# A warm run takes a spare child that isolated itself and imported torch before the run
# (the address space torch maps needs more than FAST's 512 MB).
WARM = SandboxLimits(wall_s=15, cpu_s=3, memory_mb=1024, max_processes=16, file_size_mb=4)


def run(
    solution: str, limits: SandboxLimits = FAST, *, warm: bool = False
) -> sandbox.SandboxResult:
    """`solution` defines f(seed); the driver returns {'y': f(seed)} for seed 7."""
    if warm:
        limits = SandboxLimits(**{**limits.__dict__, "memory_mb": WARM.memory_mb})
        sandbox.prewarm(limits, 1)
    result = run_driver(TASK, solution, [pack({"seed": np.asarray(7)})], limits, warm=warm)
    assert result.warm == warm
    return result


# The attacks run both ways: a cold child, and a warm spare (isolated, then torch imported).
BOTH = pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])


def output(result: sandbox.SandboxResult) -> dict | None:
    return unpack(result.outputs[0])[0]


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


def test_outputs_come_back_as_arrays_and_prints_apart():
    result = run("def f(seed):\n    print('debug line')\n    return [seed, seed * 2]\n")
    assert result.error is None
    assert output(result)["y"].tolist() == [7, 14]
    assert "debug line" in result.stdout  # prints come back apart from the outputs


def test_an_exception_names_the_solution_line_and_leaves_no_output():
    result = run("def f(seed):\n    return seed + None\n")
    assert result.outputs == (None,)
    assert result.notes[0].startswith("TypeError")
    assert "solution.py, line 2, in f" in result.notes[0]


def test_a_syntax_error_is_an_import_error():
    result = run("def f(seed)\n    return seed\n")
    assert result.error == sandbox.IMPORT_ERROR and result.outputs == (None,)
    assert "SyntaxError" in result.notes[0]


@BOTH
def test_an_infinite_loop_hits_the_cpu_limit(warm):
    limits = SandboxLimits(wall_s=20, cpu_s=1, memory_mb=512, max_processes=16)
    result = run("def f(seed):\n    while True:\n        pass\n", limits, warm=warm)
    assert result.error == sandbox.CPU_LIMIT and result.outputs == (None,)
    assert result.seconds < 15


@BOTH
def test_sleeping_forever_hits_the_wall_clock_limit(warm):
    limits = SandboxLimits(wall_s=2, cpu_s=5, memory_mb=512, max_processes=16)
    result = run("import time\ndef f(seed):\n    time.sleep(3600)\n", limits, warm=warm)
    assert result.error == sandbox.TIME_LIMIT
    assert 2 <= result.seconds < 10


@BOTH
def test_a_memory_bomb_hits_the_memory_limit(warm):
    bomb = (
        "def f(seed):\n    blocks = []\n"
        "    while True:\n        blocks.append(bytearray(64 * 2**20))\n"
    )
    result = run(bomb, warm=warm)
    assert result.error == sandbox.MEMORY_LIMIT
    assert result.notes[0].startswith("MemoryError")


@ISOLATED
@BOTH
def test_a_fork_bomb_stops_at_the_process_cap_and_leaves_nothing_behind(warm):
    bomb = "import os\ndef f(seed):\n    while True:\n        os.fork()\n"
    result = run(bomb, warm=warm)
    assert result.error in (sandbox.PROCESS_LIMIT, sandbox.CPU_LIMIT, sandbox.TIME_LIMIT)
    uid = sandbox_uid(result)
    assert uid is not None and processes_of(uid) == []


@ISOLATED
@BOTH
def test_writing_outside_the_sandbox_is_blocked(warm):
    # A world-writable folder the sandbox still sees (/tmp, /var and the like are hidden).
    outside = Path("/dev/shm") / f"sandbox-target-{uuid.uuid4().hex}"
    outside.mkdir(mode=0o777)
    outside.chmod(0o777)  # even a world-writable folder stays untouched
    try:
        code = (
            f"def f(seed):\n    open({str(outside / 'x')!r}, 'w').write('owned')\n"
            "    open('/root/owned', 'w').write('owned')\n"
        )
        result = run(code, warm=warm)
        assert not (outside / "x").exists()
        assert not Path("/root/owned").exists()
        assert result.error == sandbox.WRITE_BLOCKED
        assert "Read-only file system" in result.notes[0]
    finally:
        outside.rmdir()


@ISOLATED
@BOTH
def test_a_network_connection_is_refused_and_never_arrives(warm):
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
        "import socket\ndef f(seed):\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'hi')\n"
    )
    try:
        result = run(code, warm=warm)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert arrived == []
    assert result.error == sandbox.NETWORK_BLOCKED


def test_a_huge_file_hits_the_file_size_limit():
    result = run("def f(seed):\n    open('big.bin', 'wb').write(b'0' * (64 * 2**20))\n")
    assert result.error == sandbox.FILE_SIZE_LIMIT
    assert "File too large" in result.notes[0]


def test_printing_megabytes_is_cut_and_only_a_tail_comes_back():
    result = run("def f(seed):\n    for _ in range(200_000):\n        print('x' * 99)\n")
    assert result.error == sandbox.OUTPUT_LIMIT
    assert len(result.stdout) <= FAST.output_bytes


@ISOLATED
@BOTH
def test_the_project_its_packages_other_runs_and_root_home_are_hidden(warm):
    import interview

    package = Path(interview.__file__).resolve().parent
    # Its own name: the cold and the warm case may run at once on two workers.
    other = sandbox._sandboxes_folder() / f"other-run-{uuid.uuid4().hex}"
    look = (
        "import os\ndef f(seed):\n    return [os.path.exists(p) for p in "
        f"({str(sandbox.PROJECT_ROOT / 'pyproject.toml')!r}, {str(package / 'bank')!r}, "
        f"{str(package / 'checking.py')!r}, '/root/.bashrc', {str(other)!r})]\n"
    )
    other.write_text("another run")
    try:
        assert output(run(look, warm=warm))["y"].tolist() == [False] * 5
    finally:
        other.unlink()


def test_a_bank_task_with_torch_passes_its_reference_and_fails_its_starter():
    from interview.grading import Grader

    item = load_bank().item("fix-mask-after-softmax")
    grader = Grader()
    good = grader.grade(item, item.code.reference)
    assert good.error is None and good.passed, good.feedback
    bad = grader.grade(item, item.code.starter)
    assert not any(t.passed for t in bad.tests)
    assert "the future leaks" in bad.tests[1].message


TORCH_STATE = (
    "import os, sys\nLOADED = 'torch' in sys.modules  # before the solution imports anything\n"
    "import torch\n"
    "def f(seed):\n"
    "    same = torch.allclose(torch.zeros(1), torch.ones(1))\n"
    "    torch.allclose = lambda *a, **k: True  # a cheat that must not outlive this run\n"
    "    return [LOADED, same, os.getpid()]\n"
)


def test_a_warm_run_finds_torch_imported_and_each_spare_serves_one_run():
    first = run(TORCH_STATE, WARM, warm=True)
    second = run(TORCH_STATE, WARM, warm=True)
    for result in (first, second):
        loaded, same, _ = output(result)["y"].tolist()
        assert loaded == 1 and same == 0  # the previous run's patch is not there
    assert output(first)["y"][2] != output(second)["y"][2]  # two processes
    if ROOT:
        assert sandbox_uid(first) != sandbox_uid(second)


@ISOLATED
def test_every_thread_of_a_warm_run_is_inside_the_namespaces():
    """A thread started before unshare() would keep the host's filesystem view (reachable
    through /proc/self/task/TID/root) and its network: a spare imports torch (which may start
    threads, OMP_NUM_THREADS aside) only after it isolated itself."""
    project = sandbox.PROJECT_ROOT / "pyproject.toml"
    look = (
        "import os, torch\n"
        "def f(seed):\n"
        "    tasks = os.listdir('/proc/self/task')\n"
        "    spaces = {os.readlink(f'/proc/self/task/{t}/ns/mnt') for t in tasks}\n"
        "    spaces |= {os.readlink(f'/proc/self/task/{t}/ns/net') for t in tasks}\n"
        f"    seen = [os.path.exists(f'/proc/self/task/{{t}}/root{project}')"
        " for t in tasks]\n"
        "    return [len(tasks), len(spaces), any(seen)]\n"
    )
    threads, spaces, seen = output(run(look, WARM, warm=True))["y"].tolist()
    assert threads >= 1
    assert spaces == 2 and seen == 0  # one mount and one network namespace, no project


def test_spares_stop_and_leave_no_folder_behind():
    limits = SandboxLimits(wall_s=14, cpu_s=3, memory_mb=2048, max_processes=16)
    sandbox.prewarm(limits, 2)
    launches = list(sandbox._spares[limits])
    assert len(launches) == 2 and all(launch.alive() for launch in launches)
    sandbox.discard_spares()
    assert not any(launch.alive() for launch in launches)
    assert not any(launch.outer.exists() for launch in launches)
    if ROOT:
        assert all(processes_of(launch.uid) == [] for launch in launches)


@ISOLATED
def test_a_run_can_neither_signal_nor_read_the_spares_waiting_beside_it():
    """Spares wait with torch imported for the next runs: a candidate who kills or reads every
    process it can see reaches none of them (each spare has its own uid)."""
    sandbox.prewarm(WARM, 2)
    waiting = list(sandbox._spares[WARM])
    hunt = (
        "import os, signal\n"
        "def f(seed):\n"
        "    killed = read = 0\n"
        "    for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
        "        if pid == os.getpid():\n"
        "            continue\n"
        "        try:\n"
        "            open(f'/proc/{pid}/environ', 'rb').read()\n"
        "            read += 1\n"
        "        except OSError:\n"
        "            pass\n"
        "        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n"
        "            killed += 1\n"
        "        except OSError:\n"
        "            pass\n"
        "    return [killed, read]\n"
    )
    result = run_driver(TASK, hunt, [pack({"seed": np.asarray(7)})], FAST)
    assert output(result)["y"].tolist() == [0, 0]
    assert all(launch.alive() for launch in waiting)


def test_the_folders_of_a_launcher_that_died_are_removed():
    """A grading process killed with SIGKILL leaves its run folders: the next process that
    launches a sandbox removes them, and never the folders of a live launcher."""
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    parent = sandbox._sandboxes_folder()
    abandoned = parent / f"run-{gone.stdout.strip()}-left"
    live = parent / f"run-{os.getppid()}-live"  # pytest's parent: alive
    for folder in (abandoned, live):
        (folder / "box").mkdir(parents=True)
    try:
        sandbox._remove_abandoned.cache_clear()
        assert output(run("def f(seed):\n    return seed\n"))["y"].tolist() == 7
        assert not abandoned.exists() and live.exists()
    finally:
        import shutil

        shutil.rmtree(abandoned, ignore_errors=True)
        shutil.rmtree(live, ignore_errors=True)


@ISOLATED
def test_live_runs_and_spares_never_share_a_uid():
    """Each launch holds a lock on its uid until its processes are dead: two spares and a run
    beside them (and the runs of any other grading process) get three different uids."""
    sandbox.prewarm(WARM, 2)
    uids = {launch.uid for launch in sandbox._spares[WARM]}
    probe = "import os\ndef f(seed):\n    return os.getuid()\n"
    result = run_driver(TASK, probe, [pack({"seed": np.asarray(7)})], FAST)
    uid = int(output(result)["y"])
    assert uid == sandbox_uid(result)
    assert len(uids) == 2 and uid not in uids
    assert all(u >= sandbox.UID_BASE for u in uids | {uid})


@ISOLATED
def test_a_uid_is_handed_out_only_after_the_processes_left_on_it_are_killed():
    """A launcher killed with SIGKILL drops its lock with its life, but a sleeping child of
    its run may still hold the uid: the next claim of that uid kills it first."""
    import subprocess
    import time

    parent = sandbox._sandboxes_folder()
    uid, lock = sandbox._claim_uid(parent)
    left = subprocess.Popen(["sleep", "120"], user=uid, group=uid, start_new_session=True)
    held = []
    try:
        assert processes_of(uid) == [str(left.pid)]
        os.close(lock)  # the launcher is gone, its run's child is not
        for _ in range(64):  # another test worker may take it first: it kills it as well
            claimed, handle = sandbox._claim_uid(parent)
            held.append(handle)
            if claimed == uid:
                break
        deadline = time.monotonic() + 5
        while left.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left.poll() is not None, "a process was left running on a uid handed out again"
    finally:
        for handle in held:
            os.close(handle)
        if left.poll() is None:
            left.kill()
        left.wait()


@BOTH
def test_a_run_leaves_no_shared_memory_for_the_next(warm):
    """System V IPC outlives its process and is shared by everyone on the host: each run has
    its own IPC namespace, so a segment one run leaves is gone for the next and the host."""
    key = 0x5EED0000 + (os.getpid() % 0xFFFF)
    plant = (
        "import ctypes\n"
        "def f(seed):\n"
        f"    return ctypes.CDLL(None, use_errno=True).shmget({key}, 4096, 0o1666)\n"
    )
    look = (
        "import ctypes\n"
        "def f(seed):\n"
        f"    return ctypes.CDLL(None, use_errno=True).shmget({key}, 0, 0)\n"
    )
    assert int(output(run(plant, warm=warm))["y"]) >= 0  # created inside the run
    assert int(output(run(look, warm=warm))["y"]) == -1  # the next run finds nothing
    segments = Path("/proc/sysvipc/shm").read_text().split("\n")[1:]
    assert not any(line.split() and int(line.split()[0]) == key for line in segments)
