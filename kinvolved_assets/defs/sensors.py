"""File-arrival sensors (one per customer); the marts triggers are in ``marts_triggers``."""

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
    sensor,
)

from kinvolved_assets.customer_lock import is_locked
from kinvolved_assets.customers import load_customer_configs
from kinvolved_assets.defs.keys import BACKLOG_JOB, BACKLOG_OP, CUSTOMER_TAG, INGEST_JOB
from kinvolved_assets.defs.marts_triggers import (  # noqa: F401 - re-exported: the marts triggers
    PID_TAG,  # in-process runs: the process running them (a dead one's runs are failed)
    backfill_waiting,
    build_failed_run_trigger,
    build_marts_trigger,
)
from kinvolved_assets.defs.partitions import DATE_DIM, date_start, delivery_key
from kinvolved_assets.delivery import drop_sha256, find_drops, incomplete_reason, unreadable_names
from kinvolved_assets.history_window import before_history_message
from kinvolved_assets.ledger import MAX_ATTEMPTS, PENDING, SETTLED, Ledger, pid_alive

DEFAULT_SETTLE_SECONDS = 60
DELIVERY_SHA_TAG = "kinvolved/drop_sha256"
# a run that started this recently may not have taken the customer's writer lock yet
STARTING_GRACE_SECONDS = 120
# the last tick's log lines per customer, for in-process callers (`kinvolved ingest` prints them)
LAST_TICK_LOGS: dict[str, list[str]] = {}


