"""Rules evaluated by DuckDB over the staged Parquet, in the same result shape as the GX rules.

* set rules GX cannot chunk or express: ``unique`` (across the whole file), ``list_in_set`` and
  ``list_guid_format`` (elements of comma lists);
* the row rules of files above the GX row limit: one scan computes every rule's unexpected count
  (``count(*) FILTER (WHERE <violation>)``), then one small query per failing rule fetches the
  first example lines. The violation predicates mirror the GX expectations exactly (nulls are not
  violations except for ``not_null``; a pair rule ignores rows where either value is missing).
"""

from __future__ import annotations

from pathlib import Path

from kinvolved_assets.oneroster import spec
from kinvolved_assets.sql import ident as q
from kinvolved_assets.sql import literal as lit

from .results import MAX_EXAMPLES, RuleResult, short_error
from .rules import GX_KINDS, Rule


def schema(con, parquet: Path) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(str(parquet))})").fetchall()
    return {r[0]: r[1] for r in rows}


def not_matching(c: str, regex: str) -> str:
    """SQL: ``c`` does not fully match ``regex``. The GUID pattern's bounded repeat is checked as a
    length plus an unbounded repeat: same result, a much smaller regex program to compile."""
    if regex == spec.GUID_PATTERN:
        return (f"(length({c}) > {spec.GUID_MAX_LENGTH} OR NOT regexp_full_match({c}, "
                f"{lit(regex.strip('^$').replace('{1,255}', '+'))}))")
    return f"NOT regexp_full_match({c}, {lit(regex)})"


def violation(rule: Rule, value: str | None = None) -> str:
    """SQL predicate true on a row that breaks the rule (``value``: SQL standing for the column)."""
    c = value or (q(rule.column) if rule.column else None)
    p = rule.params
    if rule.kind == "not_null":
        return f"{c} IS NULL"
    if rule.kind == "in_set" and p.get("regex"):   # an extensible vocabulary (OneRoster 1.2 ext: values)
        return (f"{c} IS NOT NULL AND {c} NOT IN ({', '.join(lit(v) for v in p['values'])}) AND "
                f"{not_matching(c, p['regex'])}")
    if rule.kind == "in_set":
        return f"{c} IS NOT NULL AND {c} NOT IN ({', '.join(lit(v) for v in p['values'])})"
    if rule.kind == "guid_format":
        return f"{c} IS NOT NULL AND {not_matching(c, p['regex'])}"
    if rule.kind in ("date_format", "between"):
        expr = f"CAST({c} AS DATE)" if rule.is_date else c
        parts = []
        if p.get("min") is not None:
            parts.append(f"{expr} < {lit(p['min'])}")
        if p.get("max") is not None:
            parts.append(f"{expr} > {lit(p['max'])}")
        return f"{c} IS NOT NULL AND ({' OR '.join(parts) or 'false'})"
    if rule.kind == "date_order":
        a, b = q(rule.column), q(rule.column_b)
        op = ">=" if p.get("or_equal") else ">"
        return f"{a} IS NOT NULL AND {b} IS NOT NULL AND NOT ({b} {op} {a})"
    if rule.kind == "list_in_set":
        return (f"{c} IS NOT NULL AND NOT list_has_all([{', '.join(lit(v) for v in p['values'])}], "
                f"list_filter({c}, lambda x: x IS NOT NULL))")
    if rule.kind == "list_guid_format":
        return (f"{c} IS NOT NULL AND len(list_filter({c}, lambda x: x IS NULL OR "
                f"{not_matching('x', p['regex'])})) > 0")
    raise ValueError(f"rule {rule.id} ({rule.kind}) has no row predicate")


ROW_KINDS = tuple(k for k in GX_KINDS if k != "column_exists") + ("list_in_set", "list_guid_format")
# Rules that depend on the value alone: evaluated once per distinct value of a reference column
# (a 1.5M-row enrollments file has ~250k distinct users and ~10k classes), weighted by its count.
VALUE_KINDS = ("in_set", "guid_format", "list_in_set", "list_guid_format")


