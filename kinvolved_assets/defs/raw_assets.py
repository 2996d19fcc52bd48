"""One asset per OneRoster+ entity (``oneroster/<entity>``), materialized together per delivery.

A single multi-asset step opens the delivery once and loads every entity; each entity is still its own
asset with its own partitions, metadata and checks. A delivery is promoted to ``raw/`` all or
nothing: a blocking check failure keeps the previous state and fails the run.
"""


from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetMaterialization,
    AssetObservation,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    MultiPartitionsDefinition,
    multi_asset,
)
from pydantic import Field

from kinvolved_assets.checks import CheckOutcome
from kinvolved_assets.defs.delivery_status import annotate_check, blocked_observations, report_link
from kinvolved_assets.defs.keys import RAW_GROUP, raw_asset_key
from kinvolved_assets.defs.partitions import CUSTOMER_DIM, DATE_DIM
from kinvolved_assets.defs.resources import PlatformResource
from kinvolved_assets.delivery.ingest import (
    AlreadyIngested,
    DeliveryOutcome,
    EntityOutcome,
    ingest_delivery,
)
from kinvolved_assets.delivery.ledger import Ledger
from kinvolved_assets.delivery.legacy_layout import LegacyLayout
from kinvolved_assets.delivery.locate import DeliveryNotFound
from kinvolved_assets.delivery.lock import CustomerBusy
from kinvolved_assets.diskspace import DiskFull
from kinvolved_assets.oneroster.load import LoadResult
from kinvolved_assets.oneroster.spec import RAW_ENTITIES as ENTITIES
from kinvolved_assets.paths import CustomerPaths

CHECK_NAMES = ("contract",)
# the partitions view of a raw asset filtered to the dates a delivery ran for (the UI's `status` filter)
DELIVERED_ONLY = "/assets/oneroster/{entity}?view=partitions&status=FAILED,MATERIALIZED,MATERIALIZING"


class DeliveryConfig(Config):
    delivery_file: str | None = Field(
        default=None,
        description="The delivery to ingest (path in the customer's landing folder). Empty: the archived "
        "delivery of the partition's date, else the single landing delivery dated that day.",
    )
    sha256: str | None = Field(default=None, description="The delivery to ingest, by the sha256 of its bytes "
                               "(the ledger's `kinvolved deliveries`); wins over `delivery_file`.")
    only_new: bool = Field(default=False, description="Refuse a delivery the customer's ledger already shows "
                           "ingested, blocked or superseded (set by the delivery sensor).")


def entity_metadata(outcome: EntityOutcome, delivery: DeliveryOutcome) -> dict:
    result = outcome.result
    meta = {
        "present": outcome.present,
        "rows": MetadataValue.int(int(result.rows or 0)),
        "rejected_rows": MetadataValue.int(int(result.rejected_rows or 0)),
        "mode": str(result.mode or "absent"),
        "file_name": str(result.file_name or ""),
        "file_sha256": str(result.sha256 or ""),
        "delivery_sha256": delivery.delivery_sha256,
        "delivery_file": delivery.delivery_path.name,
        "findings_errors": sum(1 for f in result.findings if f.severity == "error"),
        "findings_warnings": sum(1 for f in result.findings if f.severity == "warning"),
    }
    if delivery.report_path is not None:
        meta["validation_report"] = MetadataValue.path(str(delivery.report_path))
        meta.update(report_link(delivery.report_path))
    if getattr(result, "min_date", None):
        meta["min_date"] = str(result.min_date)
        meta["max_date"] = str(result.max_date)
    return meta


def _check_fields(entity: str, check: CheckOutcome) -> dict:
    return dict(
        asset_key=raw_asset_key(entity),
        check_name=check.name,
        passed=check.passed,
        severity=AssetCheckSeverity.ERROR if check.blocking else AssetCheckSeverity.WARN,
        description=check.description or None,
        metadata={k: _metadata_value(k, v) for k, v in check.metadata.items()},
    )


def _skipped_check_fields(entity: str, check_name: str) -> dict:
    return dict(asset_key=raw_asset_key(entity), check_name=check_name, passed=True,
                severity=AssetCheckSeverity.WARN,
                metadata={"skipped": "file not in this delivery or not readable"})


