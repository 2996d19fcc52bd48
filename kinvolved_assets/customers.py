"""Customer (district) configuration: schema, defensive YAML loading, and validation.

One file per customer: ``customer_configs/<customer_id>.yaml``. Loading is total: any bytes yield
either a config or :class:`ConfigError` lines naming the file, the key, the bad value and what to
fix; other customers still load. Reading and YAML limits: ``config_yaml.py``; messages:
``config_messages.py``; landing folders across customers: ``landing_rules.py``; dates, ids and
per-year calendars: ``config_calendar.py``; period rules: ``config_period_rules.py``; the schedule,
attendance and validation blocks: ``config_blocks.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kinvolved_assets.config_blocks import AttendanceRules, Schedule, ValidationRules
from kinvolved_assets.config_calendar import (
    NonInstructionalDays,
    SchoolYearCalendar,
    _check_ids,
    _Strict,
    calendar_problems,
    school_year_of,
    school_year_start,
)
from kinvolved_assets.config_messages import AT_KEY_PREFIX, SCHOOL_YEAR_HINT, ConfigError, pydantic_messages
from kinvolved_assets.config_period_rules import DailyFromPeriods, PeriodRule, period_rule_vars, rule_document
from kinvolved_assets.config_yaml import (
    MAX_CONFIG_BYTES,
    ConfigFileError,
    parse_config_mapping,
    printable,
    printable_text,
    read_config_bytes,
)
from kinvolved_assets.cron import check_cron
from kinvolved_assets.landing_rules import landing_conflicts
from kinvolved_assets.paths import (
    SLUG_RE,
    CustomerPaths,
    UnsafePathError,
    ensure_within,
    kinvolved_home,
)
from kinvolved_assets.rest.config import RestConfig

SIS_VALUES = ("PowerSchool", "Infinite Campus", "Skyward", "Aeries", "Synergy", "other")
FLOWS = ("oneroster_csv", "oneroster_rest")
PRODUCTS = ("attendance", "family_engagement", "analytics", "messaging")
DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "customer_configs"

@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


class CustomerConfig(_Strict):
    customer_id: str
    name: str = Field(min_length=1, max_length=200)
    sis: Literal["PowerSchool", "Infinite Campus", "Skyward", "Aeries", "Synergy", "other"]
    flow: Literal["oneroster_csv", "oneroster_rest"] = "oneroster_csv"
    timezone: str
    products: list[Literal["attendance", "family_engagement", "analytics", "messaging"]] = Field(min_length=1)
    school_year: int = Field(ge=2000, le=2100)
    history_from_school_year: int | None = Field(None, ge=2000, le=2100)
    licensed_schools: list[str] = Field(default_factory=list)
    non_instructional_days: NonInstructionalDays = Field(default_factory=NonInstructionalDays)
    school_years: dict[int, SchoolYearCalendar] = Field(default_factory=dict)  # per-year calendars (optional)
    schedule: Schedule | None = None
    landing: str | None = None
    attendance: AttendanceRules = Field(default_factory=AttendanceRules)
    validation: ValidationRules = Field(default_factory=ValidationRules)
    rest: RestConfig | None = None   # flow oneroster_rest: the district's OneRoster API (docs/onboarding.md)

    @field_validator("customer_id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_RE.fullmatch(value):
            raise ValueError(f"{printable(value)} must be a slug: 2-40 characters, lowercase ASCII letters, "
                             "digits and '_', starting with a letter")
        return value

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be one line of printable text (no tabs, newlines or control characters)")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        if value not in _timezones():
            raise ValueError(f"{printable(value)} is not an IANA timezone such as America/New_York")
        return value

    @field_validator("history_from_school_year")
    @classmethod
    def _history(cls, value: int | None, info: ValidationInfo) -> int | None:
        year = info.data.get("school_year")
        if value is not None and year is not None and value > year:
            raise ValueError(f"{value} is later than school_year {year}: "
                             f"give {SCHOOL_YEAR_HINT}, at most {year}")
        return value

    @field_validator("licensed_schools", mode="before")
    @classmethod
    def _numeric_ids(cls, value: Any) -> Any:
        """YAML reads an unquoted id (`- 2`, `- 0012`) as a number: take it as the id it spells."""
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @field_validator("licensed_schools")
    @classmethod
    def _schools(cls, value: list[str]) -> list[str]:
        return _check_ids(value, "entries")

    @model_validator(mode="after")
    def _school_year_calendars(self) -> CustomerConfig:
        for year, calendar in sorted(self.school_years.items()):
            if not self.first_school_year <= year <= self.school_year:
                first = self.first_school_year
                span = f"{first} .. {self.school_year}" if first < self.school_year else f"{self.school_year}"
                raise ValueError(f"{AT_KEY_PREFIX}school_years[{year}]] {year} is not a school year "
                                 f"this customer loads ({span}): give {SCHOOL_YEAR_HINT}, "
                                 "between history_from_school_year and school_year")
            problems = calendar_problems(year, calendar)
            if problems:
                key, message = problems[0]
                raise ValueError(f"{AT_KEY_PREFIX}school_years[{year}].{key}] {message}")
        return self

    @model_validator(mode="after")
    def _rest_block(self) -> CustomerConfig:
        if (self.flow == "oneroster_rest") != (self.rest is not None):
            raise ValueError("flow oneroster_rest needs a rest: block, "
                             "and a rest: block needs flow oneroster_rest")
        return self

    @model_validator(mode="after")
    def _landing_inside_home(self) -> CustomerConfig:
        if self.landing is not None:
            raw = self.landing
            if not raw.isprintable() or os.path.isabs(raw) or ".." in Path(raw).parts or len(raw) > 1000:
                raise ValueError(
                    f"landing {printable(raw)} must be a relative folder under KINVOLVED_HOME without '..'"
                )
        return self

    # ---- derived -------------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_school_year(self) -> int:
        """The ending year of the earliest school year whose deliveries load."""
        return self.history_from_school_year or self.school_year

    @property
    def history_start(self) -> dt.date:
        """First delivery date accepted: 1 July of the first school year."""
        return school_year_start(self.first_school_year)

    def school_year_for(self, delivery_date: str | dt.date) -> int:
        """The school year a delivery belongs to: the one holding its date, within first..school_year
        (a history delivery of 2018-10-01 is checked against 2018-19, a current one against school_year)."""
        day = dt.date.fromisoformat(delivery_date) if isinstance(delivery_date, str) else delivery_date
        return min(self.school_year, max(self.first_school_year, school_year_of(day)))

    def paths(self, home: Path | None = None) -> CustomerPaths:
        return CustomerPaths.for_customer(self.customer_id, home)

    def landing_dir(self, home: Path | None = None) -> Path:
        """The folder the sensor watches; always inside KINVOLVED_HOME (symlinks resolved)."""
        base = (home or kinvolved_home()).resolve()
        if self.landing is None:
            return self.paths(base).landing
        return ensure_within(base / self.landing, base)

    def district_closures(self) -> list[dt.date]:
        """District-wide non-instructional days: the top-level ones and those of every school_years block."""
        days = set(self.non_instructional_days.district)
        for calendar in self.school_years.values():
            days.update(calendar.non_instructional_days.district)
        return sorted(days)

    def school_closures(self) -> dict[str, list[dt.date]]:
        """School sourcedId -> its non-instructional days (top level and every school_years block)."""
        out: dict[str, set[dt.date]] = {}
        for days in [self.non_instructional_days,
                     *(c.non_instructional_days for c in self.school_years.values())]:
            for school, dates in days.schools.items():
                out.setdefault(school, set()).update(dates)
        return {school: sorted(dates) for school, dates in sorted(out.items())}

    def school_calendars(self) -> list[dict[str, Any]]:
        """The school_years blocks as dbt rows: school_year, first_day, last_day (ISO dates)."""
        return [{"school_year": year, "first_day": c.first_day.isoformat(),
                 "last_day": c.last_day.isoformat()}
                for year, c in sorted(self.school_years.items())]

    def dbt_vars(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "school_year": self.school_year,
            "licensed_schools": list(self.licensed_schools),
            "non_instructional_days": [d.isoformat() for d in self.district_closures()],
            "school_non_instructional_days": {
                k: [d.isoformat() for d in v] for k, v in self.school_closures().items()
            },
            "school_calendars": self.school_calendars(),
            "chronic_threshold": self.attendance.chronic_threshold,
            "min_enrolled_days": self.attendance.min_enrolled_days,
            "enrollment_end_inclusive": self.attendance.enrollment_end_inclusive,
            "mass_deletion_fraction": self.attendance.mass_deletion_fraction,
            "mass_deletion_min_records": self.attendance.mass_deletion_min_records,
            **period_rule_vars(self.attendance.daily_from_periods.default_rule()),
            "school_period_rules": [
                {"school_sourced_id": school, **rule_document(rule)}
                for school, rule in self.attendance.daily_from_periods.school_rules().items()
            ],
        }


def parse_customer_config(path: Path) -> CustomerConfig:
    """Parse one config file; raise ``CustomerConfigError`` with every problem found."""
    config, errors = validate_customer_config(path)
    if errors:
        raise CustomerConfigError(errors)
    assert config is not None
    return config


class CustomerConfigError(ValueError):
    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def validate_customer_config(path: Path) -> tuple[CustomerConfig | None, list[ConfigError]]:
    """One file → a config or its errors (one line each). Never raises."""
    name = printable_text(path.name, 80)
    try:
        return _validate(path, name)
    except Exception as exc:  # noqa: BLE001 - loading is total: a surprise is one file's error, not a crash
        return None, [ConfigError(name, "(file)", f"could not be checked ({type(exc).__name__}); "
                                  "compare it with the example in docs/onboarding.md")]


# file bytes (sha256) -> parsed config or (key, message) problems: sensors and runs load every config
# on each tick/run, and parsing a 2,000-school file costs seconds in pure-Python YAML
_PARSED: OrderedDict[str, CustomerConfig | list[tuple[str, str]]] = OrderedDict()
_PARSED_MAX = 256
_PARSED_LOCK = threading.Lock()


def _parse_bytes(raw: bytes) -> CustomerConfig | list[tuple[str, str]]:
    digest = hashlib.sha256(raw).hexdigest()
    with _PARSED_LOCK:
        if digest in _PARSED:
            _PARSED.move_to_end(digest)
            return _PARSED[digest]
    try:
        result: CustomerConfig | list[tuple[str, str]] = CustomerConfig.model_validate(
            parse_config_mapping(raw))
    except ConfigFileError as exc:
        result = [(exc.key, exc.message)]
    except ValidationError as exc:
        result = pydantic_messages(exc.errors())
    with _PARSED_LOCK:
        _PARSED[digest] = result
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return result


def _validate(path: Path, name: str) -> tuple[CustomerConfig | None, list[ConfigError]]:
    try:
        parsed = _parse_bytes(read_config_bytes(path))
    except ConfigFileError as exc:
        return None, [ConfigError(name, exc.key, exc.message)]
    if isinstance(parsed, list):
        return None, [ConfigError(name, key, msg) for key, msg in parsed]
    config = parsed
    if path.stem != config.customer_id:
        return None, [ConfigError(name, "customer_id", f"{config.customer_id!r} must match the file name "
                                  f"{printable_text(path.stem, 60)!r}: rename the file or fix customer_id")]
    if config.landing is not None:
        try:  # a symlink inside KINVOLVED_HOME that points out of it
            config.landing_dir()
        except UnsafePathError as exc:
            return None, [ConfigError(name, "landing", f"{exc} (symlinks may not leave KINVOLVED_HOME)")]
    return config, []


@dataclass(frozen=True)
class LoadedConfigs:
    customers: dict[str, CustomerConfig]
    errors: list[ConfigError]

    def errors_of(self, customer_id: str) -> list[ConfigError]:
        """Errors of the files named after ``customer_id`` (``<id>.yaml`` / ``<id>.yml``)."""
        return [e for e in self.errors if e.file in (f"{customer_id}.yaml", f"{customer_id}.yml")]


def config_dir() -> Path:
    return Path(os.environ.get("KINVOLVED_CONFIG_DIR", DEFAULT_CONFIG_DIR)).resolve()


def config_files(directory: Path) -> list[Path]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(directory / n for n in names if n.endswith((".yaml", ".yml")) and not n.startswith("."))


def load_customer_configs(directory: Path | None = None, home: Path | None = None) -> LoadedConfigs:
    """Load every ``*.yaml``/``*.yml`` in the folder; a bad file is reported, the others still load.

    Across files: a customer_id configured twice refuses both files; landing folders are checked
    against every other customer's folders (``landing_rules``)."""
    directory = (directory or config_dir()).resolve()
    errors: list[ConfigError] = []
    if not directory.is_dir():
        errors.append(ConfigError(printable_text(str(directory), 200), "(folder)",
                                  "the customer config folder does not exist: set KINVOLVED_CONFIG_DIR"))
    valid: list[tuple[str, CustomerConfig]] = []
    for path in config_files(directory):
        config, problems = validate_customer_config(path)
        errors.extend(problems)
        if config is not None:
            valid.append((printable_text(path.name, 80), config))
    by_id: dict[str, list[str]] = {}
    for file, config in valid:
        by_id.setdefault(config.customer_id, []).append(file)
    refused: dict[str, list[ConfigError]] = {}
    for cid, files in by_id.items():
        for file in files if len(files) > 1 else []:
            others = ", ".join(f for f in files if f != file)
            refused.setdefault(file, []).append(ConfigError(
                file, "customer_id",
                f"{cid!r} is also configured in {others}; keep one file (both are refused)"))
    survivors = {file: config for file, config in valid if file not in refused}
    for error in landing_conflicts(survivors, (home or kinvolved_home()).resolve()):
        refused.setdefault(error.file, []).append(error)
    for problems in refused.values():
        errors.extend(problems)
    customers = {c.customer_id: c for file, c in valid if file not in refused}
    return LoadedConfigs(customers=dict(sorted(customers.items())), errors=errors)


__all__ = [
    "AttendanceRules", "ConfigError", "DailyFromPeriods", "PeriodRule", "CustomerConfig",
    "CustomerConfigError", "LoadedConfigs", "MAX_CONFIG_BYTES", "UnsafePathError", "check_cron",
    "load_customer_configs", "parse_customer_config", "school_year_of", "school_year_start",
    "validate_customer_config", "SIS_VALUES", "FLOWS", "PRODUCTS",
]
