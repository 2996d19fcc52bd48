"""Is a green marts build believable? Three rules over a built marts file (pure DuckDB, no Dagster):

- ``daily_fact_not_empty`` (error): attendance was delivered but the daily fact has no row (a wrong
  school year, no licensed school matched, a calendar that never starts);
- ``licensed_schools_have_students`` (warn): a licensed school of the config has no enrolled
  student in the marts (or is not among the delivered schools at all);
- ``absences_reported`` (warn): a licensed school reports not one absence over
  ``min_days`` or more consecutive instructional days (real schools report absences every day:
  the attendance of those days is almost certainly missing).

Every result carries counts, school sourcedIds and dates only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kinvolved_assets.marts.figures import open_marts_file
from kinvolved_assets.paths import partition_files

DEFAULT_ZERO_ABSENCE_DAYS = 5
RULES = {   # name: (mart, severity, what it checks)
    "daily_fact_not_empty": ("fct_student_daily_attendance", "error",
                             "attendance was delivered, so the daily fact has rows"),
    "licensed_schools_have_students": ("dim_schools", "warn",
                                       "every licensed school is delivered and has enrolled students"),
    "absences_reported": ("msr_school_daily_attendance", "warn",
                          "every licensed school reports absences "
                          "within a few consecutive instructional days"),
}


@dataclass
class PlausibilityResult:
    name: str
    passed: bool
    description: str
    metadata: dict = field(default_factory=dict)

    @property
    def mart(self) -> str:
        return RULES[self.name][0]

    @property
    def severity(self) -> str:
        return RULES[self.name][1]

    def line(self) -> str:
        state = "ok" if self.passed else self.severity.upper()
        return f"{state:<5} {self.name}: {self.description}"


def _attendance_delivered(raw_root: Path) -> tuple[int, list[str]]:
    parts = partition_files(raw_root / "attendance")
    if not parts:
        return 0, []
    with duckdb.connect() as con:
        rows = con.execute("select count(*) from read_parquet(?)",
                           [[str(f) for _, _, f in parts]]).fetchone()[0]
    return int(rows), [day for day, _, _ in parts]


def _daily_fact(con, raw_root: Path) -> PlausibilityResult:
    rows = con.execute("select count(*) from fct_student_daily_attendance").fetchone()[0]
    delivered, dates = _attendance_delivered(raw_root)
    days = con.execute("select count(distinct calendar_date) from "
                       "intermediate.int_instructional_days__enumerated"
                       ).fetchone()[0]
    meta = {"daily_fact_rows": int(rows), "attendance_rows_delivered": delivered,
            "attendance_deliveries": len(dates), "instructional_days": int(days)}
    if dates:
        meta.update(first_attendance_delivery=dates[0], last_attendance_delivery=dates[-1])
    if rows == 0 and delivered > 0:
        return PlausibilityResult("daily_fact_not_empty", False,
                                  f"0 student-days built although {delivered:,} attendance rows "
                                  f"were delivered in {len(dates)} deliveries ({dates[0]} .. {dates[-1]}); "
                                  f"{days} instructional days "
                                  "in the calendar: check school_year and licensed_schools", meta)
    return PlausibilityResult("daily_fact_not_empty", True,
                              f"{rows:,} student-days from {delivered:,} delivered attendance rows", meta)


# the schools and enrollments of the latest school year (the marts hold every delivered year)
_LATEST_YEAR = "s.school_year = (select max(school_year) from dim_schools)"


def _licensed_students(con, licensed: list[str]) -> PlausibilityResult:
    found = con.execute(
        "select s.school_sourced_id, count(distinct e.user_sourced_id) filter (where e.role = 'student') "
        "from dim_schools s left join fct_enrollments e using (school_year, school_sourced_id) "
        f"where s.is_licensed and {_LATEST_YEAR} group by 1 order by 1").fetchall()
    known = {sid for sid, _ in found} | {
        i for (i,) in con.execute("select identifier from dim_schools s "
                                  "where is_licensed and identifier is not null "
                                  f"and {_LATEST_YEAR}").fetchall()}
    empty = [sid for sid, n in found if not n]
    missing = [s for s in licensed if s not in known]
    meta = {"licensed_schools": len(licensed), "schools_found": len(found), "schools_without_students": empty,
            "licensed_not_delivered": missing,
            "students_per_school": {sid: int(n) for sid, n in found}}
    if empty or missing:
        parts = []
        if empty:
            parts.append(f"{len(empty)} licensed school(s) with no enrolled student: {', '.join(empty)}")
        if missing:
            parts.append(f"{len(missing)} licensed school(s) not among the delivered schools: "
                         f"{', '.join(missing)}")
        return PlausibilityResult("licensed_schools_have_students", False, "; ".join(parts), meta)
    return PlausibilityResult("licensed_schools_have_students", True,
                              f"all {len(found)} licensed schools have enrolled students", meta)


def zero_absence_runs(con, min_days: int) -> list[dict]:
    """Per school, its longest run of consecutive instructional days without any absence, when it
    is at least ``min_days`` long."""
    rows = con.execute(
        """
        with days as (
            select school_sourced_id, "date", students_with_absence = 0 as quiet,
                   row_number() over (partition by school_sourced_id order by "date") as n
            from msr_school_daily_attendance where students_enrolled > 0
        ), runs as (
            select school_sourced_id, min("date") as first_day, max("date") as last_day, count(*) as days
            from (select *, n - row_number() over (partition by school_sourced_id order by "date") as grp
                  from days where quiet)
            group by school_sourced_id, grp
        )
        select school_sourced_id, cast(first_day as varchar), cast(last_day as varchar), days
        from runs where days >= ?
        qualify row_number() over (partition by school_sourced_id order by days desc, first_day) = 1
        order by school_sourced_id
        """, [min_days]).fetchall()
    return [{"school": s, "from": f, "to": t, "days": int(d)} for s, f, t, d in rows]


def _absences(con, min_days: int) -> PlausibilityResult:
    runs = zero_absence_runs(con, min_days)
    meta = {"min_consecutive_days": min_days, "schools_flagged": len(runs), "runs": runs}
    if runs:
        text = "; ".join(f"{r['school']} {r['from']} .. {r['to']} ({r['days']} days)" for r in runs)
        return PlausibilityResult("absences_reported", False,
                                  f"{len(runs)} licensed school(s) report no absence "
                                  f"over {min_days}+ consecutive "
                                  f"instructional days (attendance probably missing): {text}", meta)
    return PlausibilityResult("absences_reported", True,
                              f"every licensed school reports absences "
                              f"at least every {min_days} instructional days",
                              meta)


def check_marts(marts_db: Path, raw_root: Path, licensed_schools: list[str],
                min_zero_absence_days: int = DEFAULT_ZERO_ABSENCE_DAYS) -> list[PlausibilityResult]:
    with open_marts_file(marts_db) as con:
        return [_daily_fact(con, raw_root), _licensed_students(con, list(licensed_schools)),
                _absences(con, min_zero_absence_days)]
