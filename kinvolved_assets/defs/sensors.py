"""File-arrival sensors (one per customer) and the marts trigger after each ingested delivery."""

from __future__ import annotations

import datetime as dt
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
    run_status_sensor,
    sensor,
)

from kinvolved_assets.customers import before_history_message, load_customer_configs
from kinvolved_assets.defs.keys import BACKLOG_JOB, BACKLOG_OP, CUSTOMER_TAG, INGEST_JOB, MARTS_JOB
from kinvolved_assets.defs.partitions import DATE_DIM, date_start, delivery_key
from kinvolved_assets.delivery import drop_sha256, find_drops, incomplete_reason, unreadable_names

DEFAULT_SETTLE_SECONDS = 60


def _in_partition_range(delivery_date: str, now: float) -> bool:
    last = (dt.datetime.fromtimestamp(now, tz=dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    return delivery_date <= last


def evaluate_landing(customer, landing, cursor: dict, settle_seconds: float, now: float | None = None,
                     partitions_start: str | None = None):
    """Pure decision logic of the delivery sensor.

    Returns (run requests as dicts, log lines, new cursor). Cursor: ``done`` maps a drop key to the
    signature and sha256 already handled; ``pending`` holds signatures seen last tick (a drop whose
    signature did not change between two ticks is complete even if younger than ``settle_seconds``).
    """
    now = time.time() if now is None else now
    done: dict = dict(cursor.get("done", {}))
    pending: dict = dict(cursor.get("pending", {}))
    requests, logs = [], []
    drops = find_drops(landing, customer.tz)
    logs += [f"skipped {name}: the name is not valid UTF-8; rename it" for name in unreadable_names(landing)]
    for drop in drops:
        key, sig = drop.key, drop.signature
        if done.get(key, {}).get("sig") == sig:
            continue
        reason = incomplete_reason(drop)
        if reason and reason.startswith("empty"):
            logs.append(f"skipped {drop.name}: {reason}")
            done[key] = {"sig": sig, "sha": None, "skipped": reason}
            continue
        settled = (now - drop.mtime) >= settle_seconds or pending.get(key) == sig
        if not settled:
            pending[key] = sig
            logs.append(f"waiting for {drop.name}: still changing (size {drop.size})")
            continue
        if reason:
            pending[key] = sig
            logs.append(f"waiting for {drop.name}: {reason}")
            continue
        early = before_history_message(customer, drop.delivery_date, partitions_start)
        if early:  # not marked done: picked up once history_from_school_year allows it
            logs.append(f"skipped {drop.name}: {early}")
            continue
        if not _in_partition_range(drop.delivery_date, now):
            logs.append(f"skipped {drop.name}: delivery date {drop.delivery_date} is outside the partitions")
            done[key] = {"sig": sig, "sha": None, "skipped": "date out of range"}
            continue
        sha = drop_sha256(drop)
        requests.append({
            "run_key": f"{customer.customer_id}:{sha}",
            "partition_key": delivery_key(customer.customer_id, drop.delivery_date),
            "drop": drop.name,
            "sha": sha,
        })
        done[key] = {"sig": sig, "sha": sha}
        pending.pop(key, None)
    present = {d.key for d in drops}
    new_cursor = {
        "done": {k: v for k, v in done.items() if k in present},
        "pending": {k: v for k, v in pending.items() if k in present},
    }
    return requests, logs, new_cursor


def backlog_request(customer_id: str, requests: list[dict]) -> RunRequest:
    """One backlog run for many new drops of a customer (dates in order, each with its drop)."""
    ordered = sorted(requests, key=lambda r: r["partition_key"].keys_by_dimension[DATE_DIM])
    dates = [r["partition_key"].keys_by_dimension[DATE_DIM] for r in ordered]
    digest = hashlib.sha256("\n".join(r["sha"] for r in ordered).encode()).hexdigest()
    return RunRequest(
        job_name=BACKLOG_JOB,
        run_key=f"{customer_id}:backlog:{digest}",
        partition_key=customer_id,
        run_config={"ops": {BACKLOG_OP: {"config": {"dates": dates, "drops": [r["drop"] for r in ordered]}}}},
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
        description=f"Watches {customer_id}'s landing folder; one run per new, complete drop "
        "(run key = sha256 of the drop), or one backlog run when a tick finds "
        f"{backlog_min_deliveries} or more new drops.",
    )
    def _delivery_sensor(context: SensorEvaluationContext):
        loaded = load_customer_configs(Path(config_dir), home=Path(platform_home))
        customer = loaded.customers.get(customer_id)
        if customer is None:
            problems = " | ".join(str(e) for e in loaded.errors_of(customer_id))
            return SkipReason(f"customer {customer_id} has no valid config right now" + (f": {problems}" if problems else ""))
        landing = customer.landing_dir(Path(platform_home))
        cursor = json.loads(context.cursor) if context.cursor else {}
        requests, logs, new_cursor = evaluate_landing(customer, landing, cursor, settle_seconds,
                                                      partitions_start=date_start(ingest_job.partitions_def))
        for line in logs:
            context.log.info(line)
        if backlog_job is not None and backlog_min_deliveries and len(requests) >= backlog_min_deliveries:
            return SensorResult(run_requests=[backlog_request(customer_id, requests)],
                                cursor=json.dumps(new_cursor, sort_keys=True))
        run_requests = [
            RunRequest(
                job_name=INGEST_JOB,
                run_key=r["run_key"],
                partition_key=r["partition_key"],
                run_config={"ops": {"oneroster_delivery": {"config": {"drop": r["drop"]}}}},
                tags={CUSTOMER_TAG: customer_id, "kinvolved/drop_sha256": r["sha"], "kinvolved/drop": r["drop"]},
            )
            for r in requests
        ]
        if not run_requests:
            return SensorResult(skip_reason=SkipReason("; ".join(logs) or "no new drops"),
                                cursor=json.dumps(new_cursor, sort_keys=True))
        return SensorResult(run_requests=run_requests, cursor=json.dumps(new_cursor, sort_keys=True))

    return _delivery_sensor


def build_marts_trigger(marts_job):
    @run_status_sensor(
        name="marts_after_delivery",
        run_status=DagsterRunStatus.SUCCESS,
        request_job=marts_job,
        description="After a delivery is promoted, rebuild that customer's marts (one queued build per customer).",
    )
    def marts_after_delivery(context):
        run = context.dagster_run
        # Any successful run that materialized raw deliveries (sensor runs, UI launches, backfills)
        # carries the customer dimension of the delivery partition.
        customer_id = run.tags.get("dagster/partition/customer")
        if run.job_name == BACKLOG_JOB:
            customer_id = run.tags.get("dagster/partition")
        if not customer_id or run.job_name == MARTS_JOB:
            return SkipReason(f"run {run.run_id} did not ingest a delivery")
        queued = context.instance.get_run_ids(
            filters=RunsFilter(job_name=MARTS_JOB, tags={CUSTOMER_TAG: customer_id},
                               statuses=[DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]),
            limit=1,
        )
        if queued:
            return SkipReason(f"a marts build for {customer_id} is already queued ({queued[0]})")
        return RunRequest(run_key=f"marts-after-{run.run_id}", partition_key=customer_id,
                          tags={CUSTOMER_TAG: customer_id, "kinvolved/after_run": run.run_id})

    return marts_after_delivery


__all__ = ["backlog_request", "build_delivery_sensor", "build_marts_trigger", "evaluate_landing"]
