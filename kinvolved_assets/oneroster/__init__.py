"""The OneRoster+ contract and drop reader (pure Python + DuckDB, no Dagster)."""
