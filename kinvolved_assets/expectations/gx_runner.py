"""Run the row rules of one entity as a Great Expectations suite on pandas frames.

Great Expectations is imported lazily (only when a suite actually runs) with analytics and
progress bars off, in one ephemeral context per process. The staged Parquet is read through DuckDB
with only the columns the rules need, in chunks of ``chunk_rows`` rows; the counts of the chunks
are summed. Dates are handed to GX as whole days since 1970-01-01 (integer comparisons are an order
of magnitude faster than datetime ones in pandas) and shown as dates again in examples.

An expectation whose ``exception_info`` says ``raised_exception`` is an engine error: the rule is
failed and blocking, with the error message shown, never a pass.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import threading
from pathlib import Path

from kinvolved_assets.sql import ident as _q
from kinvolved_assets.sql import string as _lit

from .results import RuleResult, short_error
from .rules import GX_KINDS, Rule

_LOCK = threading.Lock()
_STATE: dict = {}
_COUNTER = itertools.count()

EPOCH = dt.date(1970, 1, 1)


def _days(value: dt.date | None) -> int | None:
    return None if value is None else (value - EPOCH).days


def _gx():
    """(gx module, expectations module, context, batch definition), created once per process."""
    with _LOCK:
        if not _STATE:
            os.environ["GX_ANALYTICS_ENABLED"] = "false"
            import great_expectations as gx
            import great_expectations.expectations as gxe
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            try:
                context.variables.progress_bars = ProgressBarsConfig(globally=False,
                                                                     metric_calculations=False)
            except Exception:  # noqa: BLE001 - cosmetics only
                pass
            asset = context.data_sources.add_pandas("kinvolved_staged").add_dataframe_asset("delivery_file")
            _STATE.update(gx=gx, gxe=gxe, context=context,
                          batch_definition=asset.add_batch_definition_whole_dataframe("whole_file"))
        return _STATE["gx"], _STATE["gxe"], _STATE["context"], _STATE["batch_definition"]


def expectation_for(rule: Rule, gxe):
    """The GX expectation of one rule (the suite is exactly these, one per rule)."""
    meta = {"rule": rule.id, "severity": rule.severity}
    p = rule.params
    if rule.kind == "column_exists":
        return gxe.ExpectColumnToExist(column=rule.column, meta=meta)
    if rule.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=rule.column, meta=meta)
    if rule.kind == "in_set" and p.get("regex"):   # an extensible vocabulary (OneRoster 1.2 ext: values)
        return gxe.ExpectColumnValuesToMatchRegex(column=rule.column, regex=p["regex"], meta=meta)
    if rule.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(column=rule.column, value_set=list(p["values"]), meta=meta)
    if rule.kind == "guid_format":
        return gxe.ExpectColumnValuesToMatchRegex(column=rule.column, regex=p["regex"], meta=meta)
    if rule.kind in ("date_format", "between"):
        lo, hi = p.get("min"), p.get("max")
        if rule.is_date:
            lo, hi = _days(lo), _days(hi)
        return gxe.ExpectColumnValuesToBeBetween(column=rule.column, min_value=lo, max_value=hi, meta=meta)
    if rule.kind == "date_order":
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=rule.column_b, column_B=rule.column, or_equal=bool(p.get("or_equal")),
            ignore_row_if="either_value_is_missing", meta=meta)
    raise ValueError(f"rule {rule.id} ({rule.kind}) is not a GX rule")


def build_suite(entity: str, rules: list[Rule], name: str | None = None):
    """The GX ``ExpectationSuite`` of one entity (row rules only)."""
    gx, gxe, _, _ = _gx()
    return gx.ExpectationSuite(name=name or f"oneroster_plus.{entity}",
                               expectations=[expectation_for(r, gxe) for r in rules if r.kind in GX_KINDS])


def _projection(rules: list[Rule], present: dict[str, str]) -> list[str]:
    cols: list[str] = []
    for name in ("_line", "sourcedId"):
        if name in present:
            cols.append(name)
    date_cols = {c for r in rules if r.is_date for c in (r.column, r.column_b) if c}
    for r in rules:
        for c in (r.column, r.column_b):
            if c and c in present and c not in cols:
                cols.append(c)
    out = []
    for c in cols:
        if c in date_cols and c not in ("_line", "sourcedId"):
            out.append(f"CAST(CAST({_q(c)} AS DATE) - DATE '1970-01-01' AS INTEGER) AS {_q(c)}")
        else:
            out.append(_q(c))
    return out


def _exception(result) -> str | None:
    info = getattr(result, "exception_info", None) or {}
    if not isinstance(info, dict):
        return None
    candidates = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for c in candidates:
        if c.get("raised_exception"):
            # GX's exception_message may quote a cell value: only the fact is kept
            return short_error("GX raised an exception evaluating the expectation (its message is not shown: "
                               "it may quote a value)")
    return None


def run_gx_rules(con, parquet: Path, rules: list[Rule], present: dict[str, str],
                 chunk_rows: int = 2_000_000) -> list[RuleResult]:
    """Evaluate the GX rules of one file. ``present``: column -> type of the staged Parquet."""
    out = {r.id: RuleResult(r, engine="gx") for r in rules if r.kind in GX_KINDS}
    if not out:
        return []
    # A missing column fails its column_exists rule; the rules on its values are not evaluated.
    runnable = []
    for r in out.values():
        missing = [c for c in (r.rule.column, r.rule.column_b) if c and c not in present]
        if missing and r.rule.kind != "column_exists":
            r.evaluated = False
            r.skipped = f"column {', '.join(missing)} not in the file"
        else:
            runnable.append(r.rule)
    if not runnable:
        return list(out.values())
    try:
        gx, gxe, context, batch_definition = _gx()
        suite = context.suites.add(build_suite(runnable[0].entity, runnable,
                                               name=f"oneroster_plus.{runnable[0].entity}.{next(_COUNTER)}"))
    except Exception as exc:  # noqa: BLE001 - an engine that cannot start is a failed check
        for r in runnable:
            out[r.id].error = short_error(exc)
        return list(out.values())
    index_cols = [c for c in ("_line", "sourcedId") if c in present]
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
    if index_cols:
        result_format["unexpected_index_column_names"] = index_cols
    sql = f"SELECT {', '.join(_projection(runnable, present))} FROM read_parquet({_lit(str(parquet))})"
    try:
        reader = con.sql(sql).to_arrow_reader(chunk_rows)
        chunks = 0
        for batch in reader:
            chunks += 1
            _validate_chunk(batch_definition, suite, batch.to_pandas(), result_format, out)
        if not chunks:
            _validate_chunk(batch_definition, suite, reader.schema.empty_table().to_pandas(), result_format,
                            out)
    except Exception as exc:  # noqa: BLE001
        for r in runnable:
            if out[r.id].error is None:
                out[r.id].error = short_error(exc)
    finally:
        try:
            context.suites.delete(suite.name)
        except Exception:  # noqa: BLE001
            pass
    return list(out.values())


def _validate_chunk(batch_definition, suite, frame, result_format, out: dict[str, RuleResult]) -> None:
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    validation = batch.validate(suite, result_format=result_format)
    for res in validation.results:
        rule_id = (res.expectation_config.meta or {}).get("rule")
        rr = out.get(rule_id)
        if rr is None:
            continue
        error = _exception(res)
        if error is not None:
            rr.error = rr.error or error
            continue
        body = res.result or {}
        rr.element_count += int(body.get("element_count") or len(frame))
        if rr.rule.kind == "column_exists":
            rr.success = rr.success and bool(res.success)
            rr.unexpected_count = 0 if rr.success else 1
            continue
        n_bad = int(body.get("unexpected_count") or 0)
        rr.unexpected_count += n_bad
        if not res.success:
            rr.success = False
        if n_bad and len(rr.examples) < 5:
            column = rr.rule.column
            rows = []
            for item in body.get("partial_unexpected_index_list") or []:
                if isinstance(item, dict):
                    row = {"_line": item.get("_line"), "sourcedId": item.get("sourcedId")}
                    if column in item and rr.rule.kind != "date_order":
                        row["value"] = item[column]
                    rows.append(row)
            rr.add_examples(rows)
