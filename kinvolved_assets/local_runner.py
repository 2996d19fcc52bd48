"""Run the platform in one process against a real Dagster instance, the way the daemon would:
tick a customer's delivery sensor, execute the runs it requests in delivery order, then build the
customer's marts. Used by ``kinvolved demo``, ``kinvolved ingest`` and the integration tests.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    MultiPartitionKey,
    RunsFilter,
    build_sensor_context,
)

from kinvolved_assets.defs.keys import BACKLOG_JOB, CUSTOMER_TAG, INGEST_JOB, MARTS_JOB
from kinvolved_assets.defs.partitions import CUSTOMER_DIM, DATE_DIM

RUN_KEY_TAG = "kinvolved/run_key"


@dataclass
class LocalRunReport:
    ingest_runs: list[tuple[str, str, bool]] = field(default_factory=list)   # (date, run_id, success)
    marts_run: tuple[str, bool] | None = None
    sensor_logs: list[str] = field(default_factory=list)


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


def run_backlog(defs: Definitions, instance: DagsterInstance, customer_id: str, run_config: dict | None = None,
                tags: dict | None = None, raise_on_error: bool = False):
    job = defs.resolve_job_def(BACKLOG_JOB)
    return job.execute_in_process(partition_key=customer_id, run_config=_with_console_level(run_config),
                                  instance=instance, tags={CUSTOMER_TAG: customer_id, **(tags or {})},
                                  raise_on_error=raise_on_error)


def run_marts(defs: Definitions, instance: DagsterInstance, customer_id: str, force_mass_deletion: bool = False,
              raise_on_error: bool = False):
    job = defs.resolve_job_def(MARTS_JOB)
    run_config = {"ops": {"customer_marts": {"config": {"force_mass_deletion": force_mass_deletion}}}}
    return job.execute_in_process(partition_key=customer_id, run_config=_with_console_level(run_config),
                                  instance=instance, tags={"kinvolved/customer": customer_id},
                                  raise_on_error=raise_on_error)


def _already_succeeded(instance: DagsterInstance, run_key: str) -> bool:
    """The daemon never launches a run key twice for a sensor; in-process runs check the instance."""
    return bool(instance.get_run_ids(
        filters=RunsFilter(tags={RUN_KEY_TAG: run_key}, statuses=[DagsterRunStatus.SUCCESS]), limit=1))


def split_run_requests(run_requests) -> tuple[list, list]:
    """A delivery sensor's requests as (backlog runs, per-delivery runs in date order)."""
    requests = list(run_requests or [])
    backlogs = [r for r in requests if r.job_name == BACKLOG_JOB]
    deliveries = sorted((r for r in requests if r.job_name != BACKLOG_JOB),
                        key=lambda r: r.partition_key.keys_by_dimension[DATE_DIM])
    return backlogs, deliveries


def process_landing(defs: Definitions, instance: DagsterInstance, customer_id: str,
                    build_marts: bool = True) -> LocalRunReport:
    """Everything new in the landing folder → raw partitions (in date order) → marts."""
    report = LocalRunReport()
    result = tick_delivery_sensor(defs, instance, customer_id)
    if result.skip_message:
        report.sensor_logs.append(result.skip_message)
    backlogs, requests = split_run_requests(result.run_requests)
    for request in backlogs:   # one run for many drops (the sensor's choice when a tick finds a backlog)
        if _already_succeeded(instance, request.run_key):
            report.sensor_logs.append(f"{request.run_key} already ingested")
            continue
        outcome = run_backlog(defs, instance, customer_id, run_config=request.run_config,
                              tags={**request.tags, RUN_KEY_TAG: request.run_key})
        report.ingest_runs.append((request.tags.get("kinvolved/backlog_range", "backlog"), outcome.run_id, outcome.success))
    for request in requests:
        key = request.partition_key
        assert key.keys_by_dimension[CUSTOMER_DIM] == customer_id
        if _already_succeeded(instance, request.run_key):
            report.sensor_logs.append(f"{request.run_key} already ingested")
            continue
        outcome = run_ingest(defs, instance, key, run_config=request.run_config,
                             tags={**request.tags, RUN_KEY_TAG: request.run_key})
        report.ingest_runs.append((key.keys_by_dimension[DATE_DIM], outcome.run_id, outcome.success))
    if build_marts and any(ok for _, _, ok in report.ingest_runs):
        outcome = run_marts(defs, instance, customer_id)
        report.marts_run = (outcome.run_id, outcome.success)
    return report


def report_json(report: LocalRunReport) -> str:
    return json.dumps({"ingest_runs": report.ingest_runs, "marts_run": report.marts_run}, indent=2)
