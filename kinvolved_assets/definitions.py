"""Assembles one Dagster ``Definitions`` from the small modules under ``defs/``.

Customers come from ``customer_configs/`` (``KINVOLVED_CONFIG_DIR``). The code location always loads:
a bad config file is logged once, left out, and shown in the UI as a placeholder asset
(``defs/config_errors.py``); the other customers load normally.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dagster import Definitions

from kinvolved_assets.customers import config_dir, load_customer_configs
from kinvolved_assets.defs.backlog import DEFAULT_BACKLOG_MIN_DELIVERIES, build_backlog_job
from kinvolved_assets.defs.config_errors import config_error_assets
from kinvolved_assets.defs.dbt_project import dbt_resource
from kinvolved_assets.defs.executor import run_executor
from kinvolved_assets.defs.jobs import build_jobs
from kinvolved_assets.defs.mart_checks import build_mart_checks
from kinvolved_assets.defs.marts import build_marts_assets
from kinvolved_assets.defs.partitions import customer_partitions, delivery_partitions, earliest_start
from kinvolved_assets.defs.raw_assets import build_raw_assets
from kinvolved_assets.defs.report_asset import build_report_asset
from kinvolved_assets.defs.resources import PlatformResource
from kinvolved_assets.defs.rest_pull import build_rest_pulls
from kinvolved_assets.defs.schedules import build_schedules
from kinvolved_assets.defs.sensors import (
    DEFAULT_SETTLE_SECONDS,
    build_delivery_sensor,
    build_failed_run_trigger,
    build_marts_trigger,
)
from kinvolved_assets.instance_sqlite import install as fewer_instance_fsyncs
from kinvolved_assets.marts.plausibility import DEFAULT_ZERO_ABSENCE_DAYS
from kinvolved_assets.paths import kinvolved_home
from kinvolved_assets.quiet import quiet_dagster_notices

log = logging.getLogger("kinvolved")
quiet_dagster_notices()   # the code location the UI loads
fewer_instance_fsyncs()   # its runs write their events to the local SQLite instance


def _schedules(customers, marts_job) -> list:
    """Each customer's schedules; one Dagster refuses is logged and left out, never the code location."""
    out = []
    for customer_id, customer in customers.items():
        try:
            out += build_schedules({customer_id: customer}, marts_job)
        except Exception as exc:  # noqa: BLE001
            log.error("customer config %s.yaml: schedule: refused by Dagster (%s); no schedule loaded",
                      customer_id, type(exc).__name__)
    return out


def build_definitions(config_directory: Path | None = None, home: Path | None = None,
                      settle_seconds: float | None = None,
                      backlog_min_deliveries: int | None = None) -> Definitions:
    directory = (config_directory or config_dir()).resolve()
    home = (home or kinvolved_home()).resolve()
    if settle_seconds is None:
        settle_seconds = float(os.environ.get("KINVOLVED_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS))
    loaded = load_customer_configs(directory, home=home)
    for error in loaded.errors:
        log.error("customer config rejected: %s", error)
    customer_ids = sorted(loaded.customers)
    deliveries = delivery_partitions(customer_ids, earliest_start(loaded.customers.values()))
    customers = customer_partitions(customer_ids)

    raw_assets = build_raw_assets(deliveries)
    marts_assets = build_marts_assets(customers)
    report_asset = build_report_asset(customers)
    ingest_job, marts_job, onboard_job = build_jobs(deliveries, customers, marts_assets, report_asset)
    backlog_job = build_backlog_job(customers)
    if backlog_min_deliveries is None:
        backlog_min_deliveries = int(os.environ.get("KINVOLVED_BACKLOG_MIN_DELIVERIES",
                                                    DEFAULT_BACKLOG_MIN_DELIVERIES))
    sensors = [build_delivery_sensor(c, ingest_job, str(home), str(directory), settle_seconds,
                                     backlog_job=backlog_job, backlog_min_deliveries=backlog_min_deliveries)
               for c in customer_ids]
    sensors += [build_marts_trigger(marts_job, str(home)), build_failed_run_trigger(marts_job, str(home))]
    pull_jobs, pull_schedules, pull_sensors = build_rest_pulls(loaded.customers)

    return Definitions(
        # every run is one step (the delivery multi-asset or the dbt build): run it in the run worker
        # instead of spawning a second Python process per run (KINVOLVED_EXECUTOR=celery: on the pool)
        executor=run_executor(),
        assets=[raw_assets, marts_assets, report_asset, *config_error_assets(loaded.errors)],
        asset_checks=[build_mart_checks(int(os.environ.get("KINVOLVED_ZERO_ABSENCE_DAYS",
                                                           DEFAULT_ZERO_ABSENCE_DAYS)))],
        jobs=[ingest_job, marts_job, onboard_job, backlog_job, *pull_jobs],
        sensors=sensors + pull_sensors,
        schedules=_schedules(loaded.customers, marts_job) + pull_schedules,
        resources={
            "platform": PlatformResource(home=str(home), config_dir=str(directory)),
            "dbt": dbt_resource(),
        },
    )


defs = build_definitions()
