"""Benchmarks against real processes: `python -m bench` (see BENCHMARKS.md)."""
