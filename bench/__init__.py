"""Benchmarks: run by hand (python -m bench.NAME), never in the test suite."""
