"""File-arrival sensors (one per customer); the marts triggers are in ``marts_triggers``."""

from __future__ import annotations

import hashlib
import json
import time

from dagster import (
    DagsterRunStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from kinvolved_assets.customers import load_customer_configs
from kinvolved_assets.defs.keys import BACKLOG_JOB, BACKLOG_OP, CUSTOMER_TAG, INGEST_JOB
from kinvolved_assets.defs.marts_triggers import (  # noqa: F401 - re-exported: the marts triggers
    PID_TAG,  # in-process runs: the process running them (a dead one's runs are failed)
    backfill_waiting,
    build_failed_run_trigger,
    build_marts_trigger,
)
from kinvolved_assets.defs.partitions import DATE_DIM, date_start, delivery_key
from kinvolved_assets.delivery import landing_scan
from kinvolved_assets.delivery.landing_scan import STARTING_GRACE_SECONDS, interrupted_run_ids
from kinvolved_assets.delivery.ledger import Ledger, pid_alive
from kinvolved_assets.delivery.lock import is_locked

DEFAULT_SETTLE_SECONDS = 60
DELIVERY_SHA_TAG = "kinvolved/delivery_sha256"
DELIVERY_FILE_TAG = "kinvolved/delivery_file"
# runs requested before "delivery" was the one word for what a district sends carry the sha256 under
# this tag: a queued or running one is still found by it
DELIVERY_SHA_TAG_BEFORE_RENAME = "kinvolved/drop_sha256"
# the last tick's log lines per customer, for in-process callers (`kinvolved ingest` prints them)
LAST_TICK_LOGS: dict[str, list[str]] = {}


def evaluate_landing(customer, landing, cursor: dict, settle_seconds: float, **options):
    """``landing_scan.evaluate_landing`` with each request's Dagster partition key attached."""
    requests, logs, new_cursor = landing_scan.evaluate_landing(customer, landing, cursor, settle_seconds,
                                                               **options)
    return _keyed(requests), logs, new_cursor


def _keyed(requests: list[dict]) -> list[dict]:
    return [{**r, "partition_key": delivery_key(r["customer_id"], r["delivery_date"])} for r in requests]


def active_runs(instance, paths):
    """``is_active(delivery)``: a Dagster run for the delivery is queued, starting, or running (holding
    or about to take the customer's writer lock). A run left STARTED by a dead process is not."""
    def is_active(delivery) -> bool:
        waiting = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING]
        mine = [RunsFilter(tags={DELIVERY_SHA_TAG: delivery.sha256}),
                RunsFilter(tags={DELIVERY_SHA_TAG_BEFORE_RENAME: delivery.sha256}),
                RunsFilter(job_name=BACKLOG_JOB, tags={CUSTOMER_TAG: paths.customer_id})]
        started = []
        for runs in mine:
            if instance.get_run_ids(filters=RunsFilter(job_name=runs.job_name, tags=runs.tags,
                                                       statuses=waiting),
                                    limit=1):
                return True
            started += instance.get_run_records(filters=RunsFilter(job_name=runs.job_name, tags=runs.tags,
                                                                   statuses=[DagsterRunStatus.STARTED]),
                                                limit=5)
        for record in started:
            began = record.start_time or record.create_timestamp.timestamp()
            if time.time() - began < STARTING_GRACE_SECONDS or is_locked(paths):
                return True
        return False

    return is_active


def fail_dead_runs(instance, paths, interrupted: set[str] | None = None) -> list[str]:
    """Runs of the customer left STARTED by a process that is gone are marked failed, so the UI and the
    next tick stop waiting for them: in-process runs carry their pid (``kinvolved/pid``); a daemon run
    is dead when the ledger found its delivery interrupted (its pid gone; ``interrupted``: those run
    ids, read from the ledger when not given)."""
    if interrupted is None:
        with Ledger(paths) as ledger:
            interrupted = interrupted_run_ids(ledger)
    failed = []
    records = instance.get_run_records(filters=RunsFilter(tags={CUSTOMER_TAG: paths.customer_id},
                                                          statuses=[DagsterRunStatus.STARTED]), limit=100)
    for record in records:
        run = record.dagster_run
        pid = run.tags.get(PID_TAG, "")
        dead = (pid.isdigit() and not pid_alive(int(pid))) or (not pid and run.run_id in interrupted)
        if dead:
            instance.report_run_failed(run, message="the process running it "
                                       f"({'pid ' + pid if pid else 'a run worker'}) "
                                       "stopped before the run finished")
            failed.append(run.run_id)
    return failed


