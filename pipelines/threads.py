"""How many threads a fit gets: the cores this process may use, and for the OpenMP libraries
(LightGBM, XGBoost) one thread on small data while OpenMP threads wait passively."""

from __future__ import annotations

import os

# pipelines sets OMP_WAIT_POLICY=PASSIVE (pipelines/__init__.py): the spinning threads of two
# busy processes take each other's cores (two LightGBM fits at once on 3k rows: 73x slower).
# But a passive thread sleeps between parallel regions, and waking it costs every region: on a
# quiet 2-core VM LightGBM's 2-thread fits took 8.7x the 1-thread time at 3k rows of 10
# columns, 4.0x at 40k and 1.4x at 300k; XGBoost's 2.5x, 1.4x and 0.8x
# (`python -m benchmarks.threads`, benchmarks/results/threads.json). Below this many values
# (rows x columns) a fit gets one thread; above, the work per region pays for the wake-ups.
SINGLE_THREAD_VALUES = {"lightgbm": 10_000_000, "xgboost": 1_000_000}


def available_cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer), at most
    OMP_NUM_THREADS when that is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if limit.isdigit() and int(limit) > 0:
        cores = min(cores, int(limit))
    return max(cores, 1)


def openmp_threads(library: str, rows: int, columns: int) -> int:
    """Threads for one fit of `library` ("lightgbm", "xgboost") on `rows` x `columns` values:
    one below its SINGLE_THREAD_VALUES while OpenMP threads wait passively, else every
    available core."""
    below = SINGLE_THREAD_VALUES[library]
    cores = available_cores()
    passive = os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"
    if passive and rows * max(columns, 1) < below:
        return 1
    return cores
