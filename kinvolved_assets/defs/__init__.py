"""Thin Dagster wiring over the pure-Python platform (one module per concern)."""
