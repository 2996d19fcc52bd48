"""Jobs: ingest a delivery, build a customer's marts, onboard a customer (schools + codes)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from kinvolved_assets.defs.keys import (
    INGEST_JOB,
    MARTS_JOB,
    ONBOARD_ENTITIES,
    ONBOARD_JOB,
    RAW_GROUP,
    raw_asset_key,
)


def build_jobs(delivery_partitions, customer_partitions, marts_assets, *downstream):
    raw = AssetSelection.groups(RAW_GROUP)
    ingest = define_asset_job(
        INGEST_JOB, selection=raw, partitions_def=delivery_partitions,
        description="Archive, read, validate and promote one delivery (customer x date) to raw Parquet.",
    )
    marts = define_asset_job(
        MARTS_JOB, selection=AssetSelection.assets(marts_assets, *downstream),
        partitions_def=customer_partitions,
        description="dbt build of one customer's marts into a fresh file, published atomically when green.",
    )
    onboard = define_asset_job(
        ONBOARD_JOB, selection=AssetSelection.assets(*[raw_asset_key(e) for e in ONBOARD_ENTITIES]),
        partitions_def=delivery_partitions,
        description="One-time load of a new customer's schools (orgs) and absence codes.",
    )
    return ingest, marts, onboard
