"""The customer config's rule blocks: ``schedule:`` (cron, customer timezone), ``attendance:``
(chronic threshold, enrolled days, mass-deletion guard, daily from periods) and ``validation:``
(volume change, strictness, per-rule severity). The config itself: ``customers.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from kinvolved_assets.config_calendar import _Strict
from kinvolved_assets.config_period_rules import DailyFromPeriods
from kinvolved_assets.cron import check_cron


class Schedule(_Strict):
    daily: str | None = None      # cron, customer timezone
    monthly: str | None = None

    @field_validator("daily", "monthly")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)


class AttendanceRules(_Strict):
    chronic_threshold: float = Field(0.10, gt=0, le=1)
    min_enrolled_days: int = Field(10, ge=0, le=400)
    enrollment_end_inclusive: bool = False
    mass_deletion_fraction: float = Field(0.20, gt=0, le=1)
    mass_deletion_min_records: int = Field(5, ge=1)   # the guard trips only from this many deletions on
    daily_from_periods: DailyFromPeriods = Field(default_factory=DailyFromPeriods)


class ValidationRules(_Strict):
    volume_change_fraction: float = Field(0.50, gt=0, allow_inf_nan=False)
    strict: bool = False  # true: a row-level rule failure blocks the delivery instead of quarantining rows
    # per row-level rule
    rule_severity: dict[str, Literal["quarantine", "block"]] = Field(default_factory=dict)