def run_row_rules(con, parquet: Path, rules: list[Rule], present: dict[str, str],
                  rows: int | None = None) -> list[RuleResult]:
    """Row rules (and column_exists) evaluated in one DuckDB scan."""
    src = f"read_parquet({lit(str(parquet))})"
    results: list[RuleResult] = []
    todo: list[RuleResult] = []
    for r in rules:
        if r.kind == "column_exists":
            ok = r.column in present
            results.append(RuleResult(r, success=ok, unexpected_count=0 if ok else 1, engine="duckdb"))
            continue
        if r.kind not in ROW_KINDS:
            continue
        rr = RuleResult(r, engine="duckdb")
        results.append(rr)
        missing = [c for c in (r.column, r.column_b) if c and c not in present]
        if missing:
            rr.evaluated, rr.skipped = False, f"column {', '.join(missing)} not in the file"
        else:
            todo.append(rr)
    if not todo:
        return results
    by_value: dict[str, list[RuleResult]] = {}
    scan: list[RuleResult] = []
    for rr in todo:
        if rr.rule.kind in VALUE_KINDS and rr.rule.column != "sourcedId":
            by_value.setdefault(rr.rule.column, []).append(rr)
        else:
            scan.append(rr)
    try:
        aggs = "".join(f", count(*) FILTER (WHERE {violation(rr.rule)})" for rr in scan)
        counts = con.execute(f"SELECT count(*){aggs} FROM {src}").fetchone()
        total = int(counts[0])
        for rr, n in zip(scan, counts[1:], strict=True):
            rr.unexpected_count = int(n)
        for column, group in by_value.items():
            aggs = ", ".join(f"coalesce(sum(n) FILTER (WHERE {violation(rr.rule, 'v')}), 0)" for rr in group)
            counts = con.execute(f"SELECT {aggs} FROM (SELECT {q(column)} AS v, count(*) AS n FROM {src} "
                                 f"WHERE {q(column)} IS NOT NULL GROUP BY 1)").fetchone()
            for rr, n in zip(group, counts, strict=True):
                rr.unexpected_count = int(n)
        key_cols = [c for c in ("_line", "sourcedId") if c in present]
        for rr in todo:
            rr.element_count = total
            rr.success = rr.unexpected_count == 0
            if rr.unexpected_count:
                rr.add_examples(_examples(con, src, rr.rule, key_cols))
    except Exception as exc:  # noqa: BLE001 - an engine error fails the rule
        for rr in todo:
            rr.error = short_error(exc)
    return results


def _examples(con, src: str, rule: Rule, key_cols: list[str]) -> list[dict]:
    cols = [q(c) for c in key_cols]
    value = rule.kind not in ("date_order",) and rule.column not in ("_line",)
    if value:
        cols.append(f"{q(rule.column)} AS value")
    order = " ORDER BY _line" if "_line" in key_cols else ""
    cur = con.execute(f"SELECT {', '.join(cols)} FROM {src} WHERE {violation(rule)}{order} LIMIT "
                      f"{MAX_EXAMPLES}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def run_unique(con, parquet: Path, rule: Rule, present: dict[str, str]) -> RuleResult:
    """Rows whose sourcedId appears more than once in the file (all copies are counted)."""
    rr = RuleResult(rule, engine="duckdb")
    col = rule.column
    if col not in present:
        rr.evaluated, rr.skipped = False, f"column {col} not in the file"
        return rr
    src = f"read_parquet({lit(str(parquet))})"
    try:
        rr.element_count, rr.unexpected_count = (int(x or 0) for x in con.execute(
            f"SELECT sum(n), sum(n) FILTER (WHERE n > 1 AND v IS NOT NULL) "
            f"FROM (SELECT {q(col)} AS v, count(*) AS n FROM {src} GROUP BY {q(col)})").fetchone())
        rr.success = rr.unexpected_count == 0
        if not rr.success:
            key_cols = [c for c in ("_line", "sourcedId") if c in present]
            order = " ORDER BY _line" if "_line" in present else ""
            cur = con.execute(
                f"SELECT {', '.join(q(c) for c in key_cols)} FROM {src} WHERE {q(col)} IN "
                f"(SELECT {q(col)} FROM {src} GROUP BY {q(col)} HAVING count(*) > 1){order} LIMIT "
                f"{MAX_EXAMPLES}")
            names = [d[0] for d in cur.description]
            rr.add_examples([dict(zip(names, row, strict=True)) for row in cur.fetchall()])
    except Exception as exc:  # noqa: BLE001
        rr.error = short_error(exc)
    return rr
