"""SQL building blocks of the rendered files: a value picked from a list by code, dates and
timestamps from day numbers, padded ids, the booleans' spelling (``Style``), the column list of an
entity's SELECT."""

from __future__ import annotations

from dataclasses import dataclass

from kinvolved_assets.oneroster import spec
from kinvolved_assets.sql import string_list as _lit


def pick(values, expr: str) -> str:
    return f"{_lit(values)}[(({expr}) % {len(values)}) + 1]"


def date_text(expr: str) -> str:
    return (f"CASE WHEN ({expr}) < 0 THEN NULL ELSE strftime(DATE '1970-01-01' + CAST({expr} AS INTEGER), "
            "'%Y-%m-%d') END")


def timestamp_text(expr: str) -> str:
    return f"strftime(DATE '1970-01-01' + CAST({expr} AS INTEGER), '%Y-%m-%d') || 'T23:15:00Z'"


def padded_id(prefix: str, expr: str, width: int) -> str:
    return f"'{prefix}' || lpad(CAST(({expr}) + 1 AS VARCHAR), {width}, '0')"


@dataclass
class Style:
    quirks: bool = False

    def b(self, expr: str) -> str:
        t, f = ("'TRUE'", "'FALSE'") if self.quirks else ("'true'", "'false'")
        return f"CASE WHEN ({expr}) THEN {t} ELSE {f} END"

    def bconst(self, value: bool) -> str:
        s = "true" if value else "false"
        return s.upper() if self.quirks else s


def school_id(expr: str) -> str:
    return padded_id("org-sch-", expr, 4)


def select_columns(entity: spec.Entity, exprs: dict[str, str], extra: dict[str, str] | None = None) -> str:
    cols = [f"{exprs.get(c, 'NULL')} AS \"{c}\"" for c in entity.column_names]
    for name, expr in (extra or {}).items():
        cols.append(f"{expr} AS \"{name}\"")
    return "SELECT " + ",\n       ".join(cols)
