"""The dbt marts of one customer, built aside and published atomically.

``@dbt_assets`` partitioned by customer; the OneRoster sources map to the raw ``oneroster/<entity>``
assets through ``MultiToSingleDimensionPartitionMapping(customer)`` (``dbt_translator``), so the UI
shows file → mart lineage. dbt tests become asset checks. A red build never replaces the published
marts. The project and its manifest: ``dbt_project``; the build's files: ``marts_files``.
"""


import json
import os
import shutil

from dagster import AssetExecutionContext, Config, Failure, Output, StaticPartitionsDefinition
from dagster_dbt import DbtCliResource, dbt_assets
from pydantic import Field

from kinvolved_assets.defs.dbt_in_process import build_in_process
from kinvolved_assets.defs.dbt_project import (  # noqa: F401 - the project's names, imported from here
    DBT_PROJECT_DIR,
    MANIFEST_PATH,
    dbt_executable,
    dbt_resource,  # noqa: F401
    patched_env,
    prepare_manifest,
)
from kinvolved_assets.defs.dbt_resource import MartsDbtResource  # noqa: F401
from kinvolved_assets.defs.dbt_translator import KinvolvedDbtTranslator
from kinvolved_assets.defs.mart_checks import with_mart_figures
from kinvolved_assets.defs.marts_files import (
    disk_was_full,
    fresh_target,
    mass_deletions,
    open_build_file,
    publish_atomically,
)
from kinvolved_assets.defs.resources import PlatformResource
from kinvolved_assets.delivery.lock import customer_lock
from kinvolved_assets.diskspace import disk_full_message, is_disk_full
from kinvolved_assets.marts.plan import current_stamp, plan_build, write_stamp
from kinvolved_assets.marts.settings import SETTINGS_FILE, write_dbt_settings
from kinvolved_assets.permissions import FILE_MODE, private_dir


class MartsConfig(Config):
    force_mass_deletion: bool = Field(
        default=False,
        description="Accept bulk deliveries that delete more than the customer's mass_deletion_fraction "
        "of active records (recorded in the run's metadata).",
    )
    full_refresh: bool = Field(
        default=False,
        description="Rebuild the marts from nothing: dbt runs with --full-refresh on an empty build file, "
        "whatever the build plan says.",
    )


def build_marts_assets(partitions_def: StaticPartitionsDefinition):
    manifest = prepare_manifest()

    @dbt_assets(
        manifest=manifest,
        dagster_dbt_translator=KinvolvedDbtTranslator(),
        partitions_def=partitions_def,
        name="customer_marts",
        op_tags={"kinvolved/stage": "marts"},
    )
    def customer_marts(context: AssetExecutionContext, dbt: DbtCliResource, platform: PlatformResource,
                       config: MartsConfig):
        # one writer per customer: an ingest or another build of this customer waits (build/ is ours)
        with customer_lock(platform.paths(context.partition_key), f"marts build run {context.run_id}",
                           on_wait=context.log.info):
            yield from _build_marts(context, dbt, platform, config)

    return customer_marts


def _build_marts(context: AssetExecutionContext, dbt: DbtCliResource, platform: PlatformResource,
                 config: MartsConfig):
    customer_id = context.partition_key
    customer = platform.customer(customer_id)
    paths = platform.paths(customer_id)
    build_dir = paths.build_dir
    if build_dir.exists():  # leftovers of a killed build: never published, safe to remove
        shutil.rmtree(build_dir)
    private_dir(paths.warehouse)
    private_dir(build_dir / "tmp")   # the build file and its spill: 0700 like the rest
    private_dir(build_dir)
    build_file = build_dir / f"marts-{context.run_id}.duckdb"
    target = fresh_target(build_dir, paths.dbt_target)
    # the customer's lists go to dbt in a file (any size), the scalars as --vars
    dbt_vars = {**write_dbt_settings(customer, build_dir), "raw_root": str(paths.raw),
                "force_mass_deletion": bool(config.force_mass_deletion)}
    stamp = current_stamp(DBT_PROJECT_DIR, dbt_vars, build_dir / SETTINGS_FILE, paths.raw)
    plan = plan_build(paths.marts_db, stamp, paths.raw, config.full_refresh)
    context.log.info(f"{customer_id}: marts build plan: {plan.line()}")
    try:   # an incremental build extends a copy of the published marts (dbt_project/macros/incremental.sql)
        dbt_file = open_build_file(build_file, paths.marts_db if plan.incremental else None)
    except Exception as exc:
        if is_disk_full(exc):
            raise Failure(description=f"{customer_id}: " + disk_full_message(
                paths.warehouse, None, "build the marts") + " (the published marts are unchanged)") from exc
        raise
    env = {"KINVOLVED_MARTS_DB": str(dbt_file), "KINVOLVED_DUCKDB_TEMP_DIR": str(build_dir / "tmp"),
           "KINVOLVED_INCREMENTAL_AFTER_KEY": str(plan.after_key)}
    if config.force_mass_deletion:
        context.log.warning(f"{customer_id}: mass-deletion guard overridden by run config")
    args = ["build", "--vars", json.dumps(dbt_vars), *(["--full-refresh"] if config.full_refresh else [])]
    with patched_env(env):   # dbt in this process (dbt_in_process); figures are read once it let go
        invocation = build_in_process(context, args, dbt, target)
        events = invocation.events
    full = disk_was_full(target / "run_results.json")
    built = build_file if invocation.is_successful() else None
    for event in with_mart_figures(context, events, built, MANIFEST_PATH, customer):
        if isinstance(event, Output):
            event = event.with_metadata({**event.metadata, "customer": customer_id,
                                         "mass_deletion_forced": bool(config.force_mass_deletion),
                                         "marts_build_plan": plan.line()})
        yield event
    if not invocation.is_successful():
        _fail(customer_id, customer, paths, build_file, full, config)
    write_stamp(build_file, stamp)    # what the next build's plan compares with
    os.chmod(build_file, FILE_MODE)   # the published marts: 0600 like the rest of the customer's tree
    publish_atomically(build_file, paths.marts_db)
    shutil.rmtree(build_dir, ignore_errors=True)
    context.log.info(f"{customer_id}: marts published to {paths.marts_db.name}"
                     f"{' (mass deletion forced)' if config.force_mass_deletion else ''}")


def _fail(customer_id, customer, paths, build_file, full: bool, config: MartsConfig):
    """Raise the failure of a red build (the published marts stay): disk full, a blocked mass deletion
    or failed models/tests."""
    blocked = mass_deletions(build_file, customer.attendance.mass_deletion_fraction,
                             customer.attendance.mass_deletion_min_records)
    shutil.rmtree(paths.build_dir, ignore_errors=True)
    if full:
        raise Failure(description=f"{customer_id}: " + disk_full_message(
            paths.warehouse, None, "build the marts") + " (the published marts are unchanged)")
    if blocked and not config.force_mass_deletion:
        raise Failure(
            description=f"{customer_id}: mass deletion blocked, the published marts are unchanged. "
            + "; ".join(f"a bulk of {b['entity']} delivered {b['delivery_date']} would remove "
                        f"{b['would_delete']} of {b['active_before']} active records" for b in blocked)
            + ". If the deletion is real, re-run build_marts for this customer with run config "
            "ops: customer_marts: config: force_mass_deletion: true",
            metadata={"blocked_bulks": blocked},
        )
    raise Failure(description=f"{customer_id}: dbt build failed (see the failed models/tests above); "
                  "the published marts are unchanged")
