"""Customer (district) configuration: schema, defensive YAML loading, and validation.

One file per customer: ``customer_configs/<customer_id>.yaml``. Loading is total: any bytes yield
either a config or :class:`ConfigError` lines naming the file, the key, the bad value and what to
fix; other customers still load. Reading and YAML limits: ``config_yaml.py``; messages:
``config_messages.py``; landing folders across customers: ``landing_rules.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kinvolved_assets.config_messages import AT_KEY_PREFIX, SCHOOL_YEAR_HINT, ConfigError, pydantic_messages
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
    DATE_RE,
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

def yaml_string(value: str) -> str:
    """``value`` as a YAML scalar that reads back as this string: quoted when plain YAML would read
    it as something else (a number such as ``2`` or ``0012``, true, null, a date)."""
    import json

    import yaml

    try:
        plain = yaml.safe_load(value) == value
    except yaml.YAMLError:
        plain = False
    return value if plain and value.strip() == value and "#" not in value else json.dumps(value)


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
        raise ValueError(f"{len(bad)} {what} are not OneRoster sourcedIds/identifiers (letters, digits, . _ "
                         f"- / @), e.g. {printable(bad[0])}")
    return values


class NonInstructionalDays(_Strict):
    district: list[IsoDate] = Field(default_factory=list)
    schools: dict[str, list[IsoDate]] = Field(default_factory=dict)

    @field_validator("schools")
    @classmethod
    def _school_ids(cls, value: dict) -> dict:
        _check_ids(list(value), "school keys")
        return value


class Schedule(_Strict):
    daily: str | None = None      # cron, customer timezone
    monthly: str | None = None

    @field_validator("daily", "monthly")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)


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


class AttendanceRules(_Strict):
    chronic_threshold: float = Field(0.10, gt=0, le=1)
    min_enrolled_days: int = Field(10, ge=0, le=400)
    enrollment_end_inclusive: bool = False
    mass_deletion_fraction: float = Field(0.20, gt=0, le=1)
    mass_deletion_min_records: int = Field(5, ge=1)   # the guard trips only from this many deletions on
    daily_from_periods: DailyFromPeriods = Field(default_factory=DailyFromPeriods)


class ValidationRules(_Strict):
    volume_change_fraction: float = Field(0.50, gt=0, allow_inf_nan=False)
    # true: a row-level rule failure blocks the delivery instead of quarantining rows
    strict: bool = False
    # per row-level rule
    rule_severity: dict[str, Literal["quarantine", "block"]] = Field(default_factory=dict)


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
            raise ValueError(f"{value} is later than school_year {year}: give {SCHOOL_YEAR_HINT}, at most "
                             f"{year}")
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
    def _rest_block(self) -> CustomerConfig:
        if (self.flow == "oneroster_rest") != (self.rest is not None):
            raise ValueError("flow oneroster_rest needs a rest: block, and a rest: block needs flow "
                             "oneroster_rest")
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

    def dbt_vars(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "school_year": self.school_year,
            "licensed_schools": list(self.licensed_schools),
            "non_instructional_days": [d.isoformat() for d in self.non_instructional_days.district],
            "school_non_instructional_days": {
                k: [d.isoformat() for d in v] for k, v in self.non_instructional_days.schools.items()
            },
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


def rule_document(rule: PeriodRule) -> dict[str, Any]:
    return {k: getattr(rule, k) for k in _RULE_KEYS}


def period_rule_vars(rule: PeriodRule) -> dict[str, Any]:
    """The customer's default period rule as dbt scalars (``period_rule_<field>``; blank = not set)."""
    return {f"period_rule_{k}": ("" if v is None else v) for k, v in rule_document(rule).items()}


def school_year_start(ending_year: int) -> dt.date:
    """School year ``ending_year`` (e.g. 2027 for 2026-27) starts on 1 July of the year before."""
    return dt.date(ending_year - 1, 7, 1)


def school_year_of(day: dt.date) -> int:
    """The ending year of the school year (1 July - 30 June) that holds ``day``."""
    return day.year + 1 if day.month >= 7 else day.year


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
        result: CustomerConfig | list[tuple[str, str]]
        result = CustomerConfig.model_validate(parse_config_mapping(raw))
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
    "CustomerConfigError", "LoadedConfigs",
    "MAX_CONFIG_BYTES", "UnsafePathError", "check_cron", "load_customer_configs", "parse_customer_config",
    "before_history_message", "school_year_of", "school_year_start", "validate_customer_config", "SIS_VALUES",
    "FLOWS", "PRODUCTS",
]
