"""The trusted side of code grading: fresh inputs, the reference's outputs, and the checks.

Nothing here runs in, or reads anything but plain data from, a candidate's process: the
candidate's sandbox gets one case of inputs drawn from a fresh seed and returns a NumPy
`.npz`; it is read with `allow_pickle=False`, only numeric arrays are accepted, and the
checks of the task (interview/bank.py `Check`) compare it here with what the reference
computed on the same inputs in its own sandbox. The reference's outputs are computed a batch
of cases at a time while the item is on screen (`prefetch`), and each case is used for one
grading only, so a grading pays for the candidate's sandbox alone; one that finds none ready
runs the reference on its own case beside the candidate's run. Both take spare sandboxes
that imported torch ahead (interview/sandbox.py `prewarm`).
"""

from __future__ import annotations

import hashlib
import io
import math
import secrets
import threading
import zipfile
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from interview.errors import GradingError
from interview.sandbox import SandboxLimits, run_driver

if TYPE_CHECKING:
    from interview.bank import Check, CodeTask

Arrays = dict[str, np.ndarray]

MAX_OUTPUT_BYTES = 8 * 2**20  # an output file larger than this is not read
MAX_UNPACKED_BYTES = 64 * 2**20  # nor one that would unpack to more (a zip bomb)
NUMERIC_KINDS = "biuf"  # bool, int, unsigned, float: nothing that needs pickle or parsing


@dataclass(frozen=True)
class TestOutcome:
    """One check's verdict; `message` is readable and never shows the reference or checks."""

    __test__ = False  # not a pytest class

    name: str
    passed: bool
    message: str


def pack(arrays: Arrays) -> bytes:
    """Arrays as the bytes of an uncompressed `.npz`."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def unpack(data: bytes | None) -> tuple[Arrays | None, str]:
    """(arrays, "") from an `.npz` a sandbox wrote, or (None, why) for anything else: a
    missing or oversized file, a zip bomb, pickled objects, strings or structured dtypes."""
    if data is None:
        return None, "no output file (the run stopped before writing it, or wrote none)"
    if len(data) > MAX_OUTPUT_BYTES:
        return None, f"the output file is larger than {MAX_OUTPUT_BYTES // 2**20} MB"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            return None, f"the outputs unpack to more than {MAX_UNPACKED_BYTES // 2**20} MB"
        arrays = {}
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            for name in archive.files:
                arrays[name] = archive[name]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as error:
        reason = " ".join(str(error).split())[:200]
        return None, f"the output file is not a plain .npz of numeric arrays ({reason})"
    for name, array in arrays.items():
        if array.dtype.kind not in NUMERIC_KINDS:
            return None, f"output {name!r} has dtype {array.dtype}; return numbers or tensors"
    return arrays, ""


def close(a: object, b: object, atol: float = 1e-5, rtol: float = 1e-5) -> bool:
    """Same shape (or `b` a scalar) and equal within tolerances; NaN is never close."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if b.ndim and a.shape != b.shape:
        return False
    return bool(np.allclose(a, b, atol=atol, rtol=rtol))


def finite(a: object) -> bool:
    """No NaN or inf anywhere."""
    return bool(np.isfinite(np.asarray(a, dtype=np.float64)).all())


def sub(arrays: Arrays, prefix: str) -> Arrays:
    """The outputs named `prefix...`, without the prefix (a dict the driver returned nested
    under one name arrives flattened as `name.key`)."""
    return {name[len(prefix) :]: array for name, array in arrays.items() if name.startswith(prefix)}


def _namespace(source: str, label: str) -> dict:
    """The names a trusted snippet of the bank defines (NumPy, math, `close`, `finite` and
    `sub` preloaded)."""
    namespace: dict = {"np": np, "math": math, "close": close, "finite": finite, "sub": sub}
    if source:
        exec(compile(source, f"<{label}>", "exec"), namespace)  # noqa: S102 - bank code
    return namespace


def new_inputs(task: CodeTask, seed: int | None = None) -> Arrays:
    """One case's inputs from a fresh seed: `seed` (for the driver's own torch generator)
    plus whatever the task's `cases` draw with NumPy."""
    seed = secrets.randbits(62) if seed is None else seed
    arrays: Arrays = {}
    if task.cases:
        make = _namespace(task.cases, "cases").get("inputs")
        if make is None:
            raise GradingError("the code task's `cases` define no inputs(rng); fix the bank")
        arrays = {
            name: np.asarray(value) for name, value in make(np.random.default_rng(seed)).items()
        }
    arrays["seed"] = np.asarray(seed % 2**31, dtype=np.int64)
    return arrays


