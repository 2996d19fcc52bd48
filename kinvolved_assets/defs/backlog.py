"""Backlog job: many deliveries of one customer ingested in date order by ONE run.

A run per delivery costs seconds of Dagster overhead (run creation, planned events, a process per
run in a deployment); a full-year initial pull of 200+ deliveries would spend most of its time there.
The backlog run does exactly what the delivery asset does for each delivery (archive, read, validate,
promote all-or-nothing) and records each one as a materialization of the ``<customer>|<date>``
partition of every entity asset, with its check evaluations, so the asset catalog looks the same
as after one run per delivery. It stops at the first blocked delivery: later deltas would be
validated against a state that is missing it.

Launched by the customer's delivery sensor when a tick finds at least ``backlog_min_deliveries`` new
deliveries (an initial pull, a catch-up after an outage), by ``kinvolved backfill`` and from the UI
(partition = customer; config ``dates`` or ``start``/``end``).
"""

from dagster import (
    AssetCheckEvaluation,
    AssetMaterialization,
    AssetObservation,
    Config,
    Failure,
    OpExecutionContext,
    StaticPartitionsDefinition,
    job,
    op,
)
from pydantic import Field

from kinvolved_assets.defs.delivery_status import annotate_check, blocked_observations
from kinvolved_assets.defs.keys import BACKLOG_JOB, BACKLOG_OP, raw_asset_key
from kinvolved_assets.defs.partitions import delivery_key
from kinvolved_assets.defs.raw_assets import (
    CHECK_NAMES,
    blocked_description,
    default_validation,
    delivery_results,
)
from kinvolved_assets.defs.resources import PlatformResource
from kinvolved_assets.delivery.ingest import AlreadyIngested, ingest_delivery
from kinvolved_assets.delivery.landing import delivery_dates_between
from kinvolved_assets.delivery.ledger import Ledger
from kinvolved_assets.delivery.legacy_layout import LegacyLayout
from kinvolved_assets.delivery.locate import DeliveryNotFound
from kinvolved_assets.delivery.lock import CustomerBusy
from kinvolved_assets.diskspace import DiskFull

# a sensor tick that finds this many new deliveries of a customer requests one backlog run instead
DEFAULT_BACKLOG_MIN_DELIVERIES = 30


class BacklogConfig(Config):
    dates: list[str] = Field(default_factory=list, description="Delivery dates to ingest, in any order "
                             "(run in date order). Empty: every archived or landed delivery in start..end.")
    delivery_files: list[str] = Field(default_factory=list,
                                      description="Optional: the landing delivery of each date "
                             "(same length as dates), when a date has several deliveries.")
    deliveries: list[str] = Field(default_factory=list, description="Optional: the sha256 of each date's "
                                  "delivery (same length as dates; the ledger's choice, set by the sensor).")
    only_new: bool = Field(default=False, description="Skip deliveries the ledger already shows ingested, "
                           "blocked or superseded (the sensor's backlog runs); a backfill replays them.")
    start: str = Field(default="2000-01-01", description="First delivery date when dates is empty.")
    end: str = Field(default="9999-12-31", description="Last delivery date when dates is empty.")
    expectations_engine: str = Field(default="duckdb", description="Engine of the expectation suites: "
                                     "duckdb (default for a backlog: same rules, "
                                     "no GX start-up per delivery), auto or gx.")


