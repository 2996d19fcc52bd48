"""The plausibility rules of a marts build on hand-made marts files (real DuckDB, no dbt)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from kinvolved_assets.marts.plausibility import check_marts, zero_absence_runs

DAYS = [dt.date(2025, 9, 1) + dt.timedelta(days=i) for i in range(14)
        if (dt.date(2025, 9, 1) + dt.timedelta(days=i)).isoweekday() <= 5]


def _marts(path: Path, *, daily_rows: bool = True, quiet_school_from: int | None = None) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema intermediate")
    con.execute("create table intermediate.int_instructional_days__enumerated as "
                "select 's1' as school_sourced_id, unnest(?::date[]) as calendar_date", [DAYS])
    con.execute("create table marts.dim_schools(school_sourced_id varchar, school_year integer, "
                "identifier varchar, is_licensed boolean)")
    # last year's rows (s2 had a student then) do not count for this year
    con.execute("insert into marts.dim_schools values ('s1', 2026, '101', true), ('s2', 2026, '102', true), "
                "('s3', 2026, '103', false), ('s2', 2025, '102', true), ('s9', 2025, '109', true)")
    con.execute("create table marts.fct_enrollments(school_sourced_id varchar, school_year integer, "
                "user_sourced_id varchar, role varchar)")
    con.execute("insert into marts.fct_enrollments values ('s1', 2026, 'u1', 'student'), "
                "('s1', 2026, 't1', 'teacher'), ('s2', 2026, 't2', 'teacher'), ('s2', 2025, 'u2', 'student')")
    con.execute("create table marts.fct_student_daily_attendance(student_sourced_id varchar, \"date\" date)")
    if daily_rows:
        con.execute("insert into marts.fct_student_daily_attendance select 'u1', unnest(?::date[])", [DAYS])
    con.execute("create table marts.msr_school_daily_attendance(school_sourced_id varchar, \"date\" date, "
                "students_enrolled bigint, students_with_absence bigint)")
    for i, day in enumerate(DAYS):
        quiet = quiet_school_from is not None and i >= quiet_school_from
        con.execute("insert into marts.msr_school_daily_attendance values ('s1', ?, 30, ?)",
                    [day, 0 if quiet else 2])
    con.close()
    return path


def _raw(root: Path, rows: int) -> Path:
    part = root / "attendance" / "delivery_date=2025-09-12"
    part.mkdir(parents=True)
    duckdb.connect().execute(f"copy (select range as n from range({rows})) to '{part / 'part-0.parquet'}'")
    return root


def test_empty_daily_fact_with_attendance_delivered_is_an_error(tmp_path):
    db = _marts(tmp_path / "m.duckdb", daily_rows=False)
    results = {r.name: r for r in check_marts(db, _raw(tmp_path / "raw", 37), ["s1"])}
    empty = results["daily_fact_not_empty"]
    assert not empty.passed and empty.severity == "error"
    assert empty.metadata["daily_fact_rows"] == 0 and empty.metadata["attendance_rows_delivered"] == 37
    assert empty.metadata["last_attendance_delivery"] == "2025-09-12"
    assert "37 attendance rows" in empty.description and "2025-09-12" in empty.description


def test_empty_daily_fact_without_attendance_passes(tmp_path):
    db = _marts(tmp_path / "m.duckdb", daily_rows=False)
    (tmp_path / "raw").mkdir()
    assert {r.name: r.passed for r in check_marts(db, tmp_path / "raw", ["s1"])}["daily_fact_not_empty"]


def test_licensed_school_without_students_or_not_delivered_warns(tmp_path):
    db = _marts(tmp_path / "m.duckdb")
    results = {r.name: r for r in check_marts(db, _raw(tmp_path / "raw", 5), ["s1", "102", "s9"])}
    schools = results["licensed_schools_have_students"]
    assert not schools.passed and schools.severity == "warn"
    assert schools.metadata["schools_without_students"] == ["s2"]
    assert schools.metadata["licensed_not_delivered"] == ["s9"]
    assert schools.metadata["students_per_school"] == {"s1": 1, "s2": 0}
    assert results["daily_fact_not_empty"].passed and results["absences_reported"].passed


def test_a_school_without_absences_over_many_days_warns_with_dates(tmp_path):
    db = _marts(tmp_path / "m.duckdb", quiet_school_from=3)   # the last 7 of 10 days without any absence
    results = {r.name: r for r in check_marts(db, _raw(tmp_path / "raw", 5), ["s1"], min_zero_absence_days=5)}
    quiet = results["absences_reported"]
    assert not quiet.passed and quiet.severity == "warn"
    assert quiet.metadata["runs"] == [{"school": "s1", "from": str(DAYS[3]), "to": str(DAYS[-1]), "days": 7}]
    assert f"{DAYS[3]} .. {DAYS[-1]} (7 days)" in quiet.description


def test_short_quiet_stretches_are_normal(tmp_path):
    db = _marts(tmp_path / "m.duckdb", quiet_school_from=6)   # 4 quiet days
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("use m.marts")
        assert zero_absence_runs(con, 5) == []
        assert zero_absence_runs(con, 4) == [
            {"school": "s1", "from": str(DAYS[6]), "to": str(DAYS[-1]), "days": 4}]
