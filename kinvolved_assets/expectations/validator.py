"""The expectation suites as an ``checks.Validator``: one ``expectations`` check per entity.

    ingest_delivery(..., validators=[expectations_validator()], reporter=delivery_reporter)

For each entity of a delivery the rules of ``rules.rules_for`` are evaluated on the staged Parquet:
row rules through the entity's Great Expectations suite (DuckDB above ``gx_max_rows``), set rules
(uniqueness, lists, references, volume) in DuckDB. The check fails when any rule fails; it is
blocking iff an ERROR rule failed (an engine error counts as an ERROR failure).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import duckdb

from kinvolved_assets.checks import CheckOutcome, DeliveryContext
from kinvolved_assets.diskspace import is_disk_full
from kinvolved_assets.oneroster.school_year import describe, resolve, sessions_from_parquet, window
from kinvolved_assets.oneroster.scratch import private_database, scratch_cursor

from . import duck
from .gx_runner import run_gx_rules
from .quarantine import quarantine_rows
from .references import run_reference
from .results import RuleResult, failures_markdown, short_error
from .rules import ERROR, WARN, Params, Rule, rules_for
from .volume import run_volume

CHECK_NAME = "expectations"
REPORT_FILE = "validation.html"
REPORT_JSON = "validation.json"
# Files with more rows than this have their row rules evaluated by DuckDB instead of GX (GX on pandas
# costs ~0.4 s per expectation per million rows here; see docs/validation.md for measurements).
DEFAULT_GX_MAX_ROWS = int(os.environ.get("KINVOLVED_GX_MAX_ROWS", "250000"))
# A delivery with more rows than this (all files together) is validated by DuckDB only: importing GX
# alone costs ~5 s, half the ingest time of a 250,000-student delivery on 2 cores.
DEFAULT_GX_MAX_DELIVERY_ROWS = int(os.environ.get("KINVOLVED_GX_MAX_DELIVERY_ROWS", "500000"))
DEFAULT_ENGINE = os.environ.get("KINVOLVED_EXPECTATIONS_ENGINE", "auto")
DEFAULT_CHUNK_ROWS = 2_000_000
ENGINES = ("auto", "gx", "duckdb")


# files from this many rows on are checked in a database of their own, closed afterwards (its memory
# given back instead of staying with the process)
PRIVATE_DATABASE_ROWS = 1_000_000


def _connect(spill_dir: str | None, threads: int = 2, memory_limit: str = "4GB") -> duckdb.DuckDBPyConnection:
    """A database of its own spilling to ``spill_dir`` when given, else a cursor on the scratch one."""
    if spill_dir is not None:
        return private_database(threads, memory_limit, spill_dir, keep_order=False)
    return scratch_cursor(threads, memory_limit, keep_order=False)


def params_for(customer=None, delivery_date: str | None = None, delivery_seq: int | None = None) -> Params:
    return Params(
        delivery_seq=delivery_seq,
        school_year=(customer.school_year_for(delivery_date) if customer is not None and delivery_date
                     else getattr(customer, "school_year", None)),
        delivery_date=dt.date.fromisoformat(delivery_date) if delivery_date else None,
        volume_change_fraction=float(customer.validation.volume_change_fraction) if customer is not None
        else 0.50,
    )


def evaluate_entity(entity: str, result, results: dict, params: Params, *, raw_root: Path | None,
                    delivery_date: str | None, engine: str = "auto", gx_max_rows: int = DEFAULT_GX_MAX_ROWS,
                    chunk_rows: int = DEFAULT_CHUNK_ROWS, report_path: Path | None = None,
                    customer=None) -> CheckOutcome:
    """Run every rule of one entity on its staged Parquet; return the ``expectations`` check. Rows
    breaking a row-level rule are first moved to the staged rejects (``quarantine.py``) unless the
    customer's config makes that rule block."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    started = time.perf_counter()
    params = replace(params, oneroster_version=getattr(result, "oneroster_version", None) or "1.1")
    rules = rules_for(entity, params)
    parquet = getattr(result, "parquet_path", None)
    rows = int(getattr(result, "rows", 0) or 0)
    out: list[RuleResult] = []
    used = "none"
    spill = tempfile.TemporaryDirectory(prefix="kv-checks-") if rows >= PRIVATE_DATABASE_ROWS else None
    con = _connect(spill.name if spill else None)
    try:
        if parquet is None or not Path(parquet).exists():
            out = [RuleResult(r, evaluated=False, skipped="no staged file") for r in rules]
        else:
            parquet = Path(parquet)
            out += quarantine_rows(con, entity, result, results, params, customer, raw_root=raw_root,
                                   delivery_date=delivery_date)
            rows = int(getattr(result, "rows", 0) or 0)
            present = duck.schema(con, parquet)
            row_rules = [r for r in rules if r.engine == "gx"]
            use_gx = engine == "gx" or (engine == "auto" and 0 < gx_max_rows and rows <= gx_max_rows)
            used = "gx" if use_gx else "duckdb"
            list_rules = [r for r in rules if r.kind in ("list_in_set", "list_guid_format")]
            if use_gx:
                out += run_gx_rules(con, parquet, row_rules, present, chunk_rows=chunk_rows)
                out += duck.run_row_rules(con, parquet, list_rules, present)
            else:   # one scan for every row rule
                out += duck.run_row_rules(con, parquet, row_rules + list_rules, present)
            for r in rules:
                if r.kind == "unique":
                    out.append(duck.run_unique(con, parquet, r, present))
                elif r.kind == "reference":
                    out.append(run_reference(con, parquet, r, present, results, raw_root, delivery_date,
                                              params.delivery_seq))
                elif r.kind == "volume":
                    out.append(run_volume(con, r, result, raw_root, delivery_date, params.delivery_seq))
            if entity == "academic_sessions" and getattr(result, "mode", None) == "bulk":
                out += school_year_results(con, parquet, customer, params.school_year)
    except Exception as exc:  # noqa: BLE001 - never let a validation crash pass as green
        if is_disk_full(exc):   # our disk, not the district's file
            raise
        done = {r.rule.id for r in out}
        for r in rules:
            if r.id not in done:
                out.append(RuleResult(r, error=short_error(exc)))
    finally:
        con.close()
        if spill is not None:
            spill.cleanup()
    order = {r.id: i for i, r in enumerate(rules)}
    out.sort(key=lambda r: order.get(r.rule.id, 1 << 30))
    return to_outcome(entity, out, rows=rows, engine=used, seconds=time.perf_counter() - started,
                      report_path=report_path)


