"""``reports/attendance``: the district attendance report of a customer, downstream of the marts
(built by the same ``build_marts`` run once the marts are published), and the charts shown on
the mart materializations themselves (Markdown images with data URIs, which the UI renders)."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from kinvolved_assets.defs.resources import PlatformResource

REPORT_KEY = AssetKey(["reports", "attendance"])
REPORT_GROUP = "reports"


def mart_chart_metadata(marts_db: Path, customer, marts: set[str]) -> dict[str, dict]:
    """``chart`` metadata (Markdown) of the marts that have charts, rendered from a built file."""
    from kinvolved_assets.report.mart_charts import mart_charts_markdown

    return {m: {"chart": MetadataValue.md(text)} for m, text in mart_charts_markdown(marts_db, customer,
                                                                                     marts).items()}


def build_report_asset(customer_partitions):
    @asset(
        key=REPORT_KEY,
        group_name=REPORT_GROUP,
        partitions_def=customer_partitions,
        deps=[AssetKey(["marts", m]) for m in ("msr_school_daily_attendance",
                                               "msr_student_cumulative_attendance",
                                               "msr_student_attendance_bands", "dim_schools")],
        kinds={"html", "matplotlib"},
        description="District attendance report per customer and as-of date: one self-contained HTML "
        "(`warehouse/<customer>/attendance_reports/<as_of>/attendance.html`) plus the charts as PNG. "
        "Counts and rates only. Also: `kinvolved report CUSTOMER`.",
        op_tags={"kinvolved/stage": "marts"},
    )
    def attendance_report(context: AssetExecutionContext, platform: PlatformResource):
        from kinvolved_assets.report import report_root, write_attendance_report
        from kinvolved_assets.report.mart_charts import chart_markdown
        from kinvolved_assets.report.serve import report_url

        customer = platform.customer(context.partition_key)
        paths = platform.paths(customer.customer_id)
        rules = customer.attendance
        result = write_attendance_report(paths.marts_db, report_root(paths), customer.customer_id, None,
                                         rules.chronic_threshold, rules.min_enrolled_days)
        data = result.data
        charts = {p.name: p.read_bytes() for p in result.pngs}
        context.log.info(f"{customer.customer_id}: attendance report as of {data.as_of_date} at "
                         f"{result.html_path}")
        return MaterializeResult(metadata={
            "report": MetadataValue.path(str(result.html_path)),
            **({"report_url": MetadataValue.url(url)} if (url := report_url(result.html_path)) else {}),
            "as_of_date": data.as_of_date,
            "students": data.students,
            "attendance_rate": MetadataValue.float(round(data.attendance_rate or 0.0, 4)),
            "chronically_absent": data.chronically_absent,
            "bands": MetadataValue.json(data.bands),
            "charts": MetadataValue.md(chart_markdown(charts, sorted(charts))),
        })

    return attendance_report
