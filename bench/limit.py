"""The physical limit: DuckDB alone reading every delivered CSV into a table (auto-detected types,
no checks, no rejects, no marts), one table per file in one on-disk database."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb


def entity_files(landing: Path, delivery: dict) -> list[tuple[str, Path]]:
    """(entity, csv path) of one generated delivery, manifest left out."""
    return [(e, landing / delivery["name"] / f) for e, f in delivery["files"].items()]


def load_all(deliveries: list[dict], landing: Path, db: Path, tmp: Path, threads: int) -> dict:
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = '{tmp}'")
    rows = files = 0
    t0 = time.perf_counter()
    for i, delivery in enumerate(deliveries):
        for entity, path in entity_files(landing, delivery):
            table = f"{entity}_{i:04d}"
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}')")
            rows += con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            files += 1
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - t0
    con.close()
    return {"rows_loaded": rows, "files": files, "work_seconds": round(seconds, 3),
            "db_mib": round(db.stat().st_size / 2**20, 1)}
