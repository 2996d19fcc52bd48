"""One-line config error messages: the key path, what is wrong, the bad value (for fields whose
values are settings, never free text) and the fix."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from kinvolved_assets.config_yaml import printable, printable_text


@dataclass(frozen=True)
class ConfigError:
    """One problem of one customer config file."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}"


SCHOOL_YEAR_HINT = "the ending year of the school year, e.g. 2027 for 2026-27"
AT_KEY_PREFIX = "[at "   # a model check's message "[at sub.key] text": the problem is at loc + sub.key
_PERIOD_RULE_HINTS = {
    "mode": "one of none, all_periods, share, minutes",
    "share": "a share of the day's periods above 0 and at most 1, e.g. 0.5",
    "minutes": "a whole number of minutes 1-1440, e.g. 240",
    "half_day_share": "a share of the day's periods above 0 and at most 1, e.g. 0.5",
    "code": "one of the customer's absence codes (title or sourcedId), e.g. AU",
    "precedence": "daily_event (a daily event wins, the default) or periods",
}

# key path (list positions and school ids dropped) -> what a good value looks like
FIELD_HINTS = {
    "customer_id": "a slug: 2-40 characters, lowercase ASCII letters, digits and '_', "
                   "starting with a letter, equal to the file name, e.g. springfield",
    "name": "the district's name on one line, 1-200 characters, e.g. Springfield Public Schools",
    "sis": "one of PowerSchool, Infinite Campus, Skyward, Aeries, Synergy, other",
    "flow": "oneroster_csv or oneroster_rest",
    "timezone": "an IANA timezone, e.g. America/New_York",
    "products": "a list of attendance, family_engagement, analytics, messaging, e.g. [attendance]",
    "school_year": SCHOOL_YEAR_HINT,
    "history_from_school_year": "the ending year of the earliest school year to load, at most school_year, "
                                "e.g. 2019 to load from 2018-19",
    "licensed_schools": "a list of school sourcedIds or identifiers (quote numbers), "
                        "e.g. [org-sch-0001, \"1034\"]",
    "non_instructional_days": "a mapping with district: [dates] and schools: {sourcedId: [dates]}",
    "non_instructional_days.district": "a list of dates YYYY-MM-DD, e.g. [2025-11-27, 2025-11-28]",
    "non_instructional_days.schools": "school sourcedId -> list of dates YYYY-MM-DD, "
                                      "e.g. {org-sch-0003: [2025-10-10]}",
    "school_years": "school year (its ending year) -> first_day, last_day, non_instructional_days, e.g. "
                    "{2027: {first_day: 2026-08-24, last_day: 2027-06-11}} (see docs/onboarding.md)",
    "school_years.first_day": "the first school day of that year, YYYY-MM-DD, e.g. 2026-08-24",
    "school_years.last_day": "the last school day of that year (inclusive), YYYY-MM-DD, e.g. 2027-06-11",
    "school_years.non_instructional_days": "a mapping with district: [dates] "
                                           "and schools: {sourcedId: [dates]}",
    "school_years.non_instructional_days.district": "a list of dates YYYY-MM-DD of that year, "
                                                    "e.g. [2026-11-26]",
    "school_years.non_instructional_days.schools": "school sourcedId -> "
                                                   "list of dates YYYY-MM-DD of that year",
    "schedule": "a mapping with daily: and/or monthly: cron expressions",
    "schedule.daily": "a 5-field cron in the customer's timezone, e.g. \"0 5 * * mon-fri\"",
    "schedule.monthly": "a 5-field cron in the customer's timezone, e.g. \"0 6 1 * *\"",
    "landing": "a relative folder under KINVOLVED_HOME, e.g. sftp/springfield/incoming (or leave it out)",
    "attendance": "a mapping of attendance rules (see docs/onboarding.md)",
    "attendance.chronic_threshold": "a share above 0 and at most 1, e.g. 0.10",
    "attendance.min_enrolled_days": "a whole number of days 0-400, e.g. 10",
    "attendance.enrollment_end_inclusive": "true or false",
    "attendance.mass_deletion_fraction": "a share above 0 and at most 1, e.g. 0.20",
    "attendance.daily_from_periods": "a mapping: mode, share, minutes, half_day_share, code, precedence, "
                                     "schools (see docs/attendance-rules.md)",
    **{f"attendance.daily_from_periods.{k}": v for k, v in _PERIOD_RULE_HINTS.items()},
    "attendance.daily_from_periods.schools": "school sourcedId -> "
                                             "the fields of the rule that differ at that school",
    **{f"attendance.daily_from_periods.schools.{k}": v for k, v in _PERIOD_RULE_HINTS.items()},
    "validation": "a mapping of validation rules (see docs/onboarding.md)",
    "validation.volume_change_fraction": "a share above 0, e.g. 0.50",
}
FREE_TEXT = {"name"}          # values never quoted back
NEVER_QUOTED_PREFIXES = ("rest",)   # URLs and credential names may carry a secret pasted by mistake


