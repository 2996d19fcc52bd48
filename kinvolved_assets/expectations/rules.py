"""The expectation rules of every OneRoster+ entity: one readable table, built from the contract.

Every rule is written once here; the Great Expectations suite, the DuckDB evaluation, the Dagster
check metadata and the HTML report all read it. ``rules_for(entity, params)`` returns the rules of
one entity for one delivery (some bounds depend on the customer and the delivery date).

Kinds and where they come from:

====================  ==========================================  ==========  ==============
kind                  what                                        from        engine
====================  ==========================================  ==========  ==============
column_exists         a required column is in the file            spec        GX
not_null              a required column has a value               spec        GX (DuckDB *)
in_set                an enumeration value is in its set          spec        GX (DuckDB *)
guid_format           a GUID column matches ``GUID_PATTERN``      spec        GX (DuckDB *)
date_format           a date/datetime is a plausible calendar     spec        GX (DuckDB *)
                      date (1900-01-01 .. 2100-12-31)
between               numeric / date bounds (dayFraction 0-1,     EXTRA_RULES GX (DuckDB *)
                      minutesAbsent >= 0, attendance date inside
                      the school year and not after delivery)
date_order            start before end (pair of columns)          EXTRA_RULES GX (DuckDB *)
unique                ``sourcedId`` unique within the delivery    spec        DuckDB
list_in_set           every element of an enum list in its set    spec        DuckDB
list_guid_format      every element of a GUID list is a GUID      spec        DuckDB
reference             a reference resolves against the delivery   spec        DuckDB
                      plus the customer's current state
volume                row count vs the previous delivery of the   config      DuckDB
                      same mode (bulk vs bulk, delta vs delta)
====================  ==========================================  ==========  ==============

(*) Row rules run through Great Expectations on pandas frames; for files larger than the GX row
limit the same rules are evaluated by DuckDB in one scan (see docs/validation.md).

Severity: ``ERROR`` blocks the delivery (nothing is promoted, the marts are not rebuilt);
``WARN`` is recorded only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

from kinvolved_assets.oneroster import spec

ERROR = "ERROR"
WARN = "WARN"

GX_KINDS = ("column_exists", "not_null", "in_set", "guid_format", "date_format", "between", "date_order")

# Plausible calendar range of any date in a delivery (also birth dates and timestamps).
MIN_PLAUSIBLE_DATE = dt.date(1900, 1, 1)
MAX_PLAUSIBLE_DATE = dt.date(2100, 12, 31)


@dataclass(frozen=True)
class Params:
    """What the bounds of a delivery's rules depend on."""

    school_year: int | None = None          # ending year: 2026 = 2025-07-01 .. 2026-06-30
    delivery_date: dt.date | None = None    # attendance may not be dated after it
    volume_change_fraction: float = 0.50
    oneroster_version: str = "1.1"          # the version the delivery's files were read as
    # the delivery's arrival sequence (None: after every delivery of its date): references and volume
    # compare against the deliveries before (delivery_date, delivery_seq)
    delivery_seq: int | None = None

    @property
    def school_year_bounds(self) -> tuple[dt.date, dt.date] | None:
        if self.school_year is None:
            return None
        return dt.date(self.school_year - 1, 7, 1), dt.date(self.school_year, 6, 30)


@dataclass(frozen=True)
class Rule:
    id: str                       # stable name, e.g. "attendance.date.in_school_year"
    entity: str
    kind: str
    column: str | None
    severity: str
    description: str
    column_b: str | None = None   # date_order: the later column
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def engine(self) -> str:
        return "gx" if self.kind in GX_KINDS else "duckdb"

    @property
    def pii(self) -> bool:
        """True when a value of the rule's column is personal data (only counts are reported)."""
        ent = spec.entity(self.entity)
        cols = [c for c in (self.column, self.column_b) if c and c in ent.column_names]
        return any(ent.column(c).pii for c in cols)

    @property
    def is_date(self) -> bool:
        ent = spec.entity(self.entity)
        return bool(self.column and self.column in ent.column_names
                    and ent.column(self.column).type in ("date", "datetime"))

    def to_dict(self) -> dict:
        return {"rule": self.id, "entity": self.entity, "kind": self.kind, "column": self.column,
                "column_b": self.column_b, "severity": self.severity, "engine": self.engine,
                "description": self.description}


