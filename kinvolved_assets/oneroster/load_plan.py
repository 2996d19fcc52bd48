"""The SQL that reads one CSV: the scan (every column VARCHAR), each contract column's typed value
and the row checks in rule order (required values, then types, then row rules), combined into the
first broken rule of a row (``rule|column``) and the "row is good" condition."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..sql import ident as _q
from ..sql import string as _lit
from . import spec
from .column_sql import ColSQL, column_sql
from .decode import MAX_LINE_BYTES
from .header_map import ColumnMap


def csv_scan(path: Path, ncols: int) -> str:
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    return (f"read_csv({_lit(str(path))}, columns = {cols}, header = true, delim = ',', quote = '\"', "
            "escape = '\"', auto_detect = false, strict_mode = true, store_rejects = true, rejects_table = "
            f"'rj', rejects_scan = 'rs', max_line_size = {MAX_LINE_BYTES})")


@dataclass
class LoadPlan:
    ent: spec.Entity
    cmap: ColumnMap
    ncols: int                   # fields in the file's header
    vals: dict[str, str]         # contract column -> raw value expression (c<i>, or NULL when absent)
    knames: dict[str, str]       # contract column -> typed column name (k<j>)
    csql: dict[str, ColSQL]
    rule_case: str               # the first broken rule of a row (``rule|column``), NULL when none
    deferred: list[str]          # reference columns whose GUID shape is checked once per distinct value
    ok_expr: str                 # the row passes every check made during the scan
    typed_inner: str             # every typed value, as k<j>
    raw_hash: str                # hash of the raw fields (tells apart rows whose typed values read alike)
    kcols: str                   # the columns kept in the scan's table

    def typed_select(self, mode: str, line_expr: str, delivery_date: str, member: str) -> str:
        """The raw Parquet's columns: contract types, metadata.* as sent, line, delivery date, mode, file."""
        ent, knames = self.ent, self.knames
        outs = []
        for col in ent.columns:
            k = f"s.{knames[col.name]}"
            if ent.name == "absence_codes" and col.name == "dayFraction":
                k = f"coalesce({k}, CASE WHEN s.{knames['absent']} THEN 1.0 ELSE 0.0 END)"
            if col.name == "status" and mode == "bulk":
                k = f"coalesce({k}, 'active')"
            outs.append(f"CAST({k} AS {col.duckdb_type}) AS {_q(col.name)}")
        for mname, pos in self.cmap.metadata.items():
            outs.append(f"s.c{pos} AS {_q(mname)}")
        # constants typed as one-value ENUMs: written as the same UTF8 strings, without hashing every row
        outs += [f"CAST({line_expr} AS BIGINT) AS _line", f"DATE {_lit(delivery_date)} AS _delivery_date",
                 f"CAST({_lit(mode)} AS ENUM({_lit(mode)})) AS _mode",
                 f"CAST({_lit(member)} AS ENUM({_lit(member)})) AS _file"]
        return ", ".join(outs)


def _rule_conditions(ent: spec.Entity, csql: dict[str, ColSQL],
                     knames: dict[str, str]) -> list[tuple[str, str]]:
    """Rule order: required values, then types, then row rules. Every condition is a non-NULL boolean."""
    conds: list[tuple[str, str]] = []
    for col in ent.columns:
        for cond, rule in csql[col.name].checks:
            if rule == "row.required_missing":
                conds.append((cond, f"{rule}|{col.name}"))
    for col in ent.columns:
        for cond, rule in csql[col.name].checks:
            if rule != "row.required_missing":
                conds.append((cond, f"{rule}|{col.name}"))
    if ent.name == "absence_codes":
        conds.append((f"coalesce({knames['dayFraction']} NOT BETWEEN 0 AND 1, false)",
                      "row.out_of_range|dayFraction"))
    if ent.name == "attendance":
        conds.append((f"coalesce({knames['minutesAbsent']} < 0, false)", "row.out_of_range|minutesAbsent"))
    for a, b in (("startDate", "endDate"), ("beginDate", "endDate")):
        if a in csql and b in csql:
            conds.append((f"coalesce({knames[a]} > {knames[b]}, false)", f"row.date_order|{a}"))
    return conds


def build_plan(ent: spec.Entity, cmap: ColumnMap, ncols: int, big: bool) -> LoadPlan:
    """``big``: a large file, whose reference ids are checked per distinct value after the scan."""
    vals: dict[str, str] = {}
    for col in ent.columns:
        # read_csv gives NULL for empty fields, quoted ("") or not
        vals[col.name] = f"c{cmap.sources[col.name]}" if col.name in cmap.sources else "CAST(NULL AS VARCHAR)"
    knames = {c.name: f"k{j}" for j, c in enumerate(ent.columns)}
    csql = {c.name: column_sql(c, vals[c.name], knames[c.name]) for c in ent.columns}
    conds = _rule_conditions(ent, csql, knames)
    rule_case = (("CASE " + " ".join(f"WHEN {c} THEN {_lit(r)}" for c, r in conds) + " END") if conds
                 else "CAST(NULL AS VARCHAR)")
    # GUID shape of reference columns (school, class, user ids...) is checked once per distinct value
    # after the scan, not per row: a regex per value is the most expensive check of the scan
    # (small files: per row, in the scan; a separate query per column costs more than it saves there)
    deferred = [c.name for c in ent.columns
                if big and c.type == "guid" and c.name != "sourcedId" and c.name in cmap.sources]
    row_conds = [c for c, r in conds if r not in {f"row.bad_guid|{d}" for d in deferred}]
    ok_expr = " AND ".join(f"NOT {c}" for c in row_conds) if row_conds else "true"
    typed_inner = ", ".join(f"{csql[c.name].typed} AS {knames[c.name]}" for c in ent.columns)
    raw_hash = f"hash({', '.join(f'c{i}' for i in range(ncols))})"
    kcols = ", ".join([knames[c.name] for c in ent.columns] + [f"c{pos}" for pos in cmap.metadata.values()])
    return LoadPlan(ent, cmap, ncols, vals, knames, csql, rule_case, deferred, ok_expr, typed_inner, raw_hash,
                    kcols)
