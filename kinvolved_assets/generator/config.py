"""The customer config that matches a generated district (its schools, school year and holidays)."""

from __future__ import annotations

import datetime as dt

import yaml

from kinvolved_assets.generator.calendar import build_calendar
from kinvolved_assets.generator.district_tables import SCALES
from kinvolved_assets.paths import check_slug


def infer_school_year(d: dt.date) -> int:
    return d.year + 1 if d.month >= 7 else d.year


def _school_ids(scale: str, schools: int | None = None) -> list[str]:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return [f"org-sch-{i + 1:04d}" for i in range(schools or SCALES[scale][1])]


def suggested_config(customer_id: str, scale: str, seed: int, school_year: int | None = None,
                     schools: int | None = None, years: int = 1) -> dict:
    """A customer config (valid for ``CustomerConfig``) matching what ``generate`` produces; with
    ``years`` > 1 the current year is the last one and history_from_school_year the first."""
    check_slug(customer_id)
    first = school_year or infer_school_year(dt.date.today())
    year = first + years - 1
    holidays = [d.isoformat() for y in range(first, year + 1) for d in build_calendar(y).holidays]
    name = customer_id.replace("_", " ").title()
    del seed  # the schools and the calendar do not depend on the seed
    config = {
        "customer_id": customer_id,
        "name": f"{name} Unified School District",
        "sis": "PowerSchool",
        "flow": "oneroster_csv",
        "timezone": "America/New_York",
        "products": ["attendance"],
        "school_year": year,
        "licensed_schools": _school_ids(scale, schools),
        "non_instructional_days": {"district": holidays},
    }
    if years > 1:
        config["history_from_school_year"] = first
    return config


def config_yaml(config: dict, header: str = "") -> str:
    body = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    return header + body