def backlog_request(customer_id: str, requests: list[dict]) -> RunRequest:
    """One backlog run for many new deliveries of a customer (dates in order, each with its delivery)."""
    ordered = sorted(requests, key=lambda r: r["partition_key"].keys_by_dimension[DATE_DIM])
    dates = [r["partition_key"].keys_by_dimension[DATE_DIM] for r in ordered]
    digest = hashlib.sha256("\n".join(r["run_key"] for r in ordered).encode()).hexdigest()
    return RunRequest(
        job_name=BACKLOG_JOB,
        run_key=f"{customer_id}:backlog:{digest}",
        partition_key=customer_id,
        run_config={"ops": {BACKLOG_OP: {"config": {"dates": dates,
                                                    "delivery_files": [r["delivery"] for r in ordered],
                                                     "deliveries": [r["sha"] for r in ordered],
                                                     "only_new": True}}}},
        tags={CUSTOMER_TAG: customer_id, "kinvolved/backlog_deliveries": str(len(dates)),
              "kinvolved/backlog_range": f"{dates[0]}..{dates[-1]}"},
    )


def build_delivery_sensor(customer_id: str, ingest_job, platform_home: str, config_dir: str,
                          settle_seconds: float = DEFAULT_SETTLE_SECONDS, backlog_job=None,
                          backlog_min_deliveries: int | None = None):
    from pathlib import Path

    @sensor(
        name=f"deliveries__{customer_id}",
        jobs=[ingest_job] + ([backlog_job] if backlog_job is not None else []),
        minimum_interval_seconds=30,
        description=f"Watches {customer_id}'s landing folder; one run per new, complete delivery "
        "(run key = sha256 of the delivery), or one backlog run when a tick finds "
        f"{backlog_min_deliveries} or more new deliveries.",
    )
    def _delivery_sensor(context: SensorEvaluationContext):
        loaded = load_customer_configs(Path(config_dir), home=Path(platform_home))
        customer = loaded.customers.get(customer_id)
        if customer is None:
            problems = " | ".join(str(e) for e in loaded.errors_of(customer_id))
            return SkipReason(f"customer {customer_id} has no valid config right now"
                              + (f": {problems}" if problems else ""))
        landing = customer.landing_dir(Path(platform_home))
        cursor = json.loads(context.cursor) if context.cursor else {}
        paths = customer.paths(Path(platform_home))

        def fail_runs(interrupted: set[str]) -> list[str]:
            return [f"run {run_id} of a process that is gone marked failed"
                    for run_id in fail_dead_runs(context.instance, paths, interrupted)]

        scan = landing_scan.scan_landing(customer, paths, landing, cursor, settle_seconds,
                                         partitions_start=date_start(ingest_job.partitions_def),
                                         is_active=active_runs(context.instance, paths), fail_runs=fail_runs)
        requests, logs, new_cursor = _keyed(scan.requests), scan.logs, scan.cursor
        for line in scan.notes + logs:
            context.log.info(line)
        LAST_TICK_LOGS[customer_id] = list(logs)
        if backlog_job is not None and backlog_min_deliveries and len(requests) >= backlog_min_deliveries:
            return SensorResult(run_requests=[backlog_request(customer_id, requests)],
                                cursor=json.dumps(new_cursor, sort_keys=True))
        run_requests = [
            RunRequest(
                job_name=INGEST_JOB,
                run_key=r["run_key"],
                partition_key=r["partition_key"],
                run_config={"ops": {"oneroster_delivery": {"config": {"delivery_file": r["delivery"],
                                                                      "sha256": r["sha"],
                                                                      "only_new": True}}}},
                tags={CUSTOMER_TAG: customer_id, DELIVERY_SHA_TAG: r["sha"],
                      DELIVERY_FILE_TAG: r["delivery"]},
            )
            for r in requests
        ]
        if not run_requests:
            return SensorResult(skip_reason=SkipReason("; ".join(logs) or "no new deliveries"),
                                cursor=json.dumps(new_cursor, sort_keys=True))
        return SensorResult(run_requests=run_requests, cursor=json.dumps(new_cursor, sort_keys=True))

    return _delivery_sensor


__all__ = ["backfill_waiting", "backlog_request", "build_delivery_sensor", "build_failed_run_trigger",
           "build_marts_trigger", "evaluate_landing"]
