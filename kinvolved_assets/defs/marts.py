"""The dbt marts of one customer, built aside and published atomically.

``@dbt_assets`` partitioned by customer; the OneRoster sources map to the raw ``oneroster/<entity>``
assets through ``MultiToSingleDimensionPartitionMapping(customer)``, so the UI shows file → mart
lineage. dbt tests become asset checks. A red build never replaces the published marts.
"""


import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    Failure,
    MultiToSingleDimensionPartitionMapping,
    Output,
    PartitionMapping,
    StaticPartitionsDefinition,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from packaging import version
from pydantic import Field

from kinvolved_assets.customer_lock import customer_lock
from kinvolved_assets.dbt_settings import write_dbt_settings
from kinvolved_assets.defs.keys import RAW_GROUP, RAW_PREFIX
from kinvolved_assets.defs.mart_checks import with_mart_figures
from kinvolved_assets.defs.partitions import CUSTOMER_DIM
from kinvolved_assets.defs.resources import PlatformResource
from kinvolved_assets.diskspace import disk_full_message, is_disk_full
from kinvolved_assets.permissions import FILE_MODE, private_dir

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
DBT_LAYERS = ("staging", "intermediate", "marts")


def dbt_executable() -> str:
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"


def _dbt_sources_newer_than(path: Path) -> bool:
    if not path.exists():
        return True
    built = path.stat().st_mtime
    for folder in ("models", "macros", "tests", "seeds", "contract"):
        for f in (DBT_PROJECT_DIR / folder).rglob("*"):
            if f.is_file() and f.stat().st_mtime > built:
                return True
    return (DBT_PROJECT_DIR / "dbt_project.yml").stat().st_mtime > built


