"""How fast `compete --help` answers, next to a bare interpreter and the official `kaggle` command
measured in the same run (target: compete --help under 0.5 s)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results")
BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "compete --help": [str(BIN / "compete"), "--help"],
    "kaggle --help": [str(BIN / "kaggle"), "--help"],
}


def wall_seconds(command: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def main(repeats: int = 15) -> dict[str, float]:
    # Interleaved rounds, so machine noise falls on every command alike.
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):
        for name, command in COMMANDS.items():
            samples[name] += wall_seconds(command, 1)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{'command':<18} {'median s':>9} {'vs python':>10}")
    for name, value in medians.items():
        print(f"{name:<18} {value:9.3f} {value / medians['python -c pass']:9.1f}x")
    ratio = medians["compete --help"] / medians["kaggle --help"]
    print(
        f"compete --help / kaggle --help = {ratio:.2f}  (target: compete --help < 0.5 s: "
        f"{'met' if medians['compete --help'] < 0.5 else 'MISSED'})"
    )
    RESULTS.mkdir(exist_ok=True)
    report = {"medians_s": medians, "compete_over_kaggle": ratio, "repeats": repeats}
    (RESULTS / "cli_startup.json").write_text(json.dumps(report, indent=2) + "\n")
    return medians


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds")
    main(repeats=parser.parse_args().repeats)
