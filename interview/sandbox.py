"""Runs a candidate's code in a locked-down child process that only computes outputs.

The child imports the candidate's `solution.py` and the task's `driver.py` (how the task's
functions are called; not secret), calls `driver.run(inputs)` on each input file and saves
what it returns as a NumPy `.npz` of plain numeric arrays. Nothing the child writes is a
verdict: the trusted side (interview/checking.py) loads those files without pickle and
compares them with the reference's outputs on the same fresh inputs, so a candidate who
subverts the driver, patches torch or forges records only changes their own outputs.

A child starts, isolates itself (below), then imports what the run will need and waits on
its stdin for the run; only then does the parent write the candidate's files into its folder
and send one line (how many cases, the run's CPU seconds). A grader keeps spare children
waiting that way with NumPy and torch imported (`prewarm`, `run_driver(warm=True)`), so a
grading does not wait for `import torch` (about 1.5 s of a 2 s grading on 2 cores). A spare
imports only after it is isolated and has dropped to its own uid (a thread started before
unshare() would keep the host's view), never ran candidate code before its run, and serves
exactly one run; its CPU limit counts from the start of the run.

What is enforced where (Linux):

* Always (any user): a fresh temporary folder as the working directory, holding
  `solution.py`, `driver.py`, the task's `context` files and the input files; an empty
  environment (no PATH; HOME and TMPDIR point into the folder; OMP/MKL threads 1); the same
  interpreter started as `python -I -S` with an explicit sys.path (the folder and the
  site-packages folders, never the project); resource limits set by the launcher before any
  candidate code runs: RLIMIT_CPU (CPU seconds, SIGXCPU then SIGKILL), RLIMIT_AS (address
  space), RLIMIT_FSIZE (largest file, also bounds stdout and stderr, which go to files
  outside the folder), RLIMIT_CORE=0, RLIMIT_NOFILE; a new session whose process group is
  killed at the wall-clock limit.
* As root (how the app and CI run here): the launcher (trusted code, same interpreter, no
  `preexec_fn`, so it is safe in a threaded server) enters new mount and network namespaces:
  the network namespace has only a loopback that is down, so every connection fails; in the
  mount namespace every mount is remounted read-only, the sandbox folder alone is bound back
  writable, and these are covered by an empty tmpfs with only the interpreter's, the
  site-packages' and the sandbox's own folders bound back: directories that are not
  world-traversable (such as /root), every folder at the top of the filesystem but the
  system's own (/usr, /etc, /lib, ...: so /home, /work, /opt, /var, /mnt and wherever else a
  copy of the project may sit), the temporary folder, the project's checkout and the
  folder that holds it (sibling checkouts), every checkout an editable install in the
  visible site-packages points to, every folder of the project's
  packages wherever they are installed (`interview/` with its bank, `compete/`, ... in a
  wheel install they sit inside site-packages) and the folder holding every other sandbox
  (the reference's runs), in its own IPC namespace (no System V or POSIX message queue
  object outlives the run or is shared with another). It then drops to a fresh unprivileged
  uid/gid (one per run: the launcher holds a lock on it for the run's life, so two live runs
  never share one, and a uid is claimed only after every process left on it is killed) with
  no supplementary groups and therefore no capabilities, so it cannot undo any of this;
  RLIMIT_NPROC (counted per uid, which is why the uid is fresh) caps processes and threads;
  when the run ends, or the wall clock runs out, every process of that uid is killed, which
  also catches children that left the process group, before the outputs are read.
* As another user: the launcher tries an unprivileged user namespace (`unshare(CLONE_NEWUSER
  | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)`) for the same read-only mounts, hidden
  folders and network and IPC isolation, and the grading process makes itself non-dumpable
  (the sandbox runs as the same user, who could otherwise read the grader's memory through
  /proc/PID/mem). Still the same uid: the candidate could signal this user's other
  processes, and RLIMIT_NPROC counts them all. Where the kernel or a seccomp profile
  refuses, only the limits of the first point apply: the bank, the project and a concurrent
  reference run are then protected only by file permissions (the same uid can read them),
  children that leave the process group outlive the run, and `SandboxResult.isolation` says
  so. Do not grade untrusted candidates that way.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import functools
import json
import os
import re
import resource
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from interview.bank import CodeTask

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# What stays visible at the top of the filesystem inside a sandbox (links among them, such as
# /lib -> usr/lib, are never covered: covering one would cover its target).
SYSTEM_FOLDERS = frozenset(
    {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "sys", "usr"}
)
# The project's top-level packages: none of them may be readable inside a sandbox.
PROJECT_PACKAGES = ("interview", "compete", "pipelines", "leaderboards", "storage", "benchmarks")
UID_BASE, UID_SPAN = 200_000, 60_000  # sandbox uids: the lowest free one of this range
MESSAGE_CHARS = 600
DRIVER_FILE, SOLUTION_FILE = "driver.py", "solution.py"
RESERVED_NAMES = {DRIVER_FILE, SOLUTION_FILE}

# Verdicts (SandboxResult.error / Grade.error).
TIME_LIMIT = "time limit"
CPU_LIMIT = "cpu time limit"
MEMORY_LIMIT = "memory limit"
PROCESS_LIMIT = "process limit"
FILE_SIZE_LIMIT = "file size limit"
OUTPUT_LIMIT = "output limit"
NETWORK_BLOCKED = "network blocked"
WRITE_BLOCKED = "write outside the sandbox blocked"
IMPORT_ERROR = "import error"
CRASHED = "crashed"


def input_name(index: int) -> str:
    return f"input_{index}.npz"


def output_name(index: int) -> str:
    return f"output_{index}.npz"


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one run. `memory_mb` is address space: `import torch` alone maps about
    0.65 GB (measured, OMP threads 1), so 2 GB leaves room for small tensors and stops a
    memory bomb."""

    wall_s: float = 20.0
    cpu_s: float = 10.0
    memory_mb: int = 2048
    max_processes: int = 32  # processes and threads of the sandbox uid
    file_size_mb: int = 16
    output_bytes: int = 4000  # how much of the stdout/stderr tail comes back
    max_open_files: int = 256