def delivery_results(delivery: DeliveryOutcome, check_names: tuple[str, ...]):
    """What one delivery reports, in order, as ``(kind, fields)``: per entity a ``"materialization"``
    (asset_key, metadata) when the delivery was promoted, then a ``"check"`` for every check name (one
    the delivery did not run passes as WARN, marked skipped). Shared by the delivery asset (results)
    and the backlog job (events of the delivery's partition)."""
    absent = {n: EntityOutcome(n, LoadResult(entity=n,
                                             present=False)) for n in delivery.other_version_entities}
    for name, outcome in {**delivery.entities, **absent}.items():
        if delivery.promoted:
            yield "materialization", dict(asset_key=raw_asset_key(name),
                                          metadata=entity_metadata(outcome, delivery))
        for check in outcome.checks:
            yield "check", _check_fields(name, check)
        emitted = {c.name for c in outcome.checks}
        for missing in check_names:
            if missing not in emitted:
                yield "check", _skipped_check_fields(name, missing)


def default_validation(engine: str | None = None):
    """(validators, reporter, extra check names): the contract check plus the expectation suites."""
    from kinvolved_assets.expectations import CHECK_NAME, delivery_reporter, expectations_validator

    validator = expectations_validator() if engine is None else expectations_validator(engine=engine)
    return [validator], delivery_reporter, (CHECK_NAME,)


def blocked_description(customer_id: str, delivery_date: str, delivery: DeliveryOutcome) -> str:
    return (f"delivery {customer_id} {delivery_date} blocked by failed checks "
            f"({delivery.blocking_summary()}); raw/ and the marts are unchanged, the read files are kept "
            f"under warehouse/{customer_id}/quarantine/{delivery_date}/")


def _metadata_value(key: str, value):
    if key.endswith("_md"):
        return MetadataValue.md(str(value))
    if key.endswith("_path") and value:
        return MetadataValue.path(str(value))
    if isinstance(value, (dict, list)):
        return MetadataValue.json(value)
    return value


def same_date_replays(paths, delivery_date: str) -> list[str | None]:
    """The deliveries a run of one partition without a chosen delivery replays: every accepted delivery of
    that date in arrival order (the ledger's), else [None] (the archived or landed delivery of the date)."""
    with Ledger(paths) as ledger:
        accepted = [d.sha256 for d in ledger.same_date(delivery_date) if d.state == "ingested"]
    return accepted or [None]


def raw_specs() -> list[AssetSpec]:
    """One asset spec per raw entity of the contract."""
    return [
        AssetSpec(
            raw_asset_key(e.name),
            group_name=RAW_GROUP,
            description=f"`{e.file_name}` of each delivery as typed, immutable Parquet "
            f"(`warehouse/<customer>/raw/{e.name}/delivery_date=<date>/`).\n\n"
            f"[The delivered dates only]({DELIVERED_ONLY.format(entity=e.name)}) (partitions view without "
            "the dates nothing was delivered for).",
            kinds={"parquet", "duckdb"},
            tags={"kinvolved/entity": e.name},
            metadata={"oneroster_file": e.file_name, "extension": e.extension,
                      "optional_file": e.optional_file},
        )
        for e in ENTITIES
    ]


def raw_check_specs(partitions_def: MultiPartitionsDefinition,
                    check_names: tuple[str, ...]) -> list[AssetCheckSpec]:
    """Every check of every raw entity, per delivery partition: a blocked re-delivery's FAILED result
    is the partition's latest execution (the Checks tab shows it against the data that stays live,
    not "Not evaluated")."""
    return [
        AssetCheckSpec(name, asset=raw_asset_key(e.name), blocking=True, partitions_def=partitions_def,
                       description=f"{name} validation of {e.file_name}")
        for e in ENTITIES for name in check_names
    ]