# Cross-file references: (entity, column) -> severity. The core joins are blocking; the
# other references of the contract are recorded as warnings (their targets are often not sent by
# a SIS, e.g. the state org or guardians).
REFERENCE_SEVERITY: dict[tuple[str, ...], str] = {
    ("enrollments", "classSourcedId"): ERROR,
    ("enrollments", "userSourcedId"): ERROR,
    ("enrollments", "schoolSourcedId"): ERROR,
    ("classes", "courseSourcedId"): ERROR,
    ("classes", "schoolSourcedId"): ERROR,
    ("classes", "termSourcedIds"): ERROR,
    ("attendance", "userSourcedId"): ERROR,     # must be a user with role student
    ("attendance", "schoolSourcedId"): ERROR,
    ("attendance", "classSourcedId"): ERROR,    # blank = daily attendance, not checked
    ("attendance", "absenceCode"): ERROR,       # sourcedId or title of an absence code
    ("attendance", "userSourcedId", "roles"): ERROR,   # 1.2: a user with a student role
    ("roles", "userSourcedId"): ERROR,          # 1.2: a user's roles make its role and orgs
    ("roles", "orgSourcedId"): ERROR,
}
# References that are not a ``Column.references`` of the contract.
EXTRA_REFERENCES: tuple[tuple[str, str, str], ...] = (("attendance", "absenceCode", "absence_codes"),)
# OneRoster 1.2: a user's role is a row of roles.csv, so "a user with role student" is checked there
# (users.csv has no role column; the users reference then checks the sourcedId alone).
EXTRA_REFERENCES_12: tuple[tuple[str, str, str], ...] = (("attendance", "userSourcedId", "roles"),)
# A reference whose target must also satisfy a condition on the target's columns.
REFERENCE_TARGET_FILTER: dict[tuple[str, str], tuple[str, str]] = {
    ("attendance", "userSourcedId"): ("role", "student"),
}
# The target columns a reference resolves against, when not the target's sourcedId.
REFERENCE_KEYS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("attendance", "absenceCode", "absence_codes"): ("sourcedId", "title"),
    ("attendance", "userSourcedId", "roles"): ("userSourcedId",),
}


def contract_entity(entity: str, p: Params) -> spec.Entity:
    """The entity as the delivery's OneRoster version has it."""
    return spec.contract(p.oneroster_version).entity(entity)


def extensible_regex(values: tuple[str, ...]) -> str:
    """A value of the vocabulary or an ``ext:`` value (OneRoster 1.2 extensible vocabularies)."""
    known = "|".join(re.escape(v) for v in values)
    return f"^(?:{known}|{spec.EXT_PREFIX}[^,]{{1,{spec.EXT_MAX_LENGTH - len(spec.EXT_PREFIX)}}})$"


def _extra_rules(entity: str, p: Params) -> list[Rule]:
    """The rules that are not a column property of the contract (ranges and orders)."""
    out: list[Rule] = []
    if entity == "academic_sessions":
        out.append(Rule("academic_sessions.startDate.before_endDate", entity, "date_order", "startDate",
                        ERROR,
                        "startDate < endDate", column_b="endDate", params={"or_equal": False}))
    if entity == "enrollments":
        out.append(Rule("enrollments.beginDate.before_endDate", entity, "date_order", "beginDate", ERROR,
                        "beginDate <= endDate (when both are given)", column_b="endDate",
                        params={"or_equal": True}))
    if entity == "absence_codes":
        out.append(Rule("absence_codes.dayFraction.between_0_1", entity, "between", "dayFraction", ERROR,
                        "dayFraction in [0, 1]", params={"min": 0.0, "max": 1.0}))
    if entity == "attendance":
        out.append(Rule("attendance.minutesAbsent.not_negative", entity, "between", "minutesAbsent", ERROR,
                        "minutesAbsent >= 0", params={"min": 0.0, "max": None}))
        bounds = p.school_year_bounds
        if bounds is not None:
            out.append(Rule("attendance.date.in_school_year", entity, "between", "date", ERROR,
                            "date inside the configured school year "
                            f"{p.school_year - 1}-{str(p.school_year)[2:]} "
                            f"({bounds[0]} .. {bounds[1]})", params={"min": bounds[0], "max": bounds[1]}))
        if p.delivery_date is not None:
            out.append(Rule("attendance.date.not_after_delivery", entity, "between", "date", ERROR,
                            f"date not after the delivery date {p.delivery_date}",
                            params={"min": None, "max": p.delivery_date}))
    return out


