"""`python -m benchmarks [--quick]`: run every benchmark and print its side-by-side report.

The quality benchmark's peers (FLAML, AutoGluon) live in benchmarks/.peers-venv, built here
by benchmarks/peers.sh on first use (idempotent); `--quick` runs ours only, on tiny budgets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks import (
    cli_startup,
    interview_latency,
    interview_simulation,
    quality,
    scale,
    speed,
    threads,
)

if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    print("== CLI start-up ==")
    cli_startup.main()
    print("\n== Interview: adaptive ability recovery (simulated candidates) ==")
    interview_simulation.main()
    print("\n== Interview: grading latency ==")
    interview_latency.main()
    print("\n== Speed ==")
    speed.main(["--quick"] if quick else [])
    print("\n== Threads under OpenMP's wait policies ==")
    threads.main(["--quick"] if quick else [])
    print("\n== Scale ==")
    scale.main(["--quick"] if quick else [])
    print("\n== Quality ==")
    if not quick:
        subprocess.run(["bash", str(Path(__file__).with_name("peers.sh"))], check=True)
    quality.main(
        ["--quick", "--methods", *quality.BASELINES, *quality.OUR_METHODS] if quick else []
    )
