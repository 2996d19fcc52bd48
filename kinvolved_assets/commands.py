"""Operator subcommands: demo, ingest, onboard, configs, prepare-dbt."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate the demo district and run the whole pipeline end to end")
    p.add_argument("--customer", default="demo")
    p.add_argument("--days", type=int, default=25,
                   help="calendar days of deliveries to simulate (25: initial bulk, a monthly bulk, 17 deltas)")
    p.add_argument("--fresh", action="store_true",
                   help="start over: wipe the demo customer's folders and the local Dagster instance")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("ingest", help="ingest every new drop in a customer's landing folder, then build marts")
    p.add_argument("customer")
    p.add_argument("--no-marts", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("backfill", help="re-ingest a customer's deliveries over a date range (full pulls, replays)")
    p.add_argument("customer")
    p.add_argument("--from", dest="start", required=True, help="first delivery date, YYYY-MM-DD")
    p.add_argument("--to", dest="end", required=True, help="last delivery date, YYYY-MM-DD")
    p.add_argument("--in-process", action="store_true",
                   help="run the partitions here one by one, then build marts (no daemon needed); default: "
                        "submit a Dagster backfill to the instance's run queue")
    p.add_argument("--one-run", action="store_true",
                   help="ingest the whole range in ONE Dagster run here (the ingest_backlog job: each delivery "
                        "still recorded as its own partition), then build marts; for full-year pulls")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("onboard", help="load a new customer's schools and absence codes from a drop")
    p.add_argument("customer")
    p.add_argument("drop", help="a ZIP or folder of OneRoster+ CSVs")
    p.set_defaults(func=cmd_onboard)

    p = sub.add_parser("configs", help="validate every customer config file")
    p.set_defaults(func=cmd_configs)

    p = sub.add_parser("prepare-dbt", help="parse the dbt project (writes dbt_project/target/manifest.json)")
    p.set_defaults(func=cmd_prepare_dbt)


@contextlib.contextmanager
def quiet_runs(home: Path):
    """Operator commands print a short summary; the runs' console output (Dagster's DEBUG lines and
    dbt's progress) goes to KINVOLVED_HOME/logs/<command>.log instead (the full logs stay in the UI)."""
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / "runs.log"
    os.environ.setdefault("KINVOLVED_LOG_LEVEL", "INFO")
    with open(path, "a", encoding="utf-8") as handle, contextlib.redirect_stdout(handle), \
            contextlib.redirect_stderr(handle):
        yield path


def _tell(line: str) -> None:
    """A line for the operator while the runs' own output goes to the log file."""
    print(line, file=sys.__stderr__, flush=True)