@dataclass(frozen=True)
class SandboxResult:
    """What one run left behind. `outputs[i]` is the raw bytes of the i-th output file, or
    None when there is none; nothing here is trusted (the candidate could have written all
    of it): `notes` and `error` are the candidate's own messages or the host's observations,
    for feedback only; the checks decide."""

    outputs: tuple[bytes | None, ...]
    error: str | None
    notes: tuple[str, ...]
    stdout: str
    stderr: str
    seconds: float
    returncode: int | None
    isolation: tuple[str, ...] = field(default=())
    warm: bool = False  # a spare child that had isolated itself and imported ahead ran it


def run_driver(
    task: CodeTask,
    solution: str,
    inputs: list[bytes],
    limits: SandboxLimits | None = None,
    *,
    max_output_bytes: int = 8 * 2**20,
    warm: bool = False,
) -> SandboxResult:
    """Run `task.driver` with `solution` on each `.npz` of `inputs` in a sandboxed child;
    never raises for what the candidate's code does (that shows in the outputs), only for a
    broken host setup.

    `warm`: use a spare child for these limits, already isolated with NumPy and torch
    imported (see `prewarm`), when one is waiting, and leave a new spare behind after the
    run; a grader passes it so that a grading does not wait for `import torch`."""
    from interview.errors import SandboxError

    limits = limits or SandboxLimits()
    cpu_s = min(limits.cpu_s, task.time_limit_s)
    started = time.perf_counter()
    launch = _take_spare(limits) if warm else None
    spare = launch is not None
    try:
        if launch is None or not launch.go(task, solution, inputs, cpu_s):
            if launch is not None:  # the spare died while it waited: start afresh
                launch.discard()
            launch, spare = _Launch(limits), False
            if not launch.go(task, solution, inputs, cpu_s):
                raise SandboxError(
                    f"the sandbox stopped before its run; check that {sys.executable} runs"
                )
        timed_out = launch.wait(limits.wall_s)
        # Read only after every process of the run is gone: nothing can change the files now.
        outputs = tuple(
            _read_output(launch.box / output_name(i), max_output_bytes) for i in range(len(inputs))
        )
        records = _read_records(launch.outer / "notes")
        seconds = time.perf_counter() - started
        result = _result(
            outputs,
            records,
            launch.child.returncode,
            timed_out,
            seconds,
            launch.outer / "stdout",
            launch.outer / "stderr",
            limits,
        )
        return dataclasses.replace(result, warm=spare)
    finally:
        if launch is not None:
            launch.discard()
        if warm:
            prewarm(limits)


