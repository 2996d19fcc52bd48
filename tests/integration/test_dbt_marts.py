"""dbt project end to end on tiny hand-made raw Parquet deliveries (raw contract incl. ``_files``)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pytest

from kinvolved_assets.dbt_contract import FILES_COLUMNS, columns_csv_rows

pytestmark = pytest.mark.integration

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
D = dt.date.fromisoformat
D1, D2, D3 = D("2025-09-12"), D("2025-09-19"), D("2025-09-26")
TS = dt.datetime(2025, 9, 1, 12, 0, 0)

CONTRACT: dict[str, list[tuple[str, str]]] = {}
for _entity, _column, _type, _ordinal in columns_csv_rows():
    CONTRACT.setdefault(_entity, []).append((_column, _type))


# ---------------------------------------------------------------------------------------------
# raw writer (follows docs/architecture.md: typed columns, loader columns, one _files row per file)
# ---------------------------------------------------------------------------------------------
def write_delivery(raw_root: Path, entity: str, delivery: dt.date, mode: str, rows: list[dict]) -> None:
    columns = CONTRACT[entity]
    con = duckdb.connect()
    con.execute("create table t (" + ", ".join(f'"{c}" {t}' for c, t in columns) + ")")
    file_name = f"{entity}.csv"
    records = []
    for line, row in enumerate(rows, start=2):
        full = {
            "status": "active",
            "dateLastModified": TS,
            **row,
            "_line": row.get("_line", line),
            "_delivery_date": delivery,
            "_mode": mode,
            "_file": file_name,
        }
        unknown = set(full) - {c for c, _ in columns}
        assert not unknown, unknown
        records.append([full.get(c) for c, _ in columns])
    if records:
        con.executemany(f"insert into t values ({', '.join('?' for _ in columns)})", records)
    part = raw_root / entity / f"delivery_date={delivery.isoformat()}"
    part.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy t to '{part / 'part-0.parquet'}' (format parquet)")
    dates = [r["date"] for r in rows if r.get("date")] if entity == "attendance" else []
    con.execute("create table f (" + ", ".join(f'"{c}" {t}' for c, t in FILES_COLUMNS) + ")")
    con.execute(
        "insert into f values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            entity,
            delivery,
            mode,
            file_name,
            "0" * 64,
            len(rows),
            0,
            min(dates) if dates else None,
            max(dates) if dates else None,
        ],
    )
    fpart = raw_root / "_files" / entity / f"delivery_date={delivery.isoformat()}"
    fpart.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy f to '{fpart / 'part-0.parquet'}' (format parquet)")
    con.close()


def org(sid, name, type_, identifier=None, parent=None):
    return {
        "sourcedId": sid,
        "name": name,
        "type": type_,
        "identifier": identifier,
        "parentSourcedId": parent,
    }


def enrollment(sid, user, cls, school, role="student", begin="2025-09-01", end=None, **extra):
    return {
        "sourcedId": sid,
        "userSourcedId": user,
        "classSourcedId": cls,
        "schoolSourcedId": school,
        "role": role,
        "primary": role == "teacher",
        "beginDate": D(begin) if begin else None,
        "endDate": D(end) if end else None,
        **extra,
    }


def user(sid, role="student", given="Given"):
    return {
        "sourcedId": sid,
        "enabledUser": True,
        "orgSourcedIds": ["D"],
        "role": role,
        "username": sid,
        "givenName": given,
        "familyName": "Family",
    }


def code(sid, title, absent, excused=False, category=None, fraction=None, school=None):
    return {
        "sourcedId": sid,
        "title": title,
        "absent": absent,
        "excused": excused,
        "category": category,
        "dayFraction": fraction,
        "schoolSourcedId": school,
    }


def event(sid, user_, school, date, code_, cls=None, period=None, **extra):
    return {
        "sourcedId": sid,
        "userSourcedId": user_,
        "schoolSourcedId": school,
        "date": D(date),
        "absenceCode": code_,
        "classSourcedId": cls,
        "period": period,
        **extra,
    }


STUDENTS = [f"u{i}" for i in range(1, 15)]
STUDENT_SCHOOL = {u: "S1" for u in STUDENTS} | {"u4": "S2", "u7": "S2", "u9": "S3"}
SCHOOL_CLASS = {"S1": "C1", "S2": "C2", "S3": "C3"}


def base_enrollments() -> dict[str, dict]:
    rows = {f"e{u[1:]}": enrollment(f"e{u[1:]}", u, SCHOOL_CLASS[s], s) for u, s in STUDENT_SCHOOL.items()}
    rows["e8"] = enrollment("e8", "u8", "C1", "S1", end="2025-09-15")
    rows["e10"] = enrollment("e10", "u10", "C1", "S1", begin="2025-09-15")
    rows["et1"] = enrollment("et1", "t1", "C1", "S1", role="teacher")
    return rows


def build_main_raw(raw: Path) -> None:
    orgs = [
        org("D", "District", "district"),
        org("S1", "School One", "school", "ID-S1", "D"),
        org("S2", "School Two", "school", "ID-S2", "D"),
        org("S3", "School Three", "school", "ID-S3", "D"),
    ]
    sessions = [
        {
            "sourcedId": "SY2026",
            "title": "2025-26",
            "type": "schoolYear",
            "startDate": D("2025-09-01"),
            "endDate": D("2026-06-26"),
            "schoolYear": 2026,
        },
        {
            "sourcedId": "SY2025",
            "title": "2024-25",
            "type": "schoolYear",
            "startDate": D("2024-09-01"),
            "endDate": D("2025-06-26"),
            "schoolYear": 2025,
        },
    ]
    courses = [{"sourcedId": f"CR{i}", "title": f"Course {i}", "orgSourcedId": "D"} for i in (1, 2, 3)]
    classes = [
        {
            "sourcedId": c,
            "title": f"Homeroom {s}",
            "courseSourcedId": f"CR{c[1:]}",
            "classType": "homeroom",
            "schoolSourcedId": s,
            "termSourcedIds": ["SY2026"],
            "periods": ["1"],
        }
        for s, c in SCHOOL_CLASS.items()
    ]
    users = [user(u) for u in STUDENTS] + [user("t1", "teacher")]
    codes = [
        code("code-A", "A", True, category="unexcused_absence"),
        code("code-E", "E", True, excused=True, category="excused_absence"),
        code("code-H", "H", True, category="partial", fraction=0.5),
        code("code-T", "T", False, category="tardy"),
        code("code-P", "P", False, category="present"),
        code("code-X", "X", True, category="unexcused_absence"),
        code("code-X-S2", "X", False, category="present", school="S2"),
    ]
    # D1: bulk everything (attendance covers 2025-09-01..2025-09-05)
    for entity, rows in [
        ("orgs", orgs),
        ("academic_sessions", sessions),
        ("courses", courses),
        ("classes", classes),
        ("users", users),
        ("absence_codes", codes),
        ("enrollments", list(base_enrollments().values())),
    ]:
        write_delivery(raw, entity, D1, "bulk", rows)
    write_delivery(
        raw,
        "attendance",
        D1,
        "bulk",
        [
            event("a1", "u1", "S1", "2025-09-02", "A"),
            event("a1c", "u1", "S1", "2025-09-02", "A", cls="C1", period="1"),
            event("a2", "u2", "S1", "2025-09-03", "code-E"),
            event("a3", "u2", "S1", "2025-09-04", "E"),
            event("a4", "u7", "S2", "2025-09-01", "A"),  # district holiday
            event("a5", "u7", "S2", "2025-09-05", "A"),  # school S2 closure
            event("a6", "u9", "S3", "2025-09-03", "A"),  # unlicensed school
        ],
    )
    # D2: deltas
    write_delivery(raw, "users", D2, "delta", [user("u2", given="Renamed")])
    later = dt.datetime(2025, 9, 18, 8, 0, 0)
    write_delivery(
        raw,
        "enrollments",
        D2,
        "delta",
        [
            enrollment("e10", "u10", "C1", "S1", begin="2025-09-08", dateLastModified=later),
            enrollment("e11", "u11", "C1", "S1", status="tobedeleted"),
            enrollment("e14", "u14", "C1", "S1", begin="2025-09-22", dateLastModified=later, _line=2),
            enrollment("e14", "u14", "C1", "S1", begin="2025-09-01", dateLastModified=TS, _line=3),
        ],
    )
    write_delivery(raw, "absence_codes", D2, "bulk", [])  # empty bulk deletes nothing
    write_delivery(
        raw,
        "attendance",
        D2,
        "delta",
        [
            event("a2", "u2", "S1", "2025-09-03", "P"),  # retroactive correction
            event("a3", "u2", "S1", "2025-09-04", "E", status="tobedeleted"),
            event("a7", "u1", "S1", "2025-09-10", "A"),  # replaced by the D3 bulk (inside its range)
            event("a8", "u7", "S2", "2025-09-06", "A"),  # Saturday
            # S3 is not in the D3 attendance bulk: a school-by-school export keeps it
            event("a9", "u9", "S3", "2025-09-10", "A"),
            # re-sent unchanged by the D3 bulk (keeps that bulk under the mass-deletion threshold)
            event("b1", "u3", "S1", "2025-09-09", "H"),
            event("b2", "u4", "S2", "2025-09-10", "X"),
            event("b3", "u5", "S1", "2025-09-10", "X"),
            event("b4", "u6", "S1", "2025-09-11", "T"),
            event("b6", "u13", "S1", "2025-09-15", "A"),
        ],
    )
    # D3: roster bulk without e11/e12, attendance bulk covering 2025-09-08..2025-09-23
    enr = base_enrollments()
    enr["e10"]["beginDate"] = D("2025-09-08")
    enr["e14"]["beginDate"] = D("2025-09-22")
    del enr["e11"], enr["e12"]
    write_delivery(raw, "enrollments", D3, "bulk", list(enr.values()))
    write_delivery(raw, "users", D3, "bulk", users)
    write_delivery(
        raw,
        "attendance",
        D3,
        "bulk",
        [
            event("b1", "u3", "S1", "2025-09-09", "H"),
            event("b2", "u4", "S2", "2025-09-10", "X"),
            event("b3", "u5", "S1", "2025-09-10", "X"),
            event("b4", "u6", "S1", "2025-09-11", "T"),
            event("b5", "u6", "S1", "2025-09-12", "A", cls="C1", period="2"),
            event("b6", "u13", "S1", "2025-09-15", "A"),
            event("b7", "u13", "S1", "2025-09-16", "A"),
            event("b8", "u8", "S1", "2025-09-08", "A"),
            event("b9", "u14", "S1", "2025-09-23", "E"),
        ],
    )


def build_mass_deletion_raw(raw: Path) -> None:
    write_delivery(
        raw, "orgs", D1, "bulk", [org("D", "District", "district"), org("S1", "School One", "school")]
    )
    write_delivery(raw, "users", D1, "bulk", [user(f"u{i}") for i in range(10)])
    write_delivery(raw, "users", D2, "bulk", [user(f"u{i}") for i in range(5)])  # 50% would be deleted


# ---------------------------------------------------------------------------------------------
# dbt runner
# ---------------------------------------------------------------------------------------------
MAIN_VARS = {
    "customer_id": "testdistrict",
    "school_year": 2026,
    "licensed_schools": ["S1", "ID-S2"],
    "non_instructional_days": ["2025-09-01"],
    "school_non_instructional_days": {"S2": ["2025-09-05"]},
    "chronic_threshold": 0.10,
    "min_enrolled_days": 10,
    "enrollment_end_inclusive": False,
    "mass_deletion_fraction": 0.20,
}


def run_dbt_build(tmp: Path, name: str, raw: Path, **overrides):
    from dbt.cli.main import dbtRunner

    db = tmp / f"{name}.duckdb"
    target = tmp / f"target_{name}"
    variables = {**MAIN_VARS, "raw_root": str(raw), **overrides}
    mp = pytest.MonkeyPatch()
    mp.setenv("KINVOLVED_MARTS_DB", str(db))
    mp.setenv("KINVOLVED_DUCKDB_TEMP_DIR", str(tmp / "duckdb_tmp"))
    mp.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    try:
        result = dbtRunner().invoke(
            [
                "build",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(target),
                "--log-path",
                str(tmp / "logs"),
                "--vars",
                json.dumps(variables),
                "--no-partial-parse",
                "--quiet",
            ]
        )
    finally:
        mp.undo()
        _close_dbt_duckdb()
    return result, db


def _close_dbt_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB instance open in-process after a run; release the file."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def query(db: Path, sql: str):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def failures(result) -> list[tuple[str, str]]:
    out = []
    for r in result.result or []:
        if str(r.status) in ("error", "fail"):
            out.append((r.node.name, str(r.status)))
    return out


@pytest.fixture(scope="module")
def main_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbt_main")
    raw = tmp / "raw"
    build_main_raw(raw)
    result, db = run_dbt_build(tmp, "exclusive", raw)
    assert result.success, failures(result) or result.exception
    result_incl, db_incl = run_dbt_build(tmp, "inclusive", raw, enrollment_end_inclusive=True)
    assert result_incl.success, failures(result_incl) or result_incl.exception
    return {"db": db, "db_inclusive": db_incl}


def daily(db, student):
    return {
        r[0].isoformat(): r[1:]
        for r in query(
            db,
            f"""
        select "date", absent_fraction, is_absent, is_excused, is_tardy, absence_code
        from marts.fct_student_daily_attendance where student_sourced_id = '{student}' order by 1""",
        )
    }


def cumulative(db, student):
    rows = query(
        db,
        f"""select days_enrolled, days_absent, days_present, attendance_rate,
        is_chronically_absent, as_of_date, school_year from marts.msr_student_cumulative_attendance
        where student_sourced_id = '{student}'""",
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_dims_and_licensing(main_build):
    db = main_build["db"]
    schools = {
        r[0]: r[1:]
        for r in query(
            db, "select school_sourced_id, name, is_licensed, district_sourced_id from marts.dim_schools"
        )
    }
    assert schools == {
        "S1": ("School One", True, "D"),
        "S2": ("School Two", True, "D"),
        "S3": ("School Three", False, "D"),
    }
    assert sorted(r[0] for r in query(db, "select class_sourced_id from marts.dim_classes")) == ["C1", "C2"]
    assert query(
        db, "select course_title, term_sourced_ids from marts.dim_classes where class_sourced_id='C1'"
    ) == [("Course 1", ["SY2026"])]
    for table in (
        "fct_enrollments",
        "fct_student_daily_attendance",
        "msr_school_daily_attendance",
        "msr_student_cumulative_attendance",
        "fct_student_class_attendance",
    ):
        assert query(db, f"select count(*) from marts.{table} where school_sourced_id = 'S3'") == [(0,)]
    assert query(
        db, "select count(*) from marts.fct_student_daily_attendance where student_sourced_id='u9'"
    ) == [(0,)]


def test_roster_bulk_delta_and_deletes(main_build):
    db = main_build["db"]
    enr = {
        r[0]: r[1:]
        for r in query(
            db,
            "select enrollment_sourced_id, begin_date, end_date, role, is_primary from marts.fct_enrollments",
        )
    }
    assert "e11" not in enr  # tobedeleted in a delta
    assert "e12" not in enr  # missing from the later bulk
    assert "e9" not in enr  # unlicensed school
    assert enr["e10"][0] == D("2025-09-08")  # delta upsert, kept by the later bulk
    assert enr["e14"][0] == D("2025-09-22")  # tie in one delivery: latest dateLastModified wins
    assert enr["et1"][2:] == ("teacher", True)
    assert enr["e8"][1] == D("2025-09-15")
    assert query(
        db,
        "select count(*) from marts.fct_student_daily_attendance where student_sourced_id in "
        "('u11','u12','t1')",
    ) == [(0,)]
    # empty demographics never delivered: typed empty relation
    assert query(db, "select count(*) from staging.stg_oneroster__demographics") == [(0,)]
    types = dict(
        query(
            db,
            "select column_name, data_type from information_schema.columns where "
            "table_name='stg_oneroster__demographics'",
        )
    )
    assert types["birth_date"] == "DATE" and types["is_asian"] == "BOOLEAN"


def test_calendar_and_enrollment_days(main_build):
    db = main_build["db"]
    s1_days = [
        r[0]
        for r in query(
            db,
            "select calendar_date from intermediate.int_instructional_days__enumerated where "
            "school_sourced_id='S1' order by 1",
        )
    ]
    assert (
        len(s1_days) == 19 and s1_days[0] == D("2025-09-02") and s1_days[-1] == D3
    )  # as-of = last attendance delivery
    assert D("2025-09-05") in s1_days
    s2_days = [
        r[0]
        for r in query(
            db,
            "select calendar_date from intermediate.int_instructional_days__enumerated where "
            "school_sourced_id='S2'",
        )
    ]
    assert len(s2_days) == 18 and D("2025-09-05") not in s2_days
    u7 = daily(db, "u7")
    assert "2025-09-01" not in u7 and "2025-09-05" not in u7 and "2025-09-06" not in u7
    assert cumulative(db, "u7")[:2] == (18, 0)
    assert cumulative(db, "u10")[0] == 15
    assert cumulative(db, "u14")[:2] == (5, 1)
    assert daily(db, "u14")["2025-09-23"] == (1.0, True, True, False, "E")


def test_attendance_current_state(main_build):
    db = main_build["db"]
    u1 = daily(db, "u1")
    assert u1["2025-09-02"] == (1.0, True, False, False, "A")  # outside the later bulk's range: kept
    assert u1["2025-09-10"][0] == 0.0  # inside it and not re-sent: removed
    # the bulk's scope is its date range x the schools it covers: S3 sent nothing in it and keeps a9
    assert query(db, "select attendance_sourced_id from intermediate.int_attendance_events__merged_by_year "
                     "where school_sourced_id = 'S3' order by 1") == [("a6",), ("a9",)]
    u2 = daily(db, "u2")
    assert u2["2025-09-03"] == (0.0, False, False, False, "P")  # retroactive correction
    assert u2["2025-09-04"] == (0.0, False, False, False, None)  # tobedeleted
    assert daily(db, "u3")["2025-09-09"][:2] == (0.5, True)  # half-day code
    assert cumulative(db, "u3")[1:4] == (0.5, 18.5, 18.5 / 19)
    assert daily(db, "u4")["2025-09-10"][:2] == (0.0, False)  # school-specific code wins
    assert daily(db, "u5")["2025-09-10"][:2] == (1.0, True)  # district-wide code
    assert daily(db, "u6")["2025-09-11"] == (0.0, False, False, True, "T")  # tardy is not an absence
    assert daily(db, "u6")["2025-09-12"][:2] == (0.0, False)  # class event does not change daily
    cls = query(
        db,
        """select student_sourced_id, class_sourced_id, "date", period, is_absent, code_category
                       from marts.fct_student_class_attendance order by 1""",
    )
    assert cls == [
        ("u1", "C1", D("2025-09-02"), "1", True, "unexcused_absence"),
        ("u6", "C1", D("2025-09-12"), "2", True, "unexcused_absence"),
    ]
    school = query(
        db,
        """select students_enrolled, students_absent, students_with_absence, attendance_rate
                          from marts.msr_school_daily_attendance where school_sourced_id='S1' and
                              "date"='2025-09-09'""",
    )
    # enrolled S1 on 09-09: u1,u2,u3,u5,u6,u8,u10,u13 (u11/u12 deleted, u14 from 09-22)
    assert school == [(8, 0.5, 1, 7.5 / 8)]


def test_chronic_threshold_and_min_days(main_build):
    db, db_incl = main_build["db"], main_build["db_inclusive"]
    assert cumulative(db, "u13")[:2] == (19, 2) and cumulative(db, "u13")[4] is True  # 2/19 >= 0.10
    assert cumulative(db, "u1")[4] is False  # 1/19
    assert cumulative(db, "u13")[5:] == (D3, 2026)
    # u8 ends 2025-09-15: exclusive -> 9 days (below min_enrolled_days), inclusive -> 10 days, 1/10 chronic
    assert cumulative(db, "u8")[:2] == (9, 1) and cumulative(db, "u8")[4] is False
    assert "2025-09-15" not in daily(db, "u8")
    assert cumulative(db_incl, "u8")[:2] == (10, 1) and cumulative(db_incl, "u8")[4] is True
    assert query(db_incl, "select end_date from marts.fct_enrollments where enrollment_sourced_id='e8'") == [
        (D("2025-09-16"),)
    ]
    # the measure always agrees with the daily fact
    assert query(
        db,
        """select count(*) from marts.msr_student_cumulative_attendance m
        join (select student_sourced_id, school_sourced_id, count(*) n, sum(absent_fraction) a
              from marts.fct_student_daily_attendance group by all) f using (student_sourced_id,
                  school_sourced_id)
        where m.days_enrolled <> f.n or m.days_absent <> f.a""",
    ) == [(0,)]


def test_mass_deletion_guard(tmp_path):
    raw = tmp_path / "raw"
    build_mass_deletion_raw(raw)
    result, db = run_dbt_build(tmp_path, "guard", raw)
    assert not result.success
    assert ("assert_no_mass_deletion", "fail") in failures(result)
    rows = query(
        db,
        "select entity, delivery_date, would_delete, active_before from "
        "intermediate.int_bulk_deliveries__audited",
    )
    assert ("users", D2, 5, 10) in rows
    guard = next(r for r in result.result if r.node.name == "assert_no_mass_deletion")
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute(guard.node.compiled_code)
        assert [d[0] for d in cur.description] == ["entity", "delivery_date", "would_delete", "active_before"]
        assert cur.fetchall() == [("users", D2, 5, 10)]
    # downstream current state is not built when the guard fails
    assert query(
        db, "select count(*) from information_schema.tables where table_name = 'int_users__merged'"
    ) == [(0,)]
    forced, db2 = run_dbt_build(tmp_path, "forced", raw, force_mass_deletion=True)
    assert forced.success, failures(forced) or forced.exception
    assert query(db2, "select count(*) from intermediate.int_users__merged") == [(5,)]


def _declared_marts() -> list[dict]:
    import yaml

    return yaml.safe_load((PROJECT_DIR / "models" / "marts" / "_marts.yml").read_text())["models"]


def test_marts_are_built_as_their_contract_declares(main_build):
    """Every mart's columns, in order, with the declared types; the columns declared not_null are NOT
    NULL in the table (a constraint DuckDB enforces when the mart is written, not a test run after)."""
    for model in _declared_marts():
        assert model["config"]["contract"]["enforced"] is True, model["name"]
        built = query(main_build["db"], "select column_name, data_type, is_nullable "
                      "from information_schema.columns where table_schema = 'marts' "
                      f"and table_name = '{model['name']}' order by ordinal_position")
        declared = [(c["name"], c["data_type"].upper(),
                     "NO" if {"type": "not_null"} in c.get("constraints", []) else "YES")
                    for c in model["columns"]]
        assert built == declared, model["name"]
        assert any(row[2] == "NO" for row in built), model["name"]


def test_a_null_in_a_not_null_mart_column_fails_the_build_naming_the_column(tmp_path):
    raw = tmp_path / "raw"
    build_main_raw(raw)
    # a school whose name is missing in the raw Parquet (ingest rejects such rows; this is what the
    # constraint stands behind): dim_schools.name is declared not null
    write_delivery(raw, "orgs", D3, "delta", [org("S2", None, "school", "ID-S2", "D")])
    result, db = run_dbt_build(tmp_path, "null_name", raw)
    assert not result.success
    assert ("dim_schools", "error") in failures(result)
    error = next(r for r in result.result if r.node.name == "dim_schools")
    assert re.search(r'NOT NULL constraint failed: dim_schools\w*\."name"', str(error.message)), error.message
    # no table of that name is left behind, and its tests do not run on anything
    assert query(db, "select count(*) from information_schema.tables where table_schema = 'marts' "
                 "and table_name = 'dim_schools'") == [(0,)]
    skipped = {r.node.name for r in result.result if str(r.status) == "skipped"}
    assert any(name.startswith("unique_combination_of_columns_dim_schools") for name in skipped), skipped
