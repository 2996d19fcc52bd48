"""Customer-config field types: the strict model base, dates and OneRoster ids, non-instructional
days, per-year calendars (``school_years``) and school-year arithmetic (docs/onboarding.md)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from kinvolved_assets.config_yaml import printable
from kinvolved_assets.paths import DATE_RE


class _Strict(BaseModel):
    # strict: no silent coercion (``true`` is not 1, ``"2026"`` is not a year); dates are parsed by IsoDate
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _iso_date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):   # built in Python
        return value
    if isinstance(value, str) and DATE_RE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{printable(value)} is not a date: write YYYY-MM-DD, e.g. 2025-11-27")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
_SOURCED_ID = re.compile(r"[0-9a-zA-Z._\-/@]{1,255}", re.ASCII)


def _check_ids(values, what: str):
    bad = [v for v in values if not _SOURCED_ID.fullmatch(v)]
    if bad:
        raise ValueError(f"{len(bad)} {what} are not OneRoster sourcedIds/identifiers "
                         "(letters, digits, . _ - / @), "
                         f"e.g. {printable(bad[0])}")
    return values


class NonInstructionalDays(_Strict):
    district: list[IsoDate] = Field(default_factory=list)
    schools: dict[str, list[IsoDate]] = Field(default_factory=dict)

    @field_validator("schools")
    @classmethod
    def _school_ids(cls, value: dict) -> dict:
        _check_ids(list(value), "school keys")
        return value


class SchoolYearCalendar(_Strict):
    """school_years.<year>: that year's instructional calendar (docs/onboarding.md, "School years"):
    first and last school day (inclusive) instead of the dates of its academic sessions, and
    non-instructional days of that year on top of the top-level ones."""
    first_day: IsoDate
    last_day: IsoDate
    non_instructional_days: NonInstructionalDays = Field(default_factory=NonInstructionalDays)


def calendar_problems(year: int, calendar: SchoolYearCalendar) -> list[tuple[str, str]]:
    """(key below school_years.<year>, message) for a calendar that does not fit its school year."""
    lo, hi = school_year_start(year), dt.date(year, 6, 30)
    label = f"{year - 1}-{str(year)[-2:]}"
    out = [(key, f"{day} is outside school year {label} ({lo} .. {hi}): give a date inside it, or put the "
                 f"block under the year that holds it ({school_year_of(day)})")
           for key, day in (("first_day", calendar.first_day), ("last_day", calendar.last_day))
           if not lo <= day <= hi]
    if not out and calendar.last_day < calendar.first_day:
        out.append(("last_day", f"{calendar.last_day} is before first_day {calendar.first_day}: "
                                "give the last school day of the year, on or after first_day"))
    days = calendar.non_instructional_days
    dated = [("non_instructional_days.district", d) for d in days.district] + [
        (f"non_instructional_days.schools.{school}", d)
        for school, ds in sorted(days.schools.items()) for d in ds]
    outside = [(key, day) for key, day in dated if not calendar.first_day <= day <= calendar.last_day]
    if not out and outside:
        key, day = outside[0]
        out.append((key, f"{day} is outside this year's school days "
                         f"{calendar.first_day} .. {calendar.last_day}: "
                         "remove it or move it to the year that holds it"))
    return out


def school_year_start(ending_year: int) -> dt.date:
    """School year ``ending_year`` (e.g. 2027 for 2026-27) starts on 1 July of the year before."""
    return dt.date(ending_year - 1, 7, 1)


def school_year_of(day: dt.date) -> int:
    """The ending year of the school year (1 July - 30 June) that holds ``day``."""
    return day.year + 1 if day.month >= 7 else day.year