class _Launch:
    """One sandbox child, started: it isolates itself at once (namespaces, limits, its own
    uid), imports `preload`, then waits on its stdin for the run (how many cases, its CPU
    seconds) while the parent writes the files. Used for one run only."""

    def __init__(self, limits: SandboxLimits, preload: tuple[str, ...] = ()) -> None:
        import subprocess
        import tempfile

        from interview.errors import SandboxError

        self.limits = limits
        root = os.geteuid() == 0
        if not root:
            _not_dumpable()
        parent = _sandboxes_folder()
        _remove_abandoned(parent)
        # Claimed before the child starts, held until every process of the run is dead.
        self.uid, self._uid_lock = _claim_uid(parent) if root else (None, None)
        # The launcher's pid in the name: a folder whose launcher is gone is abandoned.
        self.outer = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=parent))
        self.box = self.outer / "box"
        self.box.mkdir()
        config = {
            "box": str(self.box),
            "root": root,
            "uid": self.uid,
            # Until the run starts (a spare's imports); the run lowers it to its own seconds.
            "cpu_s": limits.cpu_s + PRELOAD_CPU_S,
            "memory_mb": limits.memory_mb,
            "max_processes": limits.max_processes,
            "file_size_mb": limits.file_size_mb,
            "max_open_files": limits.max_open_files,
            "site": [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))],
            "keep": _needed_paths(self.box),
            "hide": _hidden_paths(parent),
            "preload": list(preload),
        }
        (self.outer / "config.json").write_text(json.dumps(config))
        env = {
            "HOME": str(self.box),
            "TMPDIR": str(self.box),
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        }
        files = [open(self.outer / name, "wb") for name in ("notes", "stdout", "stderr")]  # noqa: SIM115
        notes, out, err = files
        try:
            command = [sys.executable, "-I", "-S", str(Path(__file__).resolve())]
            command += [str(self.outer / "config.json"), str(notes.fileno())]
            self.child = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                env=env,
                cwd=str(self.outer),
                pass_fds=(notes.fileno(),),
                start_new_session=True,
            )
        except OSError as error:
            import shutil

            shutil.rmtree(self.outer, ignore_errors=True)
            self._release_uid()
            raise SandboxError(
                f"could not start the sandbox ({error}); check that {sys.executable} runs"
            ) from None
        finally:
            for handle in files:  # the child has its own copies
                handle.close()

    def go(self, task: CodeTask, solution: str, inputs: list[bytes], cpu_s: float) -> bool:
        """Write the run's files and start it; False when the child is gone already."""
        if self.child.poll() is not None:
            return False
        _write_files(self.box, task, solution, inputs)
        if self.uid is not None:  # the candidate's own files, as a cold run always had them
            for name in os.listdir(self.box):
                os.chown(self.box / name, self.uid, self.uid, follow_symlinks=False)
        try:
            assert self.child.stdin is not None
            self.child.stdin.write(
                json.dumps({"cases": len(inputs), "cpu_s": cpu_s}).encode() + b"\n"
            )
            self.child.stdin.close()
        except OSError:  # BrokenPipeError: it died meanwhile
            return False
        return True

    def wait(self, wall_s: float) -> bool:
        """Wait for the run, then kill whatever is left of it; True when the wall clock ran
        out first."""
        import subprocess

        timed_out = False
        try:
            self.child.wait(timeout=wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        _kill_all(self.child, self.uid)
        self.child.wait()
        return timed_out

    def alive(self) -> bool:
        return self.child.poll() is None

    def discard(self) -> None:
        """Kill the child and every process of its uid, and remove its folder."""
        import shutil

        with contextlib.suppress(OSError, ValueError):
            if self.child.stdin is not None:
                self.child.stdin.close()
        _kill_all(self.child, self.uid)
        with contextlib.suppress(OSError):
            self.child.wait(timeout=10)
        shutil.rmtree(self.outer, ignore_errors=True)
        self._release_uid()

    def _release_uid(self) -> None:
        if self._uid_lock is not None:
            os.close(self._uid_lock)  # closing the descriptor drops its lock
            self._uid_lock = None


def _claim_uid(parent: Path) -> tuple[int, int]:
    """The lowest sandbox uid no live launcher holds, and the descriptor whose lock holds it
    (an exclusive flock on `parent/uids/UID`, dropped by the kernel if this process dies).
    Processes left on it (a launcher killed before it could clean up) are killed first, so
    a run never shares its uid, its RLIMIT_NPROC count or its signals with another."""
    import fcntl

    from interview.errors import SandboxError

    folder = parent / "uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    for uid in range(UID_BASE, UID_BASE + UID_SPAN):
        handle = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        _kill_uid(uid)
        return uid, handle
    raise SandboxError(
        f"all {UID_SPAN} sandbox uids are in use; wait for the running gradings to finish"
    )


# Spare children per SandboxLimits: each is isolated already and has imported these modules
# (numpy and torch: `import torch` is about 1.5 s of a code grading's 2 s on 2 cores), so a
# run that takes one skips them. A spare never ran candidate code; it serves one run only.
WARM_MODULES = ("numpy", "torch")
SPARES_PER_LIMITS = 2  # a candidate's run and a reference batch can start at once
PRELOAD_CPU_S = 30.0  # the CPU cap of a spare before its run starts (its imports)
_spares: dict[SandboxLimits, list[_Launch]] = {}
_spares_lock = threading.Lock()


def prewarm(limits: SandboxLimits | None = None, count: int = SPARES_PER_LIMITS) -> None:
    """Start spare children for `limits` until `count` wait (at most SPARES_PER_LIMITS); they
    import torch in the background, and `run_driver(..., warm=True)` takes them."""
    limits = limits or SandboxLimits()
    count = min(count, SPARES_PER_LIMITS)
    with _spares_lock:
        waiting = _spares.setdefault(limits, [])
        for launch in [s for s in waiting if not s.alive()]:
            waiting.remove(launch)
            launch.discard()
        needed = count - len(waiting)
    for _ in range(max(0, needed)):
        launch = _Launch(limits, WARM_MODULES)
        with _spares_lock:
            waiting = _spares.setdefault(limits, [])
            if len(waiting) < SPARES_PER_LIMITS:
                waiting.append(launch)
                _register_cleanup()
                continue
        launch.discard()


def _take_spare(limits: SandboxLimits) -> _Launch | None:
    with _spares_lock:
        waiting = _spares.get(limits, [])
        while waiting:
            launch = waiting.pop(0)  # the oldest: the likeliest to have finished its imports
            if launch.alive():
                return launch
            launch.discard()
    return None


def discard_spares() -> None:
    """Stop every spare child and remove its folder (at exit, or to free their memory)."""
    with _spares_lock:
        launches = [launch for waiting in _spares.values() for launch in waiting]
        _spares.clear()
    for launch in launches:
        launch.discard()


@functools.lru_cache(maxsize=1)
def _register_cleanup() -> None:
    import atexit

    atexit.register(discard_spares)


@functools.lru_cache(maxsize=1)
def _not_dumpable() -> None:
    """Not root, the sandbox runs as this very user: without this, it could read this
    process's memory (reference outputs, the bank) through /proc/PID/mem. A non-dumpable
    process needs CAP_SYS_PTRACE in the initial namespace for that, which it lacks."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


@functools.lru_cache(maxsize=1)
def _remove_abandoned(parent: Path) -> None:
    """Once per process: remove the run folders of launchers that are gone (a grading
    process killed before it could clean up; its children exit when their stdin closes)."""
    import shutil

    for entry in parent.glob("run-*-*"):
        pid = entry.name.split("-")[1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except PermissionError:
            pass  # alive (another user's process: not this folder's launcher, but keep it)


def _sandboxes_folder() -> Path:
    """One folder per user for every run (mode 700), hidden as a whole inside each sandbox so
    that no run sees another (a reference run's solution.py in particular)."""
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"compete-sandboxes-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.is_symlink() or folder.stat().st_uid != os.geteuid():
        from interview.errors import SandboxError

        raise SandboxError(f"{folder} is not a folder owned by this user; remove it and retry")
    folder.chmod(0o700)
    return folder


def _write_files(box: Path, task: CodeTask, solution: str, inputs: list[bytes]) -> None:
    for name, source in task.context.items():
        if "/" in name or name.startswith(".") or name in RESERVED_NAMES:
            from interview.errors import SandboxError

            raise SandboxError(f"context file name {name!r} must be a plain file name")
        (box / name).write_text(source, encoding="utf-8")
    (box / SOLUTION_FILE).write_text(solution, encoding="utf-8")
    (box / DRIVER_FILE).write_text(task.driver, encoding="utf-8")
    for index, data in enumerate(inputs):
        (box / input_name(index)).write_bytes(data)


def _read_output(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of a regular file the candidate left, never following a link out of the
    folder, at most `max_bytes`."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        return handle.read(max_bytes + 1)[: max_bytes + 1]


def _hidden_paths(sandboxes: Path) -> list[str]:
    """Folders covered inside the sandbox: the project's checkout, each of its packages
    wherever it is installed (a wheel puts them in site-packages, which stays visible for
    torch and numpy), and the folder of all sandboxes."""
    import importlib.util
    import tempfile

    # The temporary folder too: copies of the project (build trees, other checkouts) tend to
    # land there, and every sandbox's own folder is bound back.
    hide = {str(sandboxes), os.path.realpath(tempfile.gettempdir())}
    # Every folder at the top of the filesystem but the system's own is covered too: a copy
    # of the project can sit anywhere (another checkout, a backup, a home folder), and the
    # candidate needs only the interpreter and its libraries, which are bound back.
    for name in os.listdir("/"):
        path = os.path.join("/", name)
        if name not in SYSTEM_FOLDERS and os.path.isdir(path) and not os.path.islink(path):
            hide.add(path)
    if (PROJECT_ROOT / "pyproject.toml").exists():
        hide.add(str(PROJECT_ROOT))
        # A checkout's siblings are often other checkouts of it (worktrees, copies).
        if PROJECT_ROOT.parent != Path("/"):
            hide.add(str(PROJECT_ROOT.parent))
    hide.add(str(Path(__file__).resolve().parent))  # this package, however it was installed
    for name in PROJECT_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            hide.add(os.path.realpath(location))
    hide |= _editable_sources()
    return sorted(hide)


@functools.lru_cache(maxsize=1)
def _editable_sources() -> frozenset[str]:
    """Checkouts that an editable install in a visible site-packages points to (through a
    `.pth` line or setuptools' `__editable__*finder.py` mapping), even when this process
    runs another copy of the project: the finder file itself names them."""
    import ast

    found: set[str] = set()
    for site in (p for p in sys.path if p.endswith(("site-packages", "dist-packages"))):
        try:
            names = os.listdir(site)
        except OSError:
            continue
        for name in names:
            path = os.path.join(site, name)
            try:
                text = Path(path).read_text(encoding="utf-8", errors="replace")[:200_000]
            except OSError:
                continue
            if name.endswith(".pth"):
                for line in text.splitlines():
                    for package in PROJECT_PACKAGES:
                        if os.path.isdir(os.path.join(line.strip(), package)):
                            found.add(os.path.realpath(os.path.join(line.strip(), package)))
            elif name.startswith("__editable__") and name.endswith(".py"):
                match = re.search(r"^MAPPING[^=]*=\s*(\{.*?\})\s*$", text, re.M)
                try:
                    mapping = ast.literal_eval(match.group(1)) if match else {}
                except (ValueError, SyntaxError):
                    continue
                found |= {
                    os.path.realpath(target)
                    for package, target in mapping.items()
                    if package in PROJECT_PACKAGES and os.path.isdir(target)
                }
    return frozenset(found)


def _needed_paths(box: Path) -> list[str]:
    """Folders the child must reach after the hidden ones are covered."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    paths.add(str(box))
    return sorted(os.path.realpath(p) for p in paths if p)


def _kill_all(child: object, uid: int | None) -> None:
    """Kill the whole process group, and as root every live process of the sandbox uid (this
    also catches children that started their own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    if uid is None or os.geteuid() != 0:
        return
    _kill_uid(uid)


def _kill_uid(uid: int) -> None:
    """Kill every live process of `uid`."""
    for _ in range(100):  # a fork bomb may fork between two scans; a few rounds reach it
        alive = _live_processes(uid)
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def _live_processes(uid: int) -> list[int]:
    """Processes of `uid` that are not zombies, from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                status = handle.read()
        except OSError:
            continue
        owner = re.search(r"^Uid:\s+\d+\s+(\d+)", status, re.M)  # effective uid
        state = re.search(r"^State:\s+(\S)", status, re.M)
        if owner and int(owner.group(1)) == uid and not (state and state.group(1) in "ZX"):
            pids.append(int(entry))
    return pids


def _read_records(path: Path) -> list[dict]:
    records = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[: 2**20]
    except OSError:
        return records
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _tail(path: Path, size: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - size))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


VERDICTS = {
    MEMORY_LIMIT,
    PROCESS_LIMIT,
    FILE_SIZE_LIMIT,
    NETWORK_BLOCKED,
    WRITE_BLOCKED,
    IMPORT_ERROR,
}


def _result(
    outputs: tuple[bytes | None, ...],
    records: list[dict],
    returncode: int | None,
    timed_out: bool,
    seconds: float,
    out_path: Path,
    err_path: Path,
    limits: SandboxLimits,
) -> SandboxResult:
    """The run's feedback. The records come from the child and may be forged: they only
    name errors for the candidate to read, they never pass anything."""
    isolation: tuple[str, ...] = ()
    notes: list[str] = []
    verdicts = []
    finished = False
    for record in records:
        if "isolation" in record and not isolation and isinstance(record["isolation"], list):
            isolation = tuple(str(line)[:MESSAGE_CHARS] for line in record["isolation"][:20])
        elif "note" in record and len(notes) < 10:
            notes.append(str(record["note"])[:MESSAGE_CHARS])
            if record.get("verdict") in VERDICTS:
                verdicts.append(record["verdict"])
        elif record.get("done"):
            finished = True
    output_bytes = max(_size(out_path), _size(err_path))
    if timed_out:
        stop = TIME_LIMIT
    elif returncode in (-signal.SIGXCPU, -signal.SIGKILL) and not finished:
        stop = CPU_LIMIT
    elif output_bytes >= limits.file_size_mb * 2**20:
        stop = OUTPUT_LIMIT
    elif not finished:
        stop = verdicts[0] if verdicts else CRASHED
    else:
        stop = None
    return SandboxResult(
        outputs=outputs,
        error=stop or (verdicts[0] if verdicts else None),
        notes=tuple(notes),
        stdout=_tail(out_path, limits.output_bytes),
        stderr=_tail(err_path, limits.output_bytes),
        seconds=seconds,
        returncode=returncode,
        isolation=isolation,
    )


def _size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# ---------------------------------------------------------------------------------------------
# The child: `python -I -S interview/sandbox.py CONFIG FD`. Standard library only from here on:
# the project is not importable in the child.

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
CLONE_NEWIPC = 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1,
    2,
    4,
    32,
    4096,
    16384,
    1 << 18,
)


class _Libc:
    def __init__(self) -> None:
        self.lib = ctypes.CDLL(None, use_errno=True)
        self.lib.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]

    def unshare(self, flags: int) -> None:
        if self.lib.unshare(flags) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"unshare: {os.strerror(number)}")

    def mount(
        self,
        source: str | None,
        target: str,
        fstype: str | None,
        flags: int,
        data: str | None = None,
    ) -> None:
        encode = lambda s: s.encode() if s is not None else None  # noqa: E731
        if self.lib.mount(encode(source), encode(target), encode(fstype), flags, encode(data)):
            number = ctypes.get_errno()
            raise OSError(number, f"mount {target}: {os.strerror(number)}")


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            raw = line.split()[4]
            points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), raw))
    return points


def _blocked_ancestors(path: str) -> list[str]:
    """Ancestors of `path` that other users cannot traverse (e.g. /root, mode 700)."""
    blocked = []
    current = os.path.dirname(path)
    while current not in ("/", ""):
        try:
            if not os.stat(current).st_mode & 0o001:
                blocked.append(current)
        except OSError:
            pass
        current = os.path.dirname(current)
    return blocked


def _lock_filesystem(libc: _Libc, config: dict, isolation: list[str]) -> None:
    """In a new mount namespace: cover hidden folders, make every mount read-only, bind the
    sandbox folder back writable."""
    keep = config["keep"]
    box = config["box"]
    hide = set(config["hide"])
    for path in keep:
        hide.update(_blocked_ancestors(path))
    # A kept folder deep inside a covered one (a virtual environment inside a checkout under
    # /tmp) is bound back alone: each folder on the way is covered too, so nothing beside
    # the path to it (the checkout's tests, its bank) comes back with it.
    for path in keep:
        for covered in list(hide):
            if path.startswith(covered + "/"):
                step = covered
                for part in Path(path).relative_to(covered).parts[:-1]:
                    step = os.path.join(step, part)
                    hide.add(step)
    hide = {h for h in hide if os.path.isdir(h) and not any(k == h for k in keep)}
    # A folder inside a covered one is gone already, unless it leads to or lies in a kept
    # folder that is bound back.
    hide = {
        h
        for h in hide
        if not any(
            h.startswith(other + "/")
            and not any(
                k.startswith(h + "/") or h.startswith(k + "/")
                for k in keep
                if k.startswith(other + "/")
            )
            for other in hide
        )
    }
    libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Open what must stay reachable before anything is covered.
    plan = []
    for folder in sorted(hide, key=lambda p: p.count("/")):
        children = set()
        for path in keep:
            if path.startswith(folder + "/"):
                children.add(path[len(folder) + 1 :].split("/")[0])
        fds = {name: os.open(os.path.join(folder, name), os.O_PATH) for name in children}
        plan.append((folder, fds))
    box_fd = os.open(box, os.O_PATH)
    for folder, fds in plan:
        libc.mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64k")
        for name, fd in fds.items():
            target = os.path.join(folder, name)
            os.mkdir(target)
            libc.mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
            os.close(fd)
    failed = []
    for point in _mount_points():
        try:
            libc.mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        except OSError:
            failed.append(point)
    libc.mount(f"/proc/self/fd/{box_fd}", box, None, MS_BIND)
    libc.mount(None, box, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)
    os.close(box_fd)
    isolation.append("read-only filesystem except the sandbox folder")
    if hide:
        isolation.append("hidden: " + ", ".join(sorted(hide)))
    if failed:
        isolation.append("could not make read-only: " + ", ".join(failed))


def _user_tasks(uid: int) -> int:
    """Processes and threads of `uid` now (RLIMIT_NPROC counts both)."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                status = handle.read()
        except OSError:
            continue
        uid_line = re.search(r"^Uid:\s+(\d+)", status, re.M)
        threads = re.search(r"^Threads:\s+(\d+)", status, re.M)
        if uid_line and int(uid_line.group(1)) == uid:
            count += int(threads.group(1)) if threads else 1
    return count


def _isolate(config: dict) -> list[str]:
    """Namespaces, limits and the unprivileged uid, in that order (limits last so that the
    set-up itself is not counted against the candidate); what was done, for the record."""
    libc = _Libc()
    isolation: list[str] = []
    uid = None
    try:
        if config["root"]:
            libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)
        else:
            libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)
        isolation.append("network namespace without network")
        isolation.append("IPC namespace of its own")
        _lock_filesystem(libc, config, isolation)
    except OSError as error:
        isolation.append(f"no namespaces ({error.strerror}): network and writes not isolated")
    if config["root"]:
        uid = config["uid"]
        os.chown(config["box"], uid, uid)
        for name in os.listdir(config["box"]):
            os.chown(os.path.join(config["box"], name), uid, uid)
        os.chmod(config["box"], 0o700)
        nproc = config["max_processes"]
    else:
        nproc = _user_tasks(os.getuid()) + config["max_processes"]
    cpu = max(1, int(round(config["cpu_s"])))
    memory = config["memory_mb"] * 2**20
    size = config["file_size_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (config["max_open_files"],) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    isolation.append(
        f"limits: address space {config['memory_mb']} MB, "
        f"files {config['file_size_mb']} MB, processes {nproc}"
    )
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        isolation.append(f"unprivileged uid {uid}")
    return isolation


def _limit_cpu(cpu_s: float) -> str:
    """The run's own CPU seconds on top of what the child spent before it (its imports):
    lowering a limit needs no privilege."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(usage.ru_utime + usage.ru_stime + 0.999)
    cpu = max(1, int(round(cpu_s)))
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu, spent + cpu + 2))
    except (ValueError, OSError):  # lowering a limit does not fail; the start's cap stays
        return "cpu: the start's limit (could not lower it)"
    return f"cpu {cpu} s for the run"


def _classify(error: BaseException) -> str | None:
    if isinstance(error, MemoryError):
        return MEMORY_LIMIT
    text = str(error).lower()
    if "can't allocate memory" in text or "cannot allocate memory" in text:
        return MEMORY_LIMIT
    if isinstance(error, OSError):
        number = error.errno
        if number == errno.EFBIG:
            return FILE_SIZE_LIMIT
        if number == errno.EAGAIN or isinstance(error, BlockingIOError):
            return PROCESS_LIMIT
        if number in (
            errno.ENETUNREACH,
            errno.ECONNREFUSED,
            errno.EHOSTUNREACH,
            errno.ENETDOWN,
            errno.EADDRNOTAVAIL,
        ):
            return NETWORK_BLOCKED
        if number in (errno.EROFS, errno.EACCES, errno.EPERM):
            return WRITE_BLOCKED
    if isinstance(error, RuntimeError) and "can't start new thread" in text:
        return PROCESS_LIMIT
    return None


def _describe(error: BaseException) -> str:
    """`Type: message`, plus where in solution.py it happened; no hidden-test source."""
    try:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        frames = [
            frame
            for frame in traceback.extract_tb(error.__traceback__)
            if os.path.basename(frame.filename) == "solution.py"
        ]
        if frames:
            text += f" (solution.py, line {frames[-1].lineno}, in {frames[-1].name})"
        return text[:MESSAGE_CHARS]
    except MemoryError:
        return type(error).__name__


def _outputs(value: object) -> dict:
    """What `run` returned as {name: numpy array}: tensors, arrays, numbers and lists of
    them, nested dicts flattened to `outer.inner`."""
    import numpy as np

    if not isinstance(value, dict):
        raise TypeError(f"run() must return a dict of arrays, not {type(value).__name__}")
    arrays = {}
    for key, item in value.items():
        if isinstance(item, dict):
            for inner, array in _outputs(item).items():
                arrays[f"{key}.{inner}"] = array
            continue
        if hasattr(item, "detach"):
            item = item.detach().cpu().numpy()
        arrays[str(key)] = np.asarray(item)
    return arrays


def _child(config_path: str, fd: int) -> None:
    with open(config_path) as handle:
        config = json.load(handle)
    channel = os.fdopen(fd, "w", buffering=1, encoding="utf-8")
    main_pid = os.getpid()

    def report(record: dict) -> None:
        if os.getpid() == main_pid:
            channel.write(json.dumps(record) + "\n")
            channel.flush()

    isolation = _isolate(config)
    box = config["box"]
    os.chdir(box)
    sys.path.extend(config["site"])
    _preload(config["preload"])
    # Wait for the run: the parent writes the files into the folder, then one line.
    line = sys.stdin.buffer.readline()
    if not line.strip():
        os._exit(0)  # the parent let this spare go unused
    run = json.loads(line)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    isolation.append(_limit_cpu(float(run["cpu_s"])))
    report({"isolation": isolation})
    sys.path.insert(0, box)
    try:
        import numpy as np

        cases = []
        for index in range(int(run["cases"])):
            with np.load(input_name(index), allow_pickle=False) as data:
                cases.append({key: data[key] for key in data.files})
        import driver  # imports solution: the candidate's code runs from here on
    except BaseException as error:  # noqa: BLE001 - the candidate's import can raise anything
        if os.getpid() != main_pid:
            os._exit(0)
        note = f"could not import the solution: {_describe(error)}"
        report({"note": note, "verdict": _classify(error) or IMPORT_ERROR})
        report({"done": True})
        return
    for index, inputs in enumerate(cases):
        try:
            arrays = _outputs(driver.run(inputs))
            partial = f"partial_{index}.npz"
            np.savez(partial, **arrays)
            os.replace(partial, output_name(index))
        except BaseException as error:  # noqa: BLE001
            if os.getpid() != main_pid:
                os._exit(0)  # a forked copy of the runner: never report twice
            report({"note": _describe(error), "verdict": _classify(error)})
    report({"done": True})


def _preload(modules: list[str]) -> None:
    """Import the modules a run will need before it starts (a spare's head start); one
    that fails to import is forgotten whole, so the candidate's own import fails afresh."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - a memory limit too low for torch, a broken install
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[loaded]


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(0)  # skip interpreter teardown: candidate threads or atexit hooks cannot hang it
