"""Benchmarks of the platform: ``python -m bench --scale medium`` (see docs/benchmarks.md)."""