def _in_partition_range(delivery_date: str, now: float) -> bool:
    last = (dt.datetime.fromtimestamp(now, tz=dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    return delivery_date <= last


def evaluate_landing(customer, landing, cursor: dict, settle_seconds: float, now: float | None = None,
                     partitions_start: str | None = None, ledger=None, is_active=None):
    """Pure decision logic of the delivery sensor.

    Returns (run requests as dicts, log lines, new cursor). Cursor: ``done`` maps a drop key to the
    signature and sha256 already handled; ``pending`` holds signatures seen last tick (a drop whose
    signature did not change between two ticks is complete even if younger than ``settle_seconds``).

    With the customer's ``ledger`` (the answer every path asks): bytes the ledger already shows
    ingested, blocked or superseded are skipped with a message naming them (a re-copied drop), and a
    delivery it shows ``landed`` or ``failed`` (a killed or failed run) is requested again unless
    ``is_active(delivery)`` says a run for it is queued or running.
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
            retry = _retry(customer, drop, done[key].get("sha"), ledger, is_active)
            if retry is not None:
                logs.append(retry.pop("log"))
                requests.append(retry)
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
        done[key] = {"sig": sig, "sha": sha}
        pending.pop(key, None)
        request = _new_request(customer, drop, sha, ledger, is_active, logs)
        if request is not None:
            requests.append(request)
    present = {d.key for d in drops}
    new_cursor = {
        "done": {k: v for k, v in done.items() if k in present},
        "pending": {k: v for k, v in pending.items() if k in present},
    }
    return requests, logs, new_cursor


def _request(customer, drop, sha: str, attempts: int = 0) -> dict:
    suffix = f":retry-{attempts}" if attempts else ""
    return {"run_key": f"{customer.customer_id}:{sha}{suffix}",
            "partition_key": delivery_key(customer.customer_id, drop.delivery_date),
            "drop": drop.name, "sha": sha, "date_source": drop.date_source}


def _new_request(customer, drop, sha: str, ledger, is_active, logs: list[str]) -> dict | None:
    if ledger is None:
        return _request(customer, drop, sha)
    entry = ledger.get(sha)
    if entry is not None and entry.state in SETTLED:
        same = "" if entry.file_name == drop.name else f" as {entry.file_name}"
        logs.append(f"skipped {drop.name}: the same bytes were delivered before{same} "
                    f"({entry.delivery_date} #{entry.seq}, {entry.state})")
        return None
    if entry is not None and (entry.state == "ingesting" or (is_active and is_active(entry))):
        logs.append(f"waiting for {drop.name}: run {entry.run_id or '(queued)'} is on it")
        return None
    if entry is not None and entry.attempts >= MAX_ATTEMPTS:
        logs.append(f"skipped {drop.name}: {entry.state} after {entry.attempts} attempts ({entry.note}); "
                    f"`kinvolved reingest {customer.customer_id} {entry.seq}` tries again")
        return None
    if entry is not None and entry.attempts:
        logs.append(f"retrying {drop.name} ({entry.state}{': ' + entry.note if entry.note else ''})")
    entry = entry or ledger.register(sha, drop.name, drop.delivery_date, drop.date_source, drop.mtime)
    return _request(customer, drop, sha, entry.attempts)


def _retry(customer, drop, sha: str | None, ledger, is_active) -> dict | None:
    """A drop handled by an earlier tick whose delivery the ledger still shows pending (its run was
    killed, failed, or never started): request it again."""
    if ledger is None or not sha:
        return None
    entry = ledger.get(sha)
    if entry is None or entry.state not in PENDING or entry.attempts >= MAX_ATTEMPTS:
        return None
    # requested by a live sensor process moments ago: its run is about to be queued, not lost
    if (entry.state == "landed" and pid_alive(entry.pid)
            and entry.age_seconds(time.time()) < STARTING_GRACE_SECONDS):
        return None
    if is_active and is_active(entry):
        return None
    request = _request(customer, drop, sha, entry.attempts)
    why = f": {entry.note}" if entry.note else ""
    request["log"] = f"retrying {drop.name} ({entry.state}{why})"
    return request


def active_runs(instance, paths):
    """``is_active(delivery)``: a Dagster run for the delivery is queued, starting, or running (holding
    or about to take the customer's writer lock). A run left STARTED by a dead process is not."""
    def is_active(delivery) -> bool:
        waiting = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING]
        mine = [RunsFilter(tags={DELIVERY_SHA_TAG: delivery.sha256}),
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


def fail_dead_runs(instance, paths) -> list[str]:
    """Runs of the customer left STARTED by a process that is gone are marked failed, so the UI and the
    next tick stop waiting for them: in-process runs carry their pid (``kinvolved/pid``); a daemon run
    is dead when the ledger found its delivery interrupted (its pid gone)."""
    with Ledger(paths) as ledger:
        interrupted = {d.run_id.rsplit("-", 1)[0] if d.run_id.count("-") == 5 else d.run_id
                       for d in ledger.deliveries()
                       if d.state == "failed" and (d.note or "").startswith("interrupted") and d.run_id}
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
    """One backlog run for many new drops of a customer (dates in order, each with its drop)."""
    ordered = sorted(requests, key=lambda r: r["partition_key"].keys_by_dimension[DATE_DIM])
    dates = [r["partition_key"].keys_by_dimension[DATE_DIM] for r in ordered]
    digest = hashlib.sha256("\n".join(r["run_key"] for r in ordered).encode()).hexdigest()
    return RunRequest(
        job_name=BACKLOG_JOB,
        run_key=f"{customer_id}:backlog:{digest}",
        partition_key=customer_id,
        run_config={"ops": {BACKLOG_OP: {"config": {"dates": dates, "drops": [r["drop"] for r in ordered],
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
        description=f"Watches {customer_id}'s landing folder; one run per new, complete drop "
        "(run key = sha256 of the drop), or one backlog run when a tick finds "
        f"{backlog_min_deliveries} or more new drops.",
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
        with Ledger(paths) as ledger:   # deliveries of dead runs become failed, so this tick retries them
            for gone in ledger.fail_interrupted():
                context.log.info(f"{gone.file_name}: run {gone.run_id} stopped (pid {gone.pid} is gone)")
        for run_id in fail_dead_runs(context.instance, paths):
            context.log.info(f"run {run_id} of a process that is gone marked failed")
        with Ledger(paths) as ledger:
            requests, logs, new_cursor = evaluate_landing(
                customer, landing, cursor, settle_seconds, ledger=ledger,
                partitions_start=date_start(ingest_job.partitions_def),
                is_active=active_runs(context.instance, paths))
        for line in logs:
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
                run_config={"ops": {"oneroster_delivery": {"config": {"drop": r["drop"], "sha256": r["sha"],
                                                                      "only_new": True}}}},
                tags={CUSTOMER_TAG: customer_id, DELIVERY_SHA_TAG: r["sha"], "kinvolved/drop": r["drop"]},
            )
            for r in requests
        ]
        if not run_requests:
            return SensorResult(skip_reason=SkipReason("; ".join(logs) or "no new drops"),
                                cursor=json.dumps(new_cursor, sort_keys=True))
        return SensorResult(run_requests=run_requests, cursor=json.dumps(new_cursor, sort_keys=True))

    return _delivery_sensor


__all__ = ["backfill_waiting", "backlog_request", "build_delivery_sensor", "build_failed_run_trigger",
           "build_marts_trigger", "evaluate_landing"]