def school_year_results(con, parquet: Path, customer, year: int | None = None) -> list[RuleResult]:
    """The delivery's school year (the configured one, or the earlier year a history delivery falls
    in) resolved by the dates of a bulk academicSessions file: an ERROR when no session matches (the
    marts would be empty), a WARN when the label differs or only terms match."""
    year = year if year is not None else getattr(customer, "school_year", None)
    if year is None:
        return []
    found = sessions_from_parquet(con, str(parquet))
    sy = resolve(found, int(year))
    said = describe(sy, found)
    rule = Rule("academic_sessions.schoolYear.matches_configured_year", "academic_sessions", "school_year",
                "schoolYear", ERROR, f"a session lies mostly inside the configured school year {year} "
                f"({window(int(year))[0]} .. {window(int(year))[1]}), whatever its label")
    rr = RuleResult(rule, success=said is None or said[0] != "error",
                    unexpected_count=0 if sy.resolved else 1,
                    element_count=len(found), engine="duckdb")
    if said is not None:
        rr.detail["school_year"] = said[1]
        if said[0] == "warning":
            rr.success, rr.severity_override = False, WARN
    if sy.resolved:
        rr.detail["resolved"] = f"{sy.start} .. {sy.end}"
    calendar = (getattr(customer, "school_years", None) or {}).get(int(year))
    if calendar is not None:    # the config's calendar of the year stands for its sessions' dates
        rr.success, rr.severity_override = True, None
        rr.detail["school_year"] = (f"the config's school_years[{year}] calendar ({calendar.first_day} .. "
                                    f"{calendar.last_day}) is used instead of the sessions' dates")
    return [rr]


