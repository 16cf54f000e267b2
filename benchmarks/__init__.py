"""Benchmarks: speed and quality measured side by side in one run; `make bench` runs them all."""
