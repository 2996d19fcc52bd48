"""Run the platform in one process against a real Dagster instance, the way the daemon would:
tick a customer's delivery sensor, execute the runs it requests in delivery order, then build the
customer's marts. Used by ``kinvolved demo``, ``kinvolved ingest`` and the integration tests.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    DagsterInstance,
    Definitions,
    MultiPartitionKey,
    build_sensor_context,
)

from kinvolved_assets.defs.keys import BACKLOG_JOB, BACKLOG_OP, CUSTOMER_TAG, INGEST_JOB, MARTS_JOB
from kinvolved_assets.defs.partitions import CUSTOMER_DIM, DATE_DIM
from kinvolved_assets.defs.sensors import LAST_TICK_LOGS, PID_TAG, fail_dead_runs
from kinvolved_assets.delivery.ledger import SETTLED, Ledger
from kinvolved_assets.delivery.lock import customer_lock
from kinvolved_assets.delivery.recovery import recover_customer
from kinvolved_assets.paths import CustomerPaths, kinvolved_home

RUN_KEY_TAG = "kinvolved/run_key"


@dataclass
class LocalRunReport:
    ingest_runs: list[tuple[str, str, bool]] = field(default_factory=list)   # (date, run_id, success)
    marts_run: tuple[str, bool] | None = None
    sensor_logs: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)     # requested deliveries the ledger shows settled
    failures: dict[str, str] = field(default_factory=dict)   # run id -> why it failed (one line)


def tick_delivery_sensor(defs: Definitions, instance: DagsterInstance, customer_id: str):
    """One evaluation of the customer's delivery sensor, cursor persisted on the instance."""
    sensor_def = defs.resolve_sensor_def(f"deliveries__{customer_id}")
    state_key = f"kinvolved_local_cursor__{customer_id}"
    stored = instance.run_storage.get_cursor_values({state_key}).get(state_key)
    context = build_sensor_context(instance=instance, cursor=stored, definitions=defs)
    result = sensor_def.evaluate_tick(context)
    if result.cursor is not None:
        instance.run_storage.set_cursor_values({state_key: result.cursor})
    return result


def _with_console_level(run_config: dict | None) -> dict:
    """Console log level of in-process runs: KINVOLVED_LOG_LEVEL (default DEBUG, Dagster's own)."""
    config = dict(run_config or {})
    level = os.environ.get("KINVOLVED_LOG_LEVEL")
    if level and "loggers" not in config:
        config["loggers"] = {"console": {"config": {"log_level": level.upper()}}}
    return config


def run_ingest(defs: Definitions, instance: DagsterInstance, partition_key: MultiPartitionKey,
               run_config: dict | None = None, tags: dict | None = None, raise_on_error: bool = False):
    job = defs.resolve_job_def(INGEST_JOB)
    return job.execute_in_process(partition_key=partition_key, run_config=_with_console_level(run_config),
                                  instance=instance, tags=tags or {}, raise_on_error=raise_on_error)


def run_backlog(defs: Definitions, instance: DagsterInstance, customer_id: str,
                run_config: dict | None = None, tags: dict | None = None, raise_on_error: bool = False):
    job = defs.resolve_job_def(BACKLOG_JOB)
    return job.execute_in_process(partition_key=customer_id, run_config=_with_console_level(run_config),
                                  instance=instance, tags={CUSTOMER_TAG: customer_id, **(tags or {})},
                                  raise_on_error=raise_on_error)


def run_marts(defs: Definitions, instance: DagsterInstance, customer_id: str,
              force_mass_deletion: bool = False, raise_on_error: bool = False, tags: dict | None = None,
              full_refresh: bool = False):
    job = defs.resolve_job_def(MARTS_JOB)
    config = {"force_mass_deletion": force_mass_deletion, **({"full_refresh": True} if full_refresh else {})}
    run_config = {"ops": {"customer_marts": {"config": config}}}
    return job.execute_in_process(partition_key=customer_id, run_config=_with_console_level(run_config),
                                  instance=instance, tags={"kinvolved/customer": customer_id, **(tags or {})},
                                  raise_on_error=raise_on_error)


def customer_paths(defs: Definitions, customer_id: str) -> CustomerPaths:
    platform = (getattr(defs, "resources", None) or {}).get("platform")
    home = Path(platform.home).resolve() if platform is not None else kinvolved_home()
    return CustomerPaths.for_customer(customer_id, home)


def _settled(paths: CustomerPaths, request) -> str | None:
    """The ledger's answer for a requested delivery (or every delivery of a backlog request): why not
    to run it, or None. The same record the daemon's runs consult under the writer lock."""
    config = request.run_config["ops"]
    shas = [config.get("oneroster_delivery", {}).get("config", {}).get("sha256")]
    if BACKLOG_JOB == request.job_name:
        shas = config[BACKLOG_OP]["config"].get("deliveries") or [None]
    with Ledger(paths) as ledger:
        entries = [ledger.get(sha) for sha in shas if sha]
    if entries and len(entries) == len(shas) and all(e and e.state in SETTLED for e in entries):
        return "; ".join(f"{e.file_name} already {e.state} ({e.delivery_date} #{e.seq}, run {e.run_id})"
                         for e in entries)
    return None


