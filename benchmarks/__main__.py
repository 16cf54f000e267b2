"""`python -m benchmarks`: run every benchmark and print its side-by-side report."""

from __future__ import annotations

from benchmarks import cli_startup

if __name__ == "__main__":
    print("== CLI start-up ==")
    cli_startup.main()
