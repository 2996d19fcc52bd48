"""``kinvolved backfill CUSTOMER --from D --to D``: re-ingest a customer's deliveries over a date range,
in one of three ways: submitted as a Dagster backfill to the instance's run queue (default), run here
partition by partition (``--in-process``), or as ONE ``ingest_backlog`` run here (``--one-run``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .runs import DAGSTER_YAML, home_dir, instance_for, no_config, quiet_runs, tell


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backfill",
                       help="re-ingest a customer's deliveries over a date range (full pulls, replays)")
    p.add_argument("customer")
    p.add_argument("--from", dest="start", required=True, help="first delivery date, YYYY-MM-DD")
    p.add_argument("--to", dest="end", required=True, help="last delivery date, YYYY-MM-DD")
    p.add_argument("--in-process", action="store_true",
                   help="run the partitions here one by one, then build marts (no daemon needed); default: "
                        "submit a Dagster backfill to the instance's run queue")
    p.add_argument("--one-run", action="store_true",
                   help="ingest the whole range in ONE Dagster run here (the ingest_backlog job: each "
                        "delivery "
                        "still recorded as its own partition), then build marts; for full-year pulls")
    p.set_defaults(func=cmd_backfill)


def cmd_backfill(args) -> int:
    from kinvolved_assets.customers import load_customer_configs
    from kinvolved_assets.delivery.landing import delivery_dates_between
    from kinvolved_assets.paths import UnsafePathError

    home = home_dir()
    customer = load_customer_configs().customers.get(args.customer)
    if customer is None:
        no_config(args.customer)
        return 2
    try:
        dates = delivery_dates_between(customer, home, args.start, args.end)
    except UnsafePathError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not dates:
        print(f"no deliveries of {customer.customer_id} between {args.start} and {args.end}")
        return 0
    if args.one_run:
        return backfill_one_run(customer, home, args.start, args.end, dates)
    if not args.in_process:
        return backfill_queued(customer, home, dates)
    return backfill_in_process(customer, home, args.start, args.end)


def backfill_one_run(customer, home: Path, start: str, end: str, dates: list[str]) -> int:
    """The whole range in ONE ``ingest_backlog`` run here, then marts."""
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.defs.keys import BACKLOG_OP
    from kinvolved_assets.defs.marts_triggers import ingested_by
    from kinvolved_assets.local_runner import run_backlog, run_marts

    defs = build_definitions(home=home, settle_seconds=0)
    instance = instance_for(home)
    with quiet_runs(home) as log:
        result = run_backlog(defs, instance, customer.customer_id,
                             run_config={"ops": {BACKLOG_OP: {"config": {"start": start, "end": end}}}},
                             tags={"kinvolved/backfill": "cli"})
        # a backlog stopped at a blocked delivery still promoted the ones before it: their marts
        promoted = result.success or ingested_by(str(home), customer.customer_id, {result.run_id})
        marts = run_marts(defs, instance, customer.customer_id) if promoted else None
    print(f"run output: {log}")
    print(f"{dates[0]} .. {dates[-1]} ({len(dates)} deliveries)  "
          f"{'ok     ' if result.success else 'BLOCKED'}  "
          f"run {result.run_id}")
    if marts is not None:
        print(f"marts   {'ok' if marts.success else 'FAILED'}  run {marts.run_id}")
    return 0 if result.success and marts is not None and marts.success else 1


def backfill_queued(customer, home: Path, dates: list[str]) -> int:
    """A Dagster backfill of the range's partitions, submitted to the instance's run queue."""
    import json
    import subprocess

    from kinvolved_assets.defs.keys import CUSTOMER_TAG, INGEST_JOB

    keys = [f"{customer.customer_id}|{d}" for d in dates]
    instance_for(home)  # sets DAGSTER_HOME to KINVOLVED_HOME/dagster_home
    cmd = [str(Path(sys.executable).parent / "dagster"), "job", "backfill", "-w",
           str(DAGSTER_YAML.parent / "workspace.yaml"), "-j", INGEST_JOB, "--partitions", ",".join(keys),
           "--tags", json.dumps({CUSTOMER_TAG: customer.customer_id}), "--noprompt"]
    print(f"submitting a backfill of {len(keys)} partitions ({dates[0]} .. {dates[-1]}) to the run queue")
    return subprocess.call(cmd, cwd=DAGSTER_YAML.parent)


def backfill_in_process(customer, home: Path, start: str, end: str) -> int:
    """The range's partitions run here one by one under the customer's lock, then marts."""
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.defs.backlog import BacklogConfig, backlog_items
    from kinvolved_assets.defs.keys import CUSTOMER_TAG
    from kinvolved_assets.defs.partitions import delivery_key
    from kinvolved_assets.delivery.lock import customer_lock
    from kinvolved_assets.local_runner import PID_TAG, run_ingest, run_marts

    defs = build_definitions(home=home, settle_seconds=0)
    instance = instance_for(home)
    failed = 0
    tags = {CUSTOMER_TAG: customer.customer_id, "kinvolved/backfill": "cli", PID_TAG: str(os.getpid())}
    with customer_lock(customer.paths(home), f"`kinvolved backfill` (pid {os.getpid()})", on_wait=tell):
        # the ledger's accepted deliveries of the range in (date, seq) order, plus dates it does not know
        items = backlog_items(BacklogConfig(start=start, end=end), customer, customer.paths(home), home)
        for date, _, sha in items:
            config = {"ops": {"oneroster_delivery": {"config": {"sha256": sha}}}} if sha else None
            with quiet_runs(home):
                result = run_ingest(defs, instance, delivery_key(customer.customer_id, date),
                                    run_config=config,
                                    tags=tags)
            failed += not result.success
            print(f"{date}  {'ok     ' if result.success else 'BLOCKED'}  run {result.run_id}", flush=True)
        with quiet_runs(home) as log:
            marts = run_marts(defs, instance, customer.customer_id, tags={PID_TAG: str(os.getpid())})
    print(f"run output: {log}")
    print(f"marts   {'ok' if marts.success else 'FAILED'}  run {marts.run_id}")
    return 1 if failed or not marts.success else 0