def failure_message(result) -> str:
    """The first step failure of an in-process run as one line (a Failure's description)."""
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        data = event.event_specific_data
        described = getattr(getattr(data, "user_failure_data", None), "description", None)
        if described:
            return described.splitlines()[0]
        error = getattr(data, "error", None)
        if error is not None:
            return (error.message or "").strip().splitlines()[0][:500]
    return "the run failed (see its logs)"


def marts_stale(paths: CustomerPaths) -> str | None:
    """Why the published marts miss an ingested delivery (a marts build killed or failed after it), or
    None."""
    with Ledger(paths) as ledger:
        ingested = [d for d in ledger.deliveries() if d.state == "ingested"]
    if not ingested:
        return None
    latest = max(d.updated_at for d in ingested)
    if not paths.marts_db.exists():
        return "marts were never published: building them"
    published = dt.datetime.fromtimestamp(paths.marts_db.stat().st_mtime, dt.UTC).isoformat(
        timespec="seconds")
    if latest > published:
        return "the published marts are older than the last ingested delivery: building them"
    return None


def split_run_requests(run_requests) -> tuple[list, list]:
    """A delivery sensor's requests as (backlog runs, per-delivery runs in date order)."""
    requests = list(run_requests or [])
    backlogs = [r for r in requests if r.job_name == BACKLOG_JOB]
    deliveries = sorted((r for r in requests if r.job_name != BACKLOG_JOB),
                        key=lambda r: r.partition_key.keys_by_dimension[DATE_DIM])
    return backlogs, deliveries


def process_landing(defs: Definitions, instance: DagsterInstance, customer_id: str,
                    build_marts: bool = True, on_wait=None, full_refresh: bool = False) -> LocalRunReport:
    """Everything new (or interrupted) in the landing folder → raw partitions in (date, arrival) order
    → marts, as the customer's only writer (the writer lock is held throughout). ``full_refresh``
    rebuilds the marts from nothing, new deliveries or not."""
    report = LocalRunReport()
    paths = customer_paths(defs, customer_id)
    with customer_lock(paths, f"`kinvolved ingest {customer_id}` (pid {os.getpid()})", on_wait=on_wait):
        for run_id in fail_dead_runs(instance, paths):
            report.sensor_logs.append(f"run {run_id} of a killed process marked failed")
        recovered = recover_customer(paths)
        if recovered.summary():
            report.sensor_logs.append(recovered.summary())
        result = tick_delivery_sensor(defs, instance, customer_id)
        if result.skip_message:
            report.sensor_logs.append(result.skip_message)
        report.sensor_logs.extend(_tick_logs(result))
        backlogs, requests = split_run_requests(result.run_requests)
        tags = {CUSTOMER_TAG: customer_id, PID_TAG: str(os.getpid())}
        for request in backlogs:   # one run for many deliveries (the sensor's choice for a backlog)
            if why := _settled(paths, request):
                report.skipped.append(why)
                continue
            outcome = run_backlog(defs, instance, customer_id, run_config=request.run_config,
                                  tags={**request.tags, **tags, RUN_KEY_TAG: request.run_key})
            report.ingest_runs.append((request.tags.get("kinvolved/backlog_range", "backlog"), outcome.run_id,
                                       outcome.success))
            if not outcome.success:
                report.failures[outcome.run_id] = failure_message(outcome)
        for request in requests:
            key = request.partition_key
            assert key.keys_by_dimension[CUSTOMER_DIM] == customer_id
            if why := _settled(paths, request):
                report.skipped.append(why)
                continue
            outcome = run_ingest(defs, instance, key, run_config=request.run_config,
                                 tags={**request.tags, **tags, RUN_KEY_TAG: request.run_key})
            report.ingest_runs.append((key.keys_by_dimension[DATE_DIM], outcome.run_id, outcome.success))
            if not outcome.success:
                report.failures[outcome.run_id] = failure_message(outcome)
        # nothing ran now, but an earlier marts build was killed or failed after its delivery was promoted
        stale = marts_stale(paths) if not report.ingest_runs else None
        if stale:
            report.sensor_logs.append(stale)
        if build_marts and (any(ok for _, _, ok in report.ingest_runs) or stale or full_refresh):
            outcome = run_marts(defs, instance, customer_id, tags={PID_TAG: str(os.getpid())},
                                full_refresh=full_refresh)
            report.marts_run = (outcome.run_id, outcome.success)
            if not outcome.success:
                report.failures[outcome.run_id] = failure_message(outcome)
    return report


def _tick_logs(result) -> list[str]:
    """The tick's lines about skipped (re-copied) and retried deliveries, for the operator (a tick with run
    requests has no skip message; the sensor keeps its last lines per customer for in-process callers)."""
    if not result.run_requests:
        return []
    return [line for line in LAST_TICK_LOGS.pop(_current_customer(result), [])
            if line.startswith(("skipped", "retrying"))]


def _current_customer(result) -> str:
    return next((r.tags.get(CUSTOMER_TAG) for r in result.run_requests if r.tags.get(CUSTOMER_TAG)), "")
