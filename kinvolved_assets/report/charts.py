"""The report's charts as PNG bytes, rendered offline with matplotlib's Agg backend (no display,
no network). Inputs are aggregates (rates and counts); no chart shows a student."""

from __future__ import annotations

import datetime as dt
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from kinvolved_assets.report.data import BANDS, ReportData  # noqa: E402

BAND_COLORS = {"satisfactory": "#1a7f37", "at_risk": "#d4a72c", "moderate_chronic": "#e16f24",
               "severe_chronic": "#b42318"}
BAND_LABELS = {"satisfactory": "satisfactory", "at_risk": "at risk", "moderate_chronic": "moderate chronic",
               "severe_chronic": "severe chronic"}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _pct(ax, axis: str = "y") -> None:
    fmt = matplotlib.ticker.PercentFormatter(xmax=1.0, decimals=0)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def daily_rate_chart(data: ReportData) -> bytes:
    """Per school, the daily attendance rate over the year, with the district line."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for school, points in sorted(data.daily.items()):
        ax.plot([dt.date.fromisoformat(d) for d, _ in points], [r for _, r in points], linewidth=1.1,
                alpha=0.75, marker="." if len(points) < 40 else None, label=school)
    if data.district_daily:
        ax.plot([dt.date.fromisoformat(d) for d, _ in data.district_daily],
                [r for _, r in data.district_daily],
                color="black", linewidth=2.4, label="district")
    ax.axhline(data.thresholds.get("satisfactory", 0.95), color="#1a7f37", linestyle="--", linewidth=0.8)
    ax.set_title(f"Daily attendance rate by school, school year {data.school_year} (to {data.as_of_date})")
    ax.set_ylabel("students present")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1.0, decimals=1))
    days = len(data.district_daily)
    if days <= 45:   # whole days only (the automatic locator adds hours to short ranges)
        ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, days // 8)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    else:
        locator = mdates.AutoDateLocator(maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", ncol=2)
    return _png(fig)


def _bar(labels: list[str], values: list[float], counts: list[str], title: str,
         threshold: float | None) -> bytes:
    fig, ax = plt.subplots(figsize=(9, max(2.2, 0.45 * len(labels) + 1.2)))
    bars = ax.barh(labels, values, color="#b42318")
    for bar, text in zip(bars, counts, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {text}", va="center", fontsize=8)
    ax.set_title(title)
    ax.invert_yaxis()
    _pct(ax, "x")
    ax.set_xlim(0, max([0.2, *values]) * 1.25)
    if threshold is not None:
        ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def chronic_by_school_chart(data: ReportData) -> bytes:
    return _bar([s["school"] for s in data.schools], [s["chronic_rate"] for s in data.schools],
                [f"{s['chronic']} of {s['students']}" for s in data.schools],
                f"Chronic absence rate by school (absent >= {data.chronic_threshold:.0%} of enrolled days)",
                0.0)


def chronic_by_grade_chart(data: ReportData) -> bytes:
    return _bar([f"grade {g['grade']}" for g in data.grades], [g["chronic_rate"] for g in data.grades],
                [f"{g['chronic']} of {g['students']}" for g in data.grades], "Chronic absence rate by grade",
                0.0)


def bands_chart(data: ReportData) -> bytes:
    """How many students are in each attendance band (Attendance Works)."""
    t = data.thresholds
    ranges = {"satisfactory": f">= {t['satisfactory']:.0%}",
              "at_risk": f"{t['at_risk']:.0%}-{t['satisfactory']:.0%}",
              "moderate_chronic": f"{t['moderate_chronic']:.0%}-{t['at_risk']:.0%}",
              "severe_chronic": f"< {t['moderate_chronic']:.0%}"}
    total = sum(data.bands.values()) or 1
    fig, ax = plt.subplots(figsize=(9, 3.2))
    labels = [f"{BAND_LABELS[b]}\n({ranges[b]})" for b in BANDS]
    values = [data.bands.get(b, 0) for b in BANDS]
    bars = ax.bar(labels, values, color=[BAND_COLORS[b] for b in BANDS])
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{value} ({value / total:.0%})",
                ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, max([1, *values]) * 1.2)
    ax.set_ylabel("student-school enrollments")
    ax.set_title(f"Students by attendance band (to {data.as_of_date})")
    return _png(fig)


CHARTS = {
    "daily_attendance_rate.png": daily_rate_chart,
    "chronic_absence_by_school.png": chronic_by_school_chart,
    "chronic_absence_by_grade.png": chronic_by_grade_chart,
    "attendance_bands.png": bands_chart,
}


def png_data_uri(png: bytes) -> str:
    """A PNG as a percent-encoded data URI (``data:image/png,%89%50...``): every byte as ``%XX``, so
    the stored text never holds a run of letters longer than two (base64 would hold arbitrary words)."""
    return "data:image/png," + "".join(f"%{b:02X}" for b in png)


_last_rendered: tuple[str, dict[str, bytes]] | None = None


def render_all(data: ReportData) -> dict[str, bytes]:
    """Every chart of ``data``. A marts build draws them once: the charts on the mart materializations
    (from the built file) and the attendance report (from the same file once published) read the same
    figures, so the second call returns the first one's PNGs (rendering is a pure function of ``data``)."""
    global _last_rendered
    key = repr(data)
    if _last_rendered is None or _last_rendered[0] != key:
        _last_rendered = (key, {name: render(data) for name, render in CHARTS.items()})
    return dict(_last_rendered[1])
