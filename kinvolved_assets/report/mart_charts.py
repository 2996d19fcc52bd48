"""The charts shown on the mart materializations themselves: Markdown images with data URIs (which
the Dagster UI renders), from a built marts file or from the report's PNGs."""

from __future__ import annotations

from pathlib import Path

# mart -> the charts its materializations show
MART_CHARTS = {
    "msr_school_daily_attendance": ["daily_attendance_rate.png"],
    "msr_student_cumulative_attendance": ["chronic_absence_by_school.png", "chronic_absence_by_grade.png"],
    "msr_student_attendance_bands": ["attendance_bands.png"],
}


def chart_markdown(charts: dict[str, bytes], names: list[str]) -> str:
    from kinvolved_assets.report.charts import png_data_uri

    return "\n\n".join(f"![{name.removesuffix('.png').replace('_', ' ')}]({png_data_uri(charts[name])})"
                       for name in names)


def mart_charts_markdown(marts_db: Path, customer, marts: set[str]) -> dict[str, str]:
    """The Markdown of the charts of each mart in ``marts`` that has charts, rendered from a built file."""
    from kinvolved_assets.report.charts import render_all
    from kinvolved_assets.report.data import read_report_data

    wanted = {m: names for m, names in MART_CHARTS.items() if m in marts}
    if not wanted:
        return {}
    rules = customer.attendance
    charts = render_all(read_report_data(marts_db, customer.customer_id, None, rules.chronic_threshold,
                                         rules.min_enrolled_days))
    return {m: chart_markdown(charts, names) for m, names in wanted.items()}
