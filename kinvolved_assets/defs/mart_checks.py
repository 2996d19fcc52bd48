"""What a marts build says about itself in Dagster.

- ``with_mart_figures``: every ``marts/*`` materialization carries its row count
  (``dagster/row_count``), column types with their dbt docs (``dagster/column_schema``), the
  as-of date, and on the attendance marts the district's attendance rate and chronically-absent
  count, so a 0-row mart is visible at a glance (and plotted across runs in the UI);
- ``build_mart_checks``: the plausibility rules of ``marts_plausibility`` as non-blocking asset checks
  on the marts (evaluated on the published file right after a green build), also recorded in the
  validation report of the customer's latest delivery.
"""



import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterEventType,
    MetadataValue,
    Output,
    TableColumn,
    TableSchema,
    multi_asset_check,
)

from kinvolved_assets.defs.report_asset import mart_chart_metadata
from kinvolved_assets.defs.resources import PlatformResource
from kinvolved_assets.marts.figures import ATTENDANCE_MARTS, read_figures
from kinvolved_assets.marts.plausibility import RULES, PlausibilityResult, check_marts
from kinvolved_assets.marts.plausibility_report import record_in_latest_report

MARTS_LAYER = "marts"
CHECKS_OP = "marts_plausibility"


def _column_docs(manifest_path: Path) -> dict[str, dict[str, str]]:
    try:
        nodes = json.loads(manifest_path.read_text())["nodes"]
    except (OSError, ValueError, KeyError):
        return {}
    return {n["name"]: {c: (v.get("description") or "") for c, v in (n.get("columns") or {}).items()}
            for n in nodes.values() if n.get("resource_type") == "model"}


def _figures_metadata(build_file: Path, models: list[str], manifest_path: Path) -> dict[str, dict]:
    district, tables = read_figures(build_file, models)
    docs = _column_docs(manifest_path)
    out = {}
    for name, mart in tables.items():
        meta = {
            "dagster/row_count": MetadataValue.int(mart.rows),
            "dagster/column_schema": TableSchema(columns=[
                TableColumn(col, dtype, description=docs.get(name, {}).get(col) or None) for col,
                dtype in mart.columns
            ]),
            "as_of_date": MetadataValue.text(district.as_of_date or "none (no attendance delivered)"),
            "school_year": MetadataValue.int(district.school_year or 0),
        }
        if name in ATTENDANCE_MARTS:
            meta["attendance_rate"] = MetadataValue.float(round(district.attendance_rate or 0.0, 4))
            meta["students"] = MetadataValue.int(district.students)
            meta["chronically_absent"] = MetadataValue.int(district.chronically_absent)
        out[name] = meta
    return out


def with_mart_figures(context, events: Iterable, build_file: Path | None, manifest_path: Path,
                      customer=None) -> Iterator:
    """The dbt events of a finished build, each ``marts/*`` Output enriched with the figures of
    ``build_file`` (None: a failed build, events unchanged)."""
    events = list(events)
    keys = {}
    for event in events:
        if isinstance(event, Output):
            key = context.asset_key_for_output(event.output_name)
            if key.path[0] == MARTS_LAYER:
                keys[event.output_name] = key.path[-1]
    figures = {}
    if build_file is not None and keys:
        try:
            figures = _figures_metadata(build_file, sorted(set(keys.values())), manifest_path)
            if customer is not None:
                for mart, chart in mart_chart_metadata(build_file, customer, set(figures)).items():
                    figures[mart].update(chart)
        except Exception as exc:  # noqa: BLE001 - figures are information, never a reason to fail a build
            context.log.warning(f"mart figures could not be read ({type(exc).__name__}; an engine message "
                                "may quote a value: not shown)")
    for event in events:
        if isinstance(event, Output) and keys.get(event.output_name) in figures:
            event = event.with_metadata({**event.metadata, **figures[keys[event.output_name]]})
        yield event


def _severity(name: str) -> AssetCheckSeverity:
    return AssetCheckSeverity.ERROR if RULES[name][1] == "error" else AssetCheckSeverity.WARN


def _metadata(meta: dict) -> dict:
    return {k: MetadataValue.json(v) if isinstance(v, (dict, list)) else v for k, v in meta.items()}


def build_mart_checks(min_zero_absence_days: int):
    specs = [AssetCheckSpec(name, asset=AssetKey([MARTS_LAYER, mart]), blocking=False, description=text)
             for name, (mart, _, text) in RULES.items()]

    @multi_asset_check(name=CHECKS_OP, specs=specs, op_tags={"kinvolved/stage": "marts"})
    def marts_plausibility(context: AssetCheckExecutionContext, platform: PlatformResource):
        customer_id = context.run.tags.get("dagster/partition") or ""
        customer = platform.customer(customer_id)
        paths = platform.paths(customer_id)
        try:
            results = check_marts(paths.marts_db, paths.raw, customer.licensed_schools, min_zero_absence_days)
        except Exception as exc:  # noqa: BLE001 - the marts are published; a check that cannot run says so
            results = [PlausibilityResult(name, False, f"could not be evaluated ({type(exc).__name__})")
                       for name in RULES]
        for r in results:
            if not r.passed:
                context.log.warning(f"{customer_id}: {r.line()}")
        record_in_latest_report(paths.reports, context.run.run_id, results)
        for r in results:
            yield AssetCheckResult(asset_key=AssetKey([MARTS_LAYER, r.mart]), check_name=r.name,
                                   passed=r.passed,
                                   severity=_severity(r.name), description=r.description,
                                   metadata={"customer": customer_id, **_metadata(r.metadata)})

    return marts_plausibility


def plausibility_of_run(instance, run_id: str) -> list[tuple[str, bool, str, str]]:
    """(check name, passed, severity, description) of the plausibility checks evaluated in a run."""
    out = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        data = record.dagster_event.event_specific_data
        if data.check_name in RULES:
            out.append((data.check_name, bool(data.passed), data.severity.value, data.description or ""))
    return out


def plausibility_lines(instance, run_id: str, indent: str = "        ") -> list[str]:
    """The plausibility checks of a marts run as aligned lines for the CLI."""
    return [f"{indent}{'ok' if passed else severity:<5} {name}: {text}"
            for name, passed, severity, text in plausibility_of_run(instance, run_id)]
