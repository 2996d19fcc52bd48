"""A customer's dbt vars for one marts build: scalars on the command line, lists in a file.

The lists of a large district (2,000 licensed schools with 10 closure days each is ~0.8 MB as JSON)
do not fit in one command-line argument (Linux caps one at 128 KiB), so they travel in
``<build>/customer_settings.json``, read by ``dbt_project/macros/customer_settings.sql``; the
command-line vars stay a few hundred bytes whatever the config holds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kinvolved_assets.customers import CustomerConfig

SETTINGS_FILE = "customer_settings.json"
LIST_VARS = ("licensed_schools", "non_instructional_days", "school_non_instructional_days",
             "school_period_rules", "school_calendars")


def settings_document(customer: CustomerConfig) -> dict[str, Any]:
    closures = [{"school_sourced_id": school, "closed_date": day.isoformat()}
                for school, days in customer.school_closures().items() for day in days]
    return {"licensed_schools": list(customer.licensed_schools),
            "non_instructional_days": [d.isoformat() for d in customer.district_closures()],
            "school_closures": closures,
            "period_rules": customer.dbt_vars()["school_period_rules"],
            "school_calendars": customer.school_calendars()}


def write_dbt_settings(customer: CustomerConfig, folder: Path) -> dict[str, Any]:
    """Write the settings file into ``folder``; return the vars for ``dbt --vars`` (no lists)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SETTINGS_FILE
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(settings_document(customer), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    small = {k: v for k, v in customer.dbt_vars().items() if k not in LIST_VARS}
    return {**small, "customer_settings_file": str(path)}