def instance_for(home: Path):
    """A persistent Dagster instance under KINVOLVED_HOME (the UI started with `make ui` shows its runs)."""
    from dagster import DagsterInstance

    from kinvolved_assets.instance_sqlite import install as fewer_instance_fsyncs

    fewer_instance_fsyncs()
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        shutil.copyfile(DAGSTER_YAML, dagster_home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return DagsterInstance.get()


def _home() -> Path:
    from kinvolved_assets.paths import kinvolved_home

    home = kinvolved_home()
    home.mkdir(parents=True, exist_ok=True)
    return home


def cmd_prepare_dbt(args) -> int:
    from kinvolved_assets.defs.dbt_project import prepare_manifest

    path = prepare_manifest(force=True)
    print(f"dbt manifest ready: {path}")
    return 0


def cmd_configs(args) -> int:
    from kinvolved_assets.customers import config_dir, load_customer_configs

    loaded = load_customer_configs()
    for cid, cfg in sorted(loaded.customers.items()):
        print(f"ok     {cid}: {cfg.name} ({cfg.sis}, {cfg.flow}, {cfg.timezone}, {len(cfg.licensed_schools)} licensed schools)")
    for error in loaded.errors:
        print(f"ERROR  {error}")
    print(f"{len(loaded.customers)} valid, {len(loaded.errors)} problems in {config_dir()}")
    return 1 if loaded.errors else 0


def _config_problems(customer_id: str, home: Path) -> str | None:
    """None when the customer has a valid config, else what is wrong with it (one line per problem)."""
    from kinvolved_assets.customers import load_customer_configs

    loaded = load_customer_configs(home=home)
    if customer_id in loaded.customers:
        return None
    problems = [str(e) for e in loaded.errors_of(customer_id)]
    return "\n".join([f"customer {customer_id!r} has no valid config in customer_configs/"
                       + (":" if problems else " (see docs/onboarding.md)")] + problems)


def cmd_ingest(args) -> int:
    from kinvolved_assets.customer_lock import CustomerBusy
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.local_runner import process_landing

    home = _home()
    refused = _config_problems(args.customer, home)
    if refused is not None:
        print(refused, file=sys.stderr)
        return 2
    defs = build_definitions(home=home, settle_seconds=0)
    instance = instance_for(home)
    try:
        with quiet_runs(home) as log:
            report = process_landing(defs, instance, args.customer, build_marts=not args.no_marts,
                                     on_wait=_tell)
    except CustomerBusy as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except Exception as exc:
        from kinvolved_assets.diskspace import disk_full_message, is_disk_full

        if not is_disk_full(exc):
            raise
        print(disk_full_message(home / "warehouse" / args.customer, None, f"ingest {args.customer}"), file=sys.stderr)
        return 1
    print(f"run output: {log}")
    for line in report.sensor_logs if report.ingest_runs else ():
        print(line)
    for line in report.skipped:
        print(f"skipped: {line}")
    by_run = _deliveries_by_run(home, args.customer) if report.ingest_runs else {}
    for date, run_id, ok in report.ingest_runs:
        why = report.failures.get(run_id, "")
        state = "ok     " if ok else "BLOCKED" if " blocked by failed checks" in why else "FAILED "
        print(f"{date}  {state}  run {run_id}" + (f": {why}" if why and state == "FAILED " else "")
              + _date_sources(by_run.get(run_id, [])))
        for delivery in by_run.get(run_id, []):
            if delivery.note and state != "FAILED ":
                print(f"  warning: {delivery.note}")
    if report.marts_run:
        from kinvolved_assets.defs.mart_checks import plausibility_lines

        why = report.failures.get(report.marts_run[0])
        print(f"marts   {'ok' if report.marts_run[1] else 'FAILED'}  run {report.marts_run[0]}"
              + (f": {why}" if why else ""))
        print("\n".join(plausibility_lines(instance, report.marts_run[0])))
    if not report.ingest_runs and not report.marts_run:
        print("no new drops: " + "; ".join(report.sensor_logs))
    failed = any(not ok for _, _, ok in report.ingest_runs) or (report.marts_run and not report.marts_run[1])
    return 1 if failed else 0


def _deliveries_by_run(home: Path, customer_id: str) -> dict[str, list]:
    """The ledger's deliveries by the run that handled them (their date source and notes)."""
    from kinvolved_assets.ledger import Ledger, ledger_file
    from kinvolved_assets.paths import CustomerPaths, check_slug

    paths = CustomerPaths.for_customer(check_slug(customer_id), home)
    if not ledger_file(paths).exists():
        return {}
    with Ledger(paths) as ledger:
        out: dict[str, list] = {}
        for delivery in ledger.deliveries():
            if delivery.run_id:
                out.setdefault(delivery.run_id, []).append(delivery)
    return out


def _date_sources(deliveries: list) -> str:
    """Where each delivery's date came from: its name, or its arrival time (a guess)."""
    from kinvolved_assets.oneroster.findings import printable

    said = [f"{printable(d.file_name)}: date from the {d.date_source}"
            + (" (a guess: no date in the name)" if d.date_source == "arrival" else "") for d in deliveries]
    return f"  ({'; '.join(said)})" if said else ""


def cmd_backfill(args) -> int:
    import json
    import subprocess

    from kinvolved_assets.customers import load_customer_configs
    from kinvolved_assets.defs.keys import CUSTOMER_TAG, INGEST_JOB
    from kinvolved_assets.delivery import delivery_dates_between
    from kinvolved_assets.paths import UnsafePathError

    home = _home()
    customer = load_customer_configs().customers.get(args.customer)
    if customer is None:
        print(f"customer {args.customer!r} has no valid config in customer_configs/", file=sys.stderr)
        return 2
    try:
        dates = delivery_dates_between(customer, home, args.start, args.end)
    except UnsafePathError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not dates:
        print(f"no deliveries of {customer.customer_id} between {args.start} and {args.end}")
        return 0
    keys = [f"{customer.customer_id}|{d}" for d in dates]
    if args.one_run:
        from kinvolved_assets.definitions import build_definitions
        from kinvolved_assets.defs.keys import BACKLOG_OP
        from kinvolved_assets.defs.marts_triggers import ingested_by
        from kinvolved_assets.local_runner import run_backlog, run_marts

        defs = build_definitions(home=home, settle_seconds=0)
        instance = instance_for(home)
        with quiet_runs(home) as log:
            result = run_backlog(defs, instance, customer.customer_id,
                                 run_config={"ops": {BACKLOG_OP: {"config": {"start": args.start,
                                                                             "end": args.end}}}},
                                 tags={"kinvolved/backfill": "cli"})
            # a backlog stopped at a blocked delivery still promoted the ones before it: their marts
            promoted = result.success or ingested_by(str(home), customer.customer_id, {result.run_id})
            marts = run_marts(defs, instance, customer.customer_id) if promoted else None
        print(f"run output: {log}")
        print(f"{dates[0]} .. {dates[-1]} ({len(dates)} deliveries)  {'ok     ' if result.success else 'BLOCKED'}  "
              f"run {result.run_id}")
        if marts is not None:
            print(f"marts   {'ok' if marts.success else 'FAILED'}  run {marts.run_id}")
        return 0 if result.success and marts is not None and marts.success else 1
    if not args.in_process:
        instance_for(home)  # sets DAGSTER_HOME to KINVOLVED_HOME/dagster_home
        cmd = [str(Path(sys.executable).parent / "dagster"), "job", "backfill", "-w",
               str(DAGSTER_YAML.parent / "workspace.yaml"), "-j", INGEST_JOB, "--partitions", ",".join(keys),
               "--tags", json.dumps({CUSTOMER_TAG: customer.customer_id}), "--noprompt"]
        print(f"submitting a backfill of {len(keys)} partitions ({dates[0]} .. {dates[-1]}) to the run queue")
        return subprocess.call(cmd, cwd=DAGSTER_YAML.parent)
    from kinvolved_assets.customer_lock import customer_lock
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.defs.backlog import BacklogConfig, backlog_items
    from kinvolved_assets.defs.partitions import delivery_key
    from kinvolved_assets.local_runner import PID_TAG, run_ingest, run_marts

    defs = build_definitions(home=home, settle_seconds=0)
    instance = instance_for(home)
    failed = 0
    tags = {CUSTOMER_TAG: customer.customer_id, "kinvolved/backfill": "cli", PID_TAG: str(os.getpid())}
    with customer_lock(customer.paths(home), f"`kinvolved backfill` (pid {os.getpid()})", on_wait=_tell):
        # the ledger's accepted deliveries of the range in (date, seq) order, plus dates it does not know
        items = backlog_items(BacklogConfig(start=args.start, end=args.end), customer, customer.paths(home), home)
        for date, _, sha in items:
            config = {"ops": {"oneroster_delivery": {"config": {"sha256": sha}}}} if sha else None
            with quiet_runs(home):
                result = run_ingest(defs, instance, delivery_key(customer.customer_id, date), run_config=config,
                                    tags=tags)
            failed += not result.success
            print(f"{date}  {'ok     ' if result.success else 'BLOCKED'}  run {result.run_id}", flush=True)
        with quiet_runs(home) as log:
            marts = run_marts(defs, instance, customer.customer_id, tags={PID_TAG: str(os.getpid())})
    print(f"run output: {log}")
    print(f"marts   {'ok' if marts.success else 'FAILED'}  run {marts.run_id}")
    return 1 if failed or not marts.success else 0


def cmd_onboard(args) -> int:
    import duckdb

    from kinvolved_assets.customers import load_customer_configs, yaml_string
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.defs.keys import ONBOARD_JOB
    from kinvolved_assets.defs.partitions import delivery_key
    from kinvolved_assets.delivery import find_drops
    from kinvolved_assets.oneroster.findings import printable

    home = _home()
    loaded = load_customer_configs()
    customer = loaded.customers.get(args.customer)
    if customer is None:
        problems = [str(e) for e in loaded.errors if e.file.split(".")[0] == args.customer]
        print(f"customer {args.customer!r} has no valid config in customer_configs/"
              + (": " + "; ".join(problems) if problems else " (see docs/onboarding.md)"), file=sys.stderr)
        return 2
    source = Path(args.drop)
    if not source.exists():
        print(f"drop {source} does not exist", file=sys.stderr)
        return 2
    landing = customer.landing_dir(home)
    landing.mkdir(parents=True, exist_ok=True)
    target = landing / source.name
    if source.resolve() != target.resolve():
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    drop = next((d for d in find_drops(landing, customer.tz) if d.name == target.name), None)
    if drop is None:
        print(f"{source.name} is not a ZIP or a folder of CSV files", file=sys.stderr)
        return 2
    defs = build_definitions(home=home, settle_seconds=0)
    job = defs.resolve_job_def(ONBOARD_JOB)
    with quiet_runs(home):
        result = job.execute_in_process(
            partition_key=delivery_key(customer.customer_id, drop.delivery_date),
            run_config={"ops": {"oneroster_delivery": {"config": {"drop": drop.name}}}},
            instance=instance_for(home), raise_on_error=False,
        )
    if not result.success:
        print(f"onboarding run {result.run_id} failed: run `kinvolved validate {source}` for the findings",
              file=sys.stderr)
        return 1
    paths = customer.paths(home)
    from kinvolved_assets.paths import partition_files

    def latest(entity: str) -> Path | None:   # the onboarded delivery: the latest of its date
        found = [f for day, _, f in partition_files(paths.raw / entity) if day == drop.delivery_date]
        return found[-1] if found else None

    con = duckdb.connect()
    schools = con.execute(
        "select sourcedId, coalesce(identifier, ''), name, type from read_parquet(?) "
        "where status is distinct from 'tobedeleted' and type in ('school', 'district') order by type, sourcedId",
        [str(latest("orgs"))],
    ).fetchall()
    codes_file = latest("absence_codes")
    codes = con.execute(
        "select title, sourcedId, absent, excused, coalesce(schoolSourcedId, '(district)'), "
        "coalesce(category, ''), coalesce(dayFraction, case when absent then 1 else 0 end) "
        "from read_parquet(?) order by title, sourcedId", [str(codes_file)],
    ).fetchall() if codes_file is not None else []
    print(f"Onboarding {customer.customer_id} from {source.name} (delivery {drop.delivery_date})\n")
    for title, kinds in (("Schools found", ("school",)), ("District (not a school, never licensed)", ("district",))):
        rows = [s for s in schools if s[3] in kinds]
        print(f"{title} ({len(rows)}):")
        print(f"  {'sourcedId':<24} {'identifier':<14} {'type':<9} name")
        for sid, ident, name, kind in rows:
            print(printable(f"  {sid:<24} {ident:<14} {kind:<9} {name}"))
    print(f"\nAbsence codes ({len(codes)}):")
    print(f"  {'code':<8} {'sourcedId':<20} {'absent':<7} {'excused':<8} {'fraction':<9} {'category':<18} school")
    for title, sid, absent, excused, school, category, fraction in codes:
        print(f"  {title:<8} {sid:<20} {str(absent).lower():<7} {str(excused).lower():<8} {fraction:<9} {category:<18} {school}")
    print("\n" + _school_year_line(target, customer))
    print(f"\nPaste into customer_configs/{customer.customer_id}.yaml (remove the schools that are not licensed):")
    print("licensed_schools:")
    for sid, ident, name, kind in schools:
        if kind == "school":
            print(printable(f"  - {yaml_string(sid)}  # {ident} {name}".rstrip()))
    return 0


def _school_year_line(drop_path: Path, customer) -> str:
    """The configured school year resolved by the drop's academic sessions (docs/oneroster-plus.md)."""
    import tempfile

    from kinvolved_assets.oneroster.drop import open_drop, school_year_findings

    with open_drop(drop_path) as drop, tempfile.TemporaryDirectory(prefix="kv-onboard-") as tmp:
        if "academic_sessions" not in drop.files:
            return f"School year {customer.school_year}: the drop has no academicSessions.csv to check it against."
        results = {"academic_sessions": drop.load("academic_sessions", Path(tmp), "2000-01-01")}
        found = school_year_findings(results, customer)
    if not found:
        return f"School year {customer.school_year}: matches the drop's schoolYear session."
    f = found[0]
    return f"School year {customer.school_year}: {f.severity.upper()} {f.rule}: {f.message}"


def cmd_demo(args) -> int:
    from kinvolved_assets.customers import load_customer_configs
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.generator import generate
    from kinvolved_assets.generator.calendar import build_calendar
    from kinvolved_assets.local_runner import process_landing
    from kinvolved_assets.marts_reader import mart_counts, open_marts

    started = time.perf_counter()
    home = _home()
    loaded = load_customer_configs()
    customer = loaded.customers.get(args.customer)
    if customer is None:
        print(f"customer {args.customer!r} has no valid config in customer_configs/", file=sys.stderr)
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
    print(f"      {len(gen.drops)} deliveries written to {landing}")
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
             f" ({len(gen.drops)} already ingested before)" if not report.ingest_runs else ""))
    if not paths.marts_db.exists():
        print("no marts were published; see the run logs (make ui)", file=sys.stderr)
        return 1
    print(f"[4/4] summary of {paths.marts_db}")
    for table, count in mart_counts(paths.marts_db).items():
        print(f"      marts.{table:<36} {count:>9,} rows")
    con = open_marts(paths.marts_db)
    rate, chronic, students, as_of = con.execute(
        "select sum(days_present) / nullif(sum(days_enrolled), 0), count(*) filter (where is_chronically_absent), "
        "count(distinct student_sourced_id), max(as_of_date) from msr_student_cumulative_attendance "
        "where school_year = (select max(school_year) from msr_student_cumulative_attendance)"   # the current year
    ).fetchone()
    print(f"      as of {as_of}: attendance rate {rate:.2%}, {chronic} of {students} students chronically absent")
    if report.marts_run:
        from kinvolved_assets.defs.mart_checks import plausibility_lines

        print("      plausibility checks of the marts:")
        print("\n".join(plausibility_lines(instance, report.marts_run[0])))
    from kinvolved_assets.report import report_root, write_attendance_report

    written = write_attendance_report(paths.marts_db, report_root(paths), customer.customer_id, None,
                                      customer.attendance.chronic_threshold, customer.attendance.min_enrolled_days)
    print(f"      district attendance report: {written.html_path}")
    from kinvolved_assets.report.serve import report_url

    print(f"      in the UI: asset reports/attendance, link report_url ({report_url(written.html_path)} "
          "while make ui runs)")
    print(f"done in {time.perf_counter() - started:.1f}s. Explore it: make ui (http://127.0.0.1:3000)")
    failed = any(not s for *_, s in report.ingest_runs) or (report.marts_run is not None and not report.marts_run[1])
    return 1 if failed else 0
