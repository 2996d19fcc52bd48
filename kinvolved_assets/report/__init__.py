"""The district attendance report: figures from the marts, charts rendered offline (matplotlib,
Agg), one self-contained HTML per customer and as-of date plus the PNGs. Counts and rates only."""

from kinvolved_assets.report.build import ReportResult, report_root, write_attendance_report

__all__ = ["ReportResult", "report_root", "write_attendance_report"]
