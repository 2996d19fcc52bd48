"""Partitions: customer (static, from customer_configs/) x delivery date (daily).

The date dimension starts on 1 July of the earliest school year any loaded customer configures
(``history_from_school_year``, default its ``school_year``), so the partitions view starts where the
deliveries do; with no customer loaded it falls back to ``FALLBACK_START``. A customer's own
deliveries dated before its first school year are skipped by its sensor with a message naming
``history_from_school_year``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from dagster import DailyPartitionsDefinition, MultiPartitionsDefinition, StaticPartitionsDefinition

CUSTOMER_DIM = "customer"
DATE_DIM = "date"
FALLBACK_START = "2020-01-01"


def delivery_dates(start: dt.date | str | None = None) -> DailyPartitionsDefinition:
    """Daily delivery dates from ``start`` (ISO date; FALLBACK_START when None) to tomorrow (UTC).
    Deliveries are dated in the customer's timezone by the sensor; the dimension is plain dates."""
    first = start.isoformat() if isinstance(start, dt.date) else (start or FALLBACK_START)
    return DailyPartitionsDefinition(start_date=first, end_offset=1, fmt="%Y-%m-%d")


DELIVERY_DATES = delivery_dates()   # the fallback dimension (no customer loaded)


def earliest_start(customers: Iterable) -> dt.date | None:
    """The first history_start of the given customer configs, None when there are none."""
    starts = [c.history_start for c in customers]
    return min(starts) if starts else None


def date_start(partitions_def) -> str | None:
    """First date of the date dimension of a delivery partitions definition (None if it has none)."""
    for dimension in getattr(partitions_def, "partitions_defs", []):
        if dimension.name == DATE_DIM:
            return dimension.partitions_def.start.date().isoformat()
    return None


def customer_partitions(customer_ids: Iterable[str]) -> StaticPartitionsDefinition:
    return StaticPartitionsDefinition(sorted(customer_ids))


def delivery_partitions(customer_ids: Iterable[str],
                        start: dt.date | str | None = None) -> MultiPartitionsDefinition:
    return MultiPartitionsDefinition(
        {CUSTOMER_DIM: customer_partitions(customer_ids), DATE_DIM: delivery_dates(start)}
    )


def delivery_key(customer_id: str, delivery_date: str):
    from dagster import MultiPartitionKey

    return MultiPartitionKey({CUSTOMER_DIM: customer_id, DATE_DIM: delivery_date})
