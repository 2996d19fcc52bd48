"""What the attendance report shows, read from a marts file up to an as-of date.

Everything is recomputed from ``fct_student_daily_attendance`` (days up to the as-of date), so a
report of an earlier date shows that day's picture; at the marts' own as-of date the figures equal
``msr_student_cumulative_attendance`` / ``msr_student_attendance_bands``. Aggregates only: rates
and counts per district, school, grade and band, never a student.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kinvolved_assets.customers import school_year_of
from kinvolved_assets.marts.figures import open_marts_file

BANDS = ("satisfactory", "at_risk", "moderate_chronic", "severe_chronic")
DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"


def band_thresholds() -> dict[str, float]:
    """The band lower bounds, from the dbt vars (one source of truth for the mart and the report)."""
    variables = yaml.safe_load(DBT_PROJECT.read_text())["vars"]
    return {b: float(variables[f"band_{b}"]) for b in ("satisfactory", "at_risk", "moderate_chronic")}


@dataclass
class ReportData:
    customer_id: str
    as_of_date: str
    school_year: int | None
    students: int = 0
    attendance_rate: float | None = None
    chronically_absent: int = 0
    schools: list[dict] = field(default_factory=list)      # label, students, rate, chronic, chronic_rate
    grades: list[dict] = field(default_factory=list)       # grade, students, chronic, chronic_rate
    bands: dict[str, int] = field(default_factory=dict)    # band -> students
    daily: dict[str, list[tuple[str, float]]] = field(default_factory=dict)   # school label -> (date, rate)
    district_daily: list[tuple[str, float]] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)
    chronic_threshold: float = 0.10
    min_enrolled_days: int = 10

    @property
    def chronic_rate(self) -> float | None:
        return self.chronically_absent / self.students if self.students else None


def _students_sql(threshold: float, min_days: int, bands: dict[str, float]) -> str:
    eps = 1e-9
    return f"""
        create temp table report_students as
        select d.student_sourced_id, d.school_sourced_id, count(*) as days_enrolled,
               sum(d.absent_fraction) as days_absent,
               (count(*) - sum(d.absent_fraction)) / count(*) as rate,
               count(*) >= {int(min_days)}
                 and sum(d.absent_fraction) >= {float(threshold)} * count(*) - {eps} as chronic,
               any_value(b.grade) as grade
        from fct_student_daily_attendance d
        left join (select distinct student_sourced_id, grade from msr_student_attendance_bands
                   where school_year = $year) b
          using (student_sourced_id)
        where d."date" <= cast($as_of as date) and d.school_year = $year
        group by d.student_sourced_id, d.school_sourced_id;
        ---
        create temp table report_bands as
        select *, case when rate >= {bands['satisfactory']} - {eps} then 'satisfactory'
                       when rate >= {bands['at_risk']} - {eps} then 'at_risk'
                       when rate >= {bands['moderate_chronic']} - {eps} then 'moderate_chronic'
                       else 'severe_chronic' end as band
        from report_students"""


def read_report_data(marts_db: Path, customer_id: str, as_of: str | None = None,
                     chronic_threshold: float = 0.10, min_enrolled_days: int = 10) -> ReportData:
    thresholds = band_thresholds()
    with open_marts_file(marts_db) as con:
        # the marts hold every delivered school year: the report is of the school year holding as_of
        # (default: the current, latest year, as of its as-of date)
        marts_as_of, year = con.execute("select cast(max(as_of_date) as varchar), max(school_year) "
                                        "from msr_student_cumulative_attendance").fetchone()
        as_of = as_of or marts_as_of or "1900-01-01"
        if year is not None:
            year = school_year_of(dt.date.fromisoformat(as_of))
        students_sql, bands_sql = _students_sql(chronic_threshold, min_enrolled_days, thresholds).split("---")
        con.execute(students_sql, {"as_of": as_of, "year": year})
        con.execute(bands_sql)
        data = ReportData(customer_id, as_of, year, thresholds=thresholds,
                          chronic_threshold=chronic_threshold, min_enrolled_days=min_enrolled_days)
        students, rate, chronic = con.execute(
            "select count(distinct student_sourced_id), "
            "sum(days_enrolled - days_absent) / nullif(sum(days_enrolled), 0), "
            "count(distinct student_sourced_id) filter (where chronic) from report_students").fetchone()
        data.students, data.attendance_rate, data.chronically_absent = int(students), rate, int(chronic or 0)
        # the latest year's name wins
        labels = dict(con.execute("select school_sourced_id, coalesce(name, school_sourced_id) "
                                  "from dim_schools order by school_year").fetchall())
        for sid, n, r, c in con.execute(
                "select school_sourced_id, count(*), sum(days_enrolled - days_absent) / sum(days_enrolled), "
                "count(*) filter (where chronic) from report_students group by 1 order by 1").fetchall():
            data.schools.append({"school": labels.get(sid, sid), "students": n, "rate": r, "chronic": c,
                                 "chronic_rate": c / n if n else 0.0})
        for g, n, c in con.execute(
                "select coalesce(grade, 'not sent'), count(distinct student_sourced_id), "
                "count(distinct student_sourced_id) filter (where chronic) from report_students "
                "group by 1 order by 1").fetchall():
            data.grades.append({"grade": g, "students": n, "chronic": c, "chronic_rate": c / n if n else 0.0})
        counts = dict(con.execute("select band, count(*) from report_bands group by 1").fetchall())
        data.bands = {b: int(counts.get(b, 0)) for b in BANDS}
        for sid, day, r in con.execute(
                "select school_sourced_id, cast(\"date\" as varchar), attendance_rate "
                "from msr_school_daily_attendance "
                "where \"date\" <= cast(? as date) and school_year = ? order by 1, 2",
                [as_of, year]).fetchall():
            data.daily.setdefault(labels.get(sid, sid), []).append((day, float(r)))
        data.district_daily = [(d, float(r)) for d, r in con.execute(
            "select cast(\"date\" as varchar), "
            "(sum(students_enrolled) - sum(students_absent)) / sum(students_enrolled) "
            "from msr_school_daily_attendance where \"date\" <= cast(? as date) and school_year = ? "
            "group by 1 order by 1",
            [as_of, year]).fetchall()]
    return data
