"""Names shared by the Dagster modules: asset keys, groups, jobs, tags."""

from __future__ import annotations

from dagster import AssetKey

RAW_PREFIX = "oneroster"
RAW_GROUP = "oneroster_raw"
INGEST_JOB = "ingest_delivery"
MARTS_JOB = "build_marts"
BACKLOG_JOB = "ingest_backlog"
BACKLOG_OP = "ingest_deliveries"   # the job's one op (op and job names must differ)
ONBOARD_JOB = "onboard_customer"
ONBOARD_ENTITIES = ("orgs", "absence_codes")
CUSTOMER_TAG = "kinvolved/customer"


def raw_asset_key(entity: str) -> AssetKey:
    return AssetKey([RAW_PREFIX, entity])