def _never_quoted(field: str) -> bool:
    return field in FREE_TEXT or field.split(".")[0] in NEVER_QUOTED_PREFIXES
MAX_ERRORS_PER_FILE = 10


def key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        else:
            out += ("." if out else "") + printable_text(str(part), 60)
    return out or "(top level)"


def _field(loc: tuple[Any, ...]) -> str:
    """The FIELD_HINTS entry of a location: list positions and school ids dropped."""
    names = [p for p in loc if isinstance(p, str) and p != "[key]"]
    if names[:2] == ["non_instructional_days", "schools"]:
        return "non_instructional_days.schools"
    if names[:1] == ["school_years"] and "[key]" in loc:
        return "school_years"                       # a year key that is not a number
    if names[:3] == ["school_years", "non_instructional_days", "schools"]:
        return "school_years.non_instructional_days.schools"
    if names[:3] == ["attendance", "daily_from_periods", "schools"] and len(names) > 3:
        return ".".join(names[:3] + names[4:])     # the school id dropped
    return ".".join(names)


def _known_keys(prefix: str) -> list[str]:
    depth = prefix.count(".") + 1 if prefix else 0
    return [k.split(".")[-1] for k in FIELD_HINTS
            if k.count(".") == depth and (not prefix or k.startswith(prefix + "."))]


def unknown_key_message(loc: tuple[Any, ...]) -> str:
    prefix = _field(loc[:-1]) if loc[:-1] else ""
    close = difflib.get_close_matches(str(loc[-1]), _known_keys(prefix), n=1)
    fix = f"did you mean {close[0]!r}?" if close else "check the spelling against docs/onboarding.md"
    return f"unknown key ({fix})"


def pydantic_message(error: dict) -> str:
    """One line for one pydantic error (the key path is printed separately)."""
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    if kind == "extra_forbidden":
        return unknown_key_message(loc)
    field = _field(loc)
    hint = FIELD_HINTS.get(field, "")
    message = error["msg"].removeprefix("Value error, ")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping, got {_type_name(value)}" + (f": {hint}" if hint else "")
    if kind == "list_type":
        return f"must be a list, got {_type_name(value)}" + (f": {hint}" if hint else "")
    if kind == "missing":
        return f"is required: add it, {hint}" if hint else "is required"
    if field in ("school_year", "history_from_school_year") and kind in (
            "greater_than_equal", "less_than_equal", "int_type", "int_parsing"):
        shown = f"{printable(value)} is not a school year" if kind.startswith(("greater", "less")) \
            else f"{message} (got {printable(value)})"
        return f"{shown}: give {hint}"
    shown = "" if _never_quoted(field) or isinstance(value, (dict, list)) or value is None \
        or printable(value, 40) in message else f" (got {printable(value)})"
    if kind == "string_too_long" or _never_quoted(field):
        shown = f" (got {len(value)} characters)" if isinstance(value, str) else ""
    fix = (f": {hint}" if hint and hint not in message and kind not in ("value_error", "assertion_error")
           else "")
    return f"{message}{shown}{fix}"


def _type_name(value: Any) -> str:
    names = {str: "text", int: "a number", float: "a number", bool: "true/false", dict: "a mapping",
             list: "a list"}
    return "nothing" if value is None else names.get(type(value), type(value).__name__)


def _at_sub_key(path: str, message: str) -> tuple[str, str]:
    """A model check names the key below its own location: ``[at share] text`` -> (path.share, text)."""
    if message.startswith(AT_KEY_PREFIX) and "] " in message:
        sub, text = message[len(AT_KEY_PREFIX):].split("] ", 1)
        return (f"{path}.{sub}" if path != "(top level)" else sub), text
    return path, message


def pydantic_messages(errors: list[dict]) -> list[tuple[str, str]]:
    """(key path, message) per error, at most MAX_ERRORS_PER_FILE (the last says how many more)."""
    out = [_at_sub_key(key_path(tuple(e["loc"])), pydantic_message(e)) for e in errors]
    if len(out) > MAX_ERRORS_PER_FILE:
        more = len(out) - MAX_ERRORS_PER_FILE + 1
        out = out[: MAX_ERRORS_PER_FILE - 1] + [("(file)", f"{more} more problems: fix the ones above first")]
    return out