def prepare_manifest(force: bool = False) -> Path:
    """Run ``dbt parse`` when the manifest is missing or older than the project (tests, CI, CLI)."""
    if force or _dbt_sources_newer_than(MANIFEST_PATH):
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
        proc = subprocess.run(
            [dbt_executable(), "parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
             str(DBT_PROJECT_DIR), "--target-path", str(MANIFEST_PATH.parent), "--quiet"],
            env=env, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return MANIFEST_PATH


class KinvolvedDbtTranslator(DagsterDbtTranslator):
    """Sources → raw OneRoster assets; models keyed ``<layer>/<model>`` and grouped by layer."""

    def __init__(self):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    @staticmethod
    def _layer(props: Mapping[str, Any]) -> str:
        if props.get("resource_type") == "seed":
            return "seeds"
        fqn = props.get("fqn") or []
        return next((part for part in fqn if part in DBT_LAYERS), "other")

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([RAW_PREFIX, dbt_resource_props["name"]])
        return AssetKey([self._layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return RAW_GROUP
        return f"dbt_{self._layer(dbt_resource_props)}"

    def get_partition_mapping(
        self, dbt_resource_props: Mapping[str, Any], dbt_parent_resource_props: Mapping[str, Any]
    ) -> PartitionMapping | None:
        if dbt_parent_resource_props.get("resource_type") == "source":
            return MultiToSingleDimensionPartitionMapping(partition_dimension_name=CUSTOMER_DIM)
        return None


class MartsConfig(Config):
    force_mass_deletion: bool = Field(
        default=False,
        description="Accept bulk deliveries that delete more than the customer's mass_deletion_fraction "
        "of active records (recorded in the run's metadata).",
    )


@contextmanager
def _env(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# The name dbt opens the build file by: the same in every build, so dbt's profile (its path, and the
# database name DuckDB derives from it) does not change between builds and dbt parses partially.
DBT_BUILD_NAME = "profile/marts_build.duckdb"


def open_build_file(build_file: Path) -> Path:
    """Create the (empty) build database and its second, stable name for dbt (a hard link: one file)."""
    import duckdb

    duckdb.connect(str(build_file)).close()
    dbt_file = build_file.parent / DBT_BUILD_NAME
    private_dir(dbt_file.parent)
    dbt_file.unlink(missing_ok=True)
    os.link(build_file, dbt_file)
    return dbt_file


PARSE_STATE = "partial_parse.msgpack"


def stable_target(target: Path) -> Path:
    """The customer's dbt target folder, kept between builds for its ``partial_parse.msgpack``: the
    next build skips the full parse (the customer's vars and profile are the same build after build;
    a change of either, of dbt or of the project parses again)."""
    private_dir(target)
    keep_parse_state_only(target)
    return target


def keep_parse_state_only(target: Path) -> None:
    """Drop what a build wrote into the target but its parse state (logs, compiled SQL, results):
    nothing of one build is read as another's, and the folder stays private."""
    for entry in target.iterdir():
        if entry.name == PARSE_STATE and entry.is_file():
            os.chmod(entry, FILE_MODE)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def publish_atomically(build_file: Path, published: Path) -> None:
    """Swap a finished build in: readers see the old file or the new one, never half of one."""
    for name in (build_file, build_file.parent / DBT_BUILD_NAME):
        if name.with_name(name.name + ".wal").exists():
            raise RuntimeError(f"build {build_file.name} still has a write-ahead log; refusing to publish")
    (build_file.parent / DBT_BUILD_NAME).unlink(missing_ok=True)   # no second name on the published file
    with open(build_file, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(build_file, published)


def mass_deletions(build_file: Path, fraction: float, min_records: int = 1) -> list[dict]:
    """Bulks over the mass-deletion limit, read from a (failed) build's audit table: counts only."""
    if not build_file.exists():
        return []
    import duckdb

    try:
        with duckdb.connect(str(build_file), read_only=True) as con:
            rows = con.execute(
                "select entity, cast(delivery_date as varchar), would_delete, active_before "
                "from intermediate.int_oneroster__mass_deletion_audit "
                "where active_before > 0 and would_delete > ? * active_before and would_delete >= ? "
                "order by entity", [fraction, min_records],
            ).fetchall()
    except duckdb.Error:
        return []
    return [{"entity": e, "delivery_date": d, "would_delete": int(w), "active_before": int(a)}
            for e, d, w, a in rows]


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

    def _build_marts(context: AssetExecutionContext, dbt: DbtCliResource, platform: PlatformResource,
                     config: MartsConfig):
        customer_id = context.partition_key
        customer = platform.customer(customer_id)
        paths = platform.paths(customer_id)
        build_dir = paths.build_dir
        if build_dir.exists():  # leftovers of a killed build: never published, safe to drop
            shutil.rmtree(build_dir)
        private_dir(paths.warehouse)
        private_dir(build_dir / "tmp")   # dbt target/, the build file and its spill: 0700 like the rest
        private_dir(build_dir)
        build_file = build_dir / f"marts-{context.run_id}.duckdb"
        dbt_file = open_build_file(build_file)
        target = stable_target(paths.dbt_target)
        # the customer's lists go to dbt in a file (any size), the scalars as --vars
        dbt_vars = {**write_dbt_settings(customer, build_dir), "raw_root": str(paths.raw),
                    "force_mass_deletion": bool(config.force_mass_deletion)}
        env = {"KINVOLVED_MARTS_DB": str(dbt_file), "KINVOLVED_DUCKDB_TEMP_DIR": str(build_dir / "tmp")}
        if config.force_mass_deletion:
            context.log.warning(f"{customer_id}: mass-deletion guard overridden by run config")
        with _env(env):
            invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context,
                                 target_path=target, raise_on_error=False)
            events = list(invocation.stream())   # figures are read once dbt has let go of the file
        full = disk_was_full(target / "run_results.json")
        keep_parse_state_only(target)
        built = build_file if invocation.is_successful() else None
        for event in with_mart_figures(context, events, built, MANIFEST_PATH, customer):
            if isinstance(event, Output):
                event = event.with_metadata({**event.metadata, "customer": customer_id,
                                             "mass_deletion_forced": bool(config.force_mass_deletion)})
            yield event
        if not invocation.is_successful():
            blocked = mass_deletions(build_file, customer.attendance.mass_deletion_fraction,
                                     customer.attendance.mass_deletion_min_records)
            shutil.rmtree(build_dir, ignore_errors=True)
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
        os.chmod(build_file, FILE_MODE)   # the published marts: 0600 like the rest of the customer's tree
        publish_atomically(build_file, paths.marts_db)
        shutil.rmtree(build_dir, ignore_errors=True)
        context.log.info(f"{customer_id}: marts published to {paths.marts_db.name}"
                         f"{' (mass deletion forced)' if config.force_mass_deletion else ''}")

    return customer_marts


def disk_was_full(run_results: Path) -> bool:
    try:
        results = json.loads(run_results.read_text()).get("results", [])
    except (OSError, ValueError):
        return False
    return any(is_disk_full(OSError(str(r.get("message") or ""))) for r in results)


class MartsDbtResource(DbtCliResource):
    """``DbtCliResource`` without its two start-up costs per ``dbt build`` that these marts never use:
    ``dbt --version`` in a subprocess (the venv's dbt is the dbt-core installed beside dagster-dbt, whose
    version is read from the package metadata), and a dbt adapter opened in this process for
    ``fetch_column_metadata``/``fetch_row_counts`` (the figures come from ``marts_figures`` instead).
    Together ~3 s of CPU per build on 2 cores; the dbt subprocess, its events and its outputs are
    unchanged."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(sys.executable).parent / "dbt":
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - the adapter handle stays unset
        return None


def dbt_resource() -> DbtCliResource:
    return MartsDbtResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                            dbt_executable=dbt_executable())
