"""Benchmarks of serving and training speed: `make bench` (or `python -m benchmarks.run`).

They report numbers and never pass or fail on them; tests/bench only checks that they run.
"""
