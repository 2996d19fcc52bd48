"""attendance.daily_from_periods of the customer config: the period rule fields, a resolved rule, the
customer's default with per-school overrides, and their dbt vars (docs/attendance-rules.md 4a)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kinvolved_assets.config_calendar import _check_ids, _Strict
from kinvolved_assets.config_messages import AT_KEY_PREFIX

PERIOD_MODES = ("none", "all_periods", "share", "minutes")
PERIOD_PRECEDENCE = ("daily_event", "periods")
_RULE_KEYS = ("mode", "share", "minutes", "half_day_share", "code", "precedence")


class PeriodRuleFields(_Strict):
    """The fields of a period rule; each may be left out of a school's override (docs/attendance-rules.md)."""
    mode: Literal["none", "all_periods", "share", "minutes"] | None = None
    share: float | None = Field(None, gt=0, le=1)          # mode share: absent from >= share of the periods
    minutes: int | None = Field(None, ge=1, le=1440)       # mode minutes: >= minutes absent in periods
    half_day_share: float | None = Field(None, gt=0, le=1)  # absent from >= this share (not a full day): 0.5
    code: str | None = None                                 # absence code (title or sourcedId) to assign
    precedence: Literal["daily_event", "periods"] | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is not None:
            _check_ids([value], "codes")
        return value


@dataclass(frozen=True)
class PeriodRule:
    """A resolved rule of one school (or the customer's default)."""
    mode: str = "none"
    share: float | None = None
    minutes: int | None = None
    half_day_share: float | None = None
    code: str | None = None
    precedence: str = "daily_event"

    def problems(self) -> list[tuple[str, str]]:
        """(key, message) for a rule that cannot be applied."""
        out: list[tuple[str, str]] = []
        if self.mode == "share" and self.share is None:
            out.append(("share", "mode share needs share: the share of the day's periods, e.g. 0.5"))
        if self.mode == "minutes" and self.minutes is None:
            out.append(("minutes",
                        "mode minutes needs minutes: the minutes absent that make a day, e.g. 240"))
        if self.mode != "none" and self.code is None:
            out.append(("code",
                        "needs code: one of the customer's absence codes (title or sourcedId), e.g. AU"))
        if self.mode == "share" and None not in (self.share, self.half_day_share) \
                and self.half_day_share >= self.share:
            out.append(("half_day_share", f"{self.half_day_share} must be below share {self.share} "
                                          "(a half day needs fewer absent periods than a full day)"))
        if self.mode == "all_periods" and self.half_day_share == 1:
            out.append(("half_day_share",
                        "1 is a full day under all_periods: give a share below 1, e.g. 0.5"))
        return out


class DailyFromPeriods(PeriodRuleFields):
    """attendance.daily_from_periods: the customer's rule and per-school overrides."""
    schools: dict[str, PeriodRuleFields] = Field(default_factory=dict)

    @field_validator("schools")
    @classmethod
    def _school_ids(cls, value: dict) -> dict:
        _check_ids(list(value), "school keys")
        return value

    def default_rule(self) -> PeriodRule:
        return PeriodRule(**{k: v for k in _RULE_KEYS if (v := getattr(self, k)) is not None})

    def school_rules(self) -> dict[str, PeriodRule]:
        base = {k: getattr(self.default_rule(), k) for k in _RULE_KEYS}
        return {school: PeriodRule(**{**base,
                                      **{k: v for k in _RULE_KEYS if (v := getattr(o, k)) is not None}})
                for school, o in sorted(self.schools.items())}

    @model_validator(mode="after")
    def _complete(self) -> DailyFromPeriods:
        problems = [(k, m) for k, m in self.default_rule().problems()]
        problems += [(f"schools.{school}.{k}", m) for school, rule in self.school_rules().items()
                     for k, m in rule.problems()]
        if problems:
            key, message = problems[0]
            raise ValueError(f"{AT_KEY_PREFIX}{key}] {message}")
        return self


def rule_document(rule: PeriodRule) -> dict[str, Any]:
    return {k: getattr(rule, k) for k in _RULE_KEYS}


def period_rule_vars(rule: PeriodRule) -> dict[str, Any]:
    """The customer's default period rule as dbt scalars (``period_rule_<field>``; blank = not set)."""
    return {f"period_rule_{k}": ("" if v is None else v) for k, v in rule_document(rule).items()}