def _task_key(task: CodeTask) -> str:
    parts = [task.reference, task.driver, task.cases, repr(sorted(task.context.items()))]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class ReferenceCache:
    """Reference outputs per task, `batch` cases per prefetching sandbox run, each case
    used once.

    Thread-safe: one instance serves every user of a Grader."""

    def __init__(self, limits: SandboxLimits | None = None, *, batch: int = 4) -> None:
        self.limits = limits or SandboxLimits()
        self.batch = max(1, batch)
        self._lock = threading.Lock()
        self._pools: dict[str, list[tuple[Arrays, Arrays]]] = {}
        self._filling: dict[str, threading.Event] = {}  # a batch on its way, per task

    def prefetch(self, task: CodeTask) -> None:
        """Compute a batch of reference outputs in the background, unless some are ready or
        on their way: called when a code item is shown, so the reference runs while the
        candidate reads and writes, and the grading then runs one sandbox instead of two."""
        key = _task_key(task)
        with self._lock:
            if self._pools.get(key) or key in self._filling:
                return
            done = self._filling[key] = threading.Event()
        threading.Thread(target=self._fill, args=(task, key, done), daemon=True).start()

    def ready(self, task: CodeTask) -> bool:
        """Whether reference outputs for `task` wait in the pool (a prefetch has finished)."""
        with self._lock:
            return bool(self._pools.get(_task_key(task)))

    def clear(self) -> None:
        """Forget every reference output computed so far."""
        with self._lock:
            self._pools.clear()

    def take(self, task: CodeTask) -> tuple[Arrays, Future[Arrays]]:
        """Inputs for one grading and (now or soon) the reference's outputs on them."""
        key = _task_key(task)
        with self._lock:
            filling = self._filling.get(key)
        if filling is not None:
            filling.wait()  # a prefetch is running: it is sooner than starting another
        future: Future[Arrays] = Future()
        with self._lock:
            pool = self._pools.setdefault(key, [])
            if pool:
                inputs, outputs = pool.pop()
                future.set_result(outputs)
                return inputs, future
        # None ready: this grading's case alone, beside the candidate's run (a batch would
        # keep the candidate waiting for three more cases of a slow task).
        inputs = new_inputs(task)
        thread = threading.Thread(target=self._compute, args=(task, inputs, future), daemon=True)
        thread.start()
        return inputs, future

    def _fill(self, task: CodeTask, key: str, done: threading.Event) -> None:
        cases = [new_inputs(task) for _ in range(self.batch)]
        try:
            outputs = self._reference_outputs(task, cases)
        except BaseException:  # noqa: BLE001 - the grading itself runs it again and reports
            outputs = []
        with self._lock:
            self._pools.setdefault(key, []).extend(zip(cases, outputs, strict=False))
            del self._filling[key]
        done.set()

    def _compute(self, task: CodeTask, inputs: Arrays, future: Future[Arrays]) -> None:
        try:
            outputs = self._reference_outputs(task, [inputs])
        except BaseException as error:  # noqa: BLE001 - handed to the grading thread
            future.set_exception(error)
            return
        future.set_result(outputs[0])

    def _reference_outputs(self, task: CodeTask, cases: list[Arrays]) -> list[Arrays]:
        """The reference's outputs on each case, from one sandbox run."""
        cases_packed = [pack(case) for case in cases]
        run = run_driver(task, task.reference, cases_packed, self.limits, warm=True)
        outputs = []
        for index, data in enumerate(run.outputs):
            arrays, why = unpack(data)
            if arrays is None:
                notes = "; ".join(run.notes) or run.error or why
                raise GradingError(
                    f"the reference of this code task gives no outputs on case {index} "
                    f"({notes}); fix the bank item"
                )
            outputs.append(arrays)
        return outputs


def _same(name: str, got: Arrays, ref: Arrays, atol: float, rtol: float) -> str:
    """An empty string when output `name` equals the reference's, else what differs (no
    values shown)."""
    if name not in ref:
        raise GradingError(f"the reference returns no output {name!r}; fix the bank item")
    want = ref[name]
    have = got.get(name)
    if have is None:
        return f"output {name!r} is missing"
    if have.shape != want.shape:
        return f"output {name!r} has shape {have.shape}, expected {want.shape}"
    have64, want64 = have.astype(np.float64), want.astype(np.float64)
    close = np.isclose(have64, want64, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return ""
    wrong = int((~close).sum())
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.abs(have64 - want64)
    difference = difference[np.isfinite(difference)]
    largest = float(difference.max()) if difference.size else math.inf
    mismatch = (~np.isfinite(have64) & np.isfinite(want64)).any()
    nan = " (NaN or inf where the expected values are finite)" if mismatch else ""
    return (
        f"output {name!r} differs from the expected values at {wrong} of {have.size} "
        f"entries (largest difference {largest:.3g}){nan}"
    )


def run_checks(
    task: CodeTask, inputs: Arrays, got: Arrays | None, ref: Arrays, missing: str = ""
) -> list[TestOutcome]:
    """Every check of `task` on the candidate's outputs `got`, in order."""
    helpers = _namespace(task.helpers, "helpers")
    outcomes = []
    for check in task.checks:
        if got is None:
            outcomes.append(TestOutcome(check.name, False, f"{check.message} ({missing})"))
            continue
        detail = _evaluate(check, helpers, inputs, got, ref)
        if detail is None:
            outcomes.append(TestOutcome(check.name, True, "passed"))
        else:
            message = check.message + (f" ({detail})" if detail else "")
            outcomes.append(TestOutcome(check.name, False, message))
    return outcomes


def _evaluate(check: Check, helpers: dict, inputs: Arrays, got: Arrays, ref: Arrays) -> str | None:
    """None when `check` holds, else a detail ("" when the message says it all)."""
    for name in check.same:
        difference = _same(name, got, ref, check.atol, check.rtol)
        if difference:
            return difference
    if check.expect:
        scope = {**helpers, "got": got, "ref": ref, "inputs": inputs}
        try:
            with np.errstate(all="ignore"):
                holds = bool(eval(check.expect, scope))  # noqa: S307 - bank code on data
        except KeyError as error:
            return f"output {error} is missing"
        except (ValueError, TypeError, IndexError, ArithmeticError) as error:
            return f"the outputs have the wrong shape or type: {type(error).__name__}"
        if not holds:
            return ""
    return None
