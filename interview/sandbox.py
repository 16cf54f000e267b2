"""Runs a candidate's code against a task's hidden tests in a locked-down child process.

What is enforced where (Linux):

* Always (any user): a fresh temporary folder as the working directory, holding `solution.py`,
  the task's `context` files and `hidden_tests.py` (read into memory and deleted by the runner
  before the candidate's code is imported, so it cannot simply be printed); an empty
  environment (no PATH; HOME and TMPDIR point into the folder; OMP/MKL threads 1); the same
  interpreter started as `python -I -S` with an explicit sys.path (the folder, the standard
  library and the virtual environment's site-packages, not the project); resource limits set
  by the launcher before any candidate code runs: RLIMIT_CPU (CPU seconds, SIGXCPU then
  SIGKILL), RLIMIT_AS (address space), RLIMIT_FSIZE (largest file, also bounds stdout and
  stderr, which go to files outside the folder), RLIMIT_CORE=0, RLIMIT_NOFILE; a new session
  whose process group is killed at the wall-clock limit; test verdicts travel on a dedicated
  file descriptor, never mixed with the candidate's prints.
* As root (how the app and CI run here): the launcher (trusted code, same interpreter, no
  `preexec_fn`, so it is safe in a threaded server) enters new mount and network namespaces:
  the network namespace has only a loopback that is down, so every connection fails; in the
  mount namespace every mount is remounted read-only, the sandbox folder alone is bound back
  writable, directories that are not world-traversable (such as /root) and the project's own
  checkout (the item bank with its reference answers) are covered by an empty tmpfs with only
  the interpreter's and the virtual environment's folders bound back. It then drops to a fresh
  unprivileged uid/gid (one per run, derived from the launcher's pid) with no supplementary
  groups and therefore no capabilities, so it cannot undo any of this; RLIMIT_NPROC (counted
  per uid, which is why the uid is fresh) caps processes and threads, so a fork bomb stalls at
  the cap; when the run ends, or the wall clock runs out, every process of that uid is killed
  with `kill -9 -1` run as that uid, which also catches children that left the process group.
* As another user: the launcher tries an unprivileged user namespace
  (`unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET)`) for the same read-only mounts and
  network isolation; where the kernel or a seccomp profile refuses, only the limits of the
  first point apply (RLIMIT_NPROC then counts all of the user's processes, so it is set to the
  current count plus the cap) and `SandboxResult.isolation` says so.

Limits of the approach: the hidden tests run in the candidate's process, so a determined
candidate can inspect the test functions' code objects or forge the verdict records; this is
a practice interviewer, not an exam proctor. A CPU-time or wall-clock kill loses the verdicts
of the tests that had not finished; they are reported as not run.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from interview.bank import CodeTask

PROJECT_ROOT = Path(__file__).resolve().parents[1]
UID_BASE, UID_SPAN = 200_000, 60_000  # fresh sandbox uids: UID_BASE + pid % UID_SPAN
MESSAGE_CHARS = 600

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
class TestOutcome:
    """One hidden test's verdict; `message` is readable and never shows hidden source."""

    __test__ = False  # not a pytest class

    name: str
    passed: bool
    message: str


@dataclass(frozen=True)
class SandboxResult:
    """What one run produced: per-test outcomes, a verdict if a limit or error stopped it."""

    tests: tuple[TestOutcome, ...]
    error: str | None
    stdout: str
    stderr: str
    seconds: float
    returncode: int | None
    isolation: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> int:
        return sum(outcome.passed for outcome in self.tests)

    @property
    def score(self) -> float:
        return self.passed / len(self.tests) if self.tests else 0.0


def test_names(source: str) -> list[str]:
    """The `test_*` functions of a tests module, in file order (read with ast, not run)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    ]


def run_code(task: CodeTask, solution: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run `solution` against `task.tests` in a sandboxed child; never raises for what the
    candidate's code does (that is a verdict), only for a broken host setup."""
    import shutil
    import subprocess
    import tempfile

    from interview.errors import SandboxError

    limits = limits or SandboxLimits()
    cpu_s = min(limits.cpu_s, task.time_limit_s)
    names = test_names(task.tests)
    root = os.geteuid() == 0
    started = time.perf_counter()
    outer = Path(tempfile.mkdtemp(prefix="compete-sandbox-"))
    try:
        box = outer / "box"
        box.mkdir()
        _write_files(box, task, solution)
        config = {
            "box": str(box),
            "root": root,
            "cpu_s": cpu_s,
            "memory_mb": limits.memory_mb,
            "max_processes": limits.max_processes,
            "file_size_mb": limits.file_size_mb,
            "max_open_files": limits.max_open_files,
            "site": [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))],
            "keep": _needed_paths(box),
            "hide": [str(PROJECT_ROOT)] if (PROJECT_ROOT / "pyproject.toml").exists() else [],
        }
        (outer / "config.json").write_text(json.dumps(config))
        env = {
            "HOME": str(box),
            "TMPDIR": str(box),
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        }
        results_path, out_path, err_path = outer / "results", outer / "stdout", outer / "stderr"
        with (
            open(results_path, "wb") as results,
            open(out_path, "wb") as out,
            open(err_path, "wb") as err,
        ):
            command = [sys.executable, "-I", "-S", str(Path(__file__).resolve())]
            command += [str(outer / "config.json"), str(results.fileno())]
            try:
                child = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env,
                    cwd=str(outer),
                    pass_fds=(results.fileno(),),
                    start_new_session=True,
                )
            except OSError as error:
                raise SandboxError(
                    f"could not start the sandbox ({error}); check that {sys.executable} runs"
                ) from None
            timed_out = False
            try:
                child.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            uid = _launcher_uid(results_path)
            _kill_all(child, uid)
            child.wait()
        records = _read_records(results_path)
        seconds = time.perf_counter() - started
        return _result(
            names, records, child.returncode, timed_out, seconds, out_path, err_path, limits
        )
    finally:
        shutil.rmtree(outer, ignore_errors=True)