def to_outcome(entity: str, results: list[RuleResult], *, rows: int, engine: str, seconds: float,
               report_path: Path | None) -> CheckOutcome:
    evaluated = [r for r in results if r.evaluated]
    failed = [r for r in evaluated if r.failed]
    failed_error = [r for r in failed if r.severity == ERROR]
    engine_errors = [r for r in failed if r.error is not None]
    metadata = {
        "suite": f"oneroster_plus.{entity}",
        "rows": rows,
        "row_rules_engine": engine,
        "expectations_evaluated": len(evaluated),
        "expectations_failed": len(failed),
        "failed_error": len(failed_error),
        "failed_warn": sum(1 for r in failed if r.severity == WARN),
        "engine_errors": len(engine_errors),
        "unexpected_counts": {r.rule.id: int(r.unexpected_count) for r in evaluated},
        "failures_md": failures_markdown(results),
        "results": [r.to_dict() for r in results],
        "seconds": round(seconds, 3),
    }
    if engine_errors:
        metadata["engine_error"] = engine_errors[0].error
    if report_path is not None:
        metadata["report_path"] = str(report_path)
    desc = (f"{len(evaluated)} expectations on {rows} rows: "
            + ("all passed" if not failed else f"{len(failed)} failed ({len(failed_error)} blocking)"))
    return CheckOutcome(name=CHECK_NAME, passed=not failed, blocking=bool(failed_error),
                        metadata=metadata, description=desc)


def delivery_rows(results: dict) -> int:
    return sum(int(getattr(r, "rows", 0) or 0) for r in results.values() if getattr(r, "present", True))


def expectations_validator(engine: str = DEFAULT_ENGINE, gx_max_rows: int = DEFAULT_GX_MAX_ROWS,
                           chunk_rows: int = DEFAULT_CHUNK_ROWS,
                           gx_max_delivery_rows: int = DEFAULT_GX_MAX_DELIVERY_ROWS):
    """An ``checks.Validator`` running the entity's expectation suite on the staged delivery.

    ``engine``: ``auto`` (GX for files up to ``gx_max_rows`` rows in deliveries up to
    ``gx_max_delivery_rows`` rows, else DuckDB), ``gx`` or ``duckdb``.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")

    def validate(entity: str, result, ctx: DeliveryContext) -> Sequence[CheckOutcome]:
        report = ctx.report_dir / REPORT_FILE
        chosen = engine
        if engine == "auto" and delivery_rows(ctx.results) > gx_max_delivery_rows:
            chosen = "duckdb"
        return [evaluate_entity(entity, result, ctx.results,
                                params_for(ctx.customer, ctx.delivery_date, ctx.seq),
                                raw_root=ctx.paths.raw, delivery_date=ctx.delivery_date, engine=chosen,
                                gx_max_rows=gx_max_rows, chunk_rows=chunk_rows, report_path=report,
                                customer=ctx.customer)]

    validate.__name__ = "expectations_validator"
    return validate


def validate_loaded_delivery(results: dict, customer=None, delivery_date: str | None = None, *,
                         paths=None, engine: str = DEFAULT_ENGINE) -> list[dict]:
    """The suites for ``kinvolved validate``: the same rules on a delivery loaded into a temp folder.

    ``customer``: a ``CustomerConfig`` or a customer id (its config is loaded); with it the school
    year bounds apply and references/volume are checked against the customer's current state under
    KINVOLVED_HOME when one exists. Without it only the delivery itself is checked. ``delivery_date``:
    the delivery's date (default: today, for the "not after the delivery" bound).
    Returns one plain dict per present entity: entity, name, passed, blocking, description, metadata.
    """
    if isinstance(customer, str):
        from kinvolved_assets.customers import load_customer_configs

        customer = load_customer_configs().customers.get(customer)
    date = delivery_date or dt.date.today().isoformat()
    raw_root = None
    if customer is not None:
        paths = paths or customer.paths()
        raw_root = paths.raw if paths.raw.exists() else None
    params = params_for(customer, date)
    if engine == "auto" and delivery_rows(results) > DEFAULT_GX_MAX_DELIVERY_ROWS:
        engine = "duckdb"
    out = []
    for entity, result in results.items():
        if not getattr(result, "present", True) or getattr(result, "failed", False):
            continue
        check = evaluate_entity(entity, result, results, params, raw_root=raw_root,
                                delivery_date=date if raw_root is not None else None, engine=engine,
                                customer=customer)
        out.append({"entity": entity, "name": check.name, "passed": check.passed, "blocking": check.blocking,
                    "description": check.description, "metadata": check.metadata})
    return out
