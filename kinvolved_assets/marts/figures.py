"""The figures of one marts file: row counts, column types, as-of date, district attendance rate and
chronic absence count. Pure DuckDB (no Dagster): the marts asset attaches them to its
materializations, the CLI and the attendance report print them. Counts and rates only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

# marts whose materializations also carry the district's attendance figures
ATTENDANCE_MARTS = frozenset({
    "fct_student_daily_attendance", "msr_student_cumulative_attendance", "msr_school_daily_attendance",
    "msr_student_attendance_bands",
})


@dataclass
class DistrictFigures:
    school_year: int | None = None
    as_of_date: str | None = None
    attendance_rate: float | None = None       # days present / days enrolled, every student-school
    students: int = 0
    chronically_absent: int = 0

    @property
    def chronic_rate(self) -> float | None:
        return self.chronically_absent / self.students if self.students else None

    def as_dict(self) -> dict:
        return {"school_year": self.school_year, "as_of_date": self.as_of_date,
                "attendance_rate": self.attendance_rate, "students": self.students,
                "chronically_absent": self.chronically_absent, "chronic_rate": self.chronic_rate}


@dataclass
class MartFigures:
    table: str
    rows: int
    columns: list[tuple[str, str]] = field(default_factory=list)   # (name, DuckDB type)


def open_marts_file(path: Path) -> duckdb.DuckDBPyConnection:
    """Read-only connection with ``marts`` as the default schema (any file name: build or published)."""
    con = duckdb.connect(str(path), read_only=True)
    catalog = con.execute("select current_database()").fetchone()[0]
    con.execute(f'USE "{catalog}".marts')
    return con


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ? "
        "and table_catalog = current_database()", [schema, table]).fetchone()[0])


def district_figures(con: duckdb.DuckDBPyConnection) -> DistrictFigures:
    figures = DistrictFigures()
    if _exists(con, "intermediate", "int_school_years__resolved"):
        # the marts hold every delivered school year; the figures are the current (latest) one's
        row = con.execute("select school_year, cast(as_of_date as varchar) "
                          "from intermediate.int_school_years__resolved "
                          "order by school_year desc limit 1").fetchone()
        if row:
            figures.school_year, figures.as_of_date = int(row[0]), row[1]
    if _exists(con, "marts", "msr_student_cumulative_attendance"):
        rate, chronic, students = con.execute(
            "select sum(days_present) / nullif(sum(days_enrolled), 0), "
            "count(distinct student_sourced_id) filter (where is_chronically_absent), "
            "count(distinct student_sourced_id) from msr_student_cumulative_attendance "
            "where school_year = (select max(school_year) from msr_student_cumulative_attendance)").fetchone()
        figures.attendance_rate = None if rate is None else float(rate)
        figures.chronically_absent, figures.students = int(chronic or 0), int(students or 0)
    return figures


def mart_figures(con: duckdb.DuckDBPyConnection, tables: list[str]) -> dict[str, MartFigures]:
    """Row count and column types of each named table of schema ``marts`` that exists."""
    out: dict[str, MartFigures] = {}
    for table in tables:
        if not _exists(con, "marts", table):
            continue
        rows = con.execute(f'select count(*) from "{table}"').fetchone()[0]
        columns = con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = 'marts' "
            "and table_name = ? and table_catalog = current_database() order by ordinal_position",
            [table]).fetchall()
        out[table] = MartFigures(table, int(rows), [(str(n), str(t)) for n, t in columns])
    return out


def read_figures(path: Path, tables: list[str]) -> tuple[DistrictFigures, dict[str, MartFigures]]:
    with open_marts_file(path) as con:
        return district_figures(con), mart_figures(con, tables)
