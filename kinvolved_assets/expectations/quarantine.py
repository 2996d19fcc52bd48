"""Row-level rules quarantine rows instead of blocking the delivery (docs/validation.md, rule scopes).

A row-level problem found by the expectation suites (an attendance date after the delivery date or
outside the school year, an unknown student, school, class or absence code) concerns that row only:
the row is moved from the staged raw Parquet into the staged ``rejects/`` with ``_rule`` and
``_reason``, the rest of the delivery goes on, and the ``expectations`` check reports the quarantined
rows as a warning (``<rule>.quarantined``). A customer with ``validation.strict: true``, or a rule set
to ``block`` in ``validation.rule_severity``, keeps the blocking behaviour. When more than
``max_rejected_fraction`` of a file's rows would be refused, nothing is quarantined and the rules
block (most rows refused is a delivery-level problem). Re-running the delivery re-reads the archived
delivery, so rows quarantined for a reference that is known by then are admitted.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from kinvolved_assets.oneroster.discover import DeliveryLimits
from kinvolved_assets.sql import ident as q
from kinvolved_assets.sql import literal as lit

from .duck import schema
from .references import unresolved_lines
from .results import RuleResult
from .rules import WARN, Params, Rule, rules_for

ROW_RULES = (
    "attendance.date.not_after_delivery",
    "attendance.date.in_school_year",
    "attendance.userSourcedId.references_users",
    "attendance.schoolSourcedId.references_orgs",
    "attendance.classSourcedId.references_classes",
    "attendance.absenceCode.references_absence_codes",
)


def quarantining_rules(customer) -> set[str]:
    """The row-level rules that quarantine rows for this customer (the others block)."""
    validation = getattr(customer, "validation", None)
    if validation is None:   # no customer (`kinvolved validate` without --customer): the bare suites
        return set()
    overrides = dict(getattr(validation, "rule_severity", {}) or {})
    default = "block" if getattr(validation, "strict", False) else "quarantine"
    return {r for r in ROW_RULES if overrides.get(r, default) == "quarantine"}


def _failing_lines(con, parquet: Path, rule: Rule, present: dict, results: dict, raw_root, delivery_date,
                   delivery_seq: int | None = None) -> list[int] | None:
    if rule.kind == "reference":
        return unresolved_lines(con, parquet, rule, present, results, raw_root, delivery_date, delivery_seq)
    if rule.kind == "between" and rule.column in present:
        lo, hi = rule.params.get("min"), rule.params.get("max")
        conds = [f"{q(rule.column)} < DATE {lit(str(lo))}"] if lo is not None else []
        conds += [f"{q(rule.column)} > DATE {lit(str(hi))}"] if hi is not None else []
        if not conds:
            return []
        rows = con.execute(f"SELECT _line FROM read_parquet({lit(str(parquet))}) WHERE "
                           f"{' OR '.join(conds)}").fetchall()
        return [int(r[0]) for r in rows]
    return None


def quarantine_rows(con, entity: str, result, results: dict, params: Params, customer, *, raw_root,
                    delivery_date: str | None, limits: DeliveryLimits = DeliveryLimits()) -> list[RuleResult]:
    """Move the rows failing a quarantining row-level rule to the staged rejects; returns one WARN
    result per rule that quarantined rows (empty when nothing was quarantined)."""
    parquet = getattr(result, "parquet_path", None)
    allowed = quarantining_rules(customer)
    rules = [r for r in rules_for(entity, params) if r.id in allowed]
    if not rules or parquet is None or not Path(parquet).exists():
        return []
    parquet = Path(parquet)
    present = schema(con, parquet)
    by_line: dict[int, Rule] = {}
    for rule in rules:
        for line in _failing_lines(con, parquet, rule, present, results, raw_root, delivery_date,
                                   params.delivery_seq) or []:
            by_line.setdefault(line, rule)
    rows, rejected = int(result.rows or 0), int(result.rejected_rows or 0)
    if not by_line or len(by_line) + rejected > limits.max_rejected_fraction * (rows + rejected):
        return []
    _move_rows(con, parquet, result, by_line)
    out = []
    for rule in rules:
        lines = sorted(line for line, r in by_line.items() if r is rule)
        if not lines:
            continue
        shown = dataclasses.replace(rule, id=f"{rule.id}.quarantined", severity=WARN,
                                    description=f"rows breaking {rule.id} moved to rejects/ "
                                                f"({rule.description})")
        rr = RuleResult(shown, success=False, unexpected_count=len(lines), element_count=rows,
                        engine="duckdb")
        rr.detail["quarantined_rows"] = len(lines)
        rr.add_examples([{"_line": line} for line in lines[:5]])
        out.append(rr)
    return out


def _move_rows(con, parquet: Path, result, by_line: dict[int, Rule]) -> None:
    """Rewrite the staged raw Parquet without the rows, append them (as text) to the staged rejects and
    update the file's ``_files`` row and the load result."""
    con.execute("CREATE OR REPLACE TEMP TABLE _q(_line BIGINT, _rule VARCHAR, _reason VARCHAR)")
    con.executemany("INSERT INTO _q VALUES (?, ?, ?)",
                    [(line, r.id, f"{r.column}: {r.description}") for line, r in by_line.items()])
    src = f"read_parquet({lit(str(parquet))})"
    cols = [c for c in schema(con, parquet) if not c.startswith("_")]
    as_text = ", ".join(f"CAST(s.{q(c)} AS VARCHAR) AS {q(c)}" for c in cols)
    root = parquet.parents[3]
    entity, part = parquet.parents[1].name, parquet.parent.name
    rej_dir = root / "rejects" / entity / part
    rej_dir.mkdir(parents=True, exist_ok=True)
    rej = rej_dir / "rejects.parquet"
    moved = (f"SELECT {as_text}, s._line, _q._rule, _q._reason, CAST(NULL AS VARCHAR) AS _raw "
             f"FROM {src} s JOIN _q USING (_line)")
    union = (f"SELECT * FROM read_parquet({lit(str(rej))}) UNION ALL BY NAME "
             f"{moved}" if rej.exists() else moved)
    _copy(con, f"{union} ORDER BY _line", rej)
    _copy(con, f"SELECT * FROM {src} WHERE _line NOT IN (SELECT _line FROM _q) ORDER BY _line", parquet,
          "FORMAT parquet, STRING_DICTIONARY_PAGE_SIZE_LIMIT 65536")
    result.rows = int(result.rows) - len(by_line)
    result.rejected_rows = int(result.rejected_rows or 0) + len(by_line)
    result.rejects_path = rej
    if "date" in cols:
        lo, hi = con.execute(f"SELECT min(date), max(date) FROM {src}").fetchone()
        result.min_date, result.max_date = (lo.isoformat() if lo else None), (hi.isoformat() if hi else None)
    files = getattr(result, "files_path", None)
    if files is not None and Path(files).exists():
        fsrc = f"read_parquet({lit(str(files))})"
        _copy(con,
              f"SELECT * REPLACE (CAST({result.rows} AS BIGINT) AS rows, CAST({result.rejected_rows} AS "
              "BIGINT) "
                   f"AS rejected_rows, CAST({lit(result.min_date) if result.min_date else 'NULL'} AS DATE) "
                   "AS min_date, "
                   f"CAST({lit(result.max_date) if result.max_date else 'NULL'} AS DATE) AS max_date) FROM "
                   f"{fsrc}", Path(files))


def _copy(con, sql: str, dest: Path, options: str = "FORMAT parquet") -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    con.execute(f"COPY ({sql}) TO {lit(str(tmp))} ({options})")
    os.replace(tmp, dest)
