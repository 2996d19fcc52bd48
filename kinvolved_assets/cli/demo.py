"""``kinvolved demo``: generate the demo district and run the whole pipeline end to end (sensor tick,
one ingest run per delivery, marts, plausibility checks, the district attendance report)."""

from __future__ import annotations

import argparse
import shutil
import sys
import time

from .runs import home_dir, instance_for, no_config, quiet_runs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate the demo district and run the whole pipeline end to end")
    p.add_argument("--customer", default="demo")
    p.add_argument("--days", type=int, default=25,
                   help="calendar days of deliveries to simulate (25: initial bulk, a monthly bulk, 17 "
                        "deltas)")
    p.add_argument("--fresh", action="store_true",
                   help="start over: wipe the demo customer's folders and the local Dagster instance")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from kinvolved_assets.customers import load_customer_configs
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.generator.calendar import build_calendar
    from kinvolved_assets.generator.generate import generate
    from kinvolved_assets.local_runner import process_landing

    started = time.perf_counter()
    home = home_dir()
    loaded = load_customer_configs()
    customer = loaded.customers.get(args.customer)
    if customer is None:
        no_config(args.customer)
        return 2
    paths = customer.paths(home)
    if args.fresh:  # the demo customer's sandbox only; a real customer's archive is never deleted
        for folder in (paths.landing, paths.archive, paths.warehouse, home / "dagster_home"):
            shutil.rmtree(folder, ignore_errors=True)
    landing = customer.landing_dir(home)
    landing.mkdir(parents=True, exist_ok=True)
    start = build_calendar(customer.school_year).start
    print(f"[1/4] generating the {customer.customer_id} district: tiny scale, {args.days} days from {start}")
    gen = generate(customer.customer_id, "tiny", 7, start, args.days, landing, fmt="zip",
                   truth=home / "truth" / customer.customer_id)
    print(f"      {len(gen.deliveries)} deliveries written to {landing}")
    print("[2/4] loading Dagster definitions (dbt manifest, sensors, assets)")
    defs = build_definitions(home=home, settle_seconds=0)
    instance = instance_for(home)
    print("[3/4] sensor tick → one ingest run per new delivery → marts build"
          f" (run output: {home / 'logs' / 'runs.log'})", flush=True)
    with quiet_runs(home):
        report = process_landing(defs, instance, customer.customer_id)
    ok = sum(1 for *_, success in report.ingest_runs if success)
    print(f"      {ok}/{len(report.ingest_runs)} new deliveries ingested"
          + (f"; marts run {'succeeded' if report.marts_run[1] else 'FAILED'}" if report.marts_run else
             f" ({len(gen.deliveries)} already ingested before)" if not report.ingest_runs else ""))
    if not paths.marts_db.exists():
        print("no marts were published; see the run logs (make ui)", file=sys.stderr)
        return 1
    _print_summary(paths, customer, instance, report)
    print(f"done in {time.perf_counter() - started:.1f}s. Explore it: make ui (http://127.0.0.1:3000)")
    failed = any(not s for *_,
                 s in report.ingest_runs) or (report.marts_run is not None and not report.marts_run[1])
    return 1 if failed else 0


def _print_summary(paths, customer, instance, report) -> None:
    """The published marts' row counts and headline figures, plausibility checks, the district report."""
    from kinvolved_assets.marts.reader import mart_counts, open_marts

    print(f"[4/4] summary of {paths.marts_db}")
    for table, count in mart_counts(paths.marts_db).items():
        print(f"      marts.{table:<36} {count:>9,} rows")
    con = open_marts(paths.marts_db)
    rate, chronic, students, as_of = con.execute(
        "select sum(days_present) / nullif(sum(days_enrolled), 0), count(*) filter (where "
        "is_chronically_absent), "
        "count(distinct student_sourced_id), max(as_of_date) from msr_student_cumulative_attendance "
        "where school_year = (select max(school_year) from "
        "msr_student_cumulative_attendance)"   # the current year
    ).fetchone()
    print(f"      as of {as_of}: attendance rate {rate:.2%}, {chronic} of {students} students chronically "
          "absent")
    if report.marts_run:
        from kinvolved_assets.defs.mart_checks import plausibility_lines

        print("      plausibility checks of the marts:")
        print("\n".join(plausibility_lines(instance, report.marts_run[0])))
    from kinvolved_assets.report import report_root, write_attendance_report

    written = write_attendance_report(paths.marts_db, report_root(paths), customer.customer_id, None,
                                      customer.attendance.chronic_threshold,
                                      customer.attendance.min_enrolled_days)
    print(f"      district attendance report: {written.html_path}")
    from kinvolved_assets.report.serve import report_url

    print(f"      in the UI: asset reports/attendance, link report_url ({report_url(written.html_path)} "
          "while make ui runs)")