def replay_deliveries(context: AssetExecutionContext, config: DeliveryConfig, platform: PlatformResource,
                      validators, reporter,
                      check_names: tuple[str, ...]) -> tuple[DeliveryOutcome, CustomerPaths]:
    """Ingest the partition's delivery (the chosen one, else every accepted delivery of that date in
    arrival order, the earlier ones recorded as events of the partition); the last one's outcome and
    the customer's paths."""
    keys = context.partition_key.keys_by_dimension
    customer_id, delivery_date = keys[CUSTOMER_DIM], keys[DATE_DIM]
    customer = platform.customer(customer_id)
    paths = platform.paths(customer_id)
    selected = [e.name for e in ENTITIES if raw_asset_key(e.name) in context.selected_asset_keys]
    chosen = config.delivery_file or config.sha256
    replays = same_date_replays(paths, delivery_date) if not chosen else [config.sha256]
    for i, sha in enumerate(replays):
        try:
            delivery = ingest_delivery(
                customer, paths, delivery_date, run_id=context.run_id, delivery_hint=config.delivery_file,
                entities=selected, validators=validators, reporter=reporter, sha256=sha,
                only_new=config.only_new, log=context.log.info,
            )
        except (AlreadyIngested, CustomerBusy, DeliveryNotFound, DiskFull, LegacyLayout) as exc:
            raise Failure(description=str(exc)) from None
        if i == len(replays) - 1:
            break
        # an earlier delivery of the same date (a UI materialization or backfill of the partition
        # replays every accepted one, in arrival order): recorded as events of the partition
        if not delivery.promoted:
            raise Failure(description=blocked_description(customer_id, delivery_date, delivery)
                          + f"; {len(replays) - i - 1} later deliveries of that date not replayed")
        context.log.info(f"delivery {customer_id} {delivery_date} ({delivery.delivery_path.name}): replayed, "
                         f"{i + 1} of {len(replays)} of that date")
        for kind, fields in delivery_results(delivery, check_names):
            if kind == "materialization":
                context.log_event(AssetMaterialization(**fields, partition=context.partition_key))
    return delivery, paths


def delivery_events(context: AssetExecutionContext, delivery: DeliveryOutcome, paths: CustomerPaths,
                    check_names: tuple[str, ...]):
    """The step's results for the partition's (last) delivery; a blocked one ends in a Failure."""
    keys = context.partition_key.keys_by_dimension
    customer_id, delivery_date = keys[CUSTOMER_DIM], keys[DATE_DIM]
    context.log.info(
        f"delivery {customer_id} {delivery_date} ({delivery.delivery_path.name}, sha256 "
        f"{delivery.delivery_sha256[:12]}): "
        f"{'promoted' if delivery.promoted else 'BLOCKED'} in {delivery.seconds:.2f}s"
    )
    for kind, fields in delivery_results(delivery, check_names):
        if kind == "materialization":
            yield MaterializeResult(**fields)
        else:
            yield AssetCheckResult(**annotate_check(fields, delivery, paths))
    if not delivery.promoted:
        failed = {n: [c.name for c in o.checks if not c.passed] for n, o in delivery.entities.items()}
        for obs in blocked_observations(delivery, paths, failed):
            yield AssetObservation(asset_key=raw_asset_key(obs["entity"]),
                                   partition=context.partition_key,
                                   description=obs["description"], metadata=obs["metadata"])
        raise Failure(
            description=blocked_description(customer_id, delivery_date, delivery),
            metadata={"delivery_sha256": delivery.delivery_sha256, "blocked": delivery.blocking_summary()},
        )


def build_raw_assets(partitions_def: MultiPartitionsDefinition, validators=None, reporter=None,
                     extra_checks=None):
    """The multi-asset over every entity in the contract (a factory over the specs).

    By default every delivery runs the contract check and the expectation suites
    (``kinvolved_assets.expectations``) and writes its validation report.
    """
    if validators is None:
        validators, reporter, extra_checks = default_validation()
    check_names = CHECK_NAMES + tuple(extra_checks or ())

    @multi_asset(
        name="oneroster_delivery",
        specs=raw_specs(),
        check_specs=raw_check_specs(partitions_def, check_names),
        partitions_def=partitions_def,
        can_subset=True,
        op_tags={"kinvolved/stage": "ingest"},
    )
    def oneroster_delivery(context: AssetExecutionContext, config: DeliveryConfig,
                           platform: PlatformResource):
        delivery, paths = replay_deliveries(context, config, platform, validators, reporter, check_names)
        yield from delivery_events(context, delivery, paths, check_names)

    return oneroster_delivery