def _references(entity: str, p: Params) -> list[tuple[str, str, str]]:
    """(column, column type, target entity) of the references of one entity."""
    ent = contract_entity(entity, p)
    extra = EXTRA_REFERENCES + (EXTRA_REFERENCES_12 if p.oneroster_version == "1.2" else ())
    out = [(c.name, c.type, c.references) for c in ent.columns if c.references]
    out += [(col, ent.column(col).type, target) for e, col, target in extra if e == entity]
    return out


def rules_for(entity: str, p: Params | None = None) -> list[Rule]:
    """Every rule of one entity, in a stable order."""
    p = p or Params()
    ent = contract_entity(entity, p)
    out: list[Rule] = []
    for c in ent.columns:
        if c.required:
            out.append(Rule(f"{entity}.{c.name}.column_exists", entity, "column_exists", c.name, ERROR,
                            f"required column {c.name} is present"))
    for c in ent.columns:
        if c.required:
            out.append(Rule(f"{entity}.{c.name}.not_null", entity, "not_null", c.name, ERROR,
                            f"{c.name} has a value on every row"))
    out.append(Rule(f"{entity}.sourcedId.unique", entity, "unique", "sourcedId", ERROR,
                    "sourcedId is unique within the delivery"))
    for c in ent.columns:
        if c.type == "enum":
            ext = {"regex": extensible_regex(c.enum)} if c.extensible else {}
            out.append(Rule(f"{entity}.{c.name}.in_set", entity, "in_set", c.name, ERROR,
                            f"{c.name} in {{{', '.join(c.enum)}}}" + (" or an ext: value" if ext else ""),
                            params={"values": tuple(c.enum), **ext}))
        elif c.type == "enum_list":
            out.append(Rule(f"{entity}.{c.name}.in_set", entity, "list_in_set", c.name, ERROR,
                            f"every {c.name} element in the {len(c.enum)} allowed values",
                            params={"values": tuple(c.enum)}))
        elif c.type == "guid":
            out.append(Rule(f"{entity}.{c.name}.guid_format", entity, "guid_format", c.name, ERROR,
                            f"{c.name} is a GUID {spec.GUID_PATTERN}", params={"regex": spec.GUID_PATTERN}))
        elif c.type == "guid_list":
            out.append(Rule(f"{entity}.{c.name}.guid_format", entity, "list_guid_format", c.name, ERROR,
                            f"every {c.name} element is a GUID", params={"regex": spec.GUID_PATTERN}))
        elif c.type in ("date", "datetime"):
            out.append(Rule(f"{entity}.{c.name}.date_format", entity, "date_format", c.name, ERROR,
                            f"{c.name} is a calendar {'date' if c.type == 'date' else 'date-time'} in "
                            f"{MIN_PLAUSIBLE_DATE} .. {MAX_PLAUSIBLE_DATE}",
                            params={"min": MIN_PLAUSIBLE_DATE, "max": MAX_PLAUSIBLE_DATE}))
    out.extend(_extra_rules(entity, p))
    for col, ctype, target in _references(entity, p):
        sev = REFERENCE_SEVERITY.get((entity, col, target), REFERENCE_SEVERITY.get((entity, col), WARN))
        flt = REFERENCE_TARGET_FILTER.get((entity, col))
        if flt and flt[0] not in contract_entity(target, p).column_names:
            flt = None   # 1.2 users.csv has no role: the roles reference checks it
        keys = REFERENCE_KEYS.get((entity, col, target), ("sourcedId",))
        what = f"{spec.entity(target).file_name} {' or '.join(keys)}"
        if flt:
            what += f" with {flt[0]} = {flt[1]}"
        out.append(Rule(f"{entity}.{col}.references_{target}", entity, "reference", col, sev,
                        f"{col} resolves to a {what} (this delivery + current state)",
                        params={"target": target, "list": ctype == "guid_list", "filter": flt, "keys": keys}))
    out.append(Rule(f"{entity}.rows.volume_change", entity, "volume", None, WARN,
                    f"row count changes by at most {p.volume_change_fraction:.0%} against the previous "
                    "delivery of the same mode", params={"fraction": p.volume_change_fraction}))
    return out


def rules_table(p: Params | None = None) -> list[dict]:
    """All rules of all entities of every OneRoster version as plain rows (docs, report appendix);
    a rule both versions have is listed once."""
    p = p or Params()
    out: dict[str, dict] = {}
    for contract in spec.CONTRACTS.values():
        vp = replace(p, oneroster_version=contract.version)
        for e in contract.entities:
            for r in rules_for(e.name, vp):
                out.setdefault(r.id, r.to_dict())
    return list(out.values())
