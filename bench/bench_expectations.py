"""Expectation suites speed and memory.

    python bench/bench_expectations.py attendance --rows 1000000 --engine gx     # one staged attendance file
    python bench/bench_expectations.py delivery --students 250000                # reader ingest vs validation

``attendance``: writes a typed attendance Parquet like the reader's (once, kept in --dir), then runs
the attendance suite on it with the chosen engine and prints seconds, rows/s and peak RSS of the
process (run one engine per process to read its own peak).

``delivery``: generates a district of --students students (roster + one day of attendance, one row
per student) as CSV, loads every file with the reader (``DeliveryFiles.load``, the ingest work) and then runs
every entity's suite (``expectations_validator()``, default engine) on the staged files; prints both
times and validation / ingest (target < 0.30).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinvolved_assets.checks import DeliveryContext  # noqa: E402
from kinvolved_assets.customers import CustomerConfig  # noqa: E402
from kinvolved_assets.expectations.rules import Params  # noqa: E402
from kinvolved_assets.expectations.validator import evaluate_entity, expectations_validator  # noqa: E402
from kinvolved_assets.oneroster.delivery_files import DeliveryLimits, open_delivery  # noqa: E402
from kinvolved_assets.oneroster.load import LoadResult  # noqa: E402
from kinvolved_assets.paths import CustomerPaths  # noqa: E402

DATE = "2025-10-15"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def attendance_parquet(path: Path, rows: int, threads: int) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"""
        COPY (
            SELECT 'att-' || i AS sourcedId, 'active' AS status, TIMESTAMP '2025-10-01 12:00:00' AS
                dateLastModified,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE 'cls-' || (i % 5000) END AS classSourcedId,
                   'sch-' || (i % 40) AS schoolSourcedId, 'stu-' || (i % 250000) AS userSourcedId,
                   DATE '2025-09-01' + CAST(i % 40 AS INTEGER) AS date,
                   CASE i % 4 WHEN 0 THEN 'AE' WHEN 1 THEN 'AU' WHEN 2 THEN 'T' ELSE 'ED' END AS absenceCode,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE CAST(1 + i % 8 AS VARCHAR) END AS period,
                   CASE WHEN i % 4 = 2 THEN 12.0 ELSE NULL END AS minutesAbsent,
                   CASE WHEN i % 50 = 0 THEN 'called, parent notified' ELSE NULL END AS comment,
                   CAST(i + 2 AS BIGINT) AS _line, DATE '{DATE}' AS _delivery_date, 'delta' AS _mode,
                   'attendance.csv' AS _file
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet)""")
    con.close()


def bench_attendance(args) -> dict:
    path = args.dir / f"attendance-{args.rows}.parquet"
    attendance_parquet(path, args.rows, args.threads)
    res = LoadResult(entity="attendance", file_name="attendance.csv", mode="delta", rows=args.rows,
                     parquet_path=path)
    params = Params(school_year=2026, delivery_date=dt.date.fromisoformat(DATE))
    rss0 = peak_rss_mib()
    t0 = time.perf_counter()
    check = evaluate_entity("attendance", res, {"attendance": res}, params, raw_root=None, delivery_date=None,
                            engine=args.engine, gx_max_rows=args.rows + 1, chunk_rows=args.chunk_rows)
    seconds = time.perf_counter() - t0
    return {"bench": "attendance", "rows": args.rows, "engine": args.engine, "chunk_rows": args.chunk_rows,
            "seconds": round(seconds, 2), "rows_per_s": round(args.rows / seconds),
            "passed": check.passed, "evaluated": check.metadata["expectations_evaluated"],
            "peak_rss_mib_before": round(rss0), "peak_rss_mib": round(peak_rss_mib())}


def district_csvs(folder: Path, students: int, threads: int) -> None:
    if (folder / "attendance.csv").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    schools = max(1, students // 800)
    teachers = max(1, students // 20)
    classes = max(1, students // 25)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    stamp = "'2025-10-01T12:00:00Z'"

    def copy(name: str, sql: str) -> None:
        con.execute(f"COPY ({sql}) TO '{folder / name}' (HEADER, DELIMITER ',')")

    copy("orgs.csv",
         f"""SELECT 'org-d' AS sourcedId, 'active' AS status, {stamp} AS dateLastModified, 'District' AS name,
        'district' AS type, 'D1' AS identifier, NULL AS parentSourcedId
        UNION ALL SELECT 'org-s' || i, 'active', {stamp}, 'School ' || i, 'school', 'S' || i, 'org-d' FROM
            range({schools}) t(i)""")
    copy("academicSessions.csv",
         f"""SELECT 'ses-sy' AS sourcedId, 'active' AS status, {stamp} AS dateLastModified,
        'SY 2025-26' AS title, 'schoolYear' AS type, '2025-08-25' AS startDate, '2026-06-15' AS endDate,
        NULL AS parentSourcedId, '2026' AS schoolYear""")
    copy("courses.csv", f"""SELECT 'crs-' || i AS sourcedId, 'active' AS status, {stamp} AS dateLastModified,
        'ses-sy' AS schoolYearSourcedId, 'Course ' || i AS title, 'C' || i AS courseCode, '01' AS grades,
        'org-s' || (i % {schools}) AS orgSourcedId, 'Math' AS subjects, NULL AS subjectCodes FROM
            range({schools * 10}) t(i)""")
    copy("classes.csv", f"""SELECT 'cls-' || i AS sourcedId, 'active' AS status, {stamp} AS dateLastModified,
        'Class ' || i AS title, '01' AS grades, 'crs-' || (i % {schools * 10}) AS courseSourcedId, NULL AS
            classCode,
        'scheduled' AS classType, NULL AS location, 'org-s' || ((i % {schools * 10}) % {schools}) AS
            schoolSourcedId,
        'ses-sy' AS termSourcedIds, NULL AS subjects, NULL AS subjectCodes, '1' AS periods FROM
            range({classes}) t(i)""")
    copy("users.csv",
         f"""SELECT 'stu-' || i AS sourcedId, 'active' AS status, {stamp} AS dateLastModified,
        'true' AS enabledUser,
        'org-s' || (i % {schools}) AS orgSourcedIds, 'student' AS role, 'user' || i AS username, NULL AS
            userIds,
        'Given' || i AS givenName, 'Family' || i AS familyName, NULL AS middleName, 'ID' || i AS identifier,
        'u' || i || '@example.org' AS email, NULL AS sms, NULL AS phone, NULL AS agentSourcedIds, '01' AS
            grades,
        NULL AS password FROM range({students}) t(i)
        UNION ALL SELECT 'tch-' || i, 'active', {stamp}, 'true', 'org-s' || (i % {schools}), 'teacher',
            'teacher' || i,
        NULL, 'T' || i, 'Teacher', NULL, 'T' || i, NULL, NULL, NULL, NULL, NULL, NULL FROM range({teachers})
            t(i)""")
    copy("enrollments.csv",
         f"""SELECT 'enr-' || s || '-' || k AS sourcedId, 'active' AS status, {stamp} AS dateLastModified,
        'cls-' || ((s * 7 + k) % {classes}) AS classSourcedId, 'org-s' || (((s * 7 + k) % {classes} %
            {schools * 10}) % {schools}) AS schoolSourcedId,
        'stu-' || s AS userSourcedId, 'student' AS role, 'false' AS "primary", '2025-08-25' AS beginDate,
        '2026-06-15' AS endDate FROM range({students}) a(s), range(6) b(k)""")
    copy("absenceCodes.csv",
         f"""SELECT * FROM (VALUES
        ('ac-ae','active',{stamp},'AE','true','true','Excused',NULL,'excused_absence','1'),
        ('ac-au','active',{stamp},'AU','true','false','Unexcused',NULL,'unexcused_absence','1'),
        ('ac-t','active',{stamp},'T','false','false','Tardy',NULL,'tardy','0'),
        ('ac-p','active',{stamp},'P','false','false','Present',NULL,'present','0'))
        t(sourcedId,status,dateLastModified,title,absent,excused,description,schoolSourcedId,category,dayFraction)""")
    copy("attendance.csv",
         f"""SELECT 'att-{DATE}-' || i AS sourcedId, 'active' AS status, {stamp} AS dateLastModified,
        NULL AS classSourcedId, 'org-s' || (i % {schools}) AS schoolSourcedId, 'stu-' || i AS userSourcedId,
        '{DATE}' AS date, CASE WHEN i % 10 = 0 THEN 'AU' ELSE 'P' END AS absenceCode, NULL AS period,
        NULL AS minutesAbsent, NULL AS comment FROM range({students}) t(i)""")
    (folder / "manifest.csv").write_text("propertyName,value\noneroster.version,1.1\nfile.attendance,delta\n")
    con.close()


def bench_delivery(args) -> dict:
    folder = args.dir / f"district-{args.students}"
    district_csvs(folder, args.students, args.threads)
    home = args.dir / "home"
    shutil.rmtree(home, ignore_errors=True)
    paths = CustomerPaths.for_customer("bench", home)
    staging = paths.warehouse / "staging" / "bench"
    customer = CustomerConfig(customer_id="bench", name="Bench", sis="other", timezone="America/New_York",
                              products=["attendance"], school_year=2026)
    results = {}
    t0 = time.perf_counter()
    with open_delivery(folder, DeliveryLimits()) as delivery:
        for name in delivery.files:
            results[name] = delivery.load(name, staging, DATE)
    ingest = time.perf_counter() - t0
    ctx = DeliveryContext(customer, paths, DATE, staging, results, "bench")
    validator = expectations_validator()
    per_entity = {}
    t1 = time.perf_counter()
    for name, res in results.items():
        t = time.perf_counter()
        (check,) = validator(name, res, ctx)
        per_entity[name] = {"rows": res.rows, "seconds": round(time.perf_counter() - t, 2),
                            "engine": check.metadata["row_rules_engine"], "passed": check.passed,
                            "failed": [r["rule"] for r in check.metadata["results"] if not r["success"]]}
    validation = time.perf_counter() - t1
    return {"bench": "delivery", "students": args.students, "rows": sum(r.rows for r in results.values()),
            "ingest_seconds": round(ingest, 2), "validation_seconds": round(validation, 2),
            "ratio": round(validation / ingest, 3), "entities": per_entity,
            "peak_rss_mib": round(peak_rss_mib())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["attendance", "delivery"])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--students", type=int, default=250_000)
    ap.add_argument("--engine", choices=["gx", "duckdb", "auto"], default="gx")
    ap.add_argument("--chunk-rows", type=int, default=2_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/kv-bench-expectations"))
    args = ap.parse_args(argv)
    out = bench_attendance(args) if args.what == "attendance" else bench_delivery(args)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
