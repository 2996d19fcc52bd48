"""Row counts of the two headline marts of a built marts database (ours and the peer's alike)."""

from __future__ import annotations

from pathlib import Path


def mart_rows(db: Path) -> dict:
    import duckdb

    if not db.exists():
        return {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f'select count(*) from "{db.stem}".marts."{t}"').fetchone()[0]
                for t in ("fct_student_daily_attendance", "msr_student_cumulative_attendance")}
    finally:
        con.close()
