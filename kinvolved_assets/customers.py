"""Customer (district) configuration: schema, defensive YAML loading, and validation.

One file per customer: ``customer_configs/<customer_id>.yaml``. A bad file yields a
:class:`ConfigError` naming the file, the key and what to fix; other customers still load.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kinvolved_assets.paths import SLUG_RE, CustomerPaths, UnsafePathError, ensure_within, kinvolved_home

MAX_CONFIG_BYTES = 256 * 1024
SIS_VALUES = ("PowerSchool", "Infinite Campus", "Skyward", "Aeries", "Synergy", "other")
FLOWS = ("oneroster_csv", "oneroster_rest")
PRODUCTS = ("attendance", "family_engagement", "analytics", "messaging")
DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "customer_configs"

_CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = {
    3: {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    4: {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}


def check_cron(expr: str) -> str:
    """Validate a 5-field cron expression (numbers, names, ``*``, ``,``, ``-``, ``/``)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expr!r} must have 5 fields (minute hour day month weekday), got {len(fields)}")
    for index, (text, (low, high)) in enumerate(zip(fields, _CRON_FIELDS, strict=True)):
        names = _CRON_NAMES.get(index, {})
        for part in text.split(","):
            rng, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise ValueError(f"cron {expr!r}: bad step {step!r} in field {index + 1}")
            if rng == "*":
                continue
            bounds = rng.split("-")
            if len(bounds) > 2:
                raise ValueError(f"cron {expr!r}: bad range {rng!r} in field {index + 1}")
            for bound in bounds:
                value = names.get(bound.lower()) if bound.lower() in names else (int(bound) if bound.isdigit() else None)
                if value is None or not low <= value <= high:
                    raise ValueError(f"cron {expr!r}: {bound!r} is outside {low}-{high} in field {index + 1}")
    return expr


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
    model_config = ConfigDict(extra="forbid", frozen=True)


class NonInstructionalDays(_Strict):
    district: list[dt.date] = Field(default_factory=list)
    schools: dict[str, list[dt.date]] = Field(default_factory=dict)


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


class ValidationRules(_Strict):
    volume_change_fraction: float = Field(0.50, gt=0)
    strict: bool = False        # true: a row-level rule failure blocks the delivery instead of quarantining rows
    rule_severity: dict[str, Literal["quarantine", "block"]] = Field(default_factory=dict)   # per row-level rule


class CustomerConfig(_Strict):
    customer_id: str
    name: str = Field(min_length=1, max_length=200)
    sis: Literal["PowerSchool", "Infinite Campus", "Skyward", "Aeries", "Synergy", "other"]
    flow: Literal["oneroster_csv", "oneroster_rest"] = "oneroster_csv"
    timezone: str
    products: list[Literal["attendance", "family_engagement", "analytics", "messaging"]] = Field(min_length=1)
    school_year: int = Field(ge=2000, le=2100)
    licensed_schools: list[str] = Field(default_factory=list)
    non_instructional_days: NonInstructionalDays = Field(default_factory=NonInstructionalDays)
    schedule: Schedule | None = None
    landing: str | None = None
    attendance: AttendanceRules = Field(default_factory=AttendanceRules)
    validation: ValidationRules = Field(default_factory=ValidationRules)

    @field_validator("customer_id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError(
                "must be a slug: 2-40 characters, lowercase letters, digits and '_', starting with a letter"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA timezone such as America/New_York") from exc
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
        bad = [v for v in value if not re.match(r"^[0-9a-zA-Z._\-/@]{1,255}$", v)]
        if bad:
            raise ValueError(f"{len(bad)} entries are not OneRoster sourcedIds/identifiers, e.g. {bad[0]!r}")
        return value

    @model_validator(mode="after")
    def _landing_inside_home(self) -> CustomerConfig:
        if self.landing is not None:
            raw = self.landing
            if "\x00" in raw or os.path.isabs(raw) or ".." in Path(raw).parts:
                raise ValueError(
                    f"landing {raw!r} must be a relative folder under KINVOLVED_HOME without '..'"
                )
        return self

    # ---- derived -------------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

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
        }


@dataclass(frozen=True)
class ConfigError:
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}"


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases (billion-laughs) outright."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not allowed in customer configs", event.start_mark
            )
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise yaml.constructor.ConstructorError(
                None, None, "YAML anchors (&name) are not allowed in customer configs", event.start_mark
            )
        return super().compose_node(parent, index)


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_customer_config(path: Path) -> CustomerConfig:
    """Parse one config file; raise ``CustomerConfigError`` with every problem found."""
    errors = validate_customer_config(path)
    if errors[1]:
        raise CustomerConfigError(errors[1])
    assert errors[0] is not None
    return errors[0]


class CustomerConfigError(ValueError):
    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def validate_customer_config(path: Path) -> tuple[CustomerConfig | None, list[ConfigError]]:
    name = path.name
    try:
        if path.is_symlink():
            return None, [ConfigError(name, "(file)", "config files may not be symlinks")]
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            return None, [ConfigError(name, "(file)", f"{size} bytes; a config is at most {MAX_CONFIG_BYTES}")]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigError(name, "(file)", f"cannot be read as UTF-8 text: {type(exc).__name__}")]
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown position)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [ConfigError(name, where, f"malformed YAML: {problem}")]
    if not isinstance(data, dict):
        return None, [ConfigError(name, "(top level)", "must be a mapping of keys to values")]
    try:
        config = CustomerConfig.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling against docs/onboarding.md)"
            errors.append(ConfigError(name, _loc(err["loc"]), msg))
        return None, errors
    if path.stem != config.customer_id:
        return None, [ConfigError(name, "customer_id", f"{config.customer_id!r} must match the file name {path.stem!r}")]
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


def config_dir() -> Path:
    return Path(os.environ.get("KINVOLVED_CONFIG_DIR", DEFAULT_CONFIG_DIR)).resolve()


def load_customer_configs(directory: Path | None = None) -> LoadedConfigs:
    """Load every ``*.yaml`` in the folder; a bad file is reported, the others still load."""
    directory = (directory or config_dir()).resolve()
    customers: dict[str, CustomerConfig] = {}
    errors: list[ConfigError] = []
    for path in sorted(list(directory.glob("*.yaml")) + list(directory.glob("*.yml"))):
        config, problems = validate_customer_config(path)
        if problems:
            errors.extend(problems)
            continue
        assert config is not None
        if config.customer_id in customers:
            errors.append(ConfigError(path.name, "customer_id", f"{config.customer_id!r} is configured twice"))
            continue
        customers[config.customer_id] = config
    return LoadedConfigs(customers=customers, errors=errors)


__all__ = [
    "AttendanceRules", "ConfigError", "CustomerConfig", "CustomerConfigError", "LoadedConfigs",
    "UnsafePathError", "check_cron", "load_customer_configs", "parse_customer_config",
    "validate_customer_config", "SIS_VALUES", "FLOWS", "PRODUCTS",
]
