"""Cross-file references, resolved against the delivery plus the customer's current state (DuckDB).

Target population of a reference ``entity.column -> target``:

* the target file of this delivery, when it is in the delivery and was read (every row, whatever its
  status, plus the ids of rows the reader rejected: their problem is reported once, by the contract
  check, not again by every row pointing at them);
* when that file is a non-empty **bulk**, nothing else: a bulk replaces the whole state of its entity
  (an empty bulk deletes nothing, so the current state still counts);
* otherwise (delta, or not in the delivery) also the **current state**: the sourcedIds of
  ``raw/<target>/delivery_date=*/seq=*/`` delivered before this delivery in (date, seq) order (an
  earlier delivery of the same date included: a correction after the nightly, a roster pulled over
  REST and an attendance delivery of the same day) and since the target's last bulk,
  keeping per sourcedId its latest record (by delivery date, seq, then line) unless that record is
  ``tobedeleted``; plus the same state over every other delivery, later ones included (when an
  old delivery is re-run, an id that became known since resolves: its quarantined rows come back). This is
      the dbt current-state rule without the attendance date-range scopes
  (targets are never attendance).

Without a current state (``kinvolved validate`` without a customer), a reference to a target that
is not a bulk in the delivery can only be checked against the delivery: unresolved ids are then warnings,
and a reference to a target missing from the delivery is not checked.
"""

from __future__ import annotations

from pathlib import Path

from kinvolved_assets.paths import before, partition_files
from kinvolved_assets.sql import ident as q
from kinvolved_assets.sql import literal as lit

from .results import RuleResult, short_error
from .rules import WARN, Rule


def _usable(result) -> bool:
    return (result is not None and getattr(result, "present", True) and not getattr(result, "failed", False)
            and getattr(result, "parquet_path", None) is not None and Path(result.parquet_path).exists())


def _delivered_ids(con, result, keys, flt) -> list[str]:
    parts = []
    src = f"read_parquet({lit(str(result.parquet_path))})"
    cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    where = f" WHERE {q(flt[0])} = {lit(flt[1])}" if flt and flt[0] in cols else ""
    parts += [f"SELECT CAST({q(k)} AS VARCHAR) AS id FROM {src}{where}" for k in keys if k in cols]
    rej = getattr(result, "rejects_path", None)
    if rej is not None and Path(rej).exists():
        rsrc = f"read_parquet({lit(str(rej))})"
        rcols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rsrc}").fetchall()}
        parts += [f"SELECT CAST({q(k)} AS VARCHAR) FROM {rsrc}" for k in keys if k in rcols]
    return parts


def _state_ids(con, raw_root: Path, target: str, delivery_date: str, keys, flt, only: str | None = None,
               later: bool = False, delivery_seq: int | None = None) -> list[str]:
    """``only``: SQL listing the ids looked for; when the key is sourcedId, the state is computed for
    those ids alone (a nightly file references thousands of ids; the state holds millions).
    ``later``: the state from every other delivery, also later ones (a re-run of an old delivery
    resolves what is known by now; it never refuses what the state before it accepted).
    ``delivery_seq``: this delivery's arrival sequence (None: after every delivery of its date)."""
    def keep(position: tuple[str, int]) -> bool:
        if later:
            return delivery_seq is None or position != (delivery_date, delivery_seq)
        return before(position, delivery_date, delivery_seq)

    parts = [(day, seq, f) for day, seq, f in partition_files(raw_root / target) if keep((day, seq))]
    if not parts:
        return []
    meta = [(day, seq, f) for day, seq,
            f in partition_files(raw_root / "_files" / target) if keep((day, seq))]
    if meta:
        rows = con.execute(f"SELECT filename FROM read_parquet([{', '.join(lit(str(m[2])) for m in meta)}], "
                           f"union_by_name=true, filename=true) WHERE mode = 'bulk'").fetchall()
        bulks = {r[0] for r in rows}
        last_bulk = max(((day, seq) for day, seq, f in meta if str(f) in bulks), default=None)
        if last_bulk is not None:   # partitions before the last bulk are not part of the state: not read at
                                    # all
            parts = [p for p in parts if (p[0], p[1]) >= last_bulk]
    src = f"read_parquet([{', '.join(lit(str(f)) for _, _, f in parts)}], union_by_name=true, filename=true)"
    cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    date_col = "_delivery_date" if "_delivery_date" in cols else None
    # (date, seq) order; the seq is the partition's (seq=<N>/; none: 0)
    seq = "coalesce(try_cast(regexp_extract(filename, '/seq=([0-9]+)/[^/]*$', 1) AS INTEGER), 0)"
    order = f"{q(date_col)} DESC, {seq} DESC, " if date_col else f"{seq} DESC, "
    conds = []
    if only is not None and list(keys) == ["sourcedId"]:
        conds.append(f"sourcedId IN ({only})")
    since_sql = f" WHERE {' AND '.join(conds)}" if conds else ""
    status = "coalesce(status, 'active') <> 'tobedeleted'" if "status" in cols else "true"
    flt_sql = f" AND {q(flt[0])} = {lit(flt[1])}" if flt and flt[0] in cols else ""
    line = "_line DESC" if "_line" in cols else "1"
    latest = (f"SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY sourcedId ORDER BY {order}{line}) "
              f"AS _rn FROM {src}{since_sql}) WHERE _rn = 1 AND {status}{flt_sql}")
    return [f"SELECT CAST({q(k)} AS VARCHAR) FROM ({latest})" for k in keys if k in cols]


