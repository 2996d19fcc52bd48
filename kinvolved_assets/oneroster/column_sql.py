"""The SQL for one contract column: its typed value from the raw VARCHAR, and the checks that
refuse a row (each a condition meaning "broken" and the rule it breaks)."""

from __future__ import annotations

from dataclasses import dataclass

from ..sql import string as _lit
from . import spec


def _enum_case(expr: str, values: tuple[str, ...], aliases: dict[str, str] | None = None,
               extensible: bool = False) -> str:
    whens = [f"WHEN {_lit(v.lower())} THEN {_lit(v)}" for v in values]
    for alias, target in (aliases or {}).items():
        whens.append(f"WHEN {_lit(alias)} THEN {_lit(target)}")
    if extensible:   # OneRoster 1.2: an ``ext:`` value is kept as sent
        whens.append(f"ELSE CASE WHEN starts_with({expr}, {_lit(spec.EXT_PREFIX)}) AND length({expr}) "
                     f"BETWEEN {len(spec.EXT_PREFIX) + 1} AND {spec.EXT_MAX_LENGTH} "
                     f"AND NOT contains({expr}, ',') THEN {expr} END")
    return f"CASE lower({expr}) {' '.join(whens)} END"


# GUID shape: the character class repeated, length checked apart (a bounded repeat {1,255} compiles to
# a 255-state program per column and thread, which costs more than the matching on a nightly file)
GUID_RE = spec.GUID_PATTERN.strip("^$").replace("{1,255}", "+")


def guid_broken(v: str) -> str:
    """SQL: the non-NULL value ``v`` is not a GUID (byte length: any non-ASCII character fails the class)."""
    return f"(strlen({v}) > {spec.GUID_MAX_LENGTH} OR NOT regexp_full_match({v}, {_lit(GUID_RE)}))"


def datetime_utc(v: str) -> str:
    """SQL: the ISO 8601 value ``v`` as a UTC TIMESTAMP (NULL when it is not one).

    The usual ``...T12:00:00Z`` / ``...T12:00:00.123Z`` takes the plain TIMESTAMP cast; anything with
    an offset, a zone name or a space takes the time-zone-aware cast (3x slower per value). Both give
    the same result on the fast path's values (tests/unit/test_reader_properties.py).
    """
    aware = f"CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP)"
    plain_utc = (f"{v} LIKE '____-__-__T%Z' AND NOT contains({v}, ' ') AND NOT contains({v}, '+') "
                 f"AND NOT contains({v}, chr(9)) AND {v} NOT LIKE '%-%-%-%'")
    return f"CASE WHEN {plain_utc} THEN TRY_CAST({v} AS TIMESTAMP) ELSE {aware} END"


@dataclass
class ColSQL:
    typed: str                   # typed expression (from the trimmed value ``v``)
    checks: list[tuple[str, str]]   # (condition meaning "broken", rule)


def _list_expr(v: str) -> str:
    return f"list_filter(list_transform(string_split({v}, ','), lambda x: trim(x)), lambda x: x <> '')"


def column_sql(col: spec.Column, v: str, k: str) -> ColSQL:
    """``typed`` computes the typed value from the raw value ``v``; ``checks`` test ``v`` and the typed
    value already computed as column ``k`` (so every cast runs once per value)."""
    t = col.type
    checks: list[tuple[str, str]] = []
    if t in ("guid", "string"):
        typed = v
        if t == "guid":   # also covered by the combined GUID check of the row
            checks.append((f"({v} IS NOT NULL AND {guid_broken(v)})", "row.bad_guid"))
    elif t == "date":
        typed = f"TRY_CAST({v} AS DATE)"
        checks.append((f"({v} IS NOT NULL AND ({k} IS NULL OR NOT ({v} LIKE '____-__-__')))", "row.bad_date"))
    elif t == "datetime":
        typed = datetime_utc(v)
        checks.append((f"({v} IS NOT NULL AND ({k} IS NULL OR NOT ({v} LIKE '____-__-__%')))",
                       "row.bad_datetime"))
    elif t == "year":
        typed = f"CASE WHEN regexp_full_match({v}, '\\d{{4}}') THEN CAST({v} AS INTEGER) END"
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_year"))
    elif t == "boolean":
        typed = f"CASE lower({v}) WHEN 'true' THEN true WHEN 'false' THEN false END"
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_boolean"))
    elif t == "enum":
        aliases = spec.STATUS_ALIASES if col.name == "status" else None
        typed = _enum_case(v, col.enum, aliases, col.extensible)
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_enum"))
    elif t in ("guid_list", "list", "enum_list"):
        lst = _list_expr(v)
        if t == "enum_list":
            typed = f"list_transform({lst}, lambda x: {_enum_case('x', col.enum)})"
            checks.append((f"({v} IS NOT NULL AND list_count({k}) < len({k}))", "row.bad_list"))
        else:
            typed = lst
            if t == "guid_list":
                broken = f"len(list_filter({k}, lambda x: {guid_broken('x')})) > 0"
                checks.append((f"({v} IS NOT NULL AND {broken})", "row.bad_list"))
        typed = f"CASE WHEN {v} IS NULL THEN NULL ELSE {typed} END"
    elif t == "float":
        typed = f"TRY_CAST({v} AS DOUBLE)"
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_number"))
    elif t == "integer":
        typed = f"TRY_CAST({v} AS BIGINT)"
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_number"))
    else:  # pragma: no cover - guarded by spec.Column
        raise ValueError(t)
    if col.required:
        empty = f"({v} IS NULL)"
        if t in ("guid_list", "list", "enum_list"):
            empty = f"({v} IS NULL OR len({k}) = 0)"
        checks.insert(0, (empty, "row.required_missing"))
    return ColSQL(typed, checks)


