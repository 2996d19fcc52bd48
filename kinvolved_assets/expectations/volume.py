"""Volume rule: the row count of an entity against the previous delivery of the same mode.

The previous delivery is the latest ``raw/_files/<entity>/delivery_date=<D'>/seq=<N'>`` with
``(D', N') <`` this delivery's (date, seq) (an earlier delivery of the same date counts) and the same
``mode`` (bulk vs bulk, delta vs delta). The rule fails (a warning) when
``|rows - previous| / previous`` exceeds ``validation.volume_change_fraction`` of the customer.
No previous delivery of that mode, or a previous one with 0 rows: nothing to compare, not evaluated.
"""

from __future__ import annotations

from pathlib import Path

from kinvolved_assets.paths import before, partition_files
from kinvolved_assets.sql import literal as lit

from .results import RuleResult, short_error
from .rules import Rule


def previous_delivery(con, files_root: Path, entity: str, mode: str, delivery_date: str,
                      delivery_seq: int | None = None) -> tuple[str, int] | None:
    files = [f for day, seq,
             f in partition_files(files_root / entity) if before((day, seq), delivery_date, delivery_seq)]
    if not files:
        return None
    order = {str(f): i for i, f in enumerate(files)}   # application order, (date, seq)
    rows = con.execute(
        f"SELECT CAST(delivery_date AS VARCHAR), CAST(rows AS BIGINT), filename FROM read_parquet("
        f"[{', '.join(lit(str(f)) for f in files)}], union_by_name=true, filename=true) WHERE mode = "
        f"{lit(mode)}").fetchall()
    if not rows:
        return None
    day, count, _ = max(rows, key=lambda r: order.get(r[2], -1))
    return day, int(count or 0)


def run_volume(con, rule: Rule, result, raw_root: Path | None, delivery_date: str | None,
               delivery_seq: int | None = None) -> RuleResult:
    rr = RuleResult(rule, engine="duckdb")
    mode = getattr(result, "mode", None)
    rows = int(getattr(result, "rows", 0) or 0)
    if raw_root is None or delivery_date is None or mode not in ("bulk", "delta"):
        rr.evaluated, rr.skipped = False, "no delivery history available"
        return rr
    try:
        prev = previous_delivery(con, raw_root / "_files", rule.entity, mode, delivery_date, delivery_seq)
    except Exception as exc:  # noqa: BLE001
        rr.error = short_error(exc)
        return rr
    if prev is None:
        rr.evaluated, rr.skipped = False, f"no previous {mode} delivery"
        return rr
    prev_date, prev_rows = prev
    rr.detail.update(previous_date=prev_date, previous_rows=prev_rows, rows=rows, mode=mode)
    if prev_rows == 0:
        rr.evaluated, rr.skipped = False, f"previous {mode} delivery ({prev_date}) had 0 rows"
        return rr
    change = abs(rows - prev_rows) / prev_rows
    rr.detail["change"] = round(change, 4)
    rr.element_count = rows
    rr.success = change <= float(rule.params["fraction"])
    rr.unexpected_count = 0 if rr.success else abs(rows - prev_rows)
    return rr