def _ids_sql(con, src: str, value: str, rule: Rule, tgt, delivered: bool, bulk: bool, state_known: bool,
             raw_root: Path | None, delivery_date: str | None, delivery_seq: int | None = None) -> str:
    """SQL listing the ids a reference may resolve to (the population described above)."""
    keys, flt = rule.params["keys"], rule.params.get("filter")
    parts = _delivered_ids(con, tgt, keys, flt) if delivered else []
    if not bulk and state_known:
        for later in (False, True):
            parts += _state_ids(con, raw_root, rule.params["target"], delivery_date, keys, flt,
                                only=f"SELECT CAST({value} AS VARCHAR) FROM {src}", later=later,
                                delivery_seq=delivery_seq)
    return " UNION ALL ".join(parts) if parts else "SELECT CAST(NULL AS VARCHAR) AS id WHERE false"


def unresolved_lines(con, parquet: Path, rule: Rule, present: dict[str, str], results: dict,
                     raw_root: Path | None, delivery_date: str | None,
                     delivery_seq: int | None = None) -> list[int] | None:
    """The ``_line`` of every row whose reference does not resolve, or None when the rule could only
    warn (no current state and no bulk target) or cannot be evaluated."""
    col, target = rule.column, rule.params["target"]
    if col not in present or "_line" not in present:
        return None
    tgt = results.get(target)
    delivered = _usable(tgt)
    bulk = delivered and getattr(tgt, "mode", None) == "bulk" and int(getattr(tgt, "rows", 0) or 0) > 0
    state_known = raw_root is not None and delivery_date is not None
    if not bulk and not state_known:
        return None
    src = f"read_parquet({lit(str(parquet))})"
    value = f"unnest({q(col)})" if rule.params.get("list") else q(col)
    ids = _ids_sql(con, src, value, rule, tgt, delivered, bulk, state_known, raw_root, delivery_date,
                      delivery_seq)
    rows = con.execute(f"WITH ids AS (SELECT DISTINCT id FROM ({ids}) t(id) WHERE id IS NOT NULL), "
                       f"vals AS (SELECT _line, CAST({value} AS VARCHAR) AS value FROM {src}) "
                       f"SELECT DISTINCT vals._line FROM vals ANTI JOIN ids ON vals.value = ids.id "
                       f"WHERE vals.value IS NOT NULL").fetchall()
    return [int(r[0]) for r in rows]


def run_reference(con, parquet: Path, rule: Rule, present: dict[str, str], results: dict,
                  raw_root: Path | None, delivery_date: str | None,
                     delivery_seq: int | None = None) -> RuleResult:
    rr = RuleResult(rule, engine="duckdb")
    col, target = rule.column, rule.params["target"]
    if col not in present:
        rr.evaluated, rr.skipped = False, f"column {col} not in the file"
        return rr
    tgt = results.get(target)
    delivered = _usable(tgt)
    # an empty bulk deletes nothing (docs/architecture.md): it does not replace the state either
    bulk = delivered and getattr(tgt, "mode", None) == "bulk" and int(getattr(tgt, "rows", 0) or 0) > 0
    state_known = raw_root is not None and delivery_date is not None
    if not delivered and not state_known:
        rr.evaluated, rr.skipped = False, f"{target} is not in the delivery and no current state is available"
        return rr
    try:
        src = f"read_parquet({lit(str(parquet))})"
        value = f"unnest({q(col)})" if rule.params.get("list") else q(col)
        ids = _ids_sql(con, src, value, rule, tgt, delivered, bulk, state_known, raw_root, delivery_date,
                      delivery_seq)
        if not bulk and not state_known:
            rr.severity_override = WARN
            rr.detail["checked_against"] = "this delivery only (no current state)"
        line = "_line" if "_line" in present else "NULL::BIGINT AS _line"
        sid = "sourcedId" if "sourcedId" in present else "NULL::VARCHAR AS sourcedId"
        unresolved = (f"WITH ids AS (SELECT DISTINCT id FROM ({ids}) t(id) WHERE id IS NOT NULL), "
                      f"vals AS (SELECT {line}, {sid}, CAST({value} AS VARCHAR) AS value FROM {src}) "
                      "SELECT vals.* FROM vals ANTI JOIN ids ON vals.value = ids.id WHERE vals.value IS NOT "
                      "NULL")
        checked, total, distinct = con.execute(
            f"WITH ids AS (SELECT DISTINCT id FROM ({ids}) t(id) WHERE id IS NOT NULL), "
            f"vals AS (SELECT CAST({value} AS VARCHAR) AS value FROM {src}) "
            f"SELECT count(vals.value), count(vals.value) FILTER (WHERE ids.id IS NULL), "
            f"count(DISTINCT vals.value) FILTER (WHERE ids.id IS NULL) "
            f"FROM vals LEFT JOIN ids ON vals.value = ids.id").fetchone()
        rr.unexpected_count, rr.element_count = int(total), int(checked)
        rr.success = rr.unexpected_count == 0
        rr.detail["against"] = ("bulk in this delivery" if bulk else
                                "this delivery + current state" if state_known else "this delivery")
        if not rr.success:
            rr.detail["distinct_unresolved"] = int(distinct)
            cur = con.execute(f"SELECT _line, sourcedId, value FROM ({unresolved}) ORDER BY _line LIMIT 5")
            rr.add_examples([{"_line": a, "sourcedId": b, "value": c} for a, b, c in cur.fetchall()])
    except Exception as exc:  # noqa: BLE001
        rr.error = short_error(exc)
    return rr