def backlog_items(config: BacklogConfig, customer, paths, home) -> list[tuple[str, str | None, str | None]]:
    """(date, landing delivery or None, sha256 or None) in application order: (delivery date, arrival seq).

    Without explicit dates: the ledger's accepted deliveries of start..end (a blocked or superseded
    delivery is not replayed), plus the archived or landed dates the ledger does not know yet. With
    dates (and no deliveries): every accepted delivery of those dates, same-day ones included."""
    if config.delivery_files and len(config.delivery_files) != len(config.dates):
        raise Failure(description=f"config delivery_files has {len(config.delivery_files)} entries for "
                                  f"{len(config.dates)} dates")
    if config.deliveries and len(config.deliveries) != len(config.dates):
        raise Failure(description=f"config deliveries has {len(config.deliveries)} entries for "
                      f"{len(config.dates)} dates")
    with Ledger(paths) as ledger:
        known = ledger.deliveries()
        seq = {d.sha256: d.seq for d in known}
        if config.deliveries:
            files = config.delivery_files or [None] * len(config.dates)
            items = list(zip(config.dates, files, config.deliveries, strict=True))
        elif config.dates and config.delivery_files:
            hints = dict(zip(config.dates, config.delivery_files, strict=True))
            items = [(d, hints.get(d), None) for d in sorted(set(config.dates))]
        elif config.dates:   # every accepted delivery of those dates (a date may have several), else the
                             # landed one
            accepted = [d for d in known if d.state == "ingested" and d.delivery_date in set(config.dates)]
            items = [(d.delivery_date, None, d.sha256) for d in accepted] + [
                (d, None, None) for d in sorted(set(config.dates))
                if d not in {a.delivery_date for a in accepted}]
        else:
            accepted = ledger.accepted_between(config.start, config.end)
            ledger_dates = {d.delivery_date for d in known}
            items = [(d.delivery_date, None, d.sha256) for d in accepted] + [
                (d, None, None) for d in delivery_dates_between(customer, home, config.start, config.end)
                if d not in ledger_dates]
    return sorted(items, key=lambda item: (item[0], seq.get(item[2] or "", 0)))


def build_backlog_job(customer_partitions: StaticPartitionsDefinition):
    @op(name=BACKLOG_OP, tags={"kinvolved/stage": "ingest"})
    def ingest_deliveries(context: OpExecutionContext, config: BacklogConfig,
                          platform: PlatformResource) -> int:
        customer_id = context.partition_key
        customer = platform.customer(customer_id)
        paths = platform.paths(customer_id)
        items = backlog_items(config, customer, paths, platform.home_path)
        validators, reporter, extra = default_validation(config.expectations_engine)
        check_names = CHECK_NAMES + extra
        context.log.info(f"backlog of {customer_id}: {len(items)} deliveries "
                         f"({items[0][0] if items else '-'} .. {items[-1][0] if items else '-'})")
        done = 0
        for i, (delivery_date, hint, sha) in enumerate(items):
            try:
                delivery = ingest_delivery(customer, paths, delivery_date, run_id=f"{context.run_id}-{i:04d}",
                                           delivery_hint=hint, sha256=sha, only_new=config.only_new,
                                           validators=validators, reporter=reporter, log=context.log.info)
            except AlreadyIngested as exc:
                context.log.info(f"{i + 1}/{len(items)} {delivery_date}: skipped, {exc}")
                continue
            except (CustomerBusy, DeliveryNotFound, DiskFull, LegacyLayout) as exc:
                raise Failure(description=str(exc)) from None
            done += 1
            partition = delivery_key(customer_id, delivery_date)
            for kind, fields in delivery_results(delivery, check_names):
                if kind == "materialization":
                    context.log_event(AssetMaterialization(**fields, partition=partition))
                else:
                    context.log_event(AssetCheckEvaluation(**annotate_check(fields, delivery, paths),
                                                           partition=partition))
            context.log.info(f"{i + 1}/{len(items)} {delivery_date} ({delivery.delivery_path.name}): "
                             f"{'promoted' if delivery.promoted else 'BLOCKED'} in {delivery.seconds:.2f}s")
            if not delivery.promoted:
                failed = {n: [c.name for c in o.checks if not c.passed] for n, o in delivery.entities.items()}
                for obs in blocked_observations(delivery, paths, failed):
                    context.log_event(AssetObservation(asset_key=raw_asset_key(obs["entity"]),
                                                       partition=partition, description=obs["description"],
                                                       metadata=obs["metadata"]))
                raise Failure(
                    description=blocked_description(customer_id, delivery_date, delivery)
                    + f"; {i} earlier deliveries of this backlog were promoted, "
                      f"{len(items) - i - 1} later ones not run",
                    metadata={"delivery_sha256": delivery.delivery_sha256,
                              "blocked": delivery.blocking_summary(),
                              "promoted": i, "not_run": len(items) - i - 1},
                )
        return done

    @job(name=BACKLOG_JOB, partitions_def=customer_partitions,
         description="Ingest many deliveries of one customer (partition) in date order in one run: an "
         "initial full-year pull, a catch-up. Each delivery is recorded as its own customer|date partition.")
    def ingest_backlog_job():
        ingest_deliveries()

    return ingest_backlog_job