def _write_files(box: Path, task: CodeTask, solution: str) -> None:
    for name, source in task.context.items():
        if "/" in name or name.startswith(".") or name in {"solution.py", "hidden_tests.py"}:
            from interview.errors import SandboxError

            raise SandboxError(f"context file name {name!r} must be a plain file name")
        (box / name).write_text(source, encoding="utf-8")
    (box / "solution.py").write_text(solution, encoding="utf-8")
    (box / "hidden_tests.py").write_text(task.tests, encoding="utf-8")


def _needed_paths(box: Path) -> list[str]:
    """Folders the child must reach after the project and /root are covered."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    paths.add(str(box))
    return sorted(os.path.realpath(p) for p in paths if p)


def _launcher_uid(results_path: Path) -> int | None:
    for record in _read_records(results_path):
        if "uid" in record:
            return record["uid"]
    return None


def _kill_all(child: object, uid: int | None) -> None:
    """Kill the whole process group, and as root every live process of the sandbox uid (this
    also catches children that started their own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    if uid is None or os.geteuid() != 0:
        return
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
        text = path.read_text(encoding="utf-8", errors="replace")
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


def _result(
    names: list[str],
    records: list[dict],
    returncode: int | None,
    timed_out: bool,
    seconds: float,
    out_path: Path,
    err_path: Path,
    limits: SandboxLimits,
) -> SandboxResult:
    isolation: tuple[str, ...] = ()
    done = {}
    verdicts = []
    finished = False
    for record in records:
        if "isolation" in record:
            isolation = tuple(record["isolation"])
        elif "test" in record:
            done[record["test"]] = record
            if record.get("verdict"):
                verdicts.append(record["verdict"])
        elif record.get("import_error"):
            verdicts.append(IMPORT_ERROR)
            message = record["import_error"]
            for name in names:
                done.setdefault(name, {"test": name, "passed": False, "message": message})
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
    error = stop or (verdicts[0] if verdicts else None)
    outcomes = []
    for name in names:
        if name in done:
            record = done[name]
            outcomes.append(TestOutcome(name, bool(record["passed"]), str(record["message"])))
        else:
            why = f"not run: the run was stopped ({stop or CRASHED}, exit {returncode})"
            outcomes.append(TestOutcome(name, False, why))
    return SandboxResult(
        tests=tuple(outcomes),
        error=error,
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
    hide = {h for h in hide if os.path.isdir(h) and not any(k == h for k in keep)}
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


def _isolate(config: dict, report: object) -> None:
    """Namespaces, limits and the unprivileged uid, in that order (limits last so that the
    set-up itself is not counted against the candidate)."""
    libc = _Libc()
    isolation: list[str] = []
    uid = None
    try:
        if config["root"]:
            libc.unshare(CLONE_NEWNS | CLONE_NEWNET)
        else:
            libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET)
        isolation.append("network namespace without network")
        _lock_filesystem(libc, config, isolation)
    except OSError as error:
        isolation.append(f"no namespaces ({error.strerror}): network and writes not isolated")
    if config["root"]:
        uid = UID_BASE + os.getpid() % UID_SPAN
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
        f"limits: cpu {cpu} s, address space {config['memory_mb']} MB, "
        f"files {config['file_size_mb']} MB, processes {nproc}"
    )
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        isolation.append(f"unprivileged uid {uid}")
    report({"uid": uid, "isolation": isolation})  # type: ignore[operator]


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


def _child(config_path: str, fd: int) -> None:
    import types

    with open(config_path) as handle:
        config = json.load(handle)
    channel = os.fdopen(fd, "w", buffering=1, encoding="utf-8")
    main_pid = os.getpid()

    def report(record: dict) -> None:
        if os.getpid() == main_pid:
            channel.write(json.dumps(record) + "\n")
            channel.flush()

    _isolate(config, report)
    box = config["box"]
    os.chdir(box)
    sys.path[:0] = [box]
    sys.path.extend(config["site"])
    tests_path = os.path.join(box, "hidden_tests.py")
    with open(tests_path, encoding="utf-8") as handle:
        source = handle.read()
    os.remove(tests_path)
    module = types.ModuleType("hidden_tests")
    module.__file__ = "hidden_tests.py"
    sys.modules["hidden_tests"] = module
    try:
        exec(compile(source, "hidden_tests.py", "exec"), module.__dict__)
    except BaseException as error:  # noqa: BLE001 - the candidate's import can raise anything
        if os.getpid() != main_pid:
            os._exit(0)
        report(
            {
                "import_error": f"could not import the solution: {_describe(error)}",
                "verdict": _classify(error),
            }
        )
        report({"done": True})
        return
    del source
    for name, function in list(module.__dict__.items()):
        if not (name.startswith("test_") and callable(function)):
            continue
        try:
            function()
        except BaseException as error:  # noqa: BLE001
            if os.getpid() != main_pid:
                os._exit(0)  # a forked copy of the runner: never report twice
            verdict = _classify(error)
            message = _describe(error)
            if isinstance(error, AssertionError) and str(error):
                message = str(error)[:MESSAGE_CHARS]
            report({"test": name, "passed": False, "message": message, "verdict": verdict})
        else:
            if os.getpid() != main_pid:
                os._exit(0)
            report({"test": name, "passed": True, "message": "passed"})
    report({"done": True})


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(0)  # skip interpreter teardown: candidate threads or atexit hooks cannot hang it
