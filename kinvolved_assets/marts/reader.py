"""Read a customer's published marts safely (read-only, never a writer).

The file is ``marts.duckdb`` and the tables live in schema ``marts``, so DuckDB names the catalog
``marts`` too: ``marts.dim_schools`` is ambiguous there. Connections from here ``USE`` the marts
schema, so the tables are addressed by their bare names (or fully as ``marts.marts.dim_schools``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

MART_TABLES = (
    "dim_schools", "dim_classes", "fct_enrollments", "fct_student_daily_attendance",
    "fct_student_class_attendance", "msr_student_cumulative_attendance", "msr_school_daily_attendance",
    "msr_student_attendance_bands",
)


def open_marts(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=True)
    catalog = con.execute("select current_database()").fetchone()[0]
    con.execute(f'USE "{catalog}".marts')
    return con


def mart_counts(path: Path) -> dict[str, int]:
    with open_marts(path) as con:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in MART_TABLES}


def content_digest(path: Path) -> str:
    """A hash of every mart's rows (order-independent): equal digests mean identical marts."""
    import hashlib

    digest = hashlib.sha256()
    with open_marts(path) as con:
        for table in MART_TABLES:
            rows = con.execute(f"select * from {table} order by all").fetchall()
            digest.update(table.encode())
            digest.update(repr(rows).encode())
    return digest.hexdigest()
