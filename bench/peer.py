"""A typical peer: the loader most teams write first.

pandas ``read_csv`` of every file (default type inference), insert into DuckDB tables with a
hand-written schema, then the same marts as plain SQL: current state from bulk/delta deliveries,
the dense daily fact (student x school x instructional day while enrolled, no event = present) and
the year-to-date measure per student. Simplified but equivalent for the generated districts:
enrollment spans are min(begin)..max(end) per student and school (no gap islands), absence codes
resolve on title or sourcedId (school-specific first), school-specific closures are ignored.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pandas as pd

from bench.limit import entity_files
from kinvolved_assets.oneroster import spec
from kinvolved_assets.sql import string_list as _sql_list


def _ddl_type(t: str) -> str:
    return "VARCHAR" if t.endswith("[]") else t


def load_all(deliveries: list[dict], landing: Path, db: Path, tmp: Path, threads: int) -> dict:
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = '{tmp}'")
    columns = {e.name: [(c.name, _ddl_type(c.duckdb_type)) for c in e.columns] for e in spec.ENTITIES}
    for name, cols in columns.items():
        body = ", ".join(f'"{c}" {t}' for c, t in cols)
        con.execute(f'CREATE TABLE "{name}" ({body}, _delivery_date DATE, _mode VARCHAR)')
    rows = files = 0
    read_s = insert_s = 0.0
    t0 = time.perf_counter()
    for delivery in deliveries:
        for entity, path in entity_files(landing, delivery):
            t = time.perf_counter()
            df = pd.read_csv(path)
            t1 = time.perf_counter()
            present = [(c, ty) for c, ty in columns[entity] if c in df.columns]
            select = ", ".join(f'TRY_CAST("{c}" AS {ty}) AS "{c}"' for c, ty in present)
            con.register("df", df)
            con.execute(f"""INSERT INTO "{entity}" BY NAME
                            SELECT {select}, DATE '{delivery['date']}' AS _delivery_date,
                                '{delivery['modes'][entity]}' AS _mode
                            FROM df""")
            con.unregister("df")
            rows += len(df)
            files += 1
            del df
            read_s += t1 - t
            insert_s += time.perf_counter() - t1
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - t0
    con.close()
    return {"rows_loaded": rows, "files": files, "load_seconds": round(seconds, 3),
            "pandas_read_seconds": round(read_s, 3), "duckdb_insert_seconds": round(insert_s, 3)}


def _current(entity: str) -> str:
    """Roster state: the latest bulk replaces everything, later deltas upsert by sourcedId."""
    return f"""
        select * exclude (rn) from (
            select *, row_number() over (partition by sourcedId order by _delivery_date desc,
                dateLastModified desc) as rn
            from "{entity}"
            where _delivery_date >= coalesce((select max(_delivery_date) from "{entity}" where _mode =
                'bulk'),
                                             date '1900-01-01')
        ) where rn = 1 and coalesce(status, 'active') = 'active'"""


def marts_sql(v: dict) -> list[str]:
    holidays = (f"cast({_sql_list(v['non_instructional_days'])} as "
                "date[])" if v["non_instructional_days"] else "cast([] as date[])")
    licensed = _sql_list(v["licensed_schools"])
    end_expr = "endDate + 1" if v.get("enrollment_end_inclusive") else "endDate"
    return [
        f"create or replace table p_codes as {_current('absence_codes')}",
        f"create or replace table p_enrollments as {_current('enrollments')}",
        f"create or replace table p_sessions as {_current('academic_sessions')}",
        f"""create or replace table p_school_year as
            select min(startDate) as start_date, max(endDate) as end_date,
                   least((select max(_delivery_date) from attendance), cast(max(endDate) - 1 as date)) as
                       as_of_date
            from p_sessions where type = 'schoolYear' and schoolYear = {int(v['school_year'])}""",
        f"""create or replace table p_calendar as
            select s.school as school_sourced_id, cast(d.generate_series as date) as calendar_date
            from p_school_year y,
                 generate_series(cast(y.start_date as timestamp), cast(y.as_of_date as timestamp), interval 1
                     day) d,
                 unnest({licensed}) s(school)
            where isodow(d.generate_series) between 1 and 5
              and not list_contains({holidays}, cast(d.generate_series as date))""",
        f"""create or replace table p_spans as
            select userSourcedId as student_sourced_id, schoolSourcedId as school_sourced_id,
                   min(coalesce(beginDate, date '1900-01-01')) as span_begin,
                   max(coalesce(cast({end_expr} as date), date '9999-12-31')) as span_end
            from p_enrollments where role = 'student' and userSourcedId is not null and schoolSourcedId is
                not null
            group by all""",
        # attendance: a bulk replaces the dates it covers, deltas upsert by natural key
        """create or replace table p_events as
            with bulks as (
                select _delivery_date, min(date) as lo, max(date) as hi from attendance where _mode = 'bulk'
                    group by 1
            ), dates as (select distinct date from attendance),
            cover as (
                select dates.date, max(bulks._delivery_date) as last_bulk
                from dates join bulks on dates.date between bulks.lo and bulks.hi group by 1
            ), latest as (
                select a.*, row_number() over (
                    partition by a.userSourcedId, a.schoolSourcedId, coalesce(a.classSourcedId, ''), a.date
                    order by a._delivery_date desc, a.dateLastModified desc) as rn
                from attendance a left join cover using (date)
                where a._delivery_date >= coalesce(cover.last_bulk, date '1900-01-01')
            )
            select userSourcedId as student_sourced_id, schoolSourcedId as school_sourced_id, date,
                absenceCode
            from latest where rn = 1 and coalesce(status, 'active') = 'active' and classSourcedId is null""",
        """create or replace table p_events_coded as
            with keys as (
                select sourcedId as k, 0 as r, * from p_codes
                union all select title as k, 1 as r, * from p_codes where title is not null
            ), ranked as (
                select e.*, c.absent, c.excused, c.dayFraction, c.category, row_number() over (
                    partition by e.student_sourced_id, e.school_sourced_id, e.date
                    order by case when c.schoolSourcedId is not null then 0 else 1 end, c.r, c.sourcedId) as
                        rn
                from p_events e left join keys c
                  on e.absenceCode = c.k and (c.schoolSourcedId is null or c.schoolSourcedId =
                      e.school_sourced_id)
            )
            select student_sourced_id, school_sourced_id, date, absenceCode as absence_code,
                   case when coalesce(absent, false) then least(greatest(coalesce(dayFraction, 1.0), 0.0),
                       1.0) else 0.0 end as absent_fraction,
                   coalesce(absent, false) and coalesce(excused, false) as is_excused,
                   coalesce(category = 'tardy', false) as is_tardy
            from ranked where rn = 1""",
        """create or replace table p_fct_student_daily_attendance as
            select s.student_sourced_id, s.school_sourced_id, c.calendar_date as date,
                   coalesce(e.absent_fraction, 0.0) as absent_fraction, coalesce(e.absent_fraction, 0.0) > 0
                       as is_absent,
                   coalesce(e.is_excused, false) as is_excused, coalesce(e.is_tardy, false) as is_tardy,
                       e.absence_code
            from p_spans s
            join p_calendar c on c.school_sourced_id = s.school_sourced_id
             and c.calendar_date >= s.span_begin and c.calendar_date < s.span_end
            left join p_events_coded e on e.student_sourced_id = s.student_sourced_id
             and e.school_sourced_id = s.school_sourced_id and e.date = c.calendar_date""",
        f"""create or replace table p_msr_student_cumulative_attendance as
            select student_sourced_id, school_sourced_id, count(*) as days_enrolled, sum(absent_fraction) as
                days_absent,
                   (count(*) - sum(absent_fraction)) / count(*) as attendance_rate,
                   count(*) >= {int(v['min_enrolled_days'])}
                     and sum(absent_fraction) >= {float(v['chronic_threshold'])} * count(*) - 1e-9 as
                         is_chronically_absent
            from p_fct_student_daily_attendance group by all""",
    ]


def marts(db: Path, dbt_vars: dict, threads: int, tmp: Path) -> dict:
    con = duckdb.connect(str(db))
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = '{tmp}'")
    t0 = time.perf_counter()
    for sql in marts_sql(dbt_vars):
        con.execute(sql)
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - t0
    rows = {t: con.execute(f"select count(*) from p_{t}").fetchone()[0]
            for t in ("fct_student_daily_attendance", "msr_student_cumulative_attendance")}
    con.close()
    return {"marts_seconds": round(seconds, 3), "mart_rows": rows}
