"""Partitions: customer (static, from customer_configs/) x delivery date (daily)."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import DailyPartitionsDefinition, MultiPartitionsDefinition, StaticPartitionsDefinition

CUSTOMER_DIM = "customer"
DATE_DIM = "date"
# Deliveries are dated in the customer's timezone by the sensor; the dimension itself is plain dates.
DELIVERY_DATES = DailyPartitionsDefinition(start_date="2020-01-01", end_offset=1, fmt="%Y-%m-%d")


def customer_partitions(customer_ids: Iterable[str]) -> StaticPartitionsDefinition:
    return StaticPartitionsDefinition(sorted(customer_ids))


def delivery_partitions(customer_ids: Iterable[str]) -> MultiPartitionsDefinition:
    return MultiPartitionsDefinition(
        {CUSTOMER_DIM: customer_partitions(customer_ids), DATE_DIM: DELIVERY_DATES}
    )


def delivery_key(customer_id: str, delivery_date: str):
    from dagster import MultiPartitionKey

    return MultiPartitionKey({CUSTOMER_DIM: customer_id, DATE_DIM: delivery_date})
