"""How the dbt project's nodes appear in Dagster: keys, groups and the customer partition mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey, MultiToSingleDimensionPartitionMapping, PartitionMapping
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from kinvolved_assets.defs.keys import RAW_GROUP, RAW_PREFIX
from kinvolved_assets.defs.partitions import CUSTOMER_DIM

DBT_LAYERS = ("staging", "intermediate", "marts")


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
