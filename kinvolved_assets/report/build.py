"""Write the district attendance report: ``warehouse/<customer>/attendance_reports/<as_of>/attendance.html``
(self-contained: the charts are embedded as data URIs, no server, no network) plus each chart as a PNG."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

from kinvolved_assets.permissions import private_dir, write_private
from kinvolved_assets.report.charts import BAND_LABELS, png_data_uri, render_all
from kinvolved_assets.report.data import BANDS, ReportData, read_report_data

REPORT_FILE = "attendance.html"
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24;max-width:62rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left}th{background:#f6f8fa}
td.n{text-align:right;font-variant-numeric:tabular-nums}.figures td{font-size:1.05rem}
img{max-width:100%;border:1px solid #eaeef2}.muted{color:#57606a}
"""


@dataclass
class ReportResult:
    html_path: Path
    pngs: list[Path]
    data: ReportData


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def _table(headers: list[str], rows: list[list], numeric: set[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{_e(c)}</td>" for i,
                                    c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(name: str, png: bytes, alt: str) -> str:
    return f"<p><img alt='{_e(alt)}' src='{png_data_uri(png)}'></p>"


def render_html(data: ReportData, charts: dict[str, bytes]) -> str:
    t = data.thresholds
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>Attendance report {_e(data.customer_id)} "
           f"{_e(data.as_of_date)}</title><style>{_CSS}</style></head><body>",
           f"<h1>District attendance report: {_e(data.customer_id)}, as of {_e(data.as_of_date)}</h1>",
           f"<p class='muted'>School year {_e(data.school_year)}. Counts and rates only; no student is named "
           f"or identified. Chronically absent: absent at least {data.chronic_threshold:.0%} of at least "
           f"{data.min_enrolled_days} enrolled instructional days. Generated "
           f"{_e(dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC'))}.</p>",
           "<table class='figures'><tbody>",
           f"<tr><th>attendance rate</th><td class=n>{_pct(data.attendance_rate)}</td></tr>",
           f"<tr><th>students</th><td class=n>{data.students:,}</td></tr>",
           f"<tr><th>chronically absent</th><td class=n>{data.chronically_absent:,} "
           f"({_pct(data.chronic_rate)})</td></tr>",
           "</tbody></table>",
           "<h2>Daily attendance rate by school</h2>", _img("daily", charts["daily_attendance_rate.png"],
                                                           "daily attendance rate per school and district"),
           "<h2>Attendance bands</h2>",
           f"<p class='muted'>Attendance Works bands: satisfactory &ge; {t['satisfactory']:.0%}, at risk "
           f"{t['at_risk']:.0%}&ndash;{t['satisfactory']:.0%}, moderate chronic "
           f"{t['moderate_chronic']:.0%}&ndash;"
           f"{t['at_risk']:.0%}, severe chronic &lt; {t['moderate_chronic']:.0%} (year-to-date attendance "
           "rate).</p>",
           _img("bands", charts["attendance_bands.png"], "students by attendance band"),
           _table(["band", "students", "share"], [[BAND_LABELS[b], data.bands.get(b, 0),
                                                   _pct(data.bands.get(b, 0) / (sum(data.bands.values())
                                                                                or 1))]
                                                  for b in BANDS], {1, 2}),
           "<h2>Chronic absence by school</h2>", _img("school", charts["chronic_absence_by_school.png"],
                                                     "chronic absence rate by school"),
           _table(["school", "students", "attendance rate", "chronically absent", "chronic rate"],
                  [[s["school"], s["students"], _pct(s["rate"]), s["chronic"], _pct(s["chronic_rate"])]
                   for s in data.schools], {1, 2, 3, 4}),
           "<h2>Chronic absence by grade</h2>", _img("grade", charts["chronic_absence_by_grade.png"],
                                                    "chronic absence rate by grade"),
           _table(["grade", "students", "chronically absent", "chronic rate"],
                  [[g["grade"], g["students"], g["chronic"], _pct(g["chronic_rate"])] for g in data.grades],
                  {1, 2, 3}),
           "</body></html>"]
    return "\n".join(out)


def _write(path: Path, payload: bytes) -> None:
    write_private(path, payload)   # 0600 in a 0700 folder, like the rest of the customer's tree


def report_root(paths) -> Path:
    """Where a customer's district reports live (one folder per as-of date)."""
    return paths.warehouse / "attendance_reports"


def write_attendance_report(marts_db: Path, reports_dir: Path, customer_id: str, as_of: str | None = None,
                            chronic_threshold: float = 0.10, min_enrolled_days: int = 10) -> ReportResult:
    data = read_report_data(marts_db, customer_id, as_of, chronic_threshold, min_enrolled_days)
    folder = reports_dir / data.as_of_date
    private_dir(reports_dir)   # 0700 like the rest of the customer's tree
    private_dir(folder)
    charts = render_all(data)
    pngs = []
    for name, png in charts.items():
        _write(folder / name, png)
        pngs.append(folder / name)
    _write(folder / REPORT_FILE, render_html(data, charts).encode("utf-8"))
    return ReportResult(folder / REPORT_FILE, pngs, data)
