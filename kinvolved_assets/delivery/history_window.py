"""The first delivery date a customer loads (``history_from_school_year``) and why an earlier one is
skipped."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from kinvolved_assets.config_calendar import school_year_of

if TYPE_CHECKING:
    from kinvolved_assets.customers import CustomerConfig


def before_history_message(customer: CustomerConfig, delivery_date: str,
                           loaded_start: str | None = None) -> str | None:
    """Why a delivery dated before the customer's first school year is skipped (None: it is not).
    ``loaded_start``: the first date of the partitions the running code location was loaded with."""
    if delivery_date >= customer.history_start.isoformat():
        if loaded_start and delivery_date < loaded_start:
            return (f"delivery date {delivery_date} is before {loaded_start}, the first delivery date of the "
                    "loaded code location: reload the code location (Deployment → Reload) to load it")
        return None
    year = school_year_of(dt.date.fromisoformat(delivery_date))
    first = customer.first_school_year
    return (f"delivery date {delivery_date} is before school year {first - 1}-{str(first)[-2:]} (from "
            f"{customer.history_start}), the first this customer loads: set history_from_school_year: {year} "
            f"in {customer.customer_id}.yaml to load it, then reload the code location")
