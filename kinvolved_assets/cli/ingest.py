"""``kinvolved ingest CUSTOMER``: every new delivery in the customer's landing folder, then marts; one
line per delivery (state, run, where its date came from) and the marts' plausibility checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .runs import home_dir, instance_for, quiet_runs, tell


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest",
                       help="ingest every new delivery in a customer's landing folder, then build marts")
    p.add_argument("customer")
    p.add_argument("--no-marts", action="store_true")
    p.add_argument("--full-refresh", action="store_true",
                   help="rebuild the marts from nothing, whatever the build plan says (and even when no "
                        "delivery is new)")
    p.set_defaults(func=cmd_ingest)


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
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.delivery.lock import CustomerBusy
    from kinvolved_assets.local_runner import process_landing

    home = home_dir()
    refused = _config_problems(args.customer, home)
    if refused is not None:
        print(refused, file=sys.stderr)
        return 2
    defs = build_definitions(home=home, settle_seconds=0)
    instance = instance_for(home)
    try:
        with quiet_runs(home) as log:
            report = process_landing(defs, instance, args.customer, build_marts=not args.no_marts,
                                     on_wait=tell, full_refresh=args.full_refresh)
    except CustomerBusy as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except Exception as exc:
        from kinvolved_assets.diskspace import disk_full_message, is_disk_full

        if not is_disk_full(exc):
            raise
        print(disk_full_message(home / "warehouse" / args.customer, None, f"ingest {args.customer}"),
              file=sys.stderr)
        return 1
    print(f"run output: {log}")
    _print_report(report, instance, home, args.customer)
    failed = any(not ok for _, _, ok in report.ingest_runs) or (report.marts_run and not report.marts_run[1])
    return 1 if failed else 0


def _print_report(report, instance, home: Path, customer_id: str) -> None:
    """The sensor's words, one line per ingest run (and its deliveries' warnings), the marts run."""
    for line in report.sensor_logs if report.ingest_runs else ():
        print(line)
    for line in report.skipped:
        print(f"skipped: {line}")
    by_run = _deliveries_by_run(home, customer_id) if report.ingest_runs else {}
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
        print("no new deliveries: " + "; ".join(report.sensor_logs))


def _deliveries_by_run(home: Path, customer_id: str) -> dict[str, list]:
    """The ledger's deliveries by the run that handled them (their date source and notes)."""
    from kinvolved_assets.delivery.ledger import Ledger, ledger_file
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
