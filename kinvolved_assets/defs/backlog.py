"""Backlog job: many deliveries of one customer ingested in date order by ONE run.

A run per delivery costs seconds of Dagster overhead (run creation, planned events, a process per
run in a deployment); a full-year initial pull of 200+ deliveries would spend most of its time there.
The backlog run does exactly what the delivery asset does for each delivery (archive, read, validate,
promote all-or-nothing) and records each one as a materialization of the ``<customer>|<date>``
partition of every entity asset, with its check evaluations, so the asset catalog looks the same
as after one run per delivery. It stops at the first blocked delivery: later deltas would be
validated against a state that is missing it.

Launched by the customer's delivery sensor when a tick finds at least ``backlog_min_deliveries`` new
drops (an initial pull, a catch-up after an outage), by ``kinvolved backfill`` and from the UI
(partition = customer; config ``dates`` or ``start``/``end``).
"""

from dagster import (
    AssetCheckEvaluation,
    AssetMaterialization,
    Config,
    Failure,
    OpExecutionContext,
    StaticPartitionsDefinition,
    job,
    op,
)
from pydantic import Field

from kinvolved_assets.defs.keys import BACKLOG_JOB, BACKLOG_OP
from kinvolved_assets.defs.partitions import delivery_key
from kinvolved_assets.defs.raw_assets import (
    CHECK_NAMES,
    blocked_description,
    default_validation,
    delivery_results,
)
from kinvolved_assets.defs.resources import PlatformResource
from kinvolved_assets.delivery import delivery_dates_between
from kinvolved_assets.ingest import ingest_delivery

# a sensor tick that finds this many new drops of a customer requests one backlog run instead
DEFAULT_BACKLOG_MIN_DELIVERIES = 30


class BacklogConfig(Config):
    dates: list[str] = Field(default_factory=list, description="Delivery dates to ingest, in any order "
                             "(run in date order). Empty: every archived or landed delivery in start..end.")
    drops: list[str] = Field(default_factory=list, description="Optional: the landing drop of each date "
                             "(same length as dates), when a date has several drops.")
    start: str = Field(default="2000-01-01", description="First delivery date when dates is empty.")
    end: str = Field(default="9999-12-31", description="Last delivery date when dates is empty.")
    expectations_engine: str = Field(default="duckdb", description="Engine of the expectation suites: "
                                     "duckdb (default for a backlog: same rules, no GX start-up per delivery), "
                                     "auto or gx.")


def build_backlog_job(customer_partitions: StaticPartitionsDefinition):
    @op(name=BACKLOG_OP, tags={"kinvolved/stage": "ingest"})
    def ingest_deliveries(context: OpExecutionContext, config: BacklogConfig, platform: PlatformResource) -> int:
        customer_id = context.partition_key
        customer = platform.customer(customer_id)
        paths = platform.paths(customer_id)
        if config.drops and len(config.drops) != len(config.dates):
            raise Failure(description=f"config drops has {len(config.drops)} entries for {len(config.dates)} dates")
        hints = dict(zip(config.dates, config.drops, strict=True)) if config.drops else {}
        dates = sorted(set(config.dates)) or delivery_dates_between(customer, platform.home_path, config.start, config.end)
        validators, reporter, extra = default_validation(config.expectations_engine)
        check_names = CHECK_NAMES + extra
        context.log.info(f"backlog of {customer_id}: {len(dates)} deliveries "
                         f"({dates[0] if dates else '-'} .. {dates[-1] if dates else '-'})")
        for i, delivery_date in enumerate(dates):
            delivery = ingest_delivery(customer, paths, delivery_date, run_id=f"{context.run_id}-{i:04d}",
                                       drop_hint=hints.get(delivery_date), validators=validators, reporter=reporter)
            partition = delivery_key(customer_id, delivery_date)
            for kind, fields in delivery_results(delivery, check_names):
                event = AssetMaterialization if kind == "materialization" else AssetCheckEvaluation
                context.log_event(event(**fields, partition=partition))
            context.log.info(f"{i + 1}/{len(dates)} {delivery_date} ({delivery.drop_path.name}): "
                             f"{'promoted' if delivery.promoted else 'BLOCKED'} in {delivery.seconds:.2f}s")
            if not delivery.promoted:
                raise Failure(
                    description=blocked_description(customer_id, delivery_date, delivery)
                    + f"; {i} earlier deliveries of this backlog were promoted, {len(dates) - i - 1} later ones not run",
                    metadata={"drop_sha256": delivery.drop_sha256, "blocked": delivery.blocking_summary(),
                              "promoted": i, "not_run": len(dates) - i - 1},
                )
        return len(dates)

    @job(name=BACKLOG_JOB, partitions_def=customer_partitions,
         description="Ingest many deliveries of one customer (partition) in date order in one run: an "
         "initial full-year pull, a catch-up. Each delivery is recorded as its own customer|date partition.")
    def ingest_backlog_job():
        ingest_deliveries()

    return ingest_backlog_job
